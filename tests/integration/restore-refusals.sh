#!/usr/bin/env bash
# Restores that must be refused before anything changes, on the same
# kubelet-stand-in node as restore-static-pod.sh (see restore-lib.sh): a
# damaged backup (corrupt gzip, truncated, trailer mismatch, a sidecar that
# disagrees), a backup that does not exist, a restore tool that does not
# exist or that anyone but root may change, a configuration its group may
# change, etcd.endpoints naming another host first, a data dir that is a
# mount point or a bind mount on its own file
# system (the restored dir could not be renamed into it), a data dir that
# is a symbolic link (and the restore.data_dir that makes it plan), etcd
# with a --wal-dir, a manifests_dir with a trailing slash, a controller's
# manifest that cannot be read, a temporary db that cannot be made next to the data dir
# (a full or read-only file system there), no inode there for the run's
# record (the run stops before it stops anything), a client that is not root, no
# --yes without a terminal, no restore socket, an encrypted backup and a
# wrong age identity, a plan that is not confirmed (the client hangs up,
# never answers within restore.confirm_timeout, sends a byte out of band
# and nothing else, cancels, or confirms
# another backup), a restore.data_dir or restore.name that is not what
# etcd.yaml runs etcd with, an etcd.yaml without etcd's flags, one that is
# not YAML, one whose data dir is on no hostPath volume, one whose data dir
# holds a db while etcd runs on another, a cluster member
# that the initial cluster does not name. Each must give a clear error
# and exit 1 (2 for usage, 69 unreachable), and leave etcd's data dir
# byte-identical (find -printf + sha256sum listing), the manifests as they
# were and etcd running under the same PID.
. "$(dirname "$0")/restore-lib.sh"
C=$ETCD_BACKUPCTL

start_node
restore_conf "$T/r.conf"
restore_socket main "$T/r.conf"; SOCK=$RSOCK

# ~2 MiB of data, so that the decompressed db does not fit a 1 MiB tmpfs.
head -c 200000 /dev/urandom | base64 -w0 > "$T/v"
for i in $(seq 1 8); do ctl put "/big/k$i" < "$T/v" >/dev/null; done
backup=$("$ETCD_BACKUPD" --once -c "$T/r.conf" 2>"$T/once.err")
check "--once made a backup" test -f "$backup" -a -f "$backup.json"
name=$(basename "$backup")

etcd_settled
STATE0=$(tree_state "$DATA"); MAN0=$(tree_state "$MAN"); PID0=$(etcd_pid)
check "the data dir listing is not empty" test "$(wc -l <<<"$STATE0")" -gt 5
unchanged() {
  test "$STATE0" = "$(tree_state "$DATA")" && test "$MAN0" = "$(tree_state "$MAN")" &&
    test "$PID0" = "$(etcd_pid)" && test -z "$(ls -A "$NODE/var/lib" | grep -v '^etcd$')" &&
    test -z "$(ls -d "$NODE"/etc/kubernetes/etcd-backupd-held-* 2>/dev/null)" &&
    wait_for 20 etcd_healthy && wait_for 20 apiserver_up
}
refused() { # DESCRIPTION PATTERN EXIT CMD...
  local d=$1 pat=$2 want=$3 out rc; shift 3
  out=$("$@" 2>&1 </dev/null); rc=$?
  check "$d: exit $want" test $rc -eq "$want"
  if grep -q -- "$pat" <<<"$out"; then ok "$d: says '$pat'"; else not_ok "$d: says '$pat' (got: $(tail -3 <<<"$out"))"; fi
  check "$d: nothing touched" unchanged
}

# ---- damaged backups --------------------------------------------------------------
mkdir -p "$T/bad"
size=$(stat -c %s "$backup")
cp "$backup" "$T/bad/corrupt.db.gz"
printf '\xde\xad\xbe\xef\xde\xad\xbe\xef' | dd of="$T/bad/corrupt.db.gz" bs=1 seek=$((size / 2)) conv=notrunc status=none
refused "corrupt gzip" "corrupt gzip stream" 1 "$C" restore "$T/bad/corrupt.db.gz" --yes --socket "$SOCK"
refused "corrupt gzip, dry run" "corrupt gzip stream" 1 "$C" restore "$T/bad/corrupt.db.gz" --dry-run --socket "$SOCK"
head -c $((size / 2)) "$backup" > "$T/bad/truncated.db.gz"
refused "truncated gzip" "truncated gzip stream" 1 "$C" restore "$T/bad/truncated.db.gz" --yes --socket "$SOCK"
gzip -dc "$backup" > "$T/bad/flipped.db"
printf '\x01' | dd of="$T/bad/flipped.db" bs=1 seek=5000 conv=notrunc status=none
refused "uncompressed, one byte changed" "SHA-256 trailer mismatch" 1 "$C" restore "$T/bad/flipped.db" --yes --socket "$SOCK"
# One byte in the middle of the db changed, then compressed again: a sound
# gzip stream around a db that is not the one etcd sent. The restore's own
# trailer check is the one that counts (etcd's tool runs with
# --skip-hash-check after it).
gzip -dc "$backup" > "$T/bad/mid.db"
off=$(( $(stat -c %s "$T/bad/mid.db") / 2 ))
byte=$(od -An -tu1 -j "$off" -N1 "$T/bad/mid.db" | tr -d ' ')
printf "\\x$(printf %02x $(( (byte + 1) % 256 )))" | dd of="$T/bad/mid.db" bs=1 seek="$off" conv=notrunc status=none
check "the changed db differs from the backup's" bash -c '! gzip -dc "$0" | cmp -s - "$1"' "$backup" "$T/bad/mid.db"
gzip -c "$T/bad/mid.db" > "$T/bad/mid.db.gz"
refused "gzip, one byte of the db changed" "SHA-256 trailer mismatch" 1 "$C" restore "$T/bad/mid.db.gz" --yes --socket "$SOCK"
# A db 100 bytes longer than its pages under a trailer that matches it:
# etcd's tool would not take the last 32 bytes for the hash (the file is not
# 32 bytes past whole 512-byte blocks) and would keep them in the db.
gzip -dc "$backup" | head -c -32 > "$T/bad/odd.db"
head -c 100 /dev/zero >> "$T/bad/odd.db"
openssl dgst -sha256 -binary "$T/bad/odd.db" > "$T/bad/odd.sha"
cat "$T/bad/odd.db" "$T/bad/odd.sha" | gzip -c > "$T/bad/odd.db.gz"
refused "a db that is not whole pages" "not a whole number of its 4096-byte pages: not a db etcd wrote" 1 \
  "$C" restore "$T/bad/odd.db.gz" --yes --socket "$SOCK"
