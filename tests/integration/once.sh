#!/usr/bin/env bash
# `etcd-backupd --once` against a real etcd 3.4 with mutual TLS, judged by
# the stock tools: gzip -t / zstd -t, `etcdctl snapshot status` and
# `etcdctl snapshot restore`, and byte equality with `etcdctl snapshot save`.
. "$(dirname "$0")/lib.sh"

start_etcd
# Small keys, a few values over a bbolt page (overflow pages), deletions
# (tombstones) and overwrites.
for i in $(seq 1 40); do ctl put "/registry/configmaps/default/cm-$i" "{\"data\":{\"k\":\"value-$i\"}}" >/dev/null; done
head -c 20000 /dev/urandom | base64 -w0 > "$T/big"
for i in 1 2 3; do ctl put "/registry/secrets/default/big-$i" < "$T/big" >/dev/null; done
ctl del /registry/configmaps/default/cm-7 >/dev/null
ctl put /registry/configmaps/default/cm-8 changed >/dev/null

for codec in gzip zstd none; do
  dir=$T/b-$codec
  { etcd_group; storage_group "$dir" "$codec" 3; } > "$T/$codec.conf"
  out=$("$ETCD_BACKUPD" --once -c "$T/$codec.conf" 2>"$T/$codec.err"); rc=$?
  check "$codec: --once exits 0" test $rc -eq 0
  check "$codec: prints the path of a file that exists" test -f "$out"
  name=$(basename "$out")
  rev=$(etcd_revision)
  case $codec in
    gzip) check "gzip: name ends in .db.gz" test "${name%.db.gz}" != "$name"
          check "gzip: gzip -t accepts it" gzip -t "$out"
          gzip -dc "$out" > "$T/$codec.db" ;;
    zstd) check "zstd: name ends in .db.zst" test "${name%.db.zst}" != "$name"
          check "zstd: zstd -t accepts it" zstd -q -t "$out"
          zstd -q -dc "$out" > "$T/$codec.db" ;;
    none) check "none: name ends in .db" test "${name%.db}" != "$name"
          cp "$out" "$T/$codec.db" ;;
  esac
  check "$codec: name matches etcd-<cluster>-<UTC time>-r<revision>" \
    grep -qE "^etcd-[0-9a-f]{16}-[0-9]{8}T[0-9]{6}Z-r$rev\.db" <<<"$name"
  ctl snapshot save "$T/$codec.ref" >/dev/null 2>&1
  check "$codec: decompressed backup is byte-identical to etcdctl snapshot save" cmp -s "$T/$codec.db" "$T/$codec.ref"
  status=$(etcdctl snapshot status "$T/$codec.db" -w json 2>/dev/null)
  check "$codec: etcdctl snapshot status accepts it" test -n "$status"
  side="$out.json"
  check "$codec: sidecar revision = snapshot status revision = etcd's revision" \
    test "$(jq -r .revision "$side")" = "$(jq -r .revision <<<"$status")" -a "$(jq -r .revision "$side")" = "$rev"
  check "$codec: sidecar db_size = snapshot totalSize" test "$(jq -r .db_size "$side")" = "$(jq -r .totalSize <<<"$status")"
  check "$codec: sidecar has every field" jq_true 'has("name") and has("created") and has("cluster_id") and
      has("member_id") and has("endpoint") and has("etcd_version") and has("revision") and has("db_size") and
      has("db_sha256") and has("file_size") and has("file_sha256") and has("compression") and
      has("encrypted") and has("duration_ms")' "$(cat "$side")"
  check "$codec: file_sha256 and file_size describe the file" \
    test "$(jq -r .file_sha256 "$side")" = "$(sha256sum < "$out" | cut -d' ' -f1)" -a \
         "$(jq -r .file_size "$side")" = "$(stat -c %s "$out")"
  check "$codec: db_sha256 is etcd's trailer" \
    test "$(jq -r .db_sha256 "$side")" = "$(tail -c 32 "$T/$codec.db" | od -An -tx1 | tr -d ' \n')"
  # jq reads numbers as doubles: take etcd's uint64 cluster id from the raw JSON.
  cid=$(ctl endpoint status -w json | grep -o '"cluster_id":[0-9]*' | head -1 | cut -d: -f2)
  check "$codec: cluster_id matches etcd" test "$(jq -r .cluster_id "$side")" = "$(printf '%016x' "$cid")"
  rm -rf "$T/restored"
  check "$codec: etcdctl snapshot restore accepts it" quiet etcdctl snapshot restore "$T/$codec.db" --data-dir "$T/restored"
  check "$codec: backup file is 0600" test "$(stat -c %a "$out")" = 600
  check "$codec: sidecar is 0600" test "$(stat -c %a "$side")" = 600
  check "$codec: directory is 0700" test "$(stat -c %a "$dir")" = 700
  check "$codec: nothing else in the directory" test "$(dir_files "$dir" | wc -l)" = 2
