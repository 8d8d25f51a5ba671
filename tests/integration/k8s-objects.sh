#!/usr/bin/env bash
# Kubernetes objects out of real backups. Values are written into a real
# etcd 3.4 with mutual TLS as kube-apiserver writes them: protobuf encoded by
# tests/helpers/k8s-values.py from the API's field numbers (Secrets,
# ConfigMaps, a Namespace, a Pod for the metadata-only path) and a custom
# resource in JSON; Secrets encrypted by an independent implementation
# (python3-cryptography for aescbc and aesgcm, PyNaCl for secretbox) under
# an EncryptionConfiguration with several keys. Backed up with
# `etcd-backupd --once` as gzip, zstd and age-encrypted zstd, then:
# `get -o json` compared field by field with what was written, `-o manifest`
# parsed and compared with the object minus what the cluster owns, `-o
# yaml`, `objects`, `audit --encryption-config` and its warnings, and bad
# input (truncated protobuf, a length past the end, a wrong key, a tampered
# tag, a ciphertext shorter than its nonce, an unknown provider, kms, a
# configuration that is not YAML, a key of the wrong size, a readable
# configuration file): a clear error and exit 1, never a crash.
. "$(dirname "$0")/lib.sh"

C=$ETCD_BACKUPCTL
PY=/usr/bin/python3     # Debian's, with python3-cryptography, -nacl and -yaml
H=$TOP_SRCDIR/tests/helpers/k8s-values.py
"$PY" -c 'import cryptography, nacl.secret, yaml' 2>/dev/null ||
  { echo "k8s-objects.sh needs python3-cryptography python3-nacl python3-yaml (scripts/install-deps)"; exit 1; }