mkdir -p "$T/bad2"; cp "$backup" "$T/bad2/$name"
jq -c '.db_sha256 = "0000000000000000000000000000000000000000000000000000000000000000"' "$backup.json" > "$T/bad2/$name.json"
refused "sidecar disagrees" "is not the sidecar's db_sha256" 1 "$C" restore "$T/bad2/$name" --yes --socket "$SOCK"
(cd "$T/bad2" && refused "relative FILE (made absolute by the client)" "is not the sidecar's db_sha256" 1 \
  "$C" restore "$name" --yes --socket "$SOCK")
# The copy of the db goes on the data dir's file system, where etcd still
# runs: a backup that decompresses to more than its sidecar's db_size is
# stopped there (a small file may decompress to a full disk), and one whose
# sidecar's db_size does not fit beside the restored data dir is refused
# before anything is copied.
mkdir -p "$T/bomb" "$T/huge"; cp "$backup" "$T/bomb/$name"; cp "$backup" "$T/huge/$name"
jq -c '.db_size = 4096' "$backup.json" > "$T/bomb/$name.json"
refused "more than the sidecar's db_size, dry run" "decompresses to more than the sidecar's db_size (4096 bytes)" 1 \
  "$C" restore "$T/bomb/$name" --dry-run --socket "$SOCK"
jq -c '.db_size = 1000000000000000' "$backup.json" > "$T/huge/$name.json"
refused "a sidecar's db_size larger than the free space, dry run" \
  "not enough space in $NODE/var/lib for the db's copy read from the backup and the restored data dir (the db is 909.5 TiB by the backup's sidecar)" 1 \
  "$C" restore "$T/huge/$name" --dry-run --socket "$SOCK"
refused "no such backup name" "no backup" 1 \
  "$C" restore etcd-0000000000000001-20200101T000000Z-r1.db.gz --yes --socket "$SOCK"
refused "not a backup name" "is not a backup name" 1 "$C" restore "no-such-thing" --yes --socket "$SOCK"

# The storage directory belongs to the daemon user: root opens what is in it
# without following a symlink, and only a regular file owned by the
# directory's owner or root with one link (checked on the descriptor).
store=$(dirname "$backup")
evil=etcd-0000000000000001-20200103T000000Z-r3.db.gz
ln -s "$backup" "$store/$evil"
refused "a symlink in the storage directory" "is a symbolic link; refusing to follow it" 1 \
  "$C" restore "$evil" --dry-run --socket "$SOCK"
rm -f "$store/$evil"
cp "$backup" "$store/$evil"; chown 65534 "$store/$evil"
refused "a backup owned by another user" "is owned by uid 65534, neither root nor the owner" 1 \
  "$C" restore "$evil" --dry-run --socket "$SOCK"
rm -f "$store/$evil"
ln "$backup" "$store/$evil"
refused "a hard link into the storage directory" "has 2 hard links" 1 \
  "$C" restore "$evil" --dry-run --socket "$SOCK"
rm -f "$store/$evil"
cp "$backup" "$store/$evil"; ln -s "$backup.json" "$store/$evil.json"
refused "a sidecar that is a symlink" "$evil.json is a symbolic link" 1 \
  "$C" restore "$evil" --dry-run --socket "$SOCK"
rm -f "$store/$evil" "$store/$evil.json"

# ---- the tool --------------------------------------------------------------------
restore_conf "$T/notool.conf" 'etcdutl = "/nonexistent/bin/etcdutl";'
restore_socket notool "$T/notool.conf"
refused "restore.etcdutl names a missing program" "restore.etcdutl: cannot run /nonexistent/bin/etcdutl" 1 \
  "$C" restore latest --yes --socket "$RSOCK"
# The restore runs as root what its configuration names: a configuration,
# or a tool, that anyone but root may change is refused, dry run or not.
mkdir -p "$T/tools" && cp "$(command -v etcdctl)" "$T/tools/etcdctl" && chmod 0757 "$T/tools/etcdctl"
restore_conf "$T/wtool.conf" "etcdutl = \"$T/tools/etcdctl\";"
restore_socket wtool "$T/wtool.conf"
refused "restore.etcdutl writable by others" \
  "restore.etcdutl: $T/tools/etcdctl is writable by group or others (owner uid 0, mode 0757); the restore runs it as root" 1 \
  "$C" restore latest --dry-run --socket "$RSOCK"
chmod 0755 "$T/tools/etcdctl" && chown nobody "$T/tools/etcdctl"
refused "restore.etcdutl not root's" "restore.etcdutl: $T/tools/etcdctl is not root's (owner uid $(id -u nobody)" 1 \
  "$C" restore latest --dry-run --socket "$RSOCK"
restore_conf "$T/gw.conf" && chmod 0664 "$T/gw.conf"
restore_socket gw "$T/gw.conf"
refused "a configuration its group may change" \
  "configuration $T/gw.conf: $T/gw.conf is writable by group or others (owner uid 0, mode 0664); the restore runs as root what it names" 78 \
  "$C" restore latest --dry-run --socket "$RSOCK"

# ---- etcd.endpoints naming another host first ---------------------------------------
# The runbook would stop etcd here and wait on that endpoint, which never
# stops answering, until health_timeout, the control plane down all along.
# The plan refuses it before it asks anything: a dry run is refused too.
# (The service runs in a network namespace of its own, with no way out:
# nothing would leave the machine if it did ask.)
sed 's|endpoints = \[[^]]*\]|endpoints = ["https://192.0.2.1:2379", "'"$ETCD_ENDPOINT"'"]|' "$T/r.conf" > "$T/remote.conf"
grep -q '"https://192.0.2.1:2379"' "$T/remote.conf" || { echo "cannot write remote.conf"; exit 1; }
restore_socket remote "$T/remote.conf" unshare -n
refused "etcd.endpoints naming another host first" \
  "etcd.endpoints lists https://192.0.2.1:2379 first, which is no address of this host" 1 \
  "$C" restore latest --dry-run --socket "$RSOCK"