done

# Encrypted to two age recipients: the real `age -d` decrypts it with either
# identity, and the result decompresses to etcdctl's snapshot.
age-keygen -o "$T/id1" 2>/dev/null; age-keygen -o "$T/id2" 2>/dev/null
r1=$(age-keygen -y "$T/id1"); r2=$(age-keygen -y "$T/id2")
{ etcd_group; storage_group "$T/b-age" zstd 3
  echo "encryption: { recipients = [\"$r1\", \"$r2\"]; identity_file = \"$T/id1\"; };"; } > "$T/age.conf"
out=$("$ETCD_BACKUPD" --once -c "$T/age.conf" 2>"$T/age.err"); rc=$?
check "age: --once exits 0" test $rc -eq 0
check "age: name ends in .db.zst.age" test "${out%.db.zst.age}" != "$out"
check "age: sidecar says encrypted" test "$(jq -r .encrypted "$out.json")" = true
ctl snapshot save "$T/age.ref" >/dev/null 2>&1
for id in id1 id2; do
  age -d -i "$T/$id" "$out" 2>/dev/null | zstd -q -dc > "$T/age-$id.db"
  check "age: age -d -i $id decrypts; byte-identical to etcdctl snapshot save" cmp -s "$T/age-$id.db" "$T/age.ref"
done
check "age: the file is not readable without a key" bash -c "! zstd -q -t '$out' 2>/dev/null"
check "age: file_sha256 describes the encrypted file" \
  test "$(jq -r .file_sha256 "$out.json")" = "$(sha256sum < "$out" | cut -d' ' -f1)"

# Retention runs after the backup: keep_last = 2 keeps the two newest.
{ etcd_group; storage_group "$T/b-ret" zstd 1; echo 'retention: { keep_last = 2; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'; } > "$T/ret.conf"
for i in 1 2 3; do ctl put "/ret/$i" x >/dev/null; "$ETCD_BACKUPD" --once -c "$T/ret.conf" >/dev/null 2>&1; sleep 1.1; done
check "retention keep_last=2 leaves two backups and their sidecars" test "$(ls "$T/b-ret" | wc -l)" = 4
newest=$(ls "$T/b-ret" | grep -v json | sort -t r -k3 | tail -1)
check "retention keeps the newest" grep -q "r$(etcd_revision).db.zst" <<<"$(ls "$T/b-ret")"

# The clock stepped back: a backup (with its sidecar) named in 2099, as
# if made while the clock was ahead. The backup a run makes still counts
# as the newest and stays; the one from the future is kept and the policy
# applied to the others (counted among them, it would be newer than every
# later backup, which the policy would remove one after the other), and
# the log says which and why; moved out, keep_last = 1 prunes as before. A
# backup file without a sidecar was not published here: never pruned.
src=$(ls "$T/b-ret" | grep -v json | head -1)
future=$(sed -E 's/-[0-9]{8}T[0-9]{6}Z-/-20991231T000000Z-/' <<<"$src")
cp "$T/b-ret/$src" "$T/b-ret/$future"
jq --arg n "$future" '.name = $n' "$T/b-ret/$src.json" > "$T/b-ret/$future.json"
bare=$(sed -E 's/-[0-9]{8}T[0-9]{6}Z-/-20200101T000000Z-/' <<<"$src")
cp "$T/b-ret/$src" "$T/b-ret/$bare"
sed 's/keep_last = 2/keep_last = 1/' "$T/ret.conf" > "$T/ret1.conf"
ctl put /ret/4 x >/dev/null
out=$("$ETCD_BACKUPD" --once -c "$T/ret1.conf" 2>"$T/ret1.err"); rc=$?
check "clock stepped back: the backup succeeds" test $rc -eq 0
check "clock stepped back: the backup just made stays, with its sidecar" test -f "$out" -a -f "$out.json"
check "clock stepped back: the backup from the future is kept, keep_last = 1 applied to the others" \
  test "$(ls "$T/b-ret" | grep -v json | sort)" = "$(printf '%s\n' "$bare" "$future" "$(basename "$out")" | sort)"