start_etcd
"$PY" "$H" make "$T/kv" || { echo "cannot make the test values"; exit 1; }
ENC=$T/kv/encryption-config.yaml
for kind in objects bad; do
  for k in "$T/kv/$kind"/*.key; do
    ctl put "$(cat "$k")" < "${k%.key}.value" >/dev/null || { echo "cannot put $(cat "$k")"; exit 1; }
  done
done
OBJECTS=$(cd "$T/kv/objects" && ls -- *.key | sed 's/\.key$//')

# ---- backups: gzip, zstd, age-encrypted zstd -----------------------------------
age-keygen -o "$T/agekey" 2>/dev/null
pub=$(age-keygen -y "$T/agekey")
declare -A FILE
for v in gzip zstd age; do
  codec=$v; [[ $v == age ]] && codec=zstd
  { etcd_group; storage_group "$T/b-$v" "$codec" 3
    [[ $v == age ]] && echo "encryption: { recipients = [\"$pub\"]; identity_file = \"$T/agekey\"; };"; } > "$T/$v.conf"
  FILE[$v]=$("$ETCD_BACKUPD" --once -c "$T/$v.conf" 2>"$T/$v.err")
  check "$v: --once made a backup" test -f "${FILE[$v]}"
done

for v in gzip zstd age; do
  f=${FILE[$v]}
  id=(); [[ $v == age ]] && id=(--identity "$T/agekey")

  # get -o json: every object, field by field against what was written.
  for n in $OBJECTS; do
    key=$(cat "$T/kv/objects/$n.key")
    "$C" get "$f" "$key" -o json --encryption-config "$ENC" "${id[@]}" > "$T/got.json" 2> "$T/err"; rc=$?
    d=$("$PY" "$H" compare "$T/got.json" "$T/kv/objects/$n.json" 2>&1)
    check "$v: get -o json $key exits 0 and equals what was written${d:+ ($d)}" test $rc -eq 0 -a -z "$d"
    check "$v: get -o json $key: the object is the one its key names (no warning)" \
      test -z "$(grep -F 'kube-apiserver did not store it there' "$T/err")"
  done

  # A Pod is decoded only as far as its metadata, and the note says so.
  "$C" get "$f" /registry/pods/default/web-0 -o json "${id[@]}" > "$T/pod.json"
  check "$v: the Pod carries a note that only its metadata was decoded" \
    jq_true '.undecoded.note | test("not in the decoder.s table")' "$(cat "$T/pod.json")"

  # -o manifest: parsed back and compared with the object minus what the cluster owns.
  for n in secret-db-password secret-tls configmap-settings configmap-encrypted namespace-team-a widget-w1; do
    key=$(cat "$T/kv/objects/$n.key")
    "$C" get "$f" "$key" -o manifest --encryption-config "$ENC" "${id[@]}" > "$T/got.yaml" 2> "$T/err"; rc=$?
    d=$("$PY" "$H" manifest "$T/got.yaml" "$T/kv/objects/$n.json" 2>&1)
    check "$v: get -o manifest $key round-trips${d:+ ($d)}" test $rc -eq 0 -a -z "$d"
  done
  "$C" get "$f" /registry/pods/default/web-0 -o manifest "${id[@]}" > "$T/out" 2> "$T/err"; rc=$?
  check "$v: no manifest of a Pod whose spec is undecoded (exit 1, says why)" \
    test $rc -eq 1 -a ! -s "$T/out" -a -n "$(grep 'only the metadata of a Pod' "$T/err")"

  # -o yaml of a Secret: the data in base64, the same as -o json, parsed by PyYAML.
  "$C" get "$f" /registry/secrets/prod/db-password -o yaml --encryption-config "$ENC" "${id[@]}" > "$T/s.yaml"
  check "$v: get -o yaml shows the Secret's data in base64" \
    test "$("$PY" -c 'import sys,yaml; print(yaml.safe_load(open(sys.argv[1]))["data"]["password"])' "$T/s.yaml")" = \
         "$(printf hunter2 | base64)"

  # --prefix: a List in JSON, documents in YAML; a key that fails does not stop the rest.
  "$C" get "$f" /registry/configmaps/ --prefix -o json --encryption-config "$ENC" "${id[@]}" > "$T/list.json"; rc=$?
  check "$v: get --prefix -o json prints a List of both ConfigMaps" \
    test $rc -eq 0 -a "$(jq -c '[.kind, (.items | map(.metadata.name) | sort)]' "$T/list.json")" = '["List",["encrypted","settings"]]'
  "$C" get "$f" /registry/secrets/ --prefix -o yaml --encryption-config "$ENC" "${id[@]}" > "$T/all.yaml" 2> "$T/err"; rc=$?
  check "$v: get --prefix over every Secret exits 1 (some cannot be read) but prints the readable ones" \
    test $rc -eq 1 -a "$(grep -c '^kind: Secret$' "$T/all.yaml")" = 6

  # Encrypted without a configuration: a hint, exit 1.
  "$C" get "$f" /registry/secrets/prod/db-password -o json "${id[@]}" > "$T/out" 2> "$T/err"; rc=$?
  check "$v: an encrypted Secret without --encryption-config: exit 1, names the key and the flag" \
    test $rc -eq 1 -a ! -s "$T/out" -a -n "$(grep 'is encrypted (aescbc:key1); pass --encryption-config' "$T/err")"

  # Bad values: each a clear error and exit 1, never a crash, nothing on stdout.
  for b in "$T"/kv/bad/*.key; do
    key=$(cat "$b"); word=$(cat "${b%.key}.error")
    "$C" get "$f" "$key" -o json --encryption-config "$ENC" "${id[@]}" > "$T/out" 2> "$T/err"; rc=$?
    check "$v: $key: exit 1 with \"$word\" ($(head -c 200 "$T/err"))" \
      test $rc -eq 1 -a ! -s "$T/out" -a -n "$(grep -F -- "$word" "$T/err")"
  done
  "$C" get "$f" /registry/secrets/prod/rotated-away -o json --encryption-config "$ENC" "${id[@]}" > "$T/out" 2> "$T/err"; rc=$?
  check "$v: a Secret whose key left the configuration: exit 1, names aescbc key \"retired\"" \
    test $rc -eq 1 -a -n "$(grep 'aescbc key "retired", which the encryption configuration does not have' "$T/err")"

  # objects
  o=$("$C" objects "$f" --json "${id[@]}"); rc=$?
  check "$v: objects --json exits 0" test $rc -eq 0
  check "$v: objects counts per resource" test "$(jq -c -S .counts <<<"$o")" = \
    '{"configmaps":2,"namespaces":1,"pods":1,"secrets":15,"widgets.example.com":1}'
  check "$v: objects shows the provider:key of an encrypted Secret" \
    test "$(jq -r '.objects[] | select(.name == "db-password") | .encryption' <<<"$o")" = aescbc:key1
  check "$v: objects shows the encoding of a plaintext value" \
    test "$(jq -r '.objects[] | select(.name == "w1") | [.resource, .namespace, .encoding] | join(" ")' <<<"$o")" = \
         "widgets.example.com default json"
  o=$("$C" objects "$f" --resource secrets --namespace prod "${id[@]}")
  check "$v: objects --resource --namespace filters (table)" \
    test "$(grep -c '^secrets  *prod ' <<<"$o")" = 4 -a -n "$(grep -E '^TOTAL +4$' <<<"$o")"

  # audit --encryption-config
  a=$("$C" audit "$f" --encryption-config "$ENC" "${id[@]}"); rc=$?
  check "$v: audit --encryption-config exits 0" test $rc -eq 0
  check "$v: audit warns about the Secret whose key is gone" \
    grep -q 'WARNING: 1 Secret is encrypted with aescbc:retired, which the providers for secrets in .* do not have: it cannot be read after a restore' <<<"$a"
  check "$v: audit warns about the Secret the key of its name does not decrypt" \
    grep -q 'WARNING: 1 Secret does not decrypt with key aescbc:key1' <<<"$a"
  check "$v: audit does not warn about identity (it is last for secrets)" test -z "$(grep 'identity is the first' <<<"$a")"
  a=$("$C" --json audit "$f" --encryption-config "$ENC" "${id[@]}")
  check "$v: audit --json: readable and unreadable Secrets per key" \
    test "$(jq -c '.encryption_config.by_key | [.["aescbc:key1"].readable, .["aescbc:key1"].undecryptable, .["aescbc:retired"].missing_key, .["secretbox:box1"].readable]' <<<"$a")" = '[1,1,1,1]'
done

# ---- the daemon's check: kubernetes.encryption_config ---------------------------
{ etcd_group; storage_group "$T/b-check" zstd 3; echo "kubernetes: { encryption_config = \"$ENC\"; };"; } > "$T/check.conf"
out=$("$ETCD_BACKUPD" --once -c "$T/check.conf" 2>"$T/check.err"); rc=$?
check "--once with kubernetes.encryption_config: the backup is made" test $rc -eq 0 -a -f "$out"
# The KMS plugin's Secret counts too: the file has no kms provider "vault".
check "--once warns about the Secrets whose key the configuration lacks (or whose provider does not exist), naming the keys" \
  grep -q "3 Secrets in backup $out are stored with keys that the providers for secrets in $ENC do not have (aescbc:retired, kms:vault, rot13:key1)" "$T/check.err"
# With a kms provider of that name for secrets it is not: whether the plugin
# still has its key cannot be told offline.
sed '0,/^\( *\)- identity: {}$/s//\1- kms: {apiVersion: v2, name: vault, endpoint: "unix:\/\/\/run\/kms.sock"}\n\1- identity: {}/' \
  "$ENC" > "$T/kms.yaml"
chmod 600 "$T/kms.yaml"
a=$("$C" --json audit "$out" --encryption-config "$ENC")
k=$("$C" --json audit "$out" --encryption-config "$T/kms.yaml")
check "audit: the plugin's Secret is missing without a kms provider \"vault\" for secrets" \
  jq_true '.encryption_config.by_key["kms:vault"].missing_key == 1' "$a"
check "audit: with one, it is not counted ($(jq -c '.encryption_config.unreadable' <<<"$a") → $(jq -c '.encryption_config.unreadable' <<<"$k"))" \
  jq_true "(.encryption_config.by_key | has(\"kms:vault\") | not) and
           .encryption_config.unreadable == $(jq '.encryption_config.unreadable - 1' <<<"$a")" "$k"
check "--once: no key material in the output" test -z "$(grep -F -e AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 -e hunter2 "$T/check.err")"
cp "$ENC" "$T/open.yaml"; chmod 644 "$T/open.yaml"
sed "s|$ENC|$T/open.yaml|" "$T/check.conf" > "$T/check-open.conf"
out=$("$ETCD_BACKUPD" --once -c "$T/check-open.conf" 2>"$T/check-open.err"); rc=$?
check "--once with a readable encryption_config: the backup is still made, the check refused with the reason" \
  test $rc -eq 0 -a -f "$out" -a -n "$(grep 'Cannot check the Secrets.*group or others may access it (mode 0644)' "$T/check-open.err")"
# Handed over as a credential, as systemd 254 and later on noswap tmpfs do:
# 0440, the group bits an ACL's mask for the service's user. Used; the same
# mode outside $CREDENTIALS_DIRECTORY is refused.
mkdir -p "$T/creds" && install -m 0440 "$ENC" "$T/creds/enc.yaml" && install -m 0440 "$ENC" "$T/enc-0440.yaml"
sed "s|$ENC|enc.yaml|" "$T/check.conf" > "$T/check-cred.conf"
out=$(CREDENTIALS_DIRECTORY=$T/creds "$ETCD_BACKUPD" --once -c "$T/check-cred.conf" 2>"$T/check-cred.err"); rc=$?
check "--once with encryption_config a credential at 0440: the check runs" \
  test $rc -eq 0 -a -f "$out" -a -z "$(grep 'Cannot check the Secrets' "$T/check-cred.err")" \
       -a -n "$(grep 'Secrets in backup .* are stored with keys that' "$T/check-cred.err")"
sed "s|$ENC|$T/enc-0440.yaml|" "$T/check.conf" > "$T/check-0440.conf"
out=$(CREDENTIALS_DIRECTORY=$T/creds "$ETCD_BACKUPD" --once -c "$T/check-0440.conf" 2>"$T/check-0440.err"); rc=$?
check "--once with encryption_config at 0440 outside the credentials: refused with the reason" \
  test $rc -eq 0 -a -n "$(grep 'Cannot check the Secrets.*group or others may access it (mode 0440)' "$T/check-0440.err")"
{ cat "$T/check.conf"
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = true; };"
  echo "metrics: { textfile = \"$T/metrics.prom\"; };"; } > "$T/daemon.conf"
rm -rf "$T/b-check"
daemon_start "$T/daemon.conf"
check "daemon: the worker's check is logged after the catch-up backup" \
  wait_until 60 grep -q 'Secrets in backup .* are stored with keys that the providers for secrets in .* do not have (aescbc:retired, kms:vault, rot13:key1)' "$T/daemon.log"
check "daemon: etcd_backup_secrets_unreadable 3 in the metrics" \
  wait_until 10 grep -qx 'etcd_backup_secrets_unreadable 3' "$T/metrics.prom"
daemon_stop
check "daemon: stops cleanly" test "$DRC" -eq 0

# ---- the configuration file ------------------------------------------------------
f=${FILE[gzip]}
sed -e '0,/- aescbc:/s//- identity: {}\n  - aescbc:/' -e 's/- name: gcm:2/- name: spare\n        secret: AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n      - name: gcm:2/' \
  "$ENC" > "$T/identity-first.yaml"
chmod 600 "$T/identity-first.yaml"
a=$("$C" audit "$f" --encryption-config "$T/identity-first.yaml")
check "audit warns when identity is the first provider for secrets" \
  grep -q "WARNING: identity is the first provider for secrets in $T/identity-first.yaml" <<<"$a"
check "audit warns about a key no Secret uses" grep -q 'WARNING: key aesgcm:spare in .* is used by no Secret' <<<"$a"
check "audit: a key whose name holds a colon (gcm:2) is used, and no other is said to be unused ($(grep -c 'used by no Secret' <<<"$a"))" \
  test "$(grep 'used by no Secret' <<<"$a" | grep -vc 'aesgcm:spare')" -eq 0 -a -n "$(grep '^aesgcm:gcm?2 ' <<<"$a")"

# As kube-apiserver reads Secrets: only the providers of the entry for
# secrets. The key "old" moved to the configmaps' entry is missing for
# them (get still finds it there), and without identity among them a
# Secret stored in plaintext cannot be read.
/usr/bin/python3 - "$ENC" "$T/moved.yaml" "$T/noid.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
sec, cms = doc["resources"][0], doc["resources"][1]
cbc = next(p["aescbc"] for p in sec["providers"] if "aescbc" in p)
old = next(k for k in cbc["keys"] if k["name"] == "old")
cbc["keys"].remove(old)
cms["providers"].append({"aescbc": {"keys": [old]}})
yaml.safe_dump(doc, open(sys.argv[2], "w"), sort_keys=False)
doc = yaml.safe_load(open(sys.argv[1]))
doc["resources"][0]["providers"] = [p for p in doc["resources"][0]["providers"] if "identity" not in p]
yaml.safe_dump(doc, open(sys.argv[3], "w"), sort_keys=False)
PY
chmod 600 "$T/moved.yaml" "$T/noid.yaml"
a=$("$C" audit "$f" --encryption-config "$T/moved.yaml")
check "audit: a key only in another entry is missing for secrets" \
  grep -q "WARNING: 1 Secret is encrypted with aescbc:old, which the providers for secrets in $T/moved.yaml do not have" <<<"$a"
check "get: still decrypts it with the key from the other entry" \
  quiet "$C" get "$f" /registry/secrets/prod/legacy -o json --encryption-config "$T/moved.yaml"
plain=$(jq -r '[.objects[] | select(.resource == "secrets" and .encryption == null)] | length' <<<"$("$C" objects "$f" --json)")
a=$("$C" --json audit "$f" --encryption-config "$T/noid.yaml")
check "audit: without identity for secrets, the $plain plaintext Secrets are unreadable" \
  test "$(jq '.encryption_config.by_key.identity.missing_key' <<<"$a")" = "$plain" -a "$plain" -gt 0
check "audit: ... and says why" \
  jq -e '.encryption_config.warnings | any(test("stored in plaintext, and the providers for secrets in .* have no identity"))' <<<"$a"

# secrets named again in a later entry: kube-apiserver reads them with the
# providers of both entries, in order, so "old" there is not missing. A
# '*.*' entry before the others would mask them: kube-apiserver refuses
# that file, and so does the reader.
/usr/bin/python3 - "$T/moved.yaml" "$T/twice.yaml" "$T/masked.yaml" <<'PY'
import sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
old = next(p["aescbc"] for p in doc["resources"][1]["providers"] if "aescbc" in p)
doc["resources"].insert(1, {"resources": ["secrets"], "providers": [{"aescbc": old}]})
yaml.safe_dump(doc, open(sys.argv[2], "w"), sort_keys=False)
doc = yaml.safe_load(open(sys.argv[1]))
doc["resources"].insert(0, {"resources": ["*.*"], "providers": [{"identity": {}}]})
yaml.safe_dump(doc, open(sys.argv[3], "w"), sort_keys=False)
PY
chmod 600 "$T/twice.yaml" "$T/masked.yaml"
a=$("$C" --json audit "$f" --encryption-config "$T/twice.yaml")
check "audit: a key in a second entry for secrets is not missing" \
  test "$(jq '.encryption_config.by_key["aescbc:old"].missing_key' <<<"$a")" = 0 -a \
       "$(jq '.encryption_config.by_key["aescbc:old"].readable' <<<"$a")" -gt 0 -a \
       "$(jq '[.encryption_config.warnings[] | select(test("aescbc:old"))] | length' <<<"$a")" = 0
"$C" get "$f" /registry/secrets/prod/db-password -o json --encryption-config "$T/masked.yaml" > "$T/out" 2> "$T/err"; rc=$?
check "a configuration kube-apiserver refuses ('*.*' masks what follows): exit 1, says why" \
  test $rc -eq 1 -a -n "$(grep 'masked.yaml: line [0-9]*: resource "secrets" is masked by "\*\.\*" of the entry at line 4' "$T/err")"

cp "$ENC" "$T/readable.yaml"; chmod 644 "$T/readable.yaml"
"$C" get "$f" /registry/secrets/prod/db-password -o json --encryption-config "$T/readable.yaml" > "$T/out" 2> "$T/err"; rc=$?
check "a configuration others may read is refused (exit 1, mode, --insecure-key-file)" \
  test $rc -eq 1 -a ! -s "$T/out" -a -n "$(grep 'may access it (mode 0644).*--insecure-key-file' "$T/err")"
"$C" get "$f" /registry/secrets/prod/db-password -o json --encryption-config "$T/readable.yaml" --insecure-key-file > "$T/out"; rc=$?
check "--insecure-key-file reads it anyway" test $rc -eq 0 -a "$(jq -r .data.user "$T/out")" = "$(printf app | base64)"
check "no key material in any error message" test -z "$(grep -rhoF -e AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8 "$T"/err 2>/dev/null)"

printf 'resources: [\n' > "$T/notyaml.yaml"; chmod 600 "$T/notyaml.yaml"
"$C" get "$f" /registry/secrets/prod/db-password -o json --encryption-config "$T/notyaml.yaml" > "$T/out" 2> "$T/err"; rc=$?
check "a configuration that is not YAML: exit 1, says so with the line" \
  test $rc -eq 1 -a -n "$(grep "notyaml.yaml: line [0-9]*: not YAML" "$T/err")"
sed 's/secret: KCkqKywtLi8wMTIzNDU2Nw==/secret: c2hvcnQ=/' "$ENC" > "$T/short.yaml"; chmod 600 "$T/short.yaml"
"$C" get "$f" /registry/secrets/prod/db-password -o json --encryption-config "$T/short.yaml" > "$T/out" 2> "$T/err"; rc=$?
check "a key of the wrong size: exit 1, names the key and the sizes" \
  test $rc -eq 1 -a -n "$(grep 'aescbc key "old" is 5 bytes; aescbc needs 16, 24 or 32' "$T/err")"
check "... and never prints the key" test -z "$(grep -F c2hvcnQ "$T/err")"
sed 's/- aesgcm:/- rot13:/' "$ENC" > "$T/rot13.yaml"; chmod 600 "$T/rot13.yaml"
"$C" get "$f" /registry/secrets/prod/db-password -o json --encryption-config "$T/rot13.yaml" > "$T/out" 2> "$T/err"; rc=$?
check "a provider that does not exist in the configuration: exit 1, named" \
  test $rc -eq 1 -a -n "$(grep 'unknown provider "rot13"' "$T/err")"
"$C" get "$f" /registry/secrets/prod/db-password -o xml > "$T/out" 2> "$T/err"; rc=$?
check "an unknown -o: usage error (exit 2)" test $rc -eq 2 -a -n "$(grep -- "-o" "$T/err")"

# A backup without Secrets (all deleted since): audit says so, and the
# configuration's own warnings come all the same, as with --json.
ctl del /registry/secrets/ --prefix >/dev/null
nosec=$("$ETCD_BACKUPD" --once -c "$T/gzip.conf" 2>"$T/nosec.err")
a=$("$C" audit "$nosec" --encryption-config "$T/identity-first.yaml" 2>&1); rc=$?
check "a backup without Secrets: audit exits 0 and says so" test $rc -eq 0 -a -n "$(grep '^No Secrets in this backup' <<<"$a")"
check "a backup without Secrets: audit still warns that identity is the first provider" \
  grep -q "WARNING: identity is the first provider for secrets" <<<"$a"

# A key whose name carries ESC, a C1 CSI and U+202E (RIGHT-TO-LEFT OVERRIDE):
# the objects table prints them as '?' (a crafted backup must not drive the
# operator's terminal); --json keeps the name as it is.
# A name with spaces that would draw cells of its own ("1  protobuf  -"),
# ASCII or no-break ones, or anything else not ASCII (U+2800 shows blank
# too), is one cell in double quotes (an RBAC name may have spaces; a quote
# in it escaped).
evil=$(printf '/registry/configmaps/default/cm\033[31m\302\233\342\200\256x')
printf 'v' | ctl put "$evil" >/dev/null
printf 'v' | ctl put "/registry/configmaps/default/fake    1  protobuf  -" >/dev/null
printf 'v' | ctl put "$(printf '/registry/configmaps/default/nb\302\240\302\2402"')" >/dev/null
printf 'v' | ctl put "$(printf '/registry/configmaps/default/br\342\240\200\342\240\2003')" >/dev/null
esc=$("$ETCD_BACKUPD" --once -c "$T/gzip.conf" 2>"$T/esc.err")
o=$("$C" objects "$esc" --resource configmaps); rc=$?
check "objects: a name with terminal controls is printed safe (exit $rc)" \
  test $rc -eq 0 -a -n "$(grep -F 'cm?[31m?????x' <<<"$o")" -a -z "$(LC_ALL=C grep -P '[\x1b\x9b]|\xe2\x80\xae' <<<"$o")"
check "objects: a name with spaces is one cell, in double quotes" grep -qF '"fake    1  protobuf  -"  ' <<<"$o"
check "objects: a name with no-break spaces and a quote is one cell, in double quotes" \
  grep -qF "$(printf '"nb\302\240\302\2402\\""  ')" <<<"$o"
check "objects: a name with U+2800 (blank on a terminal, not a space) is one cell, in double quotes" \
  grep -qF "$(printf '"br\342\240\200\342\240\2003"  ')" <<<"$o"
check "objects --json: the name as it is" test "$("$C" objects "$esc" --json --resource configmaps |
  jq -r '.objects[] | select(.name | startswith("cm")) | .name')" = "${evil##*/}"