# ---- what a killed restore leaves beside the data dir ---------------------------------
# Its record, quoted in the refusal only when it is root's regular file (a
# link to another file is never read); with the old data in its
# .pre-restore- dir, the refusal says the data dir is the restored data.
echo "a secret no refusal may show" > "$T/not-a-record"; chmod 600 "$T/not-a-record"
ln -s "$T/not-a-record" "$DATA.unfinished-restore-20200101T000000Z"
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "a record that is a symbolic link: refused (exit $rc), not quoted" \
  test $rc -eq 1 -a -n "$(grep -F "an earlier restore did not finish ($DATA.unfinished-restore-20200101T000000Z: not a record a restore wrote" <<<"$out")" \
  -a -z "$(grep -F "a secret" <<<"$out")"
rm "$DATA.unfinished-restore-20200101T000000Z"
printf 'started at 2020-01-01T00:00:00Z by process 1, restoring X\nbefore it: kube-apiserver ran, etcd ran\n' \
  > "$DATA.unfinished-restore-20200101T000000Z"
mkdir "$DATA.pre-restore-20200101T000000Z"
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "a record with the old data set aside: refused (exit $rc), quoting it and saying where the data is" \
  test $rc -eq 1 -a -n "$(grep -F "restoring X; before it: kube-apiserver ran, etcd ran). $DATA is the restored data (the restore did not finish); the old data is $DATA.pre-restore-20200101T000000Z" <<<"$out")"
rm "$DATA.unfinished-restore-20200101T000000Z"; rmdir "$DATA.pre-restore-20200101T000000Z"
# A record that names the data dir it found by its inode: the refusal says
# where that directory is now, whatever its name, and what to rename before
# the record goes. Under the restore's name (a kill between the swap's
# exchange and its rename), back in place with the restored data under the
# old data's name (a kill between the rollback's), nowhere (moved away).
# The device number in the record is not compared (a reboot may change it:
# here it is one no disk has).
rec_with_inode() { # DIR whose inode the record names, or an inode number
  local ino=$1; [[ -d $1 ]] && ino=$(stat -c %i "$1")
  printf 'started at 2020-01-01T00:00:00Z by process 1, restoring X\nthen puts it in place of %s, which it renames to %s\nthe data from before it is the directory of inode %s on device 4095:1048575, whatever its name\n' \
    "$DATA" "$DATA.pre-restore-20200101T000000Z" "$ino" > "$DATA.unfinished-restore-20200101T000000Z"
}
mkdir "$DATA.restore-20200101T000000Z"
rec_with_inode "$DATA.restore-20200101T000000Z"
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "a record naming the old data by inode, under the restore's name: refused (exit $rc), saying so" \
  test $rc -eq 1 -a -n "$(grep -F "$DATA is the restored data (the restore did not finish); the old data is $DATA.restore-20200101T000000Z, under the restore's name (it was killed between the swap's two steps): rename it to $DATA.pre-restore-20200101T000000Z before you remove the record" <<<"$out")"
rmdir "$DATA.restore-20200101T000000Z"
mkdir "$DATA.pre-restore-20200101T000000Z"
rec_with_inode "$DATA"
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "a record naming the old data by inode, back in place: refused (exit $rc), the restored data named as set aside" \
  test $rc -eq 1 -a -n "$(grep -F "$DATA is the data from before it (its rollback had put it back); $DATA.pre-restore-20200101T000000Z holds the restored data, despite its name: rename it to $DATA.failed-restore-20200101T000000Z before you remove the record" <<<"$out")"
rmdir "$DATA.pre-restore-20200101T000000Z"
rec_with_inode 4294967295
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "a record naming an old data dir that is nowhere: refused (exit $rc), saying so rather than guessing" \
  test $rc -eq 1 -a -n "$(grep -F "None of $DATA, $DATA.pre-restore-20200101T000000Z and $DATA.restore-20200101T000000Z is the directory it found as the data dir (inode 4294967295" <<<"$out")"
rm "$DATA.unfinished-restore-20200101T000000Z"
# A run on a node that had no data dir sets none aside: its record says so,
# and once its restored dir is gone from its own name the data dir is it.
printf 'started at 2020-01-01T00:00:00Z by process 1, restoring X\nit restores into %s, then renames it to %s, which did not exist\n' \
  "$DATA.restore-20200101T000000Z" "$DATA" > "$DATA.unfinished-restore-20200101T000000Z"
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "a record of a run on a node without a data dir: refused (exit $rc), the data dir named as the restored data" \
  test $rc -eq 1 -a -n "$(grep -F "which did not exist). There was no data dir before it: $DATA is the restored data (the restore did not finish)" <<<"$out")"
rm "$DATA.unfinished-restore-20200101T000000Z"

# ---- "latest" passes over newer backups it cannot take, and says so ----------------
# The newest backup with a sidecar is restored; the plan names the newer
# ones without a usable sidecar (a copy without one, one with a broken one).
bdir=$(dirname "$backup"); cl=$(cut -d- -f2 <<<"$name")
newer1=etcd-$cl-29990101T000000Z-r1.db.gz newer2=etcd-$cl-29990102T000000Z-r2.db.gz
cp "$backup" "$bdir/$newer1"; cp "$backup" "$bdir/$newer2"; echo '{"name": 1}' > "$bdir/$newer2.json"
out=$("$C" restore latest --dry-run --socket "$SOCK" 2>&1); rc=$?
check "latest, newer backups without a usable sidecar: plans $name (exit $rc)" \
  test $rc -eq 0 -a -n "$(grep -F "1. verify: $name decompressed" <<<"$out")"
check "latest, newer backups without a usable sidecar: the plan names them, with why" grep -qF \
  "\"latest\" is the newest backup with a sidecar, newer ones passed over: $newer2 (sidecar unusable: is not a valid sidecar: name missing or invalid); $newer1 (no sidecar)" <<<"$out"
check "latest, newer backups without a usable sidecar: nothing touched" unchanged
rm "$bdir/$newer1" "$bdir/$newer2" "$bdir/$newer2.json"
# A backup named later than now (the clock set back since it was taken, or
# ahead then): the newest name may not be the newest data, so "latest" is
# refused; that backup by its name is planned.
cp "$backup" "$bdir/$newer1"; jq --arg n "$newer1" '.name = $n' "$backup.json" > "$bdir/$newer1.json"
refused "latest named later than now" \
  "\"latest\" would be $newer1, which is named 29990101T000000Z, later than now (" 1 \
  "$C" restore latest --dry-run --socket "$SOCK"