check "clock stepped back: the log says which is kept and why" grep -qF "Backup $out: $T/b-ret/$future is named \
20991231T000000Z, later than now (" "$T/ret1.err"
check "clock stepped back: no retention failure" bash -c '! grep -q "retention failed" "$1"' _ "$T/ret1.err"
mv "$T/b-ret/$future" "$T/b-ret/$future.json" "$T/"
ctl put /ret/5 x >/dev/null
out=$("$ETCD_BACKUPD" --once -c "$T/ret1.conf" 2>"$T/ret2.err"); rc=$?
check "clock stepped back, the future one moved out: keep_last = 1 as before (exit $rc)" \
  test "$(ls "$T/b-ret" | grep -v json | sort)" = "$(printf '%s\n' "$bare" "$(basename "$out")" | sort)"
check "retention never prunes a file without a sidecar" test -f "$T/b-ret/$bare"

# A group-writable backup directory is refused and left alone.
mkdir -m 0770 "$T/b-open"; chmod 0770 "$T/b-open"
{ etcd_group; storage_group "$T/b-open"; } > "$T/open.conf"
err=$("$ETCD_BACKUPD" --once -c "$T/open.conf" 2>&1); rc=$?
check "group-writable directory: exit 1" test $rc -eq 1
check "group-writable directory: says why" grep -q "group- or world-writable" <<<"$err"
check "group-writable directory: nothing written" test -z "$(ls -A "$T/b-open")"

# storage.min_free above what the file system has: refused before starting.
{ etcd_group; storage_group "$T/b-full" gzip 6 "1000000G"; } > "$T/minfree.conf"
err=$("$ETCD_BACKUPD" --once -c "$T/minfree.conf" 2>&1); rc=$?
check "min_free: exit 1 with a clear reason" test $rc -eq 1
check "min_free: names storage.min_free" grep -q "storage.min_free" <<<"$err"
check "min_free: nothing written" test -z "$(dir_files "$T/b-full")"
# The largest it may be (2^64 - 1 bytes): refused, named, nothing written.
{ etcd_group; storage_group "$T/b-full" gzip 6 "18446744073709551615"; } > "$T/minfree-max.conf"
err=$("$ETCD_BACKUPD" --once -c "$T/minfree-max.conf" 2>&1); rc=$?
check "min_free 2^64 - 1: refused before starting ($(tail -1 <<<"$err"))" \
  eval 'test $rc -eq 1 && grep -q "not enough free space in $T/b-full: .*storage.min_free is 16.0 EiB" <<<"$err" &&
        test -z "$(dir_files "$T/b-full")"'

# A write into the backup directory that fails (here EFBIG: a file size
# limit, with SIGXFSZ ignored so that write(2) fails instead) is named as
# the directory's, not as etcd's; nothing is left behind.
{ etcd_group; storage_group "$T/b-fsize" zstd 1; } > "$T/fsize.conf"
mkdir -m 0700 "$T/b-fsize"
err=$(trap '' XFSZ; ulimit -f 8; "$ETCD_BACKUPD" --once -c "$T/fsize.conf" 2>&1); rc=$?
check "write error: exit 1" test $rc -eq 1
check "write error: names the directory and the cause" \
  grep -q "cannot write the snapshot into $T/b-fsize: File too large" <<<"$err"
check "write error: not blamed on etcd" bash -c "! grep -q 'snapshot failed' <<<'$err'"
check "write error: nothing written" test -z "$(dir_files "$T/b-fsize")"

