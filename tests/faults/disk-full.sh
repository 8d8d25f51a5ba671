#!/usr/bin/env bash
# A backup directory on small tmpfs file systems, at every size from "cannot
# start" to "fits": an incompressible db (20 MiB of values; bbolt makes the
# file 22-34 MiB depending on how etcd batched the writes) needs room for the
# spool (the raw db) and the output (zstd 1: about as large as the db).
# Without compression the spool itself is published, so the db alone needs
# room. Too small: exit 1 with an error that
# names the lack of space, the earlier backup byte-identical and nothing else
# left. Big enough: a backup that verifies. The sizes are fractions of the
# db's real size, so that both outcomes are reached whatever size it has.
. "$(dirname "$0")/../integration/lib.sh"
[[ $(id -u) -eq 0 ]] || { echo "needs root to mount tmpfs"; exit 1; }

start_etcd
load_random 20 1024
# etcd commits its writes to bbolt in batches (every 100 ms): the file can
# still grow after the last put has returned. A snapshot commits what is
# pending first, so from here on the size is the one every backup sees.
ctl snapshot save "$T/settled.db" >/dev/null
rm -f "$T/settled.db"
db=$(ctl endpoint status -w json | jq -r '.[0].Status.dbSize')
dbm=$(( (db + 1048575) / 1048576 ))
echo "# db $db bytes ($dbm MiB)"
mnt=$T/mnt
mkdir -p "$mnt"
tried=0 refused=0 fitted=0
# 1 MiB, a quarter to three quarters of the db, the db itself, the db and a
# part of the output, just under the db twice, and twice the db with room.
for mb in 1 $((dbm / 4)) $((dbm / 2)) $((dbm * 3 / 4)) $dbm $((dbm + 2)) \
          $((dbm * 5 / 4)) $((dbm * 3 / 2)) $((dbm * 7 / 4)) $((dbm * 2 - 2)) \
          $((dbm * 2 + 8)) $((dbm * 2 + 24)); do
  mount -t tmpfs -o size=${mb}m,mode=0700 tmpfs "$mnt" || { not_ok "mount ${mb}M"; continue; }
  # An earlier (fake) backup that must survive.
  head -c 100000 /dev/urandom > "$mnt/etcd-0000000000000001-20200101T000000Z-r1.db"
  before=$(dir_state "$mnt")
  { etcd_group; storage_group "$mnt" zstd 1 0; } > "$T/c.conf"
  err=$("$ETCD_BACKUPD" --once -c "$T/c.conf" 2>&1 >/dev/null); rc=$?
  tried=$((tried + 1))
  if [[ $rc -eq 0 ]]; then
    fitted=$((fitted + 1))
    new=$(ls "$mnt" | grep -v '^etcd-0000000000000001-' | grep -v json)
    check "${mb}M: fits; the backup verifies" quiet "$ETCD_BACKUPCTL" verify "$mnt/$new"
  else
    refused=$((refused + 1))
    check "${mb}M: exit 1 (got $rc)" test $rc -eq 1
    echo "# ${mb}M: $err"
    if grep -qiE "space" <<<"$err"; then ok "${mb}M: names the lack of space"; else not_ok "${mb}M: error '$err'"; fi
    check "${mb}M: directory exactly as before" test "$(dir_state "$mnt")" = "$before"
  fi
  umount "$mnt"
done
echo "# sizes tried: $tried, refused: $refused, fitted: $fitted"

# Without compression the spool is the backup: room for the db once (and a
# quarter more) is enough.
mb=$((dbm * 5 / 4))
mount -t tmpfs -o size=${mb}m,mode=0700 tmpfs "$mnt"
{ etcd_group; storage_group "$mnt" none 0 0; } > "$T/c.conf"
err=$("$ETCD_BACKUPD" --once -c "$T/c.conf" 2>&1 >/dev/null); rc=$?
check "none, ${mb}M (the db once): fits (exit $rc)" test $rc -eq 0 || echo "# $err"
new=$(ls "$mnt" | grep -v json)
check "none, ${mb}M: the backup verifies" quiet "$ETCD_BACKUPCTL" verify "$mnt/$new"
umount "$mnt"

# Room for the db but not for the db and an output as large as the previous
# backup: refused before the stream starts, saying what it needs, rather
# than failing half-way.
prev=$((db + 4 * 1048576))
mount -t tmpfs -o size=$(( (prev + db * 3 / 2) / 1048576 + 1 ))m,mode=0700 tmpfs "$mnt"
head -c "$prev" /dev/urandom > "$mnt/etcd-0000000000000001-20200101T000000Z-r1.db"
echo '{}' > "$mnt/etcd-0000000000000001-20200101T000000Z-r1.db.json"
before=$(dir_state "$mnt")
{ etcd_group; storage_group "$mnt" zstd 1 0; } > "$T/c.conf"
err=$("$ETCD_BACKUPD" --once -c "$T/c.conf" 2>&1 >/dev/null); rc=$?
echo "# db $db bytes, previous backup $prev bytes: $err"
check "db + previous backup > free: exit 1 (got $rc)" test $rc -eq 1
check "db + previous backup > free: refused up front, naming what it needs" \
  grep -q 'not enough free space in .* needed (the .* database, .* as large as the previous backup' <<<"$err"
check "db + previous backup > free: directory exactly as before" test "$(dir_state "$mnt")" = "$before"
umount "$mnt"
# Room at the start (the previous backup is small), not for what is then
# written (the db, and an output as large): storage.min_free is watched
# while writing, and the backup stops once the file system falls below it.
mount -t tmpfs -o size=$((dbm * 2 + 4))m,mode=0700 tmpfs "$mnt"
head -c 1000 /dev/urandom > "$mnt/etcd-0000000000000001-20200101T000000Z-r1.db"
before=$(dir_state "$mnt")
{ etcd_group; storage_group "$mnt" zstd 1 "${dbm}M"; } > "$T/c.conf"
err=$("$ETCD_BACKUPD" --once -c "$T/c.conf" 2>&1 >/dev/null); rc=$?
echo "# $((dbm * 2 + 4))M, storage.min_free ${dbm}M, previous backup 1000 bytes: $err"
check "below storage.min_free while writing: exit 1 (got $rc)" test $rc -eq 1
check "below storage.min_free while writing: stopped, saying so" grep -qE \
  "free space in $mnt fell to [0-9.]+ [KMG]?i?B( \([0-9]+ bytes\))? while (receiving the snapshot|writing the backup), below storage.min_free $dbm\.0 MiB: stopped" <<<"$err"
check "below storage.min_free while writing: directory exactly as before" test "$(dir_state "$mnt")" = "$before"
umount "$mnt"
check "some sizes were too small and some fitted" test $refused -gt 0 -a $fitted -gt 0
finish
