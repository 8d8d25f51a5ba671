#!/usr/bin/env bash
# `etcd-backupctl discover` on kubeadm-shaped static-pod manifests
# (tests/fixtures/kubeadm/, with this test's etcd and certificates put in):
# both flag forms, several endpoints with an IPv6 one, in-pod paths mapped
# through hostPath volumes to other host paths. Every discovered field is
# compared with the expected value; the printed configuration passes
# --check-config and takes a backup of the real TLS etcd; --write, --force,
# --root and the bad inputs (not YAML, no etcd flags, a missing or an
# unreadable certificate, a configuration that would not pass
# --check-config) with their exit codes, nothing written.
. "$(dirname "$0")/lib.sh"

start_etcd
ctl put /registry/namespaces/discover-test '{"kind":"Namespace"}' >/dev/null
FIX=$TOP_SRCDIR/tests/fixtures/kubeadm
M=$T/manifests
mkdir -p "$M" "$T/var-lib-etcd"
v6_port=$(python3 -c 'import socket; s = socket.socket(socket.AF_INET6); s.bind(("::1", 0)); print(s.getsockname()[1])')
endpoints="https://[::1]:$v6_port,$ETCD_ENDPOINT,https://127.0.0.2:2379"

# kube-apiserver.yaml as kubeadm writes it, pointed at this test's etcd: the
# client certificate in the "--flag value" form, the rest as --flag=value;
# the pod's /etc/kubernetes/pki is $T/etcd/pki on this node.
write_apiserver() { # [sed expression for extra changes]
  sed -e "s|--etcd-servers=https://127.0.0.1:2379|--etcd-servers=$endpoints|" \
      -e "s|    - --etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt|    - --etcd-certfile\n    - /etc/kubernetes/pki/etcd/healthcheck-client.crt|" \
      -e "s|--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key|--etcd-keyfile=/etc/kubernetes/pki/etcd/healthcheck-client.key|" \
      -e "s|      path: /etc/kubernetes/pki$|      path: $T/etcd/pki|" \
      -e "${1:-s|^||}" "$FIX/kube-apiserver.yaml" > "$M/kube-apiserver.yaml"
}
write_apiserver
sed -e "s|      path: /var/lib/etcd$|      path: $T/var-lib-etcd|" \
    -e "s|    - --name=cp1|    - --name\n    - cp1|" "$FIX/etcd.yaml" > "$M/etcd.yaml"
check "the test manifests use both flag forms" grep -qx -- '    - --etcd-certfile' "$M/kube-apiserver.yaml"

# -c: the path --write installs to (the built default follows the prefix).
discover() { "$ETCD_BACKUPCTL" -c /etc/etcd-backupd/etcd-backupd.conf discover --manifests-dir "$M" "$@"; }

out=$(discover 2>"$T/err"); rc=$?
check "discover exits 0 ($(head -c 300 "$T/err"))" test $rc -eq 0
printf '%s\n' "$out" > "$T/found.conf"
# value KEY: the text between the quotes of `KEY = "…";`
value() { sed -n "s|^  $1 = \"\\(.*\\)\";\$|\\1|p" "$T/found.conf"; }
# source KEY: the comment line above KEY.
source_of() { grep -B1 "^  $1 = " "$T/found.conf" | head -1; }
check "endpoints: every URL of --etcd-servers in order, IPv6 included" \
  test "$(sed -n '/endpoints = \[/,/\];/p' "$T/found.conf" | grep -o 'https://[^"]*' | paste -sd,)" = "$endpoints"
check "endpoints: the source comment" grep -qx '  # kube-apiserver.yaml: --etcd-servers' "$T/found.conf"
check "cacert: mapped to the node" test "$(value cacert)" = "$T/etcd/pki/etcd/ca.crt"
check "cacert: its source" test "$(source_of cacert)" = "  # kube-apiserver.yaml: --etcd-cafile"
check "cert: the --flag value form, mapped" test "$(value cert)" = "$ETCD_CERT"
check "cert: its source" test "$(source_of cert)" = "  # kube-apiserver.yaml: --etcd-certfile"
check "key: mapped" test "$(value key)" = "$ETCD_KEY"
check "key: its source" test "$(source_of key)" = "  # kube-apiserver.yaml: --etcd-keyfile"
check "restore.mode: static-pod" test "$(value mode)" = "static-pod"
check "restore.manifests_dir" test "$(value manifests_dir)" = "$M"
check "restore.data_dir: etcd's --data-dir through the etcd-data hostPath" test "$(value data_dir)" = "$T/var-lib-etcd"
check "restore.data_dir: its source" test "$(source_of data_dir)" = "  # etcd.yaml: --data-dir"
check "restore.name: the --flag value form" test "$(value name)" = "cp1"
check "restore.initial_cluster" test "$(value initial_cluster)" = "cp1=https://192.168.122.10:2380"
check "restore.initial_advertise_peer_urls" test "$(value initial_advertise_peer_urls)" = "https://192.168.122.10:2380"
# The token is never pinned: unset, the restore derives one from each
# backup (a new cluster ID, which a member still on the old data cannot
# join); etcd's default, pinned, would keep the old cluster's.
check "restore.initial_cluster_token: left unset, saying etcd runs without one" \
  test -z "$(value initial_cluster_token)" -a -n "$(grep -x '  # old data cannot join the restored cluster (etcd.yaml runs etcd without --initial-cluster-token)' "$T/found.conf")" \
       -a -n "$(grep -x '  # initial_cluster_token = "";' "$T/found.conf")"