out=$("$C" restore "$newer1" --dry-run --socket "$SOCK" 2>&1); rc=$?
check "a backup named later than now, by its name: planned (exit $rc)" \
  test $rc -eq 0 -a -n "$(grep -F "1. verify: $newer1 decompressed" <<<"$out")"
rm "$bdir/$newer1" "$bdir/$newer1.json"

# ---- where the restore would go ----------------------------------------------------
# The manifests dir and the data dir in one directory (/srv/k8s/manifests,
# /srv/k8s/etcd): the restore's two locks are one, not a wait on itself.
mkdir -p "$T/k8s"
manifests_for "$T/k8s/manifests" "$T/k8s/etcd"; RMAN=$T/k8s/manifests restore_conf "$T/k8s.conf"
restore_socket k8s "$T/k8s.conf"
out=$("$C" restore latest --dry-run --socket "$RSOCK" 2>&1); rc=$?
check "manifests and data dir in one directory: the dry run plans (exit $rc), no 'another restore'" \
  test $rc -eq 0 -a -n "$(grep -F "$T/k8s/etcd" <<<"$out")" -a -z "$(grep -F 'another restore' <<<"$out")"
# manifests_dir with a trailing slash is the same directory: the held dir
# is made beside it, not inside it (where the kubelet would read it).
RMAN=$T/k8s/manifests/ restore_conf "$T/k8s-slash.conf"
restore_socket k8s-slash "$T/k8s-slash.conf"
out=$("$C" restore latest --dry-run --socket "$RSOCK" 2>&1); rc=$?
check "manifests_dir with a trailing slash: the dry run plans (exit $rc)" test $rc -eq 0
check "manifests_dir with a trailing slash: the held dir beside it, in $T/k8s" \
  grep -qE "(at most|into|to) $T/k8s/etcd-backupd-held-" <<<"$out"
check "manifests_dir with a trailing slash: no held dir inside it" test -z "$(grep -F "manifests/etcd-backupd-held" <<<"$out")"

# A data dir that is a symbolic link: refused, naming where it leads; with
# restore.data_dir there, the plan swaps that directory (etcd keeps its link).
mkdir -p "$T/link/real"; ln -s real "$T/link/etcd"
manifests_for "$T/man-link" "$T/link/etcd"; RMAN=$T/man-link restore_conf "$T/link.conf"
restore_socket link "$T/link.conf"
refused "data dir is a symbolic link" \
  "$T/link/etcd is a symbolic link: the restore swaps a directory, not a link to one; set restore.data_dir = \"$T/link/real\"" \
  1 "$C" restore latest --yes --socket "$RSOCK"
RMAN=$T/man-link restore_conf "$T/link-real.conf" "data_dir = \"$T/link/real\";"
restore_socket link-real "$T/link-real.conf"
out=$("$C" restore latest --dry-run --socket "$RSOCK" 2>&1); rc=$?
check "data dir a symbolic link, restore.data_dir where it leads: the dry run plans (exit $rc)" test $rc -eq 0
swap=$(grep -F "exchange $T/link/real.restore-" <<<"$out")
check "data dir a symbolic link, restore.data_dir where it leads: it swaps $T/link/real" \
  grep -qF " with $T/link/real (owner " <<<"$swap"
check "data dir a symbolic link: the link and its directory untouched" \
  test "$(readlink "$T/link/etcd")" = real -a -z "$(ls -A "$T/link/real")" -a "$(ls "$T/link" | wc -l)" -eq 2

# etcd's pod mounts a volume of its own inside the data dir (the WAL on a
# disk of its own, as kubeadm's etcd.yaml can be edited to): the host has no
# mount there, but the swapped data dir would get the old WAL mounted over
# the restored one.
mkdir -p "$T/wal-disk"
manifests_for "$T/man-wal" "$DATA"
sed -i -e 's|^    - mountPath: /var/lib/etcd$|    - mountPath: /var/lib/etcd/member/wal\n      name: etcd-wal\n&|' \
       -e "s|^  volumes:\$|&\n  - hostPath:\n      path: $T/wal-disk\n      type: DirectoryOrCreate\n    name: etcd-wal|" "$T/man-wal/etcd.yaml"
RMAN=$T/man-wal restore_conf "$T/wal.conf"
restore_socket wal "$T/wal.conf"
refused "a pod volume inside the data dir" \
  "etcd's pod mounts a volume inside its data dir ($T/man-wal/etcd.yaml: volume etcd-wal at /var/lib/etcd/member/wal)" \
  1 "$C" restore latest --yes --socket "$RSOCK"

