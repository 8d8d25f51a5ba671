#!/usr/bin/env bash
# The offline commands of etcd-backupctl (verify, inspect, get, audit) on
# real backups taken by `etcd-backupd --once` from a real etcd 3.4 with
# mutual TLS, in gzip, zstd and uncompressed form, judged by etcdctl itself:
# `inspect` against `etcdctl snapshot status`, `get` against `etcdctl get`
# taken at the same revision, `audit` against the fake Secrets written here.
# Then damaged copies (a flipped byte, truncation, junk appended, another
# backup's sidecar, a broken bbolt page behind a valid or an invalid
# trailer) must fail `verify` with exit 1 naming the check, and a few hundred
# randomly damaged copies must never crash any command. Last, age-encrypted
# backups read with --identity or the config's identity_file, judged against
# the real `age -d`, with wrong, missing and damaged keys and files.
. "$(dirname "$0")/lib.sh"

C=$ETCD_BACKUPCTL
command -v python3 >/dev/null || { echo "offline.sh needs python3"; exit 1; }

start_etcd

# ---- data -------------------------------------------------------------------
for i in $(seq 1 20); do ctl put "/app/k$i" "value $i" >/dev/null; done
ctl put /app/k3 "overwritten once" >/dev/null
ctl put /app/k3 "overwritten twice" >/dev/null
ctl del /app/k5 >/dev/null
ctl del /app/k7 >/dev/null
ctl put /app/k7 "back again" >/dev/null                # deleted, then created anew
head -c 3000 /dev/urandom > "$T/bin"
printf 'nul\0and\nnewline\r\n' >> "$T/bin"
ctl put /app/binary < "$T/bin" >/dev/null
ctl put "/app/with space" "a value with spaces" >/dev/null
head -c 30000 /dev/urandom | base64 -w0 | ctl put /app/big >/dev/null   # overflow pages

secret() { # NAME PREFIX-PRINTF-FORMAT
  { printf "$2"; head -c 64 /dev/urandom; } | ctl put "/registry/secrets/default/$1" >/dev/null
}
for i in 1 2 3 4 5 6; do secret "aes-$i" 'k8s:enc:aescbc:v1:key1:'; done
for i in 1 2 3; do secret "gcm-$i" 'k8s:enc:aesgcm:v1:key2:'; done
secret kms-1 'k8s:enc:kms:v2:vault:'
secret plain-1 'k8s\0\n\x0cv1\x12\x06Secret'
secret plain-2 'k8s\0\n\x0cv1\x12\x06Secret'
ctl put /registry/secrets/kube-system/plain-json '{"kind":"Secret","apiVersion":"v1","data":{"a":"Yg=="}}' >/dev/null
secret gone 'k8s:enc:aescbc:v1:key1:'                  # deleted: not counted
ctl del /registry/secrets/default/gone >/dev/null
secret upgraded 'k8s\0\n\x0cv1\x12\x06Secret'          # re-encrypted: counted as aescbc
secret upgraded 'k8s:enc:aescbc:v1:key1:'
ctl put /registry/configmaps/default/not-a-secret 'k8s:enc:aescbc:v1:key9:x' >/dev/null

# What etcd serves now; no key under /app/ or /registry/ changes from here on.
ctl get /app/k3 > "$T/ref-k3"
ctl get /app/binary > "$T/ref-binary"
ctl get "/app/with space" > "$T/ref-space"
ctl get /app/k7 > "$T/ref-k7"
ctl get /app/ --prefix > "$T/ref-prefix"
ctl get /app/ --prefix -w json > "$T/ref-prefix.json"
ctl get /app/k5 > "$T/ref-deleted"
check "reference: etcdctl prints nothing for a deleted key" test ! -s "$T/ref-deleted"

# ---- backups ------------------------------------------------------------------
declare -A FILE DB
for codec in gzip zstd none; do
  ctl put "/between/$codec" x >/dev/null               # a new revision per backup
  { etcd_group; storage_group "$T/b-$codec" "$codec" 3; } > "$T/$codec.conf"
  out=$("$ETCD_BACKUPD" --once -c "$T/$codec.conf" 2>"$T/$codec.err"); rc=$?
  check "$codec: --once made a backup" test $rc -eq 0 -a -f "$out" -a -f "$out.json"
  FILE[$codec]=$out
  case $codec in
    gzip) gzip -dc "$out" > "$T/$codec.db" ;;
    zstd) zstd -q -dc "$out" > "$T/$codec.db" ;;
    none) cp "$out" "$T/$codec.db" ;;
  esac
  DB[$codec]=$T/$codec.db
done

# verify trusts neither the name nor the sidecar: the extension must say
# what the content is, the sidecar's name, compression and encrypted what
# the file is; a mismatch is refused naming both.
mkdir -p "$T/mis"
g=${FILE[gzip]}; gname=$(basename "$g")
cp "$g" "$T/mis/${gname%.gz}.zst"
out=$("$C" verify "$T/mis/${gname%.gz}.zst" 2>&1); rc=$?
check "gzip data named .zst: verify exit 1 (rc $rc)" test $rc -eq 1
check "gzip data named .zst: names both" grep -q "says zstd, the content is gzip" <<<"$out"
cp "${FILE[none]}" "$T/mis/$(basename "${FILE[none]}").gz.age"
out=$("$C" verify "$T/mis/$(basename "${FILE[none]}").gz.age" 2>&1); rc=$?
check "an unencrypted db named .db.gz.age: verify exit 1 (rc $rc)" test $rc -eq 1
check "an unencrypted db named .db.gz.age: names both" \
  grep -q "says gzip, age-encrypted, the content is not compressed" <<<"$out"