# Objects under keys kube-apiserver would not store them under (a crafted
# backup): a ClusterRoleBinding among team-a's ConfigMaps, a ConfigMap under
# another's name. -o manifest refuses each, naming what the object is and
# what the key names (a manifest would create what the operator did not ask
# for); -o json prints it with a warning. A custom resource's kind is not
# checked against its key; one with a terminal escape in it is named with '?'.
# A Deployment still in the group kube-apiserver 1.15 stored it in
# (extensions) is neither.
for k in "$T"/kv/planted/*.key; do
  ctl put "$(cat "$k")" < "${k%.key}.value" >/dev/null || { echo "cannot put $(cat "$k")"; exit 1; }
done
planted=$("$ETCD_BACKUPD" --once -c "$T/zstd.conf" 2>"$T/planted.err")
for k in "$T"/kv/planted/*.key; do
  key=$(cat "$k"); refusal=$(cat "${k%.key}.refusal"); warning=$(cat "${k%.key}.warning")
  "$C" get "$planted" "$key" -o manifest > "$T/out" 2> "$T/err"; rc=$?
  if [[ -n $refusal ]]; then
    check "planted $key: -o manifest refused (exit $rc), saying \"$refusal\"" \
      test $rc -eq 1 -a ! -s "$T/out" -a -n "$(grep -F -- "$refusal" "$T/err")" -a -z "$(LC_ALL=C grep -P '[\x1b\x07]' "$T/err")"
  else
    check "$key: -o manifest printed (exit $rc), not refused" test $rc -eq 0 -a -s "$T/out" -a ! -s "$T/err"
  fi
  "$C" get "$planted" "$key" -o json > "$T/out" 2> "$T/err"; rc=$?
  if [[ -n $warning ]]; then
    check "planted $key: -o json prints it (exit $rc), warning \"$warning\"" \
      test $rc -eq 0 -a -s "$T/out" -a -n "$(grep -F -- "warning: $key: $warning: kube-apiserver did not store it there" "$T/err")"
  else
    check "planted $key: -o json prints it (exit $rc), no warning" test $rc -eq 0 -a -s "$T/out" -a ! -s "$T/err"
  fi
done
"$C" get "$planted" /registry/configmaps/team-a/ --prefix -o manifest > "$T/out" 2> "$T/err"; rc=$?
check "planted: team-a's ConfigMaps as manifests: exit 1, no ClusterRoleBinding among them" \
  test $rc -eq 1 -a -z "$(grep ClusterRoleBinding "$T/out")"

# A label and a value holding what a terminal acts on (a right-to-left
# override, a C1 CSI, DEL, an isolate, a mark): each output writes them as
# escapes, never raw, and JSON and YAML readers get the very strings back.
raw_controls() { LC_ALL=C grep -cP '\x7f|\xc2[\x80-\x9f]|\xe2\x80[\x8e\x8f\xaa-\xae]|\xe2\x81[\xa6-\xa9]' "$1"; }
for o in json yaml manifest; do
  "$C" get "$planted" /registry/configmaps/default/bidi -o $o > "$T/bidi.$o" 2> "$T/err"; rc=$?
  check "bidi controls, -o $o: exit $rc, none of them raw ($(raw_controls "$T/bidi.$o") lines), escaped" \
    test $rc -eq 0 -a "$(raw_controls "$T/bidi.$o")" = 0 -a -n "$(grep -F '\u202e' "$T/bidi.$o")"
  check "bidi controls, -o $o: read back, the same label and value" /usr/bin/python3 -c '
import json, sys, yaml
want = json.load(open(sys.argv[2]))
o = (json.load if sys.argv[3] == "json" else yaml.safe_load)(open(sys.argv[1]))
sys.exit(0 if o["metadata"]["labels"]["tier"] == want["label"] and o["data"]["note"] == want["value"] else 1)
' "$T/bidi.$o" "$T/kv/planted/bidi.json" $o
done

finish