# etcd without --initial-cluster: etcd's own, from its name and peer URLs.
mkdir -p "$T/no-cluster" && cp "$M/kube-apiserver.yaml" "$T/no-cluster/"
sed '/--initial-cluster=/d' "$M/etcd.yaml" > "$T/no-cluster/etcd.yaml"
nc=$("$ETCD_BACKUPCTL" -c /etc/etcd-backupd/etcd-backupd.conf discover --manifests-dir "$T/no-cluster" 2>&1); rc=$?
check "no --initial-cluster: initial_cluster is NAME=PEER-URL, etcd's default (exit $rc)" \
  test -n "$(grep -x '  initial_cluster = "cp1=https://192.168.122.10:2380";' <<<"$nc")" -a \
       -n "$(grep -x "  # etcd.yaml runs etcd without --initial-cluster: etcd's default" <<<"$nc")"
# A relative --manifests-dir is written as the absolute path it names.
rel=$(cd "$(dirname "$M")" && "$ETCD_BACKUPCTL" -c /etc/etcd-backupd/etcd-backupd.conf discover \
  --manifests-dir "$(basename "$M")" 2>&1); rc=$?
check "a relative --manifests-dir: exit 0, written absolute ($(tail -1 <<<"$rel"))" \
  test $rc -eq 0 -a -n "$(grep -x "  manifests_dir = \"$M\";" <<<"$rel")"
# No etcd on the node (kube-apiserver's manifest alone): the restore keys are
# left commented out, saying why, not filled with values etcd never had.
mkdir -p "$T/apiserver-only" && cp "$M/kube-apiserver.yaml" "$T/apiserver-only/"
noetcd=$("$ETCD_BACKUPCTL" -c /etc/etcd-backupd/etcd-backupd.conf discover --manifests-dir "$T/apiserver-only" 2>&1); rc=$?
check "no etcd on the node: discover exits 0 ($(tail -2 <<<"$noetcd"))" test $rc -eq 0
for k in data_dir name initial_cluster initial_cluster_token initial_advertise_peer_urls; do
  check "no etcd on the node: restore.$k commented out" \
    test -n "$(grep -x "  # $k = \"\";" <<<"$noetcd")" -a -z "$(grep "^  $k = " <<<"$noetcd")"
done
check "no etcd on the node: says so" grep -qx "  # etcd was not found on this node: --name unknown" <<<"$noetcd"
check "no etcd on the node (an external etcd): restore.mode auto, not a static pod it does not run" \
  eval 'grep -qx "  # etcd was not found on this node (an external etcd?): restore on the node that" <<<"$noetcd" &&
        grep -qx "  mode = \"auto\";" <<<"$noetcd" && ! grep -q "etcd runs as a static pod" <<<"$noetcd"'
# kube-apiserver keeping some resources in other etcds (--etcd-servers-overrides,
# a list flag, given twice here): named as not in these backups, not taken
# for their endpoints.
mkdir -p "$T/overrides" && cp "$M/etcd.yaml" "$T/overrides/"
sed "s|^    - --etcd-servers=.*|&\n    - --etcd-servers-overrides=/events#https://127.0.0.1:2382;https://[::1]:2382\n    - --etcd-servers-overrides=coordination.k8s.io/leases#https://127.0.0.1:2384|" \
  "$M/kube-apiserver.yaml" > "$T/overrides/kube-apiserver.yaml"
ov=$("$ETCD_BACKUPCTL" -c /etc/etcd-backupd/etcd-backupd.conf discover --manifests-dir "$T/overrides" 2>&1); rc=$?
check "--etcd-servers-overrides: exit 0, named as another etcd not in these backups ($(head -3 <<<"$ov"))" \
  eval 'test $rc -eq 0 &&
        grep -A2 -x "  # kube-apiserver.yaml: --etcd-servers-overrides: kube-apiserver keeps these resources in another" <<<"$ov" |
          grep -qxF "  #   /events#https://127.0.0.1:2382;https://[::1]:2382,coordination.k8s.io/leases#https://127.0.0.1:2384"'
check "--etcd-servers-overrides: the endpoints are --etcd-servers' alone" \
  test "$(sed -n '/^  endpoints = \[$/,/^  \];$/p' <<<"$ov" | grep -c ':238[24]')" = 0
ovj=$("$ETCD_BACKUPCTL" -c /etc/etcd-backupd/etcd-backupd.conf discover --manifests-dir "$T/overrides" --json 2>&1)
check "--etcd-servers-overrides: in --json with its source" \
  test "$(jq -r '.etcd.etcd_servers_overrides | .source + " " + .value' <<<"$ovj")" = "kube-apiserver.yaml: --etcd-servers-overrides /events#https://127.0.0.1:2382;https://[::1]:2382,coordination.k8s.io/leases#https://127.0.0.1:2384"
check "no --etcd-servers-overrides: nothing said, none in --json" \
  test -z "$(grep -e 'overrides' -e 'another etcd' <<<"$noetcd")" -a "$(discover --json | jq -r '.etcd.etcd_servers_overrides')" = null