mkdir -p "$T/mis2"; cp "$g" "$T/mis2/"
jq -c '.name = "../../etc/passwd"' "$g.json" > "$T/mis2/$gname.json"
out=$("$C" verify "$T/mis2/$gname" 2>&1); rc=$?
check "a sidecar naming ../../etc/passwd: verify exit 1 (rc $rc)" test $rc -eq 1
check "a sidecar naming ../../etc/passwd: names both" grep -qF "sidecar names \"../../etc/passwd\", the file is $gname" <<<"$out"
# A sidecar name that would draw on a terminal (a line of its own, text
# hidden from there on): quoted as printable ASCII, '?' for the rest.
jq -c '.name = "x\u001b[8m\nok   everything fine\r"' "$g.json" > "$T/mis2/$gname.json"
out=$("$C" verify "$T/mis2/$gname" 2>&1); rc=$?
check "a sidecar name with control characters: verify exit 1 (rc $rc)" test $rc -eq 1
check "a sidecar name with control characters: quoted printable, no control character out" \
  bash -c 'grep -qF "sidecar names \"x?[8m?ok   everything fine?\", the file is $2" <<<"$1" &&
           ! grep -q "^ok   everything fine" <<<"$1" && ! LC_ALL=C grep -q $'"'"'[\x1b\r]'"'"' <<<"$1"' _ "$out" "$gname"
# Another backup's sidecar (a smaller db) beside it: its db_size does not
# bound this file's decompression, and the verdict is the sidecar's name,
# not damaged data.
other=$(sed -E 's/-r[0-9]+\.db/-r1.db/' <<<"$gname")
jq -c --arg n "$other" '.name = $n | .db_size = 4096' "$g.json" > "$T/mis2/$gname.json"
out=$("$C" verify "$T/mis2/$gname" 2>&1); rc=$?
check "another backup's sidecar: verify exit 1 (rc $rc)" test $rc -eq 1
check "another backup's sidecar: the data decompresses and its trailer checks" \
  bash -c 'grep -q "^ok   decompress" <<<"$1" && grep -q "^ok   sha256 trailer" <<<"$1"' _ "$out"
check "another backup's sidecar: refused for its name" grep -qF "sidecar names \"$other\", the file is $gname" <<<"$out"
jq -c '.compression = "zstd" | .encrypted = true' "$g.json" > "$T/mis2/$gname.json"
out=$("$C" verify "$T/mis2/$gname" 2>&1); rc=$?
check "a sidecar saying zstd and encrypted for plain gzip: verify exit 1 (rc $rc)" test $rc -eq 1
check "a sidecar saying zstd and encrypted: names both" \
  bash -c 'grep -q "sidecar says zstd, the file is gzip" <<<"$1" && grep -q "sidecar says encrypted, the file is not encrypted" <<<"$1"' _ "$out"
check "the genuine gzip backup still verifies" quiet "$C" verify "$g"
# A FILE whose name would draw on a terminal (up three lines, erase, fake
# "ok" lines, hidden text from there on), its data damaged: the FAIL lines
# and the summary stay, no control character out.
hostile=$T/mis2/$'x\e[3A\r\e[J\nok   sha256 trailer\nok   db structure\e[8m'.db.gz
cp "$g" "$hostile"; printf 'XXXX' | dd of="$hostile" bs=1 seek=100 conv=notrunc 2>/dev/null
out=$("$C" verify "$hostile" 2>&1); rc=$?
check "a file name with control characters, damaged: verify exit 1 (rc $rc), FAIL lines and the summary kept, no control character out" \
  bash -c 'grep -q "^FAIL " <<<"$1" && grep -q "checks failed" <<<"$1" && ! LC_ALL=C grep -q $'"'"'[\x1b\r]'"'"' <<<"$1" &&
           ! grep -q "^ok   db structure" <<<"$1"' _ "$out"
rm -f "$hostile"

# A valid zstd file whose window (256 MiB, zstd --long=28 from a pipe) is
# above what the decoder is given: refused saying so, not called damaged.
zstd -q --long=28 -c < "${DB[none]}" > "$T/mis/long.db.zst"
out=$("$C" verify "$T/mis/long.db.zst" 2>&1); rc=$?
check "a 256 MiB zstd window: verify exit 1 (rc $rc)" test $rc -eq 1
check "a 256 MiB zstd window: said so, not only damage" \
  grep -q "FAIL decompress: a zstd frame asks for a window larger than 128 MiB, .*: a damaged frame header, or a file made with zstd --long=28 or more" <<<"$out"