if unshare -m --propagation private true 2>/dev/null; then
  # The data dir is a mount point: its sibling <data_dir>.restore-<ts> is on
  # another file system and could never be renamed into place.
  mkdir -p "$T/mnt/etcd"
  manifests_for "$T/man-mnt" "$T/mnt/etcd"; RMAN=$T/man-mnt restore_conf "$T/mnt.conf"
  restore_socket mnt "$T/mnt.conf" unshare -m --propagation private \
    bash -c 'mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"' "$T/mnt/etcd"
  refused "data dir is a mount point" "is a mount point" 1 "$C" restore latest --yes --socket "$RSOCK"
  check "data dir is a mount point: nothing made beside it" test -z "$(ls -A "$T/mnt" | grep -v '^etcd$')"
  # A bind mount of a directory of the same file system is a mount point
  # too: a rename into or out of it fails as well.
  mkdir -p "$T/bind/etcd"
  manifests_for "$T/man-bind" "$T/bind/etcd"; RMAN=$T/man-bind restore_conf "$T/bind.conf"
  restore_socket bind "$T/bind.conf" unshare -m --propagation private \
    bash -c 'mount --bind "$0" "$0" && exec "$@"' "$T/bind/etcd"
  refused "data dir is a bind mount on its own file system" "$T/bind/etcd is a mount point" 1 \
    "$C" restore latest --yes --socket "$RSOCK"
  check "data dir is a bind mount: nothing made beside it" test -z "$(ls -A "$T/bind" | grep -v '^etcd$')"
  # A file system mounted inside the data dir (the WAL on a disk of its
  # own): the swap would rename it aside with the old data, and etcd would
  # come back on the restored WAL without it. The name has a space, which
  # /proc/self/mountinfo writes as \040.
  mkdir -p "$T/be low/etcd/member/wal"
  manifests_for "$T/man-below" "$T/be low/etcd"; RMAN=$T/man-below restore_conf "$T/below.conf"
  restore_socket below "$T/below.conf" unshare -m --propagation private \
    bash -c 'mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"' "$T/be low/etcd/member/wal"
  refused "a mount inside the data dir" \
    "$T/be low/etcd/member/wal is a mount point inside the data dir $T/be low/etcd: the restore renames the data dir aside, and the mount would go with the old data" \
    1 "$C" restore latest --yes --socket "$RSOCK"
  check "a mount inside the data dir: nothing made beside it" test -z "$(ls -A "$T/be low" | grep -v '^etcd$')"
  # The same, the data dir named through a symbolic link to its parent: the
  # mount table has the resolved path.
  ln -s "be low" "$T/low-link"
  manifests_for "$T/man-below-link" "$T/low-link/etcd"; RMAN=$T/man-below-link restore_conf "$T/below-link.conf"
  restore_socket below-link "$T/below-link.conf" unshare -m --propagation private \
    bash -c 'mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"' "$T/be low/etcd/member/wal"
  refused "a mount inside the data dir, named through a linked parent" \
    "$T/be low/etcd/member/wal is a mount point inside the data dir $T/low-link/etcd" \
    1 "$C" restore latest --yes --socket "$RSOCK"

  # The data dir's file system is too small for the decompressed db.
  mkdir -p "$T/small"
  manifests_for "$T/man-small" "$T/small/etcd"; RMAN=$T/man-small restore_conf "$T/small.conf"
  restore_socket small "$T/small.conf" unshare -m --propagation private \
    bash -c 'mount -t tmpfs -o size=1m tmpfs "$0" && exec "$@"' "$T/small"
  # With a sidecar, its db_size is checked against the free space before
  # anything is copied; without one, the copy stops when the disk is full.
  refused "no room for the temporary db next to the data dir, by the sidecar's db_size" \
    "not enough space in $T/small for the db's copy read from the backup and the restored data dir" 1 \
    "$C" restore latest --yes --socket "$RSOCK"
  mkdir -p "$T/nosidecar"; cp "$backup" "$T/nosidecar/$name"
  refused "no room for the temporary db next to the data dir" "No space left on device" 1 \
    "$C" restore "$T/nosidecar/$name" --yes --socket "$RSOCK"
  check "no room: the tmpfs is empty afterwards (the temporary db is gone)" \
    test -z "$(nsenter -t "$RPID" -m -- ls -A "$T/small")"
  check "no room: nothing of it is used" test "$(nsenter -t "$RPID" -m -- df --output=used -B1 "$T/small" | tail -1 | tr -d ' ')" -lt 65536

  # Room for the db but not for the restored data dir (db + WAL segment).
  mkdir -p "$T/medium"
  manifests_for "$T/man-medium" "$T/medium/etcd"; RMAN=$T/man-medium restore_conf "$T/medium.conf"
  restore_socket medium "$T/medium.conf" unshare -m --propagation private \
    bash -c 'mount -t tmpfs -o size=16m tmpfs "$0" && exec "$@"' "$T/medium"
  # (A backup without a sidecar: with one, its db_size is checked first.)
  refused "no room for the restored data dir" "not enough space in $T/medium for the restored data dir: it needs about" \
    1 "$C" restore "$T/nosidecar/$name" --yes --socket "$RSOCK"
  check "no room for the restore: the tmpfs is empty afterwards" test -z "$(nsenter -t "$RPID" -m -- ls -A "$T/medium")"

  # A read-only file system: the temporary db cannot be created there.
  mkdir -p "$T/ro"
  manifests_for "$T/man-ro" "$T/ro/etcd"; RMAN=$T/man-ro restore_conf "$T/ro.conf"
  restore_socket ro "$T/ro.conf" unshare -m --propagation private \
    bash -c 'mount -t tmpfs -o size=16m,ro tmpfs "$0" && exec "$@"' "$T/ro"
  refused "read-only file system at the data dir" \
    "cannot restore into $T/ro/etcd: $T/ro, where the restored data dir is made beside it, is on a file system mounted read-only (Read-only file system" \
    1 "$C" restore latest --yes --socket "$RSOCK"
  refused "read-only file system at the data dir: the dry run says so too" \
    "is on a file system mounted read-only" 1 "$C" restore latest --dry-run --socket "$RSOCK"

  # Room for the temporary db but no inode left for the run's record (the
  # tmpfs's root and the db take both): the run stops before it stops
  # anything, and says so.
  mkdir -p "$T/inodes"
  manifests_for "$T/man-inodes" "$T/inodes/etcd"; RMAN=$T/man-inodes restore_conf "$T/inodes.conf"
  restore_socket inodes "$T/inodes.conf" unshare -m --propagation private \
    bash -c 'mount -t tmpfs -o size=256m,nr_inodes=2 tmpfs "$0" && exec "$@"' "$T/inodes"
  out=$("$C" restore latest --yes --socket "$RSOCK" 2>&1 </dev/null); rc=$?
  check "no inode for the record: exit 1" test $rc -eq 1
  pat="cannot record the restore in $T/inodes/etcd.unfinished-restore-[0-9TZ:-]*: No space left on device; nothing was stopped"
  if grep -q -- "$pat" <<<"$out"; then ok "no inode for the record: names the record and the cause"
  else not_ok "no inode for the record: names the record and the cause (got: $(tail -4 <<<"$out"))"; fi
  check "no inode for the record: the client hears nothing was changed" grep -q "nothing was changed" <<<"$out"
  check "no inode for the record: no step stopped anything" \
    test -z "$(grep -E "^ *ok  stop (kube-apiserver|etcd): " <<<"$out")"
  check "no inode for the record: nothing touched" unchanged
  check "no inode for the record: the tmpfs is empty afterwards" \
    eval 'left=$(nsenter -t "$RPID" -m -- ls -A "$T/inodes") && test -z "$left"'
else
  echo "# skipped the mount cases: cannot make a private mount namespace here"
fi