# At start: a sidecar an interrupted publish left without its backup is
# removed and logged; a backup without a sidecar, or with one that is not
# valid, is named in a warning and kept; the new backup is published with
# its sidecar. `list` says what is wrong with the sidecar it cannot take.
mkdir -m 0700 "$T/b-tidy"
lone=etcd-0000000000000001-20200101T000000Z-r1.db.zst
bare=etcd-0000000000000001-20200102T000000Z-r2.db.zst
bad=etcd-0000000000000001-20200103T000000Z-r3.db.zst
echo '{}' > "$T/b-tidy/$lone.json"
echo keep > "$T/b-tidy/$bare"
echo keep > "$T/b-tidy/$bad"
echo '{"name": 1}' > "$T/b-tidy/$bad.json"
# Not files it could have published: a directory and a symbolic link
# named like lone sidecars are left alone.
lonedir=etcd-0000000000000001-20200104T000000Z-r4.db.zst lonelink=etcd-0000000000000001-20200105T000000Z-r5.db.zst
mkdir "$T/b-tidy/$lonedir.json"; ln -s "$T/tidy.conf" "$T/b-tidy/$lonelink.json"
# Nor is a symbolic link named like a backup one: list passes over it.
linked=etcd-0000000000000001-20200106T000000Z-r6.db.zst
ln -s "$T/b-tidy/$bare" "$T/b-tidy/$linked"
{ etcd_group; storage_group "$T/b-tidy" zstd 1; echo 'retention: { keep_last = 0; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'; } > "$T/tidy.conf"
out=$("$ETCD_BACKUPD" --once -c "$T/tidy.conf" 2>"$T/tidy.err"); rc=$?
check "tidy: the backup succeeds" test $rc -eq 0
check "tidy: the lone sidecar is removed" test ! -e "$T/b-tidy/$lone.json"
check "tidy: its removal is logged" grep -q "Removed $T/b-tidy/$lone.json: a sidecar without its backup" "$T/tidy.err"
check "tidy: a directory and a symbolic link named like lone sidecars are left" \
  test -d "$T/b-tidy/$lonedir.json" -a -L "$T/b-tidy/$lonelink.json"
check "tidy: the directory named like a lone sidecar is named with what it is" \
  grep -qF "$T/b-tidy/$lonedir.json: is a directory, named like the sidecar of a backup that is not there; left alone" "$T/tidy.err"
check "tidy: so is the symbolic link" \
  grep -qF "$T/b-tidy/$lonelink.json: is a symbolic link, named like the sidecar of a backup that is not there; left alone" "$T/tidy.err"
check "tidy: a symbolic link named like a backup is said to be one, not a backup without a sidecar" \
  test -n "$(grep -F "$T/b-tidy/$linked: is a symbolic link, named like a backup; not listed, never restored or deleted; left alone" "$T/tidy.err")" \
    -a -z "$(grep -F "Backup $T/b-tidy/$linked has no sidecar" "$T/tidy.err")" -a -L "$T/b-tidy/$linked"
check "tidy: the backup without a sidecar is kept and named" \
  bash -c "[[ -f '$T/b-tidy/$bare' ]] && grep -q 'Backup $T/b-tidy/$bare has no sidecar' '$T/tidy.err'"
check "tidy: the new backup has its sidecar" test -f "$out" -a -f "$out.json"
check "tidy: the backup with a sidecar that is not valid is kept, and the sidecar named with why" \
  bash -c "[[ -f '$T/b-tidy/$bad' && -f '$T/b-tidy/$bad.json' ]] && grep -qF 'Sidecar $T/b-tidy/$bad.json: is not a valid sidecar: name missing or invalid; its backup is listed without it' '$T/tidy.err'"
list=$("$ETCD_BACKUPCTL" -s "$T/no-daemon.sock" -c "$T/tidy.conf" list 2>/dev/null)
check "tidy: list shows why the sidecar is not taken" \
  grep -qE "^$bad .*\(sidecar unusable: is not a valid sidecar: name missing or invalid\)$" <<<"$list"
check "tidy: list still says (no sidecar) where there is none" grep -qE "^$bare .*\(no sidecar\)$" <<<"$list"
check "tidy: list passes over the symbolic link" test -z "$(grep "^$linked " <<<"$list")"
check "tidy: list --json carries sidecar_problem" \
  jq_true '.[] | select(.name == "'"$bad"'") | .sidecar == false and .sidecar_problem == "is not a valid sidecar: name missing or invalid"' \
  "$("$ETCD_BACKUPCTL" -s "$T/no-daemon.sock" -c "$T/tidy.conf" list --json 2>/dev/null)"