# A huge sparse file named like a backup, beside its sidecar (the daemon's
# user can make one in the storage directory): once a stage failed, the file
# is read on for the sidecar's SHA-256 only when its size is the sidecar's;
# here its size alone fails the check, and it is not read to its 8 GiB end.
for codec in gzip none; do
  sparse=$T/mis/sparse-$codec/$(basename "${FILE[$codec]}")
  mkdir -p "$(dirname "$sparse")"
  cp "${FILE[$codec]}.json" "$sparse.json"
  head -c 65536 "${FILE[$codec]}" > "$sparse"; truncate -s 8G "$sparse"
  # LeakSanitizer does not run under ptrace: leaks are not looked for here.
  out=$(ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" strace -f -qq -o "$T/sparse.strace" \
    -e trace=read,pread64 -e status=successful "$C" verify "$sparse" 2>&1); rc=$?
  read_bytes=$(awk -F' = ' '{ s += $NF } END { printf "%.0f", s }' "$T/sparse.strace")
  check "a sparse 8 GiB $codec file: verify exit 1 (rc $rc)" test $rc -eq 1
  check "a sparse 8 GiB $codec file: its size fails the sidecar's" \
    grep -qE "^FAIL sidecar file_size: sidecar says [0-9]+ bytes, the file has 8589934592 \(its SHA-256 is not taken\)" <<<"$out"
  check "a sparse 8 GiB $codec file: less than 64 MiB read ($read_bytes bytes)" test "$read_bytes" -lt $((64 << 20))
done

# A decompression bomb (1 GiB of zeros, about 32 KiB of zstd) with a small
# temporary directory: refused as soon as its first page is out, without
# filling the directory; and one that looks like a db past its meta page
# stops at the free space, not at ENOSPC.
mkdir -p "$T/bombtmp"
if mount -t tmpfs -o size=64m tmpfs "$T/bombtmp" 2>/dev/null; then
  CLEANUP+=("umount '$T/bombtmp'")
  head -c 1G /dev/zero | zstd -q -1 > "$T/mis/bomb.db.zst"
  out=$(TMPDIR=$T/bombtmp "$C" verify "$T/mis/bomb.db.zst" 2>&1); rc=$?
  check "zstd bomb: verify exit 1 (rc $rc)" test $rc -eq 1
  check "zstd bomb: no etcd database, found on the first page" grep -q "no etcd database in the decompressed zstd data" <<<"$out"
  check "zstd bomb: the temporary directory is empty afterwards" test -z "$(ls -A "$T/bombtmp")"
  { head -c 4096 "${DB[none]}"; head -c 1G /dev/zero; } | zstd -q -1 > "$T/mis/bomb2.db.zst"
  out=$(TMPDIR=$T/bombtmp "$C" verify "$T/mis/bomb2.db.zst" 2>&1); rc=$?
  check "a bomb with a db's first page: verify exit 1 (rc $rc)" test $rc -eq 1
  check "a bomb with a db's first page: stops at what the temporary directory can take" \
    grep -q "cannot write the temporary file in $T/bombtmp: No space left on device (the data decompresses to more than the [0-9]* bytes it can take)" <<<"$out"
else
  not_ok "cannot mount a tmpfs for the bomb test (needs root)"
fi

for codec in gzip zstd none; do
  f=${FILE[$codec]}
  # inspect
  got=$("$C" --json inspect "$f"); rc=$?
  want=$(etcdctl snapshot status "${DB[$codec]}" -w json 2>/dev/null)
  check "$codec: inspect --json exits 0" test $rc -eq 0
  check "$codec: inspect --json = etcdctl snapshot status -w json ($want)" test "$got" = "$want"
  got=$("$C" inspect "$f")
  want=$(etcdctl snapshot status "${DB[$codec]}" -w table 2>/dev/null)
  check "$codec: inspect table = etcdctl snapshot status -w table" test "$got" = "$want"

  # get
  "$C" get "$f" /app/k3 > "$T/got-k3"
  check "$codec: get of an overwritten key = etcdctl get" cmp -s "$T/got-k3" "$T/ref-k3"
  "$C" get "$f" /app/binary > "$T/got-binary"
  check "$codec: get of a binary value = etcdctl get (byte for byte)" cmp -s "$T/got-binary" "$T/ref-binary"
  "$C" get "$f" "/app/with space" > "$T/got-space"
  check "$codec: get of a key with a space = etcdctl get" cmp -s "$T/got-space" "$T/ref-space"
  "$C" get "$f" /app/k7 > "$T/got-k7"
  check "$codec: get of a deleted and re-created key = etcdctl get" cmp -s "$T/got-k7" "$T/ref-k7"
  "$C" get "$f" /app/k5 > "$T/got-deleted"; rc=$?
  check "$codec: get of a deleted key prints nothing and exits 0" test $rc -eq 0 -a ! -s "$T/got-deleted"
  "$C" get "$f" /app/nonexistent > "$T/got-none"; rc=$?
  check "$codec: get of a key never written prints nothing and exits 0" test $rc -eq 0 -a ! -s "$T/got-none"
  "$C" get "$f" /app/ --prefix > "$T/got-prefix"
  check "$codec: get --prefix = etcdctl get --prefix" cmp -s "$T/got-prefix" "$T/ref-prefix"
  "$C" --json get "$f" /app/ --prefix > "$T/got-prefix.json"
  norm='[.kvs[] | {key, value: (.value // ""), create_revision, mod_revision, version}]'
  check "$codec: get --prefix --json kvs = etcdctl get -w json kvs" \
    test "$(jq -c "$norm" "$T/got-prefix.json")" = "$(jq -c "$norm" "$T/ref-prefix.json")"
  check "$codec: get --json count = etcdctl's" \
    test "$(jq .count "$T/got-prefix.json")" = "$(jq .count "$T/ref-prefix.json")"

  # audit
  a=$("$C" --json audit "$f"); rc=$?
  check "$codec: audit exits 0 even with plaintext Secrets" test $rc -eq 0
  check "$codec: audit counts 14 live Secrets" test "$(jq .secrets <<<"$a")" = 14
  check "$codec: audit by_provider is exact" test "$(jq -c -S .by_provider <<<"$a")" = \
    '{"aescbc:key1":7,"aesgcm:key2":3,"kmsv2:vault":1,"plaintext":3}'
  check "$codec: audit plaintext = 3" test "$(jq .plaintext <<<"$a")" = 3
  check "$codec: audit warns about plaintext" \
    grep -q '^WARNING: 3 Secrets are stored in plaintext: anyone with this backup can read them' <<<"$("$C" audit "$f")"

  # verify
  out=$("$C" verify "$f"); rc=$?
  check "$codec: verify exits 0" test $rc -eq 0
  check "$codec: verify prints only ok lines" test -z "$(grep -v '^ok ' <<<"$out")"
  for c in "sha256 trailer" "db structure" "sidecar file_sha256" "sidecar file_size" \
           "sidecar db_sha256" "sidecar db_size" "sidecar revision"; do
    check "$codec: verify checks $c" grep -q "^ok   $c" <<<"$out"
  done
  check "$codec: verify --json says ok" \
    test "$("$C" --json verify "$f" | jq -c '[.ok, (.checks | length), ([.checks[].ok] | all), .file]')" = \
         "[true,$(wc -l <<<"$out"),true,\"$f\"]"
done

# ---- names, help, usage ------------------------------------------------------------
name=$(basename "${FILE[zstd]}")
out=$(cd / && "$C" -c "$T/zstd.conf" verify "$name"); rc=$?
check "a backup NAME is found in the configured storage directory" test $rc -eq 0
check "... and verified there" grep -q '^ok   sidecar revision' <<<"$out"
out=$(cd / && "$C" -c "$T/zstd.conf" --json inspect "$name")
check "inspect by NAME = by FILE" test "$out" = "$("$C" --json inspect "${FILE[zstd]}")"
echo 'storage: { directory = "relative/dir"; };' > "$T/bad.conf"
(cd / && "$C" -c "$T/bad.conf" inspect "$name" >/dev/null 2>&1); rc=$?
check "a NAME with a bad config exits 78" test $rc -eq 78
(cd / && "$C" -c "$T/bad.conf" inspect "${FILE[zstd]}" >/dev/null 2>&1); rc=$?
check "a FILE never loads the config" test $rc -eq 0
(cd "$T/b-gzip" && "$C" -c "$T/bad.conf" inspect "$(basename "${FILE[gzip]}")" >/dev/null 2>&1); rc=$?
check "a file in the current directory is a FILE" test $rc -eq 0
# A NAME is read from the storage directory, which belongs to the daemon's
# user: what that user may have put there is opened as the restore opens it.
# No symbolic link, FIFO, file of another user or hard link from elsewhere
# is read by root under a backup's name; a good copy still is.
if [[ $(id -u) = 0 ]] && id nobody >/dev/null 2>&1; then
  H=$T/hostile
  install -d -m 0700 -o nobody -g nogroup "$H"
  { etcd_group; storage_group "$H"; } > "$T/hostile.conf"
  install -m 0600 "${FILE[zstd]}" "$T/root-only.db.zst"
  install -m 0600 "${FILE[zstd]}.json" "$T/root-only.db.zst.json"
  hname() { echo "etcd-00000000000000aa-20261201T02000${1}Z-r1.db.zst"; }
  ln -s "$T/root-only.db.zst" "$H/$(hname 1)"
  mkfifo "$H/$(hname 2)"
  ln "$T/root-only.db.zst" "$H/$(hname 3)"
  install -m 0600 -o 54321 "${FILE[zstd]}" "$H/$(hname 4)"
  install -m 0600 -o nobody "${FILE[zstd]}" "$H/$(hname 5)"
  ln -s "$T/root-only.db.zst.json" "$H/$(hname 5).json"
  good=$(basename "${FILE[zstd]}")
  install -m 0600 -o nobody "${FILE[zstd]}" "$H/$good"
  install -m 0600 -o nobody "${FILE[zstd]}.json" "$H/$good.json"
  chown -h nobody:nogroup "$H/$(hname 1)" "$H/$(hname 2)" "$H/$(hname 5).json"
  hostile() { # CHECK NAME WANT-MESSAGE [COMMAND]
    out=$(cd / && timeout 60 "$C" -c "$T/hostile.conf" "${4:-inspect}" "$2" 2>&1); rc=$?
    check "storage directory, $1: ${4:-inspect} NAME exits 1 (got $rc)" test $rc -eq 1
    check "storage directory, $1: says so" grep -qF "$3" <<<"$out"
  }
  hostile "a symbolic link to root's file" "$(hname 1)" "$H/$(hname 1) is a symbolic link; refusing to follow it"
  hostile "a FIFO" "$(hname 2)" "$H/$(hname 2) is not a regular file"
  hostile "a hard link to root's file" "$(hname 3)" "$H/$(hname 3) has 2 hard links"
  hostile "another user's file" "$(hname 4)" "$H/$(hname 4) is owned by uid 54321, neither root nor the owner"
  hostile "a sidecar that is a symbolic link" "$(hname 5)" \
    "$H/$(hname 5).json is a symbolic link; refusing to follow it" verify
  check "a sidecar that is a symbolic link: verify reports it as the failed sidecar check, the rest checked" \
    bash -c 'grep -q "^FAIL sidecar: .*json is a symbolic link" <<<"$1" && grep -q "^ok   sha256 trailer" <<<"$1"' _ "$out"
  # inspect, get, objects and audit do not read the sidecar: not refused for it.
  out=$(cd / && "$C" -c "$T/hostile.conf" inspect "$(hname 5)" 2>&1); rc=$?
  check "a sidecar that is a symbolic link: inspect NAME reads the backup (exit $rc)" test $rc -eq 0
  # Nothing there is read by name after the confined open: a NAME that is
  # not there, or a directory that cannot be opened, is said so.
  hostile "a NAME that is not there" "$(hname 7)" "no backup $(hname 7) in $H"
  { etcd_group; storage_group "$T/no-such-dir"; } > "$T/nodir.conf"
  out=$(cd / && "$C" -c "$T/nodir.conf" inspect "$(hname 7)" 2>&1); rc=$?
  check "a storage directory that cannot be opened: exit 1 ($rc), named" \
    test $rc -eq 1 -a -n "$(grep -F "cannot open the storage directory $T/no-such-dir: No such file or directory" <<<"$out")"
  out=$(cd / && "$C" -c "$T/hostile.conf" verify "$good" 2>&1); rc=$?
  check "storage directory: a good copy is verified by NAME (exit $rc)" test $rc -eq 0
  check "storage directory: ... with its sidecar" grep -q '^ok   sidecar revision' <<<"$out"
  # A path is the operator's own choice: a link given as FILE is followed,
  # and a FIFO is refused at once, not waited on.
  "$C" inspect "$H/$(hname 1)" > /dev/null 2>&1; rc=$?
  check "a symbolic link given as FILE is followed (exit $rc)" test $rc -eq 0
  out=$(timeout 60 "$C" inspect "$H/$(hname 2)" 2>&1); rc=$?
  check "a FIFO given as FILE: exit 1 at once (got $rc)" test $rc -eq 1
  check "a FIFO given as FILE: says so" grep -qF "is not a regular file" <<<"$out"
  out=$(timeout 60 "$C" verify "$H/$(hname 2)" 2>&1); rc=$?
  check "a FIFO given to verify as FILE: exit 1 at once (got $rc)" test $rc -eq 1
fi
for cmd in verify inspect get audit; do
  "$C" "$cmd" --help > "$T/help" 2>&1; rc=$?
  check "$cmd --help exits 0 and shows usage" test $rc -eq 0 -a -n "$(grep "Usage: .*$cmd" "$T/help")"
  "$C" "$cmd" > /dev/null 2>&1; rc=$?
  check "$cmd without arguments is a usage error (2)" test $rc -eq 2
  "$C" "$cmd" --bogus x y > /dev/null 2>&1; rc=$?
  check "$cmd with an unknown option is a usage error (2)" test $rc -eq 2
done
"$C" inspect "${FILE[none]}" extra > /dev/null 2>&1; rc=$?
check "inspect with too many arguments is a usage error (2)" test $rc -eq 2
"$C" verify "$T/does-not-exist.db" > "$T/out" 2>&1; rc=$?
check "verify of a missing file exits 1 and says so" test $rc -eq 1 -a -n "$(grep 'FAIL read: cannot open' "$T/out")"
"$C" inspect "$T/does-not-exist.db" > "$T/out" 2>&1; rc=$?
check "inspect of a missing file exits 1" test $rc -eq 1
{ echo 'age-encryption.org/v1'; head -c 200 /dev/urandom; } > "$T/enc.db.age"
"$C" inspect "$T/enc.db.age" > "$T/out" 2>&1; rc=$?
check "an encrypted backup is refused with exit 1 and a clear reason" \
  test $rc -eq 1 -a -n "$(grep 'encrypted backup: an age identity is needed' "$T/out")"

# ---- damage ------------------------------------------------------------------------
# damaged NAME SOURCE: a copy of SOURCE (and its sidecar) under NAME.
# damaged NAME FILE: a copy of FILE as $T/d/NAME, beside its sidecar (which names the copy).
damaged() { cp "$2" "$T/d/$1"; jq -c --arg n "$1" '.name = $n' "$2.json" > "$T/d/$1.json"; }
# verify_fails DESCRIPTION FILE PATTERN...: exit 1, and each pattern in the output.
verify_fails() {
  local d=$1 f=$2 out rc p good=1; shift 2
  out=$("$C" verify "$f" 2>&1); rc=$?
  [[ $rc -eq 1 ]] || good=0
  for p in "$@"; do grep -q -- "$p" <<<"$out" || good=0; done
  if [[ $good -eq 1 ]]; then ok "$d"; else not_ok "$d (rc $rc)"; sed 's/^/    /' <<<"$out"; fi
}
flip() { # FILE OFFSET
  local b; b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
  printf "$(printf '\\%03o' $(( (b ^ 0x55) & 255 )))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}
mkdir -p "$T/d"
for codec in gzip zstd none; do
  f=${FILE[$codec]}; size=$(stat -c %s "$f")
  damaged "flip.$codec" "$f"; flip "$T/d/flip.$codec" $((size / 2))
  verify_fails "$codec: a byte flipped in the middle fails verify" "$T/d/flip.$codec" \
    '^FAIL sidecar file_sha256: sidecar says'
  damaged "cut.$codec" "$f"; truncate -s $((size / 2)) "$T/d/cut.$codec"
  verify_fails "$codec: a truncated copy fails verify" "$T/d/cut.$codec" '^FAIL sidecar file_size'
  damaged "junk.$codec" "$f"; head -c 1000 /dev/urandom >> "$T/d/junk.$codec"
  verify_fails "$codec: junk appended fails verify" "$T/d/junk.$codec" '^FAIL ' '^FAIL sidecar file_size'
done
verify_fails "gzip: truncation is named" "$T/d/cut.gzip" '^FAIL decompress: truncated gzip stream'
verify_fails "zstd: truncation is named" "$T/d/cut.zstd" '^FAIL decompress: truncated zstd stream'
verify_fails "none: truncation is a trailer mismatch" "$T/d/cut.none" '^FAIL sha256 trailer: '
verify_fails "gzip: junk appended is named" "$T/d/junk.gzip" '^FAIL decompress: corrupt gzip stream'
verify_fails "none: junk appended, beside its sidecar, is more than the sidecar's db" "$T/d/junk.none" \
  "^FAIL decompress: the file is more than the sidecar's db_size ([0-9]* bytes) and the trailer"
cp "$T/d/junk.none" "$T/d/junk-alone.none"
verify_fails "none: junk appended, without a sidecar, is a trailer mismatch" "$T/d/junk-alone.none" \
  '^FAIL sha256 trailer: SHA-256 trailer mismatch: the file is damaged'
verify_fails "none: a flipped byte is a trailer mismatch" "$T/d/flip.none" \
  '^FAIL sha256 trailer: SHA-256 trailer mismatch'
"$C" inspect "$T/d/flip.none" > "$T/out" 2>&1; rc=$?
check "inspect refuses a damaged file with exit 1 and the reason" \
  test $rc -eq 1 -a -n "$(grep 'SHA-256 trailer mismatch: the file is damaged' "$T/out")"

# Another backup's sidecar: every checksum and the revision disagree.
cp "${FILE[gzip]}" "$T/d/swapped.db.gz"; cp "${FILE[none]}.json" "$T/d/swapped.db.gz.json"
verify_fails "another backup's sidecar fails verify" "$T/d/swapped.db.gz" \
  '^FAIL sidecar file_sha256' '^FAIL sidecar file_size' '^FAIL sidecar db_sha256' \
  '^FAIL sidecar revision: sidecar says' '^ok   sha256 trailer' '^ok   db structure'

# A broken bbolt page: the root bucket's page gets an invalid page type, then
# the db is compressed again; once with the old trailer, once with a new one.
break_page() { # DB FIX_TRAILER
  python3 - "$1" "$2" <<'PY'
import hashlib, struct, sys
path, fix = sys.argv[1], sys.argv[2] == "1"
d = bytearray(open(path, "rb").read())
ps = struct.unpack_from("<I", d, 16 + 8)[0]
for m in (0, 1):
    root = struct.unpack_from("<Q", d, m * ps + 32)[0]
    d[root * ps + 8:root * ps + 10] = b"\xee\xee"
if fix:
    d[-32:] = hashlib.sha256(d[:-32]).digest()
open(path, "wb").write(d)
PY
}
cp "${DB[gzip]}" "$T/d/page.db"; break_page "$T/d/page.db" 0
gzip -c "$T/d/page.db" > "$T/d/page.db.gz"
verify_fails "a broken page behind the old trailer fails two checks" "$T/d/page.db.gz" \
  '^ok   decompress' '^FAIL sha256 trailer' '^FAIL db structure: database structure damaged'
cp "${DB[gzip]}" "$T/d/page2.db"; break_page "$T/d/page2.db" 1
zstd -q -c "$T/d/page2.db" > "$T/d/page2.db.zst"
verify_fails "a broken page behind a valid trailer fails the structure check" "$T/d/page2.db.zst" \
  '^ok   sha256 trailer' '^FAIL db structure: database structure damaged'
"$C" inspect "$T/d/page2.db.zst" > "$T/out" 2>&1; rc=$?
check "inspect of a broken page exits 1 naming the damage" \
  test $rc -eq 1 -a -n "$(grep 'database structure damaged' "$T/out")"
"$C" get "$T/d/page2.db.zst" /app/k1 > "$T/out" 2>&1; rc=$?
check "get of a broken page exits 1 naming the damage" \
  test $rc -eq 1 -a -n "$(grep 'database structure damaged' "$T/out")"
"$C" --json verify "$T/d/page2.db.zst" > "$T/out" 2>/dev/null; rc=$?
check "verify --json of a broken page: ok false, the failed check named" \
  test $rc -eq 1 -a "$(jq -c '[.ok, ([.checks[] | select(.ok | not) | .name])]' "$T/out")" = '[false,["db structure"]]'

# ---- random damage -----------------------------------------------------------------
# A few hundred copies of small backups with random bytes changed, cut or
# grown; every command must exit 0 or 1, never die of a signal.
# RANDOM_ROUNDS (default 200) and RANDOM_SEED (default: the PID) repeat a run.
seed=${RANDOM_SEED:-$$}; RANDOM=$seed
{ etcd_group; storage_group "$T/b-small" gzip 1; } > "$T/small.conf"
small=$("$ETCD_BACKUPD" --once -c "$T/small.conf" 2>/dev/null)
small_db=$T/small.db; gzip -dc "$small" > "$small_db"
crashes=0 fails=0 runs=0
start=$SECONDS
for i in $(seq 1 ${RANDOM_ROUNDS:-200}); do
  if (( i % 2 )); then src=$small; else src=$small_db; fi
  cp "$src" "$T/r"; size=$(stat -c %s "$T/r")
  case $(( i % 5 )) in
    0) truncate -s $(( RANDOM * 32768 % size + RANDOM % size )) "$T/r" 2>/dev/null || truncate -s $((size / 3)) "$T/r" ;;
    1) head -c $(( RANDOM % 5000 )) /dev/urandom >> "$T/r" ;;
    *) for _ in $(seq 1 $(( 1 + RANDOM % 8 ))); do flip "$T/r" $(( (RANDOM * 32768 + RANDOM) % size )); done ;;
  esac
  for cmd in "verify" "inspect" "--json verify" "audit"; do
    # shellcheck disable=SC2086
    "$C" $cmd "$T/r" >/dev/null 2>&1; rc=$?
    runs=$((runs + 1))
    if (( rc > 1 )); then crashes=$((crashes + 1)); echo "    exit $rc from $cmd on copy $i"; cp "$T/r" "$T/crash-$i"; fi
    (( rc == 1 )) && fails=$((fails + 1))
  done
  "$C" get "$T/r" /app/ --prefix >/dev/null 2>&1; rc=$?
  runs=$((runs + 1))
  if (( rc > 1 )); then crashes=$((crashes + 1)); echo "    exit $rc from get on copy $i"; fi
  (( rc == 1 )) && fails=$((fails + 1))
