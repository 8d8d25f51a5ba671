#!/usr/bin/env bash
# A backup directory on a file system without O_TMPFILE, as NFS is. Here a
# FUSE file system, bindfs over a scratch directory, which like NFS refuses
# O_TMPFILE (EOPNOTSUPP), has hard links and takes no renameat2() flags (the
# test checks the first two before it relies on them). Checks: `--once`
# makes good backups there for zstd and for none (judged by `zstd -t` and
# `etcdctl snapshot status`, 0600, with their sidecars) and leaves no
# temporary file; a backup that fails after its temporary files were
# created removes them; the hidden temporary files a backup killed there
# leaves are removed at the next start and logged, while a directory of
# such a name is left alone; a daemon whose worker is killed again and
# again does not pile them up; the store's unit test passes there; `list`
# and `verify` read the backups there.
. "$(dirname "$0")/lib.sh"
[[ $(id -u) == 0 ]] || { echo "needs root (a FUSE mount)"; exit 77; }
command -v bindfs >/dev/null || { echo "needs bindfs"; exit 1; }

start_etcd
for i in $(seq 1 30); do ctl put "/registry/configmaps/default/cm-$i" "value-$i" >/dev/null; done

mkdir -m 0700 "$T/under" "$T/mnt"
bindfs "$T/under" "$T/mnt" || { echo "bindfs cannot mount"; exit 1; }
CLEANUP+=("umount '$T/mnt'")
# The premise: no O_TMPFILE there, hard links yes.
tmpfile_refused() {
  python3 -c 'import errno, os, sys
try:
    os.close(os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600))
except OSError as e:
    sys.exit(0 if e.errno == errno.EOPNOTSUPP else 1)
sys.exit(1)' "$1"
}
check "the mount refuses O_TMPFILE (EOPNOTSUPP), as NFS does" tmpfile_refused "$T/mnt"
touch "$T/mnt/a"
check "the mount has hard links" ln "$T/mnt/a" "$T/mnt/b"
rm -f "$T/mnt/a" "$T/mnt/b"