# Thousands of findings would flood the journal at each start: 20 of each
# kind are named, the rest counted in one line.
mkdir -m 0700 "$T/b-many"
for i in $(seq -w 1 25); do echo keep > "$T/b-many/etcd-0000000000000001-200201${i}T000000Z-r$i.db.zst"; done
{ etcd_group; storage_group "$T/b-many" zstd 1; } > "$T/many.conf"
"$ETCD_BACKUPD" --once -c "$T/many.conf" >/dev/null 2>"$T/many.err"; rc=$?
check "25 backups without a sidecar: the backup succeeds" test $rc -eq 0
check "25 backups without a sidecar: 20 named" test "$(grep -c "^etcd-backupd: Backup $T/b-many/.* has no sidecar" "$T/many.err")" -eq 20
check "25 backups without a sidecar: the other 5 counted" \
  grep -qF "… and 5 more backups without a sidecar (etcd-backupctl list names them) in $T/b-many" "$T/many.err"
check "25 backups without a sidecar: all kept" test "$(ls "$T/b-many" | grep -c '^etcd-0000000000000001-')" -eq 25

# More backups than a listing holds (100000, with the one the run makes):
# the backup is made and kept, retention removes nothing and says why (the
# run's exit is 0, as for any retention failure after a good backup), and
# list refuses rather than show a part. On tmpfs where there is one: 100000
# files on a virtual disk take a minute to make.
cap=$(mktemp -d -p "$([[ -d /dev/shm && -w /dev/shm ]] && echo /dev/shm || echo "$T")" etcd-backupd-cap.XXXXXX)
CLEANUP+=("rm -rf '$cap'")
chmod 0700 "$cap"
(cd "$cap" && seq 1 100000 | sed 's/.*/etcd-0000000000000001-20200101T000000Z-r&.db.zst/' | xargs touch)
{ etcd_group; storage_group "$cap" zstd 1; echo 'retention: { keep_last = 1; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'; } > "$T/cap.conf"
ctl put /cap x >/dev/null
out=$("$ETCD_BACKUPD" --once -c "$T/cap.conf" 2>"$T/cap.err"); rc=$?
check "100001 backups: the backup succeeds (exit $rc)" test $rc -eq 0
check "100001 backups: the new one is there with its sidecar" test -f "$out" -a -f "$out.json"
check "100001 backups: retention removes nothing and says why" \
  grep -qF "retention failed after backup $out: cannot list $cap: more than 100000 backups in it" "$T/cap.err"
check "100001 backups: all kept" test "$(ls "$cap" | grep -c '^etcd-0000000000000001-20200101T000000Z-')" -eq 100000
err=$("$ETCD_BACKUPCTL" -s "$T/no-daemon.sock" -c "$T/cap.conf" list 2>&1 >/dev/null); rc=$?
check "100001 backups: list fails (exit $rc) and says why" \
  bash -c '[[ $1 -eq 1 ]] && grep -qF "cannot list $2: more than 100000 backups in it" <<<"$3"' _ "$rc" "$cap" "$err"
rm -rf "$cap"