done
echo "    random damage (RANDOM_SEED=$seed): $runs runs, $fails failed cleanly, $((SECONDS - start)) s"
check "random damage: $runs runs, every exit status 0 or 1" test $crashes -eq 0
check "random damage: most damaged copies are caught" test $fails -gt $((runs / 2))


# ---- encrypted backups -------------------------------------------------------------
# zstd and gzip backups encrypted with age to KEY1; KEY2 is another identity
# that opens nothing. The reference db comes from the real `age -d`.
age-keygen -o "$T/key1" 2>/dev/null; age-keygen -o "$T/key2" 2>/dev/null
pub1=$(age-keygen -y "$T/key1"); pub2=$(age-keygen -y "$T/key2")
declare -A AGE
for codec in zstd gzip; do
  { etcd_group; storage_group "$T/b-age-$codec" "$codec" 3
    echo "encryption: { recipients = [\"$pub1\"]; identity_file = \"$T/key1\"; };"; } > "$T/age-$codec.conf"
  out=$("$ETCD_BACKUPD" --once -c "$T/age-$codec.conf" 2>"$T/age-$codec.err"); rc=$?
  ext=$([[ $codec = zstd ]] && echo zst || echo gz)
  check "age $codec: --once made an encrypted backup (.db.$ext.age)" \
    test $rc -eq 0 -a -f "$out" -a "${out%.db.$ext.age}" != "$out"
  AGE[$codec]=$out
  if [[ $codec = zstd ]]; then age -d -i "$T/key1" "$out" | zstd -q -dc > "$T/age-$codec.db"
  else age -d -i "$T/key1" "$out" | gzip -dc > "$T/age-$codec.db"; fi