hidden() { find "$1" -maxdepth 1 -name '.etcd-backupd-tmp-*' | grep -c .; }
for codec in zstd none; do
  dir=$T/mnt/b-$codec
  { etcd_group; storage_group "$dir" "$codec" 3; } > "$T/$codec.conf"
  out=$("$ETCD_BACKUPD" --once -c "$T/$codec.conf" 2>"$T/$codec.err"); rc=$?
  check "$codec: --once exits 0 ($(tail -1 "$T/$codec.err"))" test $rc -eq 0
  check "$codec: the backup and its sidecar are there, 0600" \
    test -f "$out" -a -f "$out.json" -a "$(stat -c %a "$out")" = 600 -a "$(stat -c %a "$out.json")" = 600
  case $codec in
    zstd) check "zstd: zstd -t accepts it" zstd -q -t "$out"
          zstd -q -dc "$out" > "$T/$codec.db" ;;
    none) cp "$out" "$T/$codec.db" ;;
  esac
  check "$codec: etcdctl snapshot status accepts it, at the sidecar's revision" \
    test "$(etcdctl snapshot status "$T/$codec.db" -w json 2>/dev/null | jq -r .revision)" = "$(jq -r .revision "$out.json")"
  check "$codec: no temporary file left" test "$(hidden "$dir")" = 0
  # (FUSE caches the link count: asked below the mount.)
  check "$codec: the backup has one name (no second link left)" test "$(stat -c %h "$T/under/${out#"$T/mnt/"}")" = 1
done

# A failure after the temporary files exist: a file size limit
# (RLIMIT_FSIZE, SIGXFSZ ignored so that write(2) fails with EFBIG) stops
# the spool; they are removed.
{ etcd_group; storage_group "$T/mnt/b-fsize" zstd 3; } > "$T/fsize.conf"
err=$(trap '' XFSZ; ulimit -f 4; "$ETCD_BACKUPD" --once -c "$T/fsize.conf" 2>&1 >/dev/null); rc=$?
check "write error: exit 1" test $rc -eq 1
check "write error: names the cause" grep -q "File too large" <<<"$err"
check "write error: nothing left, hidden or not" test -z "$(ls -A "$T/mnt/b-fsize" | grep -v '^\.lock$')"

# A backup killed there (SIGXFSZ at the same limit, not ignored this time)
# leaves its hidden temporary files. The next start removes them and says
# so; a directory of such a name is not ours and is left alone.
dir=$T/mnt/b-zstd
(ulimit -f 4; exec "$ETCD_BACKUPD" --once -c "$T/zstd.conf" >/dev/null 2>&1); rc=$?
check "killed backup: ended by SIGXFSZ (exit $rc)" test $rc -eq $((128 + $(kill -l XFSZ)))
left=$(find "$dir" -maxdepth 1 -name '.etcd-backupd-tmp-*' -printf '%f\n' | sort)
check "killed backup: its temporary files are left ($(wc -w <<<"$left"))" test -n "$left"
mkdir "$dir/.etcd-backupd-tmp-0000000000000000"
echo mine > "$dir/.etcd-backupd-tmp-notes"
out=$("$ETCD_BACKUPD" --once -c "$T/zstd.conf" 2>"$T/tidy.err"); rc=$?
check "tidy: the next backup succeeds" test $rc -eq 0 -a -f "$out"
for f in $left; do
  check "tidy: $f removed and logged" eval \
    "test ! -e '$dir/$f' && grep -qF 'Removed $dir/$f: a temporary file of an interrupted backup' '$T/tidy.err'"
done
check "tidy: a directory of such a name is left alone" test -d "$dir/.etcd-backupd-tmp-0000000000000000"
check "tidy: a file of another name with that prefix is left alone" test -f "$dir/.etcd-backupd-tmp-notes"
rmdir "$dir/.etcd-backupd-tmp-0000000000000000"; rm "$dir/.etcd-backupd-tmp-notes"

# The daemon's worker killed again and again while the daemon runs (the
# tidy at start is long past): each new attempt removes what the last one
# left, so the hidden files never add up. SIGXFSZ ends each worker (the
# daemon's own output goes through a pipe, which the limit does not stop).
dir=$T/mnt/b-daemon
{ etcd_group; storage_group "$dir" zstd 1
  echo 'schedule: { calendar = "*:*:0/2"; persistent = true; retry = { attempts = 0; backoff = "1s"; }; };'
  echo "control: { socket = \"$T/control.sock\"; group = \"\"; };"; } > "$T/daemon.conf"
(ulimit -f 4; exec "$ETCD_BACKUPD" -c "$T/daemon.conf") > >(cat > "$T/daemon.log") 2>&1 &
DPID=$!; kill_at_exit -9 "$DPID"
killed() { [[ $(grep -c 'the backup worker was killed by signal XFSZ' "$T/daemon.log" 2>/dev/null) -ge $1 ]]; }
for _ in $(seq 1 300); do killed 4 && break; sleep 0.1; done
check "daemon: its worker was killed by SIGXFSZ at least 4 times ($(grep -c "killed by signal" "$T/daemon.log"))" killed 4
check "daemon: the hidden files of the killed workers do not add up (at most one attempt's 2: $(hidden "$dir"))" \
  test "$(hidden "$dir")" -le 2
kill -TERM "$DPID"; wait "$DPID"

# The store's unit test (publish, never replacing a backup, sidecars, list,
# remove) on the mount.
check "test-store on the mount" env STORE_TEST_DIR="$T/mnt" "$TOP_BUILDDIR/tests/test-store"

list=$("$ETCD_BACKUPCTL" -s "$T/no-daemon.sock" -c "$T/zstd.conf" list 2>&1)
check "list: both zstd backups there" test "$(grep -c '^etcd-.*\.db\.zst ' <<<"$list")" = 2
name=$(basename "$out")
out=$("$ETCD_BACKUPCTL" -s "$T/no-daemon.sock" -c "$T/zstd.conf" verify "$name" 2>&1); rc=$?
check "verify: exit 0 ($(tail -1 <<<"$out"))" test $rc -eq 0
finish
