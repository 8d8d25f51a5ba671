#!/usr/bin/env bash
# One instance per backup directory and per socket: a second daemon or
# --once on a directory in use exits 75 naming the holder's PID; a daemon
# whose socket path another process answers on exits 75 and leaves that
# socket alone; a socket nobody answers on (left by a killed daemon) is
# replaced; the lock goes with the process that held it. A directory moved
# away, replaced or without its .lock is locked again before a backup or a prune.
. "$(dirname "$0")/lib.sh"
: "${NOTIFY_RECV:?}"

start_etcd
ctl put /a 1 >/dev/null
conf() { # DIR SOCKET
  etcd_group; storage_group "$1" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; };"
  echo "control: { socket = \"$2\"; group = \"nogroup\"; backup_min_interval = \"1h\"; };"
}
# nogroup (65534) stands in for etcd-backup-ctl; uid 65534 is its member.
MEMBER=(setpriv --reuid=65534 --regid=65534 --clear-groups)
{ conf "$T/b" "$T/a.sock"; echo "metrics: { textfile = \"$T/metrics.prom\"; };"; } > "$T/a.conf"
daemon_start "$T/a.conf"
check "first daemon ready (READY=1)" wait_until 10 grep -q '^READY=1$' "$T/notify.log"
A=$DPID
check "the lock file holds the daemon's PID" test "$(cat "$T/b/.lock" 2>/dev/null)" = "$A"
ino=$(stat -c %i "$T/a.sock")

# A second daemon on the same configuration.
timeout 10 "$ETCD_BACKUPD" -c "$T/a.conf" > "$T/second.log" 2>&1 & P=$!
kill_at_exit -9 "$P"
wait $P; rc=$?
check "second daemon, same directory: exit 75 (got $rc)" test $rc = 75
check "second daemon: the message names the directory and the holder's PID" \
  grep -q "$T/b is in use by another etcd-backupd (pid $A)" "$T/second.log"
check "second daemon: the first one's socket is untouched" test "$(stat -c %i "$T/a.sock")" = "$ino"
check "second daemon: the first one still answers" quiet "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 5 status

# --once on the same directory.
out=$(timeout 60 "$ETCD_BACKUPD" --once -c "$T/a.conf" 2>&1); rc=$?
check "--once, directory in use: exit 75 (got $rc)" test $rc = 75
check "--once: the message names the holder's PID" grep -q "in use by another etcd-backupd (pid $A)" <<<"$out"
check "--once: no backup was taken" test -z "$(ls "$T/b" | grep '^etcd-')"

# hold_new_dir NAME: move the directory away to NAME, make a new one and
# hold its lock from another process, F.
hold_new_dir() {
  mv "$T/b" "$T/$1"; mkdir -m 0700 "$T/b"; rm -f "$T/held"
  ( exec 9> "$T/b/.lock"; flock 9; touch "$T/held"; exec sleep 60 ) & F=$! FID=$(proc_id $!)
  kill_at_exit "$F"
  wait_until 10 test -e "$T/held"
}
# relocked: how many times the daemon has said it took the lock again.
relocked() { grep -c "was moved, replaced or lost its lock since the daemon took it; its lock is taken again there" "$T/daemon.log"; }