done

for codec in zstd gzip; do
  f=${AGE[$codec]}
  out=$("$C" verify --identity "$T/key1" "$f"); rc=$?
  check "age $codec: verify --identity exits 0" test $rc -eq 0
  check "age $codec: verify prints only ok lines" test -z "$(grep -v '^ok ' <<<"$out")"
  for c in decrypt decompress "sha256 trailer" "db structure" "sidecar file_sha256" "sidecar revision"; do
    check "age $codec: verify checks $c" grep -q "^ok   $c" <<<"$out"
  done
  check "age $codec: verify names the compression inside" grep -q "^ok   decompress: $codec, " <<<"$out"
  out=$("$C" -c "$T/age-$codec.conf" verify "$f"); rc=$?
  check "age $codec: verify with the config's identity_file (FILE) exits 0" \
    test $rc -eq 0 -a -n "$(grep '^ok   decrypt' <<<"$out")"
  out=$(cd / && "$C" -c "$T/age-$codec.conf" verify "$(basename "$f")"); rc=$?
  check "age $codec: verify with the config's identity_file (NAME) exits 0" \
    test $rc -eq 0 -a -n "$(grep '^ok   sidecar revision' <<<"$out")"
  check "age $codec: verify --json has an ok decrypt check" \
    test "$("$C" --json verify --identity "$T/key1" "$f" | jq -c '[.ok, ([.checks[] | select(.name == "decrypt") | .ok])]')" = '[true,[true]]'

  got=$("$C" --json inspect --identity "$T/key1" "$f"); rc=$?
  want=$(etcdctl snapshot status "$T/age-$codec.db" -w json 2>/dev/null)
  check "age $codec: inspect --json = etcdctl snapshot status of age -d's db ($want)" \
    test $rc -eq 0 -a "$got" = "$want"
  got=$("$C" -c "$T/age-$codec.conf" inspect "$f")
  check "age $codec: inspect table = etcdctl snapshot status -w table" \
    test "$got" = "$(etcdctl snapshot status "$T/age-$codec.db" -w table 2>/dev/null)"

  "$C" get --identity "$T/key1" "$f" /app/ --prefix > "$T/got-age-prefix"; rc=$?
  "$C" get "${FILE[zstd]}" /app/ --prefix > "$T/got-plain-prefix"
  cmp -s "$T/got-age-prefix" "$T/got-plain-prefix"; same=$?
  check "age $codec: get --prefix = the same on a plain backup" \
    test $rc -eq 0 -a $same -eq 0 -a -s "$T/got-age-prefix"
  "$C" -c "$T/age-$codec.conf" get "$f" /app/binary > "$T/got-age-binary"
  check "age $codec: get of a binary value = etcdctl get (byte for byte)" cmp -s "$T/got-age-binary" "$T/ref-binary"
  a=$("$C" --json audit --identity "$T/key1" "$f"); rc=$?
  check "age $codec: audit = audit of a plain backup" \
    test $rc -eq 0 -a "$a" = "$("$C" --json audit "${FILE[zstd]}")"