# Every group discover does not fill is the shipped one, comment and all.
shipped=$TOP_SRCDIR/conf/etcd-backupd.conf
for g in $(sed -n 's/^\([a-z_]*\): {$/\1/p' "$shipped" | grep -vx -e etcd -e restore); do
  check "group $g: as shipped, with its comment" \
    test "$(grep -B30 -x "$g: {" "$shipped" | tac | sed '/^$/q' | tac; sed -n "/^$g: {\$/,/^};\$/p" "$shipped" | tail -n +2)" = \
         "$(grep -B30 -x "$g: {" "$T/found.conf" | tac | sed '/^$/q' | tac; sed -n "/^$g: {\$/,/^};\$/p" "$T/found.conf" | tail -n +2)"
done
check "control.group: the operators' group, as the socket unit has it" \
  test "$(sed -n '/^control: {$/,/^};$/s/^  group = "\(.*\)";$/\1/p' "$T/found.conf")" = etcd-backup-ctl
check "the optional groups, commented out as shipped" \
  test "$(grep -cx -e '#encryption: {' -e '#kubernetes: {' -e '#upload: {' "$T/found.conf")" = 3

out=$("$ETCD_BACKUPD" --check-config -c "$T/found.conf" 2>&1); rc=$?
check "the printed configuration passes --check-config ($out)" test $rc -eq 0

# The same configuration, with a backup directory of this test's own, takes a backup.
sed -e "s|  directory = \"/var/lib/etcd-backupd\";|  directory = \"$T/backups\";|" \
    -e 's|  min_free = "1G";|  min_free = "1M";|' "$T/found.conf" > "$T/once.conf"
check "only the storage lines differ" test "$(diff "$T/found.conf" "$T/once.conf" | grep -c '^>')" -eq 2
path=$("$ETCD_BACKUPD" --once -c "$T/once.conf" 2>"$T/once.err"); rc=$?
check "it takes a backup of the TLS etcd ($(tail -2 "$T/once.err"))" test $rc -eq 0 -a -f "$path"
check "the backup holds the key put before" \
  grep -q '"kind":"Namespace"' <<<"$("$ETCD_BACKUPCTL" get "$path" /registry/namespaces/discover-test 2>&1)"
check "etcdctl snapshot status accepts the backup" \
  bash -c "gzip -dc '$path' > '$T/b.db' && etcdctl snapshot status '$T/b.db' >/dev/null 2>&1"

# --drop-in: each file under its own file name.
drop=$(discover --drop-in); rc=$?
check "--drop-in exits 0" test $rc -eq 0
check "--drop-in: resets the shipped credentials" grep -qx 'LoadCredential=' <<<"$drop"
check "--drop-in: the client certificate" grep -qx "LoadCredential=healthcheck-client.crt:$ETCD_CERT" <<<"$drop"
check "--drop-in: the client key" grep -qx "LoadCredential=healthcheck-client.key:$ETCD_KEY" <<<"$drop"
check "--drop-in: the CA" grep -qx "LoadCredential=ca.crt:$T/etcd/pki/etcd/ca.crt" <<<"$drop"

# --json: what was found with its sources, and the two files' texts.
json=$(discover --json); rc=$?
check "--json exits 0" test $rc -eq 0
check "--json: the configuration is the printed one" test "$(jq -r .config <<<"$json")" = "$(cat "$T/found.conf")"
check "--json: the drop-in is the printed one" test "$(jq -r .drop_in <<<"$json")" = "$drop"
check "--json: the client key with its source" \
  jq -e --arg k "$ETCD_KEY" '.etcd.key.value == $k and (.etcd.key.source | test("kube-apiserver.yaml: --etcd-keyfile"))' <<<"$json"
check "--json: static-pod restore with etcd's data dir" \
  jq -e '.restore.mode == "static-pod" and (.restore.data_dir.value | length > 0) and (.etcd.endpoints | length > 0)' <<<"$json"
out=$(discover --json --write --root "$T/root-json"); rc=$?
check "--json --write: exit 0, the two paths" \
  test $rc -eq 0 -a "$(jq -r '.wrote | length' <<<"$out")" = 2 -a -f "$T/root-json/etc/etcd-backupd/etcd-backupd.conf"

# --write below --root.
R=$T/root
conf=$R/etc/etcd-backupd/etcd-backupd.conf
dropin=$R/etc/systemd/system/etcd-backupd.service.d/credentials.conf
out=$(discover --write --root "$R"); rc=$?
check "--write --root exits 0" test $rc -eq 0
check "--write: the configuration is the printed one" cmp -s "$conf" "$T/found.conf"
check "--write: the drop-in is the printed one" test "$(cat "$dropin")" = "$drop"
check "--write: ends with the enable command" \
  test "$(tail -1 <<<"$out")" = "  systemctl --root=$R enable etcd-backupd.socket etcd-backupd.service"
check "--write: files are 0644" test "$(stat -c %a "$conf" "$dropin" | sort -u)" = 644
out=$(discover --write --root "$R" 2>&1); rc=$?
check "--write again, nothing new: exit 0, without --force ($out)" test $rc -eq 0
check "--write again, nothing new: says both files are unchanged" \
  grep -qx "Unchanged: $conf" <<<"$out"
check "--write again, nothing new: no copy kept" test -z "$(ls "$R/etc/etcd-backupd" | grep -v '^etcd-backupd.conf$')"
# The same text in a file the service's user cannot read (a redirect
# under umask 077): made 0644 again, without --force, nothing kept.
chmod 0600 "$conf"
out=$(discover --write --root "$R" 2>&1); rc=$?
check "--write over the same text at 0600: exit 0 without --force, 0644 again, no copy ($out)" \
  test $rc -eq 0 -a "$(stat -c %a "$conf")" = 644 -a -z "$(ls "$R/etc/etcd-backupd" | grep -v '^etcd-backupd.conf$')"
check "--write over the same text at 0600: the text as printed" cmp -s "$conf" "$T/found.conf"
# The operator's own settings in the file --force replaces: kept beside it.
sed -i 's/^  keep_daily = [0-9]*;/  keep_daily = 30;/' "$conf"
grep -q '^  keep_daily = 30;' "$conf" || echo "# discover.sh: no keep_daily line to change"
echo "# changed" >> "$conf"
chmod 0640 "$conf"
edited=$(sha256sum < "$conf")
before=$(sha256sum "$conf" "$dropin")
out=$(discover --write --root "$R" 2>&1); rc=$?
check "--write over an existing configuration: exit 1" test $rc -eq 1
check "--write: the message names the file and --force" grep -q "$conf exists; --force replaces it" <<<"$out"
check "--write: ... and what --force would set back (the group retention)" \
  grep -qF "replaces it (keeping a copy beside it), setting the group retention as shipped" <<<"$out"
check "--write without --force: nothing changed" test "$(sha256sum "$conf" "$dropin")" = "$before"
# A key discover now finds that the file does not set (restore.manifests_dir,
# as after an upgrade that writes one more), with etcd.timeout changed: named.
cp -p "$conf" "$T/edited.conf"
sed -i -e '/^  manifests_dir = /d' -e 's/^  timeout = "30min";/  timeout = "2h";/' "$conf"
out=$(discover --write --root "$R" 2>&1); rc=$?
check "--write over a file without a key found here: exit 1, names the keys and the group" test $rc -eq 1 -a \
  -n "$(grep -F "(keeping a copy beside it), setting etcd.timeout, restore.manifests_dir as found on this node or shipped, and the group retention as shipped" <<<"$out")"
grep -qF "setting etcd.timeout, restore.manifests_dir" <<<"$out" || sed 's/^/# /' <<<"$out"
cp -p "$T/edited.conf" "$conf"
check "--write without --force: still nothing changed" test "$(sha256sum "$conf" "$dropin")" = "$before"
out=$(discover --write --force --root "$R" 2>&1); rc=$?
check "--write --force replaces it" test $rc -eq 0
check "--write --force: the new file is the printed one" cmp -s "$conf" "$T/found.conf"
kept=$(ls "$conf".pre-discover-* 2>/dev/null)
check "--write --force: the replaced file kept beside it, as it was (mode 0640)" \
  test "$(wc -l <<<"$kept")" = 1 -a -f "$kept" -a "$(sha256sum < "$kept")" = "$edited" -a "$(stat -c %a "$kept")" = 640
check "--write --force: says where it kept it and which group it set" \
  grep -qF "kept the replaced $conf as $kept; what it set in retention is now the shipped defaults" <<<"$out"
check "--write --force: the drop-in, unchanged, neither replaced nor kept" \
  test -z "$(ls "$(dirname "$dropin")" | grep -v '^credentials.conf$')" -a -n "$(grep -x "Unchanged: $dropin" <<<"$out")"

# Settings of the etcd and restore groups that discover does not take from
# the node are named when --force replaces them.
sed -i -e 's/^  timeout = "30min";/  timeout = "2h";/' -e 's|^  etcdutl = "";|  etcdutl = "/opt/etcd/etcdutl";|' "$conf"
out=$(discover --write --force --root "$R" 2>&1); rc=$?
check "--force over etcd.timeout and restore.etcdutl: names them (exit $rc)" \
  grep -q "its etcd.timeout, restore.etcdutl are now as found on this node or shipped: copy back what should stay" \
  <<<"$out"
grep -q "etcd.timeout, restore.etcdutl are" <<<"$out" || sed 's/^/# /' <<<"$out"

# The same bytes in files another user may change (owned by nobody, 0666):
# not "Unchanged" but replaced by root's 0644 files, without --force (the
# text is the same: nothing is lost, nothing kept).
rm -f "$conf".pre-discover-*
cp "$T/found.conf" "$conf"; chown 65534 "$conf" "$dropin"; chmod 0666 "$conf" "$dropin"
out=$(discover --write --root "$R" 2>&1); rc=$?
check "the same bytes, writable by others: both replaced without --force (exit $rc)" \
  test $rc -eq 0 -a -n "$(grep -x "Wrote $conf" <<<"$out")" -a -n "$(grep -x "Wrote $dropin" <<<"$out")"
check "... now root's and 0644, no copy kept" \
  test "$(stat -c '%u %a' "$conf" "$dropin" | sort -u)" = "0 644" -a -z "$(ls "$conf".pre-discover-* 2>/dev/null)"

# A copy's name already taken (a run in the same second): the next free one.
# Every second from 2 s before to 30 s after now is taken, so that the run's
# second is among them on a busy machine too.
rm -f "$conf".pre-discover-* "$dropin".pre-discover-*
now=$(date +%s)
for s in $(seq -2 30); do touch "$conf.pre-discover-$(date -u -d "@$((now + s))" +%Y%m%dT%H%M%SZ)"; done
echo "# changed again" >> "$conf"
edited=$(sha256sum < "$conf")
out=$(discover --write --force --root "$R" 2>&1); rc=$?
kept=$(grep -o "kept the replaced $conf as [^;]*" <<<"$out" | sed 's/.* as //')
check "a copy's name taken: exit 0 ($rc), kept as NAME.1 ($kept; taken: $(date -u -d "@$((now - 2))" +%T)-$(date -u -d "@$((now + 30))" +%T))" \
  test $rc -eq 0 -a -n "$kept" -a "${kept%.1}" != "$kept" -a "$(sha256sum < "$kept")" = "$edited"

# A failure after the first file is replaced puts it back: the second
# rename fails (injected), then the first one's directory sync.
rm -f "$conf".pre-discover-* "$dropin".pre-discover-*
echo "# changed once more" >> "$conf"; echo "# changed" >> "$dropin"
before=$(sha256sum "$conf" "$dropin"); listing=$(ls -a "$(dirname "$conf")" "$(dirname "$dropin")")
for fault in renameat2:error=EIO:when=2 fsync:error=EIO:when=3; do
  # (LeakSanitizer cannot run under ptrace: off for this run in a sanitizer build.)
  out=$(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -o /dev/null -e trace=rename,renameat,renameat2,fsync -e inject="${fault/renameat2/rename,renameat,renameat2}" \
        "$ETCD_BACKUPCTL" -c /etc/etcd-backupd/etcd-backupd.conf discover --manifests-dir "$M" --write --force \
        --root "$R" 2>&1); rc=$?
  check "$fault: exit 1 ($rc)" test $rc -eq 1
  check "$fault: says what failed and that it put the configuration back" \
    grep -q "put $conf back as it was" <<<"$out"
  grep -q "put $conf back as it was" <<<"$out" || sed 's/^/# /' <<<"$out"
  check "$fault: both files as they were, no copy left" \
    test "$(sha256sum "$conf" "$dropin")" = "$before" -a "$(ls -a "$(dirname "$conf")" "$(dirname "$dropin")")" = "$listing"
done

check "--write -c PATH writes there" \
  bash -c "'$ETCD_BACKUPCTL' -c /etc/other.conf discover --manifests-dir '$M' --write --root '$T/root2' >/dev/null && cmp -s '$T/root2/etc/other.conf' '$T/found.conf'"

# The example configuration `meson install` put there, untouched, is replaced without --force.
mkdir -p "$T/root3/etc/etcd-backupd" && cp "$TOP_SRCDIR/conf/etcd-backupd.conf" "$T/root3/etc/etcd-backupd/"
check "--write replaces the shipped example configuration" \
  bash -c "'$ETCD_BACKUPCTL' -c /etc/etcd-backupd/etcd-backupd.conf discover --manifests-dir '$M' --write --root '$T/root3' >/dev/null && cmp -s '$T/root3/etc/etcd-backupd/etcd-backupd.conf' '$T/found.conf'"
check "... and keeps no copy of it" test -z "$(ls "$T/root3/etc/etcd-backupd" | grep -v '^etcd-backupd.conf$')"
# ... and puts it back when the drop-in cannot be renamed into place.
mkdir -p "$T/root4/etc/etcd-backupd" && cp "$TOP_SRCDIR/conf/etcd-backupd.conf" "$T/root4/etc/etcd-backupd/"
out=$(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -o /dev/null \
      -e trace=rename,renameat,renameat2 -e inject=rename,renameat,renameat2:error=EIO:when=2 \
      "$ETCD_BACKUPCTL" -c /etc/etcd-backupd/etcd-backupd.conf discover --manifests-dir "$M" --write \
      --root "$T/root4" 2>&1); rc=$?
check "the shipped example, the drop-in's rename failing: exit 1 ($rc), the example put back, no copy left" \
  test $rc -eq 1 -a -n "$(grep -F "put $T/root4/etc/etcd-backupd/etcd-backupd.conf back as it was" <<<"$out")" -a \
       "$(ls "$T/root4/etc/etcd-backupd")" = etcd-backupd.conf
check "... byte for byte" cmp -s "$T/root4/etc/etcd-backupd/etcd-backupd.conf" "$TOP_SRCDIR/conf/etcd-backupd.conf"

# Bad input: a clear message naming the file and flag, exit 1, nothing written.
bad() { # description expected-exit expected-message-part
  local d=$1 want=$2 msg=$3 W=$T/bad-root out rc
  rm -rf "$W"
  out=$(discover --write --root "$W" 2>&1); rc=$?
  check "$d: exit $want (got $rc: $out)" test $rc -eq "$want"
  check "$d: the message says \"$msg\"" grep -qF -- "$msg" <<<"$out"
  check "$d: nothing written" test ! -e "$W"
  out=$(discover 2>&1 >/dev/null); rc=$?
  check "$d: printing fails the same way" test $rc -eq "$want"
}
cp "$M/kube-apiserver.yaml" "$T/good.yaml"
printf 'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command: [kube-apiserver\n    - --etcd-servers=x\n' \
  > "$M/kube-apiserver.yaml"
bad "a manifest that is not YAML" 1 \
  "$M/kube-apiserver.yaml:7: not YAML: did not find expected ',' or ']' while parsing a flow sequence (line 5)"
write_apiserver '/--etcd-/d'
bad "a manifest without etcd flags" 1 "$M/kube-apiserver.yaml has no --etcd-servers flag"
write_apiserver 's|healthcheck-client.key|missing.key|'
bad "a key file that does not exist" 1 \
  "kube-apiserver.yaml: --etcd-keyfile: $T/etcd/pki/etcd/missing.key: No such file or directory"
write_apiserver 's|--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt|--etcd-cafile=/opt/etcd/ca.crt|'
bad "a CA on a path no hostPath volume maps" 1 \
  "kube-apiserver.yaml: --etcd-cafile=/opt/etcd/ca.crt is on no hostPath volume of the pod"
write_apiserver 's|--etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt|--etcd-cafile=/etc/kubernetes/pki//etcd/../etcd/ca.crt|'
bad "a CA path that is not clean" 1 \
  "kube-apiserver.yaml: --etcd-cafile=/etc/kubernetes/pki//etcd/../etcd/ca.crt is not an absolute, clean path (no //, . or ..)"
write_apiserver 's|--etcd-servers=.*|--etcd-servers=http://127.0.0.1:2379|'
check "the http:// manifest differs only there" grep -q -- '--etcd-servers=http://127.0.0.1:2379$' "$M/kube-apiserver.yaml"
bad "an http:// endpoint" 1 "kube-apiserver.yaml: --etcd-servers: \"http://127.0.0.1:2379\" is not an https:// URL"
write_apiserver 's|--etcd-servers=.*|--etcd-servers=https://127.0.0.1:99999|'
bad "an endpoint --check-config refuses" 78 "etcd.endpoints"
# --etcd-servers given twice adds up, as kube-apiserver's list flag does
# (pflag's StringSlice); a trailing / is dropped, as etcd's clients do.
write_apiserver "s|--etcd-servers=.*|--etcd-servers=https://[::1]:$v6_port/\n    - --etcd-servers=$ETCD_ENDPOINT,https://127.0.0.2:2379|"
check "the repeated flag is in the manifest" test "$(grep -c -- '--etcd-servers=' "$M/kube-apiserver.yaml")" = 2
out=$(discover 2>&1); rc=$?
check "--etcd-servers twice: exit 0 (got $rc)" test $rc -eq 0
check "--etcd-servers twice: every URL of both, in order, without the trailing /" \
  test "$(sed -n '/endpoints = \[/,/\];/p' <<<"$out" | grep -o 'https://[^"]*' | paste -sd,)" = "$endpoints"
# The client certificate and its key in one PEM file, named by both flags:
# handed to the service once, and the configuration takes a backup with it.
cat "$ETCD_CERT" "$ETCD_KEY" > "$T/etcd/pki/etcd/client-both.pem" && chmod 0600 "$T/etcd/pki/etcd/client-both.pem"
write_apiserver 's|healthcheck-client.crt|client-both.pem|; s|healthcheck-client.key|client-both.pem|'
out=$(discover --drop-in 2>&1); rc=$?
check "one PEM file for the certificate and its key: --drop-in exits 0 ($out)" test $rc -eq 0
check "one PEM file for the certificate and its key: one LoadCredential= for it" \
  test "$(grep -c "^LoadCredential=client-both.pem:$T/etcd/pki/etcd/client-both.pem\$" <<<"$out")" = 1
discover | sed "s|^  directory = \"/var/lib/etcd-backupd\";|  directory = \"$T/both-backups\";|; s|^  min_free = \"1G\";|  min_free = \"1M\";|" > "$T/both.conf"
mkdir -p "$T/both-backups"
path=$("$ETCD_BACKUPD" --once -c "$T/both.conf" 2>"$T/both.err"); rc=$?
check "one PEM file for the certificate and its key: a backup with it ($(tail -1 "$T/both.err"))" \
  test $rc -eq 0 -a -f "$path"
# A '%' in a path is written "%%" (systemd expands specifiers there); a file
# name with ':' or '%' cannot be a credential's name and is refused.
mkdir -p "$T/etcd/pki/etcd/50%"
cp "$ETCD_KEY" "$T/etcd/pki/etcd/50%/client.key"
write_apiserver 's|etcd/healthcheck-client.key|etcd/50%/client.key|'
out=$(discover --drop-in 2>&1); rc=$?
check "a '%' in the key's path: written %% (exit $rc)" \
  grep -qx "LoadCredential=client.key:$T/etcd/pki/etcd/50%%/client.key" <<<"$out"
cp "$ETCD_KEY" "$T/etcd/pki/etcd/client:1.key"
write_apiserver 's|healthcheck-client.key|client:1.key|'
out=$(discover --drop-in 2>&1); rc=$?
check "a ':' in the key's file name: refused (exit $rc)" \
  test $rc -eq 1 -a -n "$(grep -F "client:1.key cannot be handed to the service as a credential" <<<"$out")"
cp "$T/good.yaml" "$M/kube-apiserver.yaml"
rm "$M/etcd.yaml" && cp "$T/good.yaml" "$T/x" && echo 'kind: Pod' > "$M/etcd.yaml"
bad "an etcd.yaml that is no pod" 1 "$M/etcd.yaml:1: the pod has no spec"
sed -e "s|      path: /var/lib/etcd$|      path: $T/var-lib-etcd|" \
    -e 's|    - --data-dir=/var/lib/etcd|&\n    - --config-file=/etc/etcd/etcd.conf.yml|' "$FIX/etcd.yaml" > "$M/etcd.yaml"
bad "etcd with --config-file" 1 \
  "etcd.yaml: etcd reads its settings from the configuration file /etc/etcd/etcd.conf.yml (--config-file)"
sed -e "s|      path: /var/lib/etcd$|      path: $T/var-lib-etcd|" "$FIX/etcd.yaml" > "$M/etcd.yaml"
# A FIFO where etcd.yaml should be (nobody writes to it): an error, not a hang.
mv "$M/etcd.yaml" "$T/etcd.yaml.good" && mkfifo "$M/etcd.yaml"
out=$(timeout 20 "$ETCD_BACKUPCTL" -c /etc/etcd-backupd/etcd-backupd.conf discover --manifests-dir "$M" 2>&1); rc=$?
check "a FIFO for etcd.yaml: exit 1, not a hang (got $rc)" test $rc -eq 1
check "a FIFO for etcd.yaml: the message names the file ($out)" grep -qF "$M/etcd.yaml" <<<"$out"
rm "$M/etcd.yaml" && mv "$T/etcd.yaml.good" "$M/etcd.yaml"

# Below --root, no symbolic link is followed: a user who may write in the
# image being prepared cannot send root's writes elsewhere. Nothing is
# written when either file's directory is refused.
for link in etc/etcd-backupd etc/systemd/system; do
  H=$T/hostile-${link//\//-} V=$T/victim-${link//\//-}
  mkdir -p "$H/$(dirname "$link")" "$V" && ln -s "$V" "$H/$link"
  out=$(discover --write --root "$H" 2>&1); rc=$?
  check "--root, $link a symbolic link: exit 1 (got $rc)" test $rc -eq 1
  check "--root, $link a symbolic link: named ($out)" \
    grep -qF "$H/$link is a symbolic link; below --root $H none is followed" <<<"$out"
  check "--root, $link a symbolic link: nothing written anywhere" \
    test -z "$(ls -A "$V")" -a -z "$(find "$H" -type f)"
done

# etcd: { discover = DIR; }: found by --check-config, --once and the daemon,
# at start and again on reload.
mkdir -p "$T/m2" && cp -r "$T/etcd/pki" "$T/pki-up"
sed "s|      path: $T/etcd/pki\$|      path: $T/pki-up|" "$T/good.yaml" > "$T/m2/kube-apiserver.yaml"
{ echo "etcd: { discover = \"$T/m2\"; connect_timeout = \"2s\"; };"; storage_group "$T/b-auto" gzip 1
  echo 'schedule: { calendar = "*:*:0/2"; persistent = false; retry = { attempts = 0; backoff = "1s"; }; };'
  echo 'retention: { keep_last = 0; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'
  echo "control: { socket = \"$T/control.sock\"; group = \"\"; };"; } > "$T/auto.conf"
out=$("$ETCD_BACKUPD" --check-config -c "$T/auto.conf" 2>&1); rc=$?
check "discover: --check-config passes ($out)" test $rc -eq 0
check "discover: --check-config, no other etcd named" test -z "$(grep 'another etcd' <<<"$out")"
mkdir -p "$T/m3" && sed "s|^    - --etcd-servers=.*|&\n    - --etcd-servers-overrides=/events#https://127.0.0.1:2382|" \
  "$T/m2/kube-apiserver.yaml" > "$T/m3/kube-apiserver.yaml"
out=$("$ETCD_BACKUPD" --check-config -c <(sed "s|$T/m2|$T/m3|" "$T/auto.conf") 2>&1); rc=$?
check "discover: --check-config names kube-apiserver's other etcd as not in these backups ($out)" \
  eval 'test $rc -eq 0 && grep -qF "; kube-apiserver keeps resources in another etcd, not in these backups: /events#https://127.0.0.1:2382 (kube-apiserver.yaml: --etcd-servers-overrides)" <<<"$out"'
check "discover: --check-config says what it found and where" \
  grep -qF "etcd discovered: endpoints $endpoints (kube-apiserver.yaml: --etcd-servers), cacert $T/pki-up/etcd/ca.crt (kube-apiserver.yaml: --etcd-cafile), cert $T/pki-up/etcd/healthcheck-client.crt (kube-apiserver.yaml: --etcd-certfile)" <<<"$out"
path=$("$ETCD_BACKUPD" --once -c "$T/auto.conf" 2>/dev/null); rc=$?
check "discover: --once takes a backup" test $rc -eq 0 -a -f "$path"
# etcd's own manifest is the restore's business: one it would refuse (etcd
# reading a --config-file) stops no backup, and is not even read.
sed 's|    - --name=cp1|    - --config-file=/etc/etcd/etcd.conf.yml\n&|' "$FIX/etcd.yaml" > "$T/m2/etcd.yaml"
path=$("$ETCD_BACKUPD" --once -c "$T/auto.conf" 2>"$T/once-etcd.err"); rc=$?
check "discover: an etcd.yaml the restore would refuse stops no backup ($(tail -1 "$T/once-etcd.err"))" \
  test $rc -eq 0 -a -f "$path" -a -n "$(grep -x -- '    - --config-file=/etc/etcd/etcd.conf.yml' "$T/m2/etcd.yaml")"
out=$("$ETCD_BACKUPCTL" -c /etc/etcd-backupd/etcd-backupd.conf discover --manifests-dir "$T/m2" 2>&1); rc=$?
check "discover: the same etcd.yaml is refused by etcd-backupctl discover, which writes the restore's settings" \
  test $rc -ne 0 -a -n "$(grep -F -- "--config-file" <<<"$out")"
rm "$T/m2/etcd.yaml"
# An --etcd-servers URL etcd.endpoints would refuse is refused where it is found, not at the first connection.
mkdir -p "$T/m3" && sed 's|--etcd-servers=.*|--etcd-servers=https://127.0.0.1:99999|' "$T/m2/kube-apiserver.yaml" > "$T/m3/kube-apiserver.yaml"
echo "etcd: { discover = \"$T/m3\"; };" > "$T/bad-auto.conf"
out=$("$ETCD_BACKUPD" --check-config -c "$T/bad-auto.conf" 2>&1); rc=$?
check "discover: an --etcd-servers with a bad port: exit 78, named with its source ($out)" \
  test $rc -eq 78 -a -n "$(grep -F 'kube-apiserver.yaml: --etcd-servers: "https://127.0.0.1:99999": bad port (expected 1 to 65535)' <<<"$out")"
for bad_conf in 'etcd: { discover = "manifests"; };' "etcd: { discover = \"$T/m2\"; endpoints = [\"https://127.0.0.1:1\"]; };" \
                "etcd: { discover = \"$T/nowhere\"; };"; do
  echo "$bad_conf" > "$T/bad-auto.conf"
  out=$("$ETCD_BACKUPD" --check-config -c "$T/bad-auto.conf" 2>&1); rc=$?
  check "discover: $bad_conf: exit 78 ($out)" test $rc -eq 78
done
printf 'storage: { compression = "gzip"; };\netcd: {\n  discover = "%s";\n};\n' "$T/nowhere" > "$T/bad-auto.conf"
out=$("$ETCD_BACKUPD" --check-config -c "$T/bad-auto.conf" 2>&1)
check "discover: what it finds wrong is said at the setting's line ($out)" grep -q "^$T/bad-auto.conf:3: etcd.discover: " <<<"$out"
check "discover: a relative directory is named" \
  bash -c "echo 'etcd: { discover = \"manifests\"; };' > '$T/bad-auto.conf'; '$ETCD_BACKUPD' --check-config -c '$T/bad-auto.conf' | grep -q 'etcd.discover: expected \"auto\" or the absolute path'"

"$NOTIFY_RECV" "$T/notify.sock" 60 > "$T/notify.log" &
NPID=$!; kill_at_exit "$NPID"
for _ in $(seq 1 50); do [[ -S $T/notify.sock ]] && break; sleep 0.05; done
NOTIFY_SOCKET=$T/notify.sock "$ETCD_BACKUPD" -c "$T/auto.conf" > "$T/daemon.log" 2>&1 &
DPID=$!; kill_at_exit -9 "$DPID"
wait_for() { # file pattern seconds
  for _ in $(seq 1 $(($3 * 10))); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1
}
count() { grep -c "$1" "$T/daemon.log"; }
check "daemon: logs what it discovered at start" wait_for "$T/daemon.log" "etcd discovered: .*cert $T/pki-up/etcd/healthcheck-client.crt" 10
check "daemon: backs up with it" wait_for "$T/daemon.log" ' ok, rev ' 10
# An upgrade renames the client certificate and key; kube-apiserver's manifest follows.
mv "$T/pki-up/etcd/healthcheck-client.crt" "$T/pki-up/etcd/apiserver-etcd-client.crt"
mv "$T/pki-up/etcd/healthcheck-client.key" "$T/pki-up/etcd/apiserver-etcd-client.key"
sed -i 's|/etc/kubernetes/pki/etcd/healthcheck-client|/etc/kubernetes/pki/etcd/apiserver-etcd-client|' "$T/m2/kube-apiserver.yaml"
check "daemon: with the old names gone, a backup fails" \
  wait_for "$T/daemon.log" "TLS: cannot use client certificate $T/pki-up/etcd/healthcheck-c" 10
kill -HUP "$DPID"
check "daemon: reload logs the new names" wait_for "$T/daemon.log" "etcd discovered: .*cert $T/pki-up/etcd/apiserver-etcd-client.crt" 10
check "daemon: reloaded" wait_for "$T/daemon.log" 'Reloaded ' 10
n_ok=$(count ' ok, rev ')
for _ in $(seq 1 100); do [[ $(count ' ok, rev ') -gt $n_ok ]] && break; sleep 0.1; done
check "daemon: backs up again after the reload" test "$(count ' ok, rev ')" -gt "$n_ok"
kill -TERM "$DPID"; wait "$DPID"

# kube-apiserver with an EncryptionConfiguration, as kubeadm writes it from
# apiServer.extraArgs and extraVolumes: the configuration checks Secrets
# against it (the host path), and the drop-in hands it to the service.
write_apiserver
mkdir -p "$T/enc" && install -m 0600 /dev/null "$T/enc/enc.yaml"
python3 "$TOP_SRCDIR/tests/helpers/kubeadm-encryption.py" "$M/kube-apiserver.yaml" "$T/enc"
out=$(discover 2>&1); rc=$?
check "an EncryptionConfiguration: exit $rc, kubernetes.encryption_config its host path, with its source" \
  test $rc -eq 0 -a -n "$(grep -A1 -x '  # kube-apiserver.yaml: --encryption-provider-config' <<<"$out" | grep -x "  encryption_config = \"$T/enc/enc.yaml\";")"
printf '%s\n' "$out" > "$T/enc.conf"
check "an EncryptionConfiguration: the configuration passes --check-config" \
  "$ETCD_BACKUPD" --check-config -c "$T/enc.conf"
drop=$(discover --drop-in 2>&1); rc=$?
check "an EncryptionConfiguration: the drop-in hands it over as a credential" \
  test $rc -eq 0 -a -n "$(grep -x "LoadCredential=enc.yaml:$T/enc/enc.yaml" <<<"$drop")"
# Not there (a credential systemd cannot load would keep the service from
# starting), or with the file name of a certificate handed over: left out,
# with why; the rest discovered all the same.
rm "$T/enc/enc.yaml"
out=$(discover 2>&1); rc=$?
drop=$(discover --drop-in 2>&1)
check "an EncryptionConfiguration that is not there: exit $rc, left out with why, no credential" \
  test $rc -eq 0 -a -n "$(grep -x "# kube-apiserver.yaml: --encryption-provider-config: $T/enc/enc.yaml: No such file or directory" <<<"$out")" \
       -a -z "$(grep '^  encryption_config = ' <<<"$out")" -a -z "$(grep enc.yaml <<<"$drop")"
install -m 0600 /dev/null "$T/enc/ca.crt"
sed -i 's|--encryption-provider-config=/etc/kubernetes/enc/enc.yaml|--encryption-provider-config=/etc/kubernetes/enc/ca.crt|' "$M/kube-apiserver.yaml"
out=$(discover 2>&1); rc=$?
check "an EncryptionConfiguration named as the CA: exit $rc, left out with why" \
  test $rc -eq 0 -a -n "$(grep -x "# kube-apiserver.yaml: --encryption-provider-config: $T/enc/ca.crt has the file name of $T/etcd/pki/etcd/ca.crt (kube-apiserver.yaml: --etcd-cafile); a credential needs its own name" <<<"$out")" \
       -a -z "$(grep '^  encryption_config = ' <<<"$out")"
sed -i 's|--encryption-provider-config=/etc/kubernetes/enc/ca.crt|--encryption-provider-config=/etc/kubernetes/enc/enc.yaml|' "$M/kube-apiserver.yaml"
# On no hostPath volume: discovered all the same, saying why it is left out.
sed -i "s|    - mountPath: /etc/kubernetes/enc\$|    - mountPath: /etc/kubernetes/elsewhere|" "$M/kube-apiserver.yaml"
out=$(discover 2>&1); rc=$?
check "an EncryptionConfiguration on no hostPath: exit $rc, left out with why" \
  test $rc -eq 0 -a -n "$(grep -x "# kube-apiserver's --encryption-provider-config cannot be used here:" <<<"$out")" \
       -a -z "$(grep "^  encryption_config = " <<<"$out")" \
       -a -n "$(grep -x "# kube-apiserver.yaml: --encryption-provider-config=/etc/kubernetes/enc/enc.yaml is on no hostPath volume of the pod" <<<"$out")"
write_apiserver

# An unreadable key: the same manifests read by a user who may not read it.
if [[ $(id -u) -eq 0 ]]; then
  cp -r "$T/etcd/pki" "$T/pki-nobody" && chmod -R a+rX "$T/pki-nobody" && chmod 600 "$T/pki-nobody/etcd/healthcheck-client.key"
  write_apiserver "s|      path: $T/etcd/pki\$|      path: $T/pki-nobody|"
  chmod 711 "$T" && chmod -R a+rX "$M"
  out=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$ETCD_BACKUPCTL" discover --manifests-dir "$M" 2>&1); rc=$?
  check "an unreadable key: exit 1 ($out)" test $rc -eq 1
  check "an unreadable key: named with its flag" \
    grep -qF "kube-apiserver.yaml: --etcd-keyfile: $T/pki-nobody/etcd/healthcheck-client.key: Permission denied" <<<"$out"
  chmod 700 "$T"
else
  echo "ok - SKIP unreadable key (needs root to switch user)"
fi
finish