# The directory moved away while the daemon runs: the next backup takes
# the lock again where the path leads, so --once stays out of it there.
mv "$T/b" "$T/b.moved"
check "directory moved away: a backup through the socket succeeds" quiet "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 60 backup
check "moved: the daemon says it took the lock again" test "$(relocked)" = 1
check "moved: the new directory's lock file holds the daemon's PID" test "$(cat "$T/b/.lock" 2>/dev/null)" = "$A"
out=$(timeout 60 "$ETCD_BACKUPD" --once -c "$T/a.conf" 2>&1); rc=$?
check "moved: --once on the new directory: exit 75 (got $rc)" test $rc = 75
check "moved: --once names the daemon's PID" grep -q "in use by another etcd-backupd (pid $A)" <<<"$out"
rm "$T/b/.lock"
check "lock file removed: a backup succeeds" quiet "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 60 backup
check "removed: the daemon took the lock again" test "$(relocked)" = 2
check "removed: the lock file is back with the daemon's PID" test "$(cat "$T/b/.lock" 2>/dev/null)" = "$A"
# Moved away again, and another holder took the new directory first.
hold_new_dir b.moved2
out=$(timeout 60 "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 60 backup 2>&1); rc=$?
check "taken by another: the backup fails (exit $rc)" test $rc != 0
check "taken by another: the client is told why" grep -q "$T/b is in use by another etcd-backupd" <<<"$out"
check "taken by another: the daemon's log says so" grep -q "its lock cannot be taken again: $T/b is in use" "$T/daemon.log"
check "taken by another: no backup was written there" test -z "$(ls "$T/b" | grep '^etcd-')"
check "taken by another: the daemon logs the cause once" test "$(grep -c "$T/b is in use by another" "$T/daemon.log")" = 1
# A job that could not start is a failed attempt in STATUS= and the metrics
# too (they went on saying the backup before it was ok).
# (Both are written just after the client is answered: waited for.)
check "taken by another: STATUS= says the last backup failed, and why" wait_until 10 \
  grep -qE "^STATUS=(Idle\. )?Last backup failed: the backup directory $T/b was moved, replaced .*is in use" "$T/notify.log"
check "taken by another: metrics say the last attempt failed, 1 failure" wait_until 10 \
  bash -c "grep -qx 'etcd_backup_last_attempt_success 0' '$T/metrics.prom' &&
           grep -qx 'etcd_backup_failures_total 1' '$T/metrics.prom'"
grep -q 'etcd_backup_failures_total 1' "$T/metrics.prom" || { grep '^STATUS=' "$T/notify.log" | tail -1; grep -v '^#' "$T/metrics.prom"; } | sed 's/^/# /'
# A member asking again and again while it lasts: one try, then rate limited
# (each try was logged and counted as a failed backup, with no limit).
chmod 0711 "$T"   # the member may reach the socket, not list what else is here
out=$("${MEMBER[@]}" "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 60 backup 2>&1); rc=$?
check "taken by another, member: the backup fails naming why (exit $rc)" \
  grep -q "$T/b is in use by another etcd-backupd" <<<"$out"
out=$("${MEMBER[@]}" "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 60 backup 2>&1); rc=$?
check "taken by another, member: asking again is rate limited (exit $rc)" grep -q "rate limited" <<<"$out"
check "taken by another: two tries logged, not three" test "$(grep -c "$T/b is in use by another" "$T/daemon.log")" = 2
chmod 0700 "$T"
signal_proc -TERM "$FID"; wait "$F" 2>/dev/null
check "holder gone: a backup succeeds" quiet "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 60 backup
check "holder gone: the lock file holds the daemon's PID" test "$(cat "$T/b/.lock" 2>/dev/null)" = "$A"
# A prune takes it again likewise, or fails naming the holder.
hold_new_dir b.moved3
out=$(timeout 60 "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 60 prune 2>&1); rc=$?
check "prune, taken by another: fails (exit $rc)" test $rc != 0
check "prune, taken by another: the client is told why" grep -q "$T/b is in use by another etcd-backupd" <<<"$out"
signal_proc -TERM "$FID"; wait "$F" 2>/dev/null
check "prune, holder gone: succeeds" quiet "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 60 prune
check "prune: the daemon took the lock again" test "$(relocked)" = 4
check "prune: the lock file holds the daemon's PID" test "$(cat "$T/b/.lock" 2>/dev/null)" = "$A"

# Another directory, the same socket path.
conf "$T/b2" "$T/a.sock" > "$T/b2.conf"
timeout 10 "$ETCD_BACKUPD" -c "$T/b2.conf" > "$T/third.log" 2>&1 & P=$!
kill_at_exit -9 "$P"
wait $P; rc=$?
check "socket in use by a live daemon: exit 75 (got $rc)" test $rc = 75
check "socket in use: says so" grep -q "another process answers on $T/a.sock; not replacing it" "$T/third.log"
check "socket in use: still the first daemon's socket" test "$(stat -c %i "$T/a.sock")" = "$ino"
check "socket in use: the first daemon still answers" quiet "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 5 status

# Killed: the lock goes with it, the socket file stays and is replaced.
kill -KILL "$A"; wait "$A" 2>/dev/null
check "killed daemon: its socket file is left behind" test -S "$T/a.sock"
out=$(timeout 60 "$ETCD_BACKUPD" --once -c "$T/a.conf" 2>&1); rc=$?
check "--once after the holder died: exit 0 (got $rc)" test $rc = 0
daemon_start "$T/a.conf"
check "a new daemon replaces the stale socket (READY=1)" wait_until 10 grep -q '^READY=1$' "$T/notify.log"
check "the new daemon answers on it" quiet "$ETCD_BACKUPCTL" -s "$T/a.sock" --timeout 5 status
daemon_stop
check "SIGTERM: exit 0" test "$DRC" = 0
finish