done

f=${AGE[zstd]}
for cmd in verify inspect audit "get /app/k1"; do
  # shellcheck disable=SC2086
  set -- $cmd
  "$C" "$1" --identity "$T/key2" "$f" "${@:2}" > "$T/out" 2>&1; rc=$?
  check "age: $1 with a wrong identity exits 1 naming it" \
    test $rc -eq 1 -a -n "$(grep 'no age identity matches this backup' "$T/out")" \
         -a -n "$(grep -F "$pub2" "$T/out")" -a -n "$(grep -F "$T/key2" "$T/out")"
  "$C" -c "$T/zstd.conf" "$1" "$f" "${@:2}" > "$T/out" 2>&1; rc=$?
  check "age: $1 without an identity exits 1 and says one is needed" \
    test $rc -eq 1 -a -n "$(grep -F 'encrypted backup: an age identity is needed (encryption.identity_file in the config, or --identity FILE)' "$T/out")"
done
default_conf=$("$C" --help | sed -n 's/.*configuration file (default \(.*\))$/\1/p')
if [[ -n $default_conf && ! -e $default_conf ]]; then
  "$C" inspect "$f" > "$T/out" 2>&1; rc=$?
  check "age: without -c and no default config, exit 1 saying an identity is needed" \
    test $rc -eq 1 -a -n "$(grep 'an age identity is needed' "$T/out")"