# ---- what etcd runs with, and the configuration ---------------------------------------
# The data dir, name and peer URLs come from etcd.yaml (--data-dir through
# the etcd-data hostPath volume); the restore block only overrides, and a
# disagreement, or an etcd.yaml that cannot tell, is refused before anything
# stops.
restore_conf "$T/otherdir.conf" 'data_dir = "/var/lib/etcd-elsewhere";'
restore_socket otherdir "$T/otherdir.conf"
refused "restore.data_dir not the one etcd uses" \
  "restore.data_dir = \"/var/lib/etcd-elsewhere\" ($T/otherdir.conf) disagrees with what etcd runs with: \"$DATA\" ($MAN/etcd.yaml:[0-9]*: --data-dir=/var/lib/etcd, hostPath volume etcd-data)" \
  1 "$C" restore latest --yes --socket "$RSOCK"
restore_conf "$T/othername.conf" 'name = "default"; initial_advertise_peer_urls = "https://127.0.0.1:2380";'
restore_socket othername "$T/othername.conf"
refused "restore.name not etcd's --name" "restore.name = \"default\" ($T/othername.conf) disagrees with what etcd runs with: \"$NAME\" ($MAN/etcd.yaml:[0-9]*: --name)" \
  1 "$C" restore latest --yes --socket "$RSOCK"
refused "restore.name not etcd's --name, dry run" "disagrees with what etcd runs with" \
  1 "$C" restore latest --dry-run --socket "$RSOCK"
# etcd.yaml naming a data dir (its etcd-data hostPath) that holds a db,
# while the etcd that answers runs on another: the restore would swap a
# directory etcd does not read. Refused, naming the db etcd holds.
mkdir -p "$T/other/etcd/member/snap"
cp "$DATA/member/snap/db" "$T/other/etcd/member/snap/db"
manifests_for "$T/man-other" "$T/other/etcd"; RMAN=$T/man-other restore_conf "$T/other.conf"
restore_socket other "$T/other.conf"
OTHER0=$(tree_state "$T/other")
dbid() { stat -c 'device %Hd:%Ld, inode %i' "$1"; }
refused "etcd runs on other data than etcd.yaml names" \
  "etcd does not run on the data dir the restore would swap: process ${PID0%%:*}, which listens on port [0-9]* for https://127.0.0.1:[0-9]*, holds /var/lib/etcd/member/snap/db open (the path as that process sees it; $(dbid "$DATA/member/snap/db")), not $T/other/etcd/member/snap/db ($(dbid "$T/other/etcd/member/snap/db")) of the data dir $T/other/etcd ($T/man-other/etcd.yaml:[0-9]*: --data-dir=/var/lib/etcd, hostPath volume etcd-data). The restore would swap a directory etcd does not read, and etcd would come back on its old data. The etcd pod does not run what $T/man-other/etcd.yaml says: is that directory the kubelet's staticPodPath (restore.manifests_dir)" \
  1 "$C" restore latest --yes --socket "$RSOCK"
refused "etcd runs on other data than etcd.yaml names, dry run" "etcd does not run on the data dir the restore would swap" \
  1 "$C" restore latest --dry-run --socket "$RSOCK"
check "etcd runs on other data: that data dir untouched, nothing beside it" \
  test "$OTHER0" = "$(tree_state "$T/other")" -a "$(ls -A "$T/other")" = etcd
bad_manifest() { # NAME CONTENT: a manifests dir whose etcd.yaml is CONTENT
  mkdir -p "$T/man-$1"; printf '%s\n' "$2" > "$T/man-$1/etcd.yaml"
  RMAN=$T/man-$1 restore_conf "$T/$1.conf"; restore_socket "$1" "$T/$1.conf"
  MSTATE=$(tree_state "$T/man-$1")
}
bad_manifest noflags "$(sed '/^    - --/d' "$T/etcd.yaml")"
refused "etcd.yaml without etcd's flags" "$T/man-noflags/etcd.yaml: the container's command has no --data-dir (program etcd)" \
  1 "$C" restore latest --yes --socket "$RSOCK"
check "etcd.yaml without etcd's flags: that manifest unchanged" test "$MSTATE" = "$(tree_state "$T/man-noflags")"
bad_manifest notyaml "exec etcd --name $NAME --data-dir '$DATA' {"
refused "etcd.yaml that is not YAML" "$T/man-notyaml/etcd.yaml" 1 "$C" restore latest --yes --socket "$RSOCK"
check "etcd.yaml that is not YAML: that manifest unchanged" test "$MSTATE" = "$(tree_state "$T/man-notyaml")"
bad_manifest inpod "$(sed 's|^    - --data-dir=/var/lib/etcd$|    - --data-dir=/var/lib/etcd-in-image|' "$T/etcd.yaml")"
refused "--data-dir on no hostPath volume" "etcd.yaml:[0-9]*: --data-dir=/var/lib/etcd-in-image is on no volume of the pod" \
  1 "$C" restore latest --yes --socket "$RSOCK"
# A controller's manifest the restore would restart at its end, unreadable:
# refused now, not found once etcd and kube-apiserver are back.
bad_manifest ctlbad "$(cat "$T/etcd.yaml")"
printf 'apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - command: [kube-scheduler, --secure-port=http]\n' \
  > "$T/man-ctlbad/kube-scheduler.yaml"
refused "kube-scheduler.yaml with a --secure-port that is no port" \
  "cannot read --secure-port/--bind-address from $T/man-ctlbad/kube-scheduler.yaml, which the restore restarts at its end: .*--secure-port=http is not a port number; mend it, or set restore.restart_controllers = false" \
  1 "$C" restore latest --yes --socket "$RSOCK"
# etcd with its WAL in a directory of its own: the restore would swap the
# data dir alone; refused, naming the flag.
bad_manifest waldir "$(sed 's|^    - --data-dir=/var/lib/etcd$|&\n    - --wal-dir=/var/lib/etcd/wal-elsewhere|' "$T/etcd.yaml")"
refused "etcd with a --wal-dir" \
  "etcd keeps its write-ahead log apart from its data dir ($T/man-waldir/etcd.yaml:[0-9]*: --wal-dir = /var/lib/etcd/wal-elsewhere)" \
  1 "$C" restore latest --yes --socket "$RSOCK"