# As on a machine of four CPUs (ETCD_BACKUPD_CPUS=4; this one may have two):
# the compressor follows etcd's stream on the CPUs beyond two
# (codec_follow_threads(), unit-tested), says so, and uses every thread
# after it; as on two, it waits for the stream's end and says nothing. The
# db is made many of the compressor's 1 MiB reads long, so that it reads the
# spool while the stream is still writing it.
head -c 786432 /dev/urandom | base64 -w0 > "$T/mib"
for i in $(seq 1 16); do ctl put "/registry/configmaps/default/large-$i" < "$T/mib" >/dev/null; done
for codec in zstd gzip; do
  { etcd_group; storage_group "$T/b-cpus-$codec" "$codec" 3; } > "$T/cpus-$codec.conf"
  out=$(ETCD_BACKUPD_CPUS=2 "$ETCD_BACKUPD" --once -c "$T/cpus-$codec.conf" 2>"$T/cpus2-$codec.err"); rc=$?
  check "2 CPUs, $codec: --once exits 0" test $rc -eq 0
  check "2 CPUs, $codec: compression waited for the stream's end" \
    bash -c '! grep -q "compressed beside etcd'"'"'s stream" "$0"' "$T/cpus2-$codec.err"
  out=$(ETCD_BACKUPD_CPUS=4 "$ETCD_BACKUPD" --once -c "$T/cpus-$codec.conf" 2>"$T/cpus-$codec.err"); rc=$?
  check "4 CPUs, $codec: --once exits 0" test $rc -eq 0
  check "4 CPUs, $codec: two threads compressed beside the stream" \
    grep -q "Backup $out: compressed beside etcd's stream on 2 threads" "$T/cpus-$codec.err"
  case $codec in
    zstd) zstd -q -dc "$out" > "$T/cpus.db" ;;
    gzip) gzip -dc "$out" > "$T/cpus.db" ;;
  esac
  check "4 CPUs, $codec: the db is over 16 MiB" test "$(stat -c %s "$T/cpus.db")" -gt $((16 << 20))
  ctl snapshot save "$T/cpus.ref" >/dev/null 2>&1
  check "4 CPUs, $codec: decompressed backup is byte-identical to etcdctl snapshot save" cmp -s "$T/cpus.db" "$T/cpus.ref"
  check "4 CPUs, $codec: db_sha256 is etcd's trailer" \
    test "$(jq -r .db_sha256 "$out.json")" = "$(tail -c 32 "$T/cpus.db" | od -An -tx1 | tr -d ' \n')"
  rm -rf "$T/restored"
  check "4 CPUs, $codec: etcdctl snapshot restore accepts it" quiet etcdctl snapshot restore "$T/cpus.db" --data-dir "$T/restored"
done

# etcd begins anew on an empty data dir with the same flags (kubeadm reset
# and init, a data dir lost): the same cluster id, the revision from 1
# again. However many backups of the new history keep_last = 1 would keep,
# the last backup of the data before stays (the newest verified backup of
# an earlier history), and the first after it, and the log says why.
{ etcd_group; storage_group "$T/b-hist" zstd 1
  echo 'retention: { keep_last = 1; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'; } > "$T/hist.conf"
for i in 1 2; do
  ctl put "/hist/$i" x >/dev/null
  before=$("$ETCD_BACKUPD" --once -c "$T/hist.conf" 2>/dev/null)
done
before_rev=$(etcd_revision)
member=$T/etcd/member-1 pid=$(cat "$T/etcd/member-1/pid")
mapfile -d '' cmdline < "/proc/$pid/cmdline"
kill -TERM "$pid"
wait_until 30 bash -c "! kill -0 $pid 2>/dev/null"
rm -rf "$member/data"
"${cmdline[@]}" >> "$member/etcd.log" 2>&1 &
echo $! > "$member/pid"; proc_id $! > "$member/proc"
check "etcd begun anew on an empty data dir" wait_until 30 quiet ctl endpoint health
# Names have one-second resolution, and one second is ordered by revision:
# the first backup after is in a later second than the last one before.
wait_until 5 test "$(date -u +%Y%m%dT%H%M%SZ)" != "$(basename "$before" | cut -d- -f3)"
check "etcd begun anew: its revision is lower ($(etcd_revision) < $before_rev)" test "$(etcd_revision)" -lt "$before_rev"
for i in 1 2 3; do
  ctl put "/hist/new-$i" x >/dev/null
  after=$("$ETCD_BACKUPD" --once -c "$T/hist.conf" 2>>"$T/hist.err")
  [[ $i = 1 ]] && first=$after
done
check "etcd begun anew: the same cluster id in the names" \
  test "$(basename "$before" | cut -d- -f2)" = "$(basename "$after" | cut -d- -f2)"
check "etcd begun anew, keep_last = 1: the newest backup, the last of the data before and the first after are kept" \
  test "$(ls "$T/b-hist" | grep -v json | sort)" = \
       "$(printf '%s\n' "$(basename "$before")" "$(basename "$first")" "$(basename "$after")" | sort)"
check "etcd begun anew: the log says why the older one is kept" \
  grep -qF "$(basename "$before") kept: the last backup before etcd's revision went down" "$T/hist.err"