fi
"$C" verify --identity "$T/key2" --identity "$T/key1" "$f" > /dev/null 2>&1; rc=$?
check "age: --identity may be repeated; the matching one wins" test $rc -eq 0
"$C" inspect --identity "$T/does-not-exist" "$f" > "$T/out" 2>&1; rc=$?
check "age: a missing identity file exits 1 naming it" \
  test $rc -eq 1 -a -n "$(grep -F "$T/does-not-exist" "$T/out")"
install -m 0600 "$T/age-zstd.conf" "$T/no-identity"
"$C" inspect --identity "$T/no-identity" "$f" > "$T/out" 2>&1; rc=$?
line=$(awk '!/^[ \t]*$/ && !/^#/ { print NR; exit }' "$T/no-identity")
check "age: a file that holds no identity exits 1 naming its first other line" \
  test $rc -eq 1 -a -n "$(grep -F "$T/no-identity: line $line: it is " "$T/out")"
printf '# public key of the test key\n%s\n' "$pub1" > "$T/public-only"
chmod 0600 "$T/public-only"
"$C" inspect --identity "$T/public-only" "$f" > "$T/out" 2>&1; rc=$?
check "age: a public key given as the identity exits 1 saying it is one, without quoting it" \
  test $rc -eq 1 -a -n "$(grep -F "line 2: it is a public key (age1...)" "$T/out")" \
    -a -z "$(grep -F "$pub1" "$T/out")"