# ---- who may ask, and how ---------------------------------------------------------
# -c and -s are the daemon's: taken with restore, they would seem obeyed while the service used its own.
refused "restore with -c" "-c does not apply: the restore service reads the configuration its unit names" 2 \
  "$C" -c "$T/r.conf" restore latest --dry-run --socket "$SOCK"
refused "restore with -s" "-s/--socket before the command names the daemon's control socket, which restore does not use" 2 \
  "$C" restore latest --dry-run -s "$SOCK"
chmod 0700 "$SOCK"      # as the real unit's SocketMode=0600: the kernel refuses strangers
refused "a client that is not root, the socket's mode refusing" "the restore socket $SOCK refused this user: Permission denied (restore needs root)" 77 \
  setpriv --reuid=65534 --regid=65534 --clear-groups "$C" restore latest --yes --socket "$SOCK"
chmod 0777 "$SOCK"      # the service's own refusal, for a socket others may connect to
refused "a client that is not root" "access_denied" 77 \
  setpriv --reuid=65534 --regid=65534 --clear-groups "$C" restore latest --yes --socket "$SOCK"
check "a client that is not root: the refusal is logged" grep -q "is not root" "$T/restore-main.log"
refused "no --yes and no terminal" "refusing to restore without --yes" 2 "$C" restore latest --socket "$SOCK"
refused "no restore socket" "cannot reach the restore service" 69 \
  "$C" restore latest --yes --socket "$SOCKDIR/nothing.sock"
refused "usage: no backup argument" "missing backup argument" 2 "$C" restore --yes --socket "$SOCK"

# Requests that are not what the client sends: errors, never a crash.
req() { printf '%s\n' "$1" | timeout 10 socat -t5 - UNIX-CONNECT:"$SOCK"; }
check "junk request: invalid_json" grep -q '"invalid_json"' <<<"$(req 'not json')"
check "wrong method: unknown_method" grep -q '"unknown_method"' <<<"$(req '{"method":"Backup"}')"
check "backup not a string: invalid_request" grep -q '"invalid_request"' <<<"$(req '{"method":"Restore","backup":5}')"
check "relative path: invalid_request" grep -q '"invalid_request"' <<<"$(req '{"method":"Restore","backup":"a/b"}')"
check "dry_run not a boolean: invalid_request" \
  grep -q '"invalid_request"' <<<"$(req '{"method":"Restore","backup":"latest","dry_run":"yes"}')"
big=$(head -c 70000 /dev/zero | tr '\0' 'a' | timeout 10 socat -t5 - UNIX-CONNECT:"$SOCK" 2>&1); rc=$?
check "a line over 64 KiB: too_large" grep -q '"too_large"' <<<"$big"
grep -q '"too_large"' <<<"$big" || echo "# socat exit $rc: ${big:0:300}"
# The plan's answer, on the same connection: none (the client hangs up, or
# says nothing within restore.confirm_timeout), a cancellation, a
# confirmation of another backup: each refused, nothing touched.
restore_conf "$T/confirm.conf" 'confirm_timeout = "2s";'
restore_socket confirm "$T/confirm.conf"; CSOCK=$RSOCK
RQ='{"method":"Restore","backup":"latest"}'
converse() { # LINES... (then keeps its side open until the service closes)
  printf '%s\n' "$@" | timeout 20 socat -t1 -,ignoreeof UNIX-CONNECT:"$CSOCK"
}
out=$(printf '%s\n' "$RQ" | timeout 20 socat -t10 - UNIX-CONNECT:"$CSOCK")
check "plan, then the client hangs up: the plan was sent" grep -q '"plan":{' <<<"$out"
check "plan, then the client hangs up: not_confirmed" \
  grep -q '"error":"not_confirmed","message":"the client closed the connection without confirming"' <<<"$out"
check "plan, then the client hangs up: nothing touched" unchanged
# Each line with when it came: the time given up is counted from the plan's arrival (the service's start and
# its plan take what they take on a loaded machine).
out=$(converse "$RQ" | while IFS= read -r l; do printf '%s %s\n' "$EPOCHREALTIME" "$l"; done)
t=$(awk '/"plan":\{/ && !p { p = $1 } /"not_confirmed"/ { e = $1 } END { if (p && e) printf "%.1f", e - p; else print "none" }' <<<"$out")
check "plan, no answer: not_confirmed after restore.confirm_timeout" \
  grep -q '"error":"not_confirmed","message":"no confirmation within restore.confirm_timeout (2 s)"' <<<"$out"
check "plan, no answer: the service gave up in time (${t} s after the plan)" \
  awk -v t="$t" 'BEGIN { exit !(t != "none" && t >= 1.5 && t < 8) }'
check "plan, no answer: nothing touched" unchanged
check "plan, no answer: logged" grep -q "not confirmed, nothing was changed: no confirmation" "$T/restore-confirm.log"
# A byte sent out of band after the plan, then nothing: the service still
# gives up at restore.confirm_timeout (the byte counts as input, SO_OOBINLINE),
# where a read would wait past every deadline for as long as the client held on.
cat > "$T/oob.py" <<'EOF'
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.settimeout(30); s.connect(sys.argv[1])
s.sendall(sys.argv[2].encode() + b"\n"); buf = b""
while b'"plan":{' not in buf:
    chunk = s.recv(65536)
    if not chunk:
        break
    buf += chunk
t = time.monotonic()
s.send(b"x", socket.MSG_OOB)
try:
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
except socket.timeout:
    pass
print(int(time.monotonic() - t))
print(buf.decode(errors="replace"))
EOF
out=$(timeout 60 python3 "$T/oob.py" "$CSOCK" "$RQ" 2>&1)
t=$(head -1 <<<"$out")
check "plan, then a byte out of band: not_confirmed after restore.confirm_timeout" \
  grep -q '"error":"not_confirmed","message":"no confirmation within restore.confirm_timeout (2 s)"' <<<"$out"
check "plan, then a byte out of band: the service gave up in time (${t:-?} s)" test "${t:-99}" -lt 10
check "plan, then a byte out of band: nothing touched" unchanged
out=$(converse "$RQ" '{"method":"Cancel"}')
check "plan, cancelled: not_confirmed" grep -q '"error":"not_confirmed","message":"the operator cancelled it"' <<<"$out"
check "plan, cancelled: nothing touched" unchanged
out=$(converse "$RQ" '{"method":"Confirm","backup":"/var/lib/etcd-backupd/another.db"}')
check "plan, a confirmation of another backup: invalid_request" \
  grep -q '"error":"invalid_request","message":"\\"Confirm\\" must name the plan' <<<"$out"