# Run as root in the service user's directory (a backup before an upgrade,
# by hand): what it creates there belongs to the directory's owner, so the
# service can still take the lock and read the sidecars. A lock left as
# root's by an earlier run is named with its owner when the service meets it.
if [[ $(id -u) = 0 ]] && id nobody >/dev/null 2>&1; then
  chmod 0711 "$T"  # nobody may pass through the scratch directory
  install -d -m 0700 -o nobody -g nogroup "$T/svc"
  { etcd_group; storage_group "$T/svc"; } > "$T/svc.conf"
  chmod 0644 "$T/svc.conf"
  out=$("$ETCD_BACKUPD" --once -c "$T/svc.conf" 2>"$T/svc.err"); rc=$?
  check "as root, into nobody's directory: exit 0 ($(tail -1 "$T/svc.err"))" test $rc -eq 0
  check "as root: the lock, the backup and its sidecar are nobody's" \
    test "$(stat -c %U "$T/svc/.lock" "$out" "$out.json" | sort -u)" = nobody
  check "as root: still 0600" test "$(stat -c %a "$T/svc/.lock" "$out" "$out.json" | sort -u)" = 600
  check "as root: the owner can take the lock afterwards" \
    setpriv --reuid=nobody --regid=nogroup --clear-groups flock -n "$T/svc/.lock" true
  check "as root: the owner can read the sidecar" \
    setpriv --reuid=nobody --regid=nogroup --clear-groups jq -e .revision "$out.json"
  chown root:root "$T/svc/.lock"
  err=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$ETCD_BACKUPD" --once -c "$T/svc.conf" 2>&1 >/dev/null); rc=$?
  check "a lock that is root's: the run fails (exit $rc)" test $rc -ne 0
  check "a lock that is root's: the error names its owner" grep -qF "$T/svc/.lock: Permission denied (it belongs to uid 0; this process runs as uid $(id -u nobody))" <<<"$err"
  # A sidecar the service cannot read (copied in by root, say) is named at
  # start with the cause, not taken for a backup without one. (The run then
  # fails: nobody cannot read this test's TLS key.)
  chown nobody:nogroup "$T/svc/.lock"; chown root:root "$out.json"
  err=$(setpriv --reuid=nobody --regid=nogroup --clear-groups "$ETCD_BACKUPD" --once -c "$T/svc.conf" 2>&1 >/dev/null)
  check "a sidecar that is root's: named at start with the cause" \
    grep -qF "Sidecar $out.json: cannot be opened: Permission denied; its backup is listed without it" <<<"$err"
  check "a sidecar that is root's: the backup is kept" test -f "$out"
  # The directory's owner makes its lock file a hard link to one of root's
  # files (fs.protected_hardlinks=0 lets it): root's run refuses that lock
  # and leaves the file alone (it took it, gave it to nobody and wrote its
  # PID into it).
  printf 'root:x:0:0\n' > "$T/victim"; chmod 0600 "$T/victim"
  rm -f "$T/svc/.lock"; ln "$T/victim" "$T/svc/.lock"
  err=$("$ETCD_BACKUPD" --once -c "$T/svc.conf" 2>&1 >/dev/null); rc=$?
  check "a lock file linked to root's: the run as root fails (exit $rc)" test $rc -ne 0
  check "a lock file linked to root's: said so" \
    grep -qF "$T/svc/.lock belongs to uid 0, not to the directory's owner (uid $(id -u nobody)); root takes only" <<<"$err"
  check "a lock file linked to root's: that file is still root's, as it was" \
    test "$(stat -c %U:%a "$T/victim")" = root:600 -a "$(cat "$T/victim")" = root:x:0:0
  rm -f "$T/svc/.lock"; mkfifo -m 0600 "$T/svc/.lock"; chown nobody:nogroup "$T/svc/.lock"
  err=$(timeout 30 "$ETCD_BACKUPD" --once -c "$T/svc.conf" 2>&1 >/dev/null); rc=$?
  check "a lock that is a FIFO: refused at once (exit $rc)" test $rc -ne 0 -a $rc -ne 124
  check "a lock that is a FIFO: said so" grep -qF "$T/svc/.lock is not a regular file" <<<"$err"
  rm -f "$T/svc/.lock"
else
  not_ok "as root, into nobody's directory: needs root and the user nobody"
fi

finish