(cd / && "$C" -c "$T/bad.conf" inspect --identity "$T/key1" "$f" >/dev/null 2>&1); rc=$?
check "age: --identity never loads the config (a bad one is fine)" test $rc -eq 0
(cd / && "$C" -c "$T/bad.conf" inspect "$f" >/dev/null 2>&1); rc=$?
check "age: the config's identity needed and the config bad: exit 78" test $rc -eq 78
echo "encryption: { recipients = [\"$pub1\"]; identity_file = \"$T/key2\"; };" > "$T/wrong-id.conf"
"$C" -c "$T/wrong-id.conf" inspect "$f" > "$T/out" 2>&1; rc=$?
check "age: a config whose identity_file does not match: exit 1 naming it" \
  test $rc -eq 1 -a -n "$(grep -F "$pub2" "$T/out")" -a -n "$(grep -F "encryption.identity_file $T/key2" "$T/out")"
# The identity opens every backup: one that group or others may access is
# refused, as a loose EncryptionConfiguration is, unless asked for.
install -m 0640 "$T/key1" "$T/key1-group"
"$C" inspect --identity "$T/key1-group" "$f" > "$T/out" 2>&1; rc=$?
check "age: an identity file its group may read: exit 1 (got $rc)" test $rc -eq 1
check "age: ... says so, and the way out" grep -qF -- "--identity $T/key1-group holds age identities but group or others may access it (mode 0640); chmod 600 it, or pass --insecure-key-file" "$T/out"
"$C" inspect --insecure-key-file --identity "$T/key1-group" "$f" > /dev/null 2>&1; rc=$?
check "age: ... read with --insecure-key-file (exit $rc)" test $rc -eq 0
echo "encryption: { recipients = [\"$pub1\"]; identity_file = \"$T/key1-group\"; };" > "$T/group-id.conf"
"$C" -c "$T/group-id.conf" verify "$f" > "$T/out" 2>&1; rc=$?
check "age: the config's identity_file its group may read: exit 1 naming it" \
  test $rc -eq 1 -a -n "$(grep -F "encryption.identity_file $T/key1-group in $T/group-id.conf holds age identities" "$T/out")"

# Damage: a flipped byte in the payload, the end cut off.
size=$(stat -c %s "$f")
damaged "flip.age" "$f"; flip "$T/d/flip.age" $((size / 2))
damaged "cut.age" "$f"; truncate -s $((size - 100)) "$T/d/cut.age"
for d in flip cut; do
  "$C" verify --identity "$T/key1" "$T/d/$d.age" > "$T/out" 2>&1; rc=$?
  check "age $d: verify exits 1 with FAIL decrypt: damaged or truncated" \
    test $rc -eq 1 -a -n "$(grep '^FAIL decrypt: age decryption failed: the file is damaged or truncated' "$T/out")"
  check "age $d: verify still compares the file with its sidecar" grep -q '^FAIL sidecar file_' "$T/out"
  for cmd in inspect audit; do
    "$C" "$cmd" --identity "$T/key1" "$T/d/$d.age" > "$T/out" 2>&1; rc=$?
    check "age $d: $cmd exits 1 saying damaged or truncated" \
      test $rc -eq 1 -a -n "$(grep 'age decryption failed: the file is damaged or truncated' "$T/out")"
  done
done

# Random damage to the encrypted gzip backup: every copy differs from the
# original (no byte is flipped twice), so every command must refuse it, with
# exit 1 and never a signal.
# AGE_RANDOM_ROUNDS (default 40) copies; RANDOM_SEED as above.
src=${AGE[gzip]}; size=$(stat -c %s "$src")
crashes=0 passed=0 runs=0
for i in $(seq 1 ${AGE_RANDOM_ROUNDS:-40}); do
  cp "$src" "$T/r.age"
  case $(( i % 4 )) in
    0) truncate -s $(( (RANDOM * 32768 + RANDOM) % size )) "$T/r.age" ;;
    1) head -c $(( 1 + RANDOM % 3000 )) /dev/urandom >> "$T/r.age" ;;
    # Distinct offsets: a byte flipped twice would be the original again.
    *) for o in $(for _ in $(seq 1 $(( 1 + RANDOM % 4 ))); do echo $(( (RANDOM * 32768 + RANDOM) % size )); done |
                  sort -nu); do flip "$T/r.age" "$o"; done ;;
  esac
  for cmd in verify inspect audit "get /app/ --prefix"; do
    # shellcheck disable=SC2086
    set -- $cmd
    "$C" "$1" --identity "$T/key1" "$T/r.age" "${@:2}" >/dev/null 2>&1; rc=$?
    runs=$((runs + 1))
    if (( rc > 1 )); then crashes=$((crashes + 1)); echo "    exit $rc from $1 on encrypted copy $i"; cp "$T/r.age" "$T/crash-age-$i"; fi
    (( rc == 0 )) && passed=$((passed + 1))
  done
done
echo "    encrypted random damage (RANDOM_SEED=$seed): $runs runs"
check "age random damage: $runs runs, every exit status 0 or 1" test $crashes -eq 0
check "age random damage: no damaged copy is accepted" test $passed -eq 0

finish