check "plan, a confirmation of another backup: no step ran" test -z "$(grep '"step"' <<<"$out" | grep -v '"verify"\|"detect"')"
check "plan, a confirmation of another backup: nothing touched" unchanged
out=$(converse "$RQ" '{"method":"Restore","backup":"latest"}')
check "plan, answered with another request: unknown_method" grep -q '"error":"unknown_method"' <<<"$out"
check "plan, answered with another request: nothing touched" unchanged
# On a terminal (script(1) gives the client one): the plan, the question,
# an answer that is not "yes".
if command -v script >/dev/null; then
  out=$(printf 'no\n' | timeout 30 script -qec "'$C' restore latest --socket '$CSOCK'" /dev/null 2>&1)
  check "terminal, answered no: the plan was shown" grep -q "Restore plan" <<<"$out"
  check "terminal, answered no: asked within the service's time limit" grep -q "Type 'yes' within 2 s to restore" <<<"$out"
  check "terminal, answered no: not confirmed" grep -q "not confirmed; nothing was changed" <<<"$out"
  check "terminal, answered no: nothing touched" unchanged
fi
check "after all that: nothing touched" unchanged
out=$("$C" --json restore latest --dry-run --socket "$SOCK" 2>&1)
check "and a dry run still works" jqt '.revision > 0' <<<"$out"

# ---- encrypted backups -------------------------------------------------------------
# An age-encrypted backup: the right identity_file reads it (a dry run
# verifies it end to end), a wrong one is refused before anything changes.
age-keygen -o "$T/right.key" 2>/dev/null; age-keygen -o "$T/wrong.key" 2>/dev/null
{ etcd_group; storage_group "$T/enc" zstd 3
  echo "encryption: { recipients = [\"$(age-keygen -y "$T/right.key")\"]; };"; } > "$T/enc.conf"
encrypted=$("$ETCD_BACKUPD" --once -c "$T/enc.conf" 2>>"$T/once.err")
check "an encrypted backup was made" test -f "$encrypted"
[[ -f $encrypted ]] || tail -5 "$T/once.err" | sed 's/^/# /'
for id in right wrong; do
  restore_conf "$T/$id.conf"
  echo "encryption: { recipients = [\"$(age-keygen -y "$T/right.key")\"]; identity_file = \"$T/$id.key\"; };" >> "$T/$id.conf"
  restore_socket "age-$id" "$T/$id.conf"
  eval "SOCK_$id=\$RSOCK"
done
out=$("$C" --json restore "$encrypted" --dry-run --socket "$SOCK_right" 2>&1)
check "encrypted, the right identity: the dry run verifies it" jqt '.revision > 0' <<<"$out"
check "encrypted, the right identity: nothing touched" unchanged
refused "encrypted, a wrong identity" "no age identity matches" 1 \
  "$C" restore "$encrypted" --yes --socket "$SOCK_wrong"
# No identity (kept off the node, as advised): said where the restore
# reads it, the configuration named.
restore_conf "$T/noid.conf"
restore_socket age-noid "$T/noid.conf"
refused "encrypted, no identity_file" \
  "encrypted backup: the restore service decrypts with encryption.identity_file of $T/noid.conf, which is not set" 1 \
  "$C" restore "$encrypted" --dry-run --socket "$RSOCK"
restore_conf "$T/gone.conf"
echo "encryption: { recipients = [\"$(age-keygen -y "$T/right.key")\"]; identity_file = \"$T/gone.key\"; };" >> "$T/gone.conf"
restore_socket age-gone "$T/gone.conf"
refused "encrypted, an identity_file that is not there" \
  "encrypted backup: encryption.identity_file $T/gone.key does not exist" 1 \
  "$C" restore "$encrypted" --dry-run --socket "$RSOCK"

# ---- a cluster with a member the restore does not name -------------------------------
# A learner (it does not count for quorum, so the one-member cluster stays
# up) on 127.0.0.3: MemberList names it, etcd.yaml's --initial-cluster does
# not; restoring this member alone would split the cluster.
GHOST=https://127.0.0.3:$(free_port)
ctl member add ghost --learner --peer-urls="$GHOST" >/dev/null 2>&1
check "a learner was added" grep -q "$GHOST" <<<"$(ctl member list 2>&1)"
etcd_settled
STATE0=$(tree_state "$DATA")
refused "a member the initial cluster does not name" \
  "the cluster has members that the initial cluster \"$NAME=https://127.0.0.1:$PPORT\" ($MAN/etcd.yaml:[0-9]*: --initial-cluster) does not name: <unstarted>=$GHOST (learner)" \
  1 "$C" restore latest --yes --socket "$SOCK"
out=$("$C" restore latest --yes --socket "$SOCK" 2>&1 </dev/null)
proc=$(grep -o 'on every node set restore.initial_cluster = "[^"]*"' <<<"$out")
check "a member the initial cluster does not name: the per-node procedure is printed, naming every member" \
  eval 'grep -q "$NAME=https://127.0.0.1:$PPORT" <<<"$proc" && grep -q "<unstarted>=$GHOST" <<<"$proc" &&
        grep -q "run \`etcd-backupctl restore FILE --yes\` on each of them" <<<"$out"'
restore_conf "$T/all.conf" "initial_cluster = \"$NAME=https://127.0.0.1:$PPORT,ghost=$GHOST\";"
restore_socket all "$T/all.conf"
out=$("$C" --json restore latest --dry-run --socket "$RSOCK" 2>&1)
check "every member named (restore.initial_cluster): the dry run passes and says MemberList was asked" \
  jqt '.member_list | test("2 members, every one named")' <<<"$out"
check "every member named: the token is derived from the backup" \
  jqt '[.member[] | select(.setting == "initial_cluster_token")][0].value | test("^etcd-restore-[0-9a-f]{16}$")' <<<"$out"
ctl member remove "$(ctl member list | awk -F', ' -v u="$GHOST" '$4 == u { print $1 }')" >/dev/null 2>&1
check "the learner was removed again" test -z "$(ctl member list 2>&1 | grep "$GHOST")"

finish
