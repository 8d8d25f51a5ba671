#!/usr/bin/env bash
# The daemon under a test NOTIFY_SOCKET against a real TLS etcd: READY=1 and
# STATUS=, persistent catch-up at start (and none when the last backup is
# recent), a calendar a few seconds apart producing backups and pruning,
# reload with a good and a bad config, retries with backoff when etcd is
# unreachable, metrics, SIGTERM during a backup leaving the backup
# directory unchanged, one run pruning more backups than its report can
# name, a reload that keeps a run waiting out its randomized delay, what a
# reload refuses to change, a socket from systemd control.group cannot use,
# a calendar that never elapses again, and the daemon as PID 1 of a PID
# namespace (a container's first process).
. "$(dirname "$0")/lib.sh"
: "${NOTIFY_RECV:?}" "${FCHOWNAT_DENIED:?}"

start_etcd
ctl put /a 1 >/dev/null

# start_daemon CONF SECONDS: runs the daemon with a notify listener.
DAEMON_ENV=()
start_daemon() {
  "$NOTIFY_RECV" "$T/notify.sock" "$2" > "$T/notify.log" &
  NPID=$!; NID=$(proc_id "$NPID"); kill_at_exit "$NPID"
  for _ in $(seq 1 300); do [[ -S $T/notify.sock ]] && break; sleep 0.05; done
  [[ -S $T/notify.sock ]] || not_ok "the notify listener's socket within 15 s"
  # UMask=0077, as the service runs.
  # DAEMON_ENV (an array of VAR=VALUE) is added to its environment.
  (umask 077; NOTIFY_SOCKET=$T/notify.sock exec env "${DAEMON_ENV[@]}" "$ETCD_BACKUPD" -c "$1" > "$T/daemon.log" 2>&1) &
  DPID=$!; kill_at_exit -9 "$DPID"
}
stop_daemon() { # [WORKER: held stopped while the daemon stops, a SIGHUP sent meanwhile, then let go]
  if [[ -n ${1:-} ]] && stop_running "$1"; then
    kill -TERM "$DPID"; wait_for "$T/notify.log" '^STOPPING=1$' 10; kill -HUP "$DPID"; kill -CONT "$1"
  else
    kill -TERM "$DPID"
  fi
  wait "$DPID"; DRC=$?
  # Let the listener print what is still queued (STOPPING=1) before it goes.
  wait_for "$T/notify.log" '^STOPPING=1$' 2
  signal_proc -TERM "$NID"; wait "$NPID" 2>/dev/null; rm -f "$T/notify.sock"  # it may have ended by itself
}
wait_for() { # file pattern seconds
  for _ in $(seq 1 $(($3 * 10))); do grep -qE "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done; return 1
}
wait_count() { # file pattern count seconds
  for _ in $(seq 1 $(($4 * 10))); do [[ $(grep -cE "$2" "$1" 2>/dev/null) -ge $3 ]] && return 0; sleep 0.1; done; return 1
}
backups() { ls "$1" 2>/dev/null | grep -vc json; }

# 1. Schedule every 2 s, keep_last 3, persistent catch-up into an empty directory.
{ etcd_group; storage_group "$T/b" zstd 1
  echo 'schedule: { calendar = "*:*:0/2"; persistent = true; retry = { attempts = 0; backoff = "1s"; }; };'
  echo 'retention: { keep_last = 3; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'
  echo "control: { socket = \"$T/control.sock\"; group = \"\"; };"
  echo "metrics: { textfile = \"$T/metrics.prom\"; };"; } > "$T/d.conf"
start_daemon "$T/d.conf" 600
check "READY=1 sent" wait_for "$T/notify.log" '^READY=1$' 5
check "first STATUS is Idle with the next elapse" wait_for "$T/notify.log" '^STATUS=Idle\. No backup yet\. Next [0-9-]+ [0-9:]+$' 5
check "persistent: a backup at start" wait_for "$T/daemon.log" 'backup started \(missed run' 5
check "STATUS shows a running backup" wait_for "$T/notify.log" '^STATUS=Backing up' 5
# Every 2 s, but a run still going at an elapse skips it: 30 s leave room
# for backups slower than 2 s under load.
check "timer: backups keep coming (5 within 30 s)" wait_count "$T/daemon.log" ' ok, rev ' 5 30
n=$(grep -c ' ok, rev ' "$T/daemon.log")
check "timer: at least 5 backups ($n)" test "$n" -ge 5
check "retention: backups pruned to keep_last = 3" test "$(backups "$T/b")" -le 4
# A worker that stops moving (stopped here, as one stuck in I/O would be):
# the runs skipped meanwhile name it, how long it has run and since when it
# has not moved. 16 MiB more in etcd first: the small db's backups took a
# few tens of milliseconds in the optimized build, too short a window to
# catch a worker in within the 2 s between them.
load_random 16 1024
hold_worker "$DPID"; stopped=$HELD_WORKER
if [[ -n $stopped ]]; then
  check "a stopped worker: the skipped run names it, how long it ran, its last progress" wait_for "$T/daemon.log" \
    "scheduled backup skipped: the previous one is still running \(worker pid $stopped, for [^,]+, phase [a-z]+, its last progress [^)]+ ago\)" 10
  oks=$(grep -c ' ok, rev ' "$T/daemon.log")
  kill -CONT "$stopped"
  # Held in its connect phase, its TLS handshake outlives connect_timeout
  # and it fails, as it should; the metrics below are a later backup's.
  check "a stopped worker let go: a backup succeeds after it" wait_count "$T/daemon.log" ' ok, rev ' $((oks + 1)) 30
else
  not_ok "a stopped worker: never caught one running"
fi
check "retention: prune entries logged" grep -q '^etcd-backupd: Pruned etcd-' "$T/daemon.log"
check "STATUS after a backup: Idle. Last backup HH:MM:SS ok, rev N, size. Next …" \
  grep -qE '^STATUS=Idle\. Last backup [0-9]{2}:[0-9]{2}:[0-9]{2} ok, rev [0-9]+, [0-9.]+ [KMG]?i?B\. Next ' "$T/notify.log"
check "metrics: last success and backups kept" \
  wait_for "$T/metrics.prom" '^etcd_backup_last_attempt_success 1$' 5
check "metrics: the file is 0644 under UMask=0077 (node_exporter reads it)" \
  test "$(stat -c %a "$T/metrics.prom")" = 644

# 2. Reload with a good config (calendar far away), then with a bad one.
sed "s|\"\\*:\\*:0/2\"|\"*-*-* $DAILY\"|" "$T/d.conf" > "$T/d2.conf"
cp "$T/d.conf" "$T/d.conf.orig"; cp "$T/d2.conf" "$T/d.conf"
kill -HUP "$DPID"
check "reload: RELOADING=1 with MONOTONIC_USEC" wait_for "$T/notify.log" '^RELOADING=1\|MONOTONIC_USEC=[0-9]+$' 5
check "reload: logged" wait_for "$T/daemon.log" 'Reloaded ' 5
check "reload: READY=1 again" wait_count "$T/notify.log" '^READY=1$' 2 5
# Asked of the daemon: STATUS= names the next run only once a backup still running has ended.
next_local() { date -d "$("$ETCD_BACKUPCTL" -s "$T/control.sock" --json status | jq -r .next)" +%H:%M:%S; }
check "reload: the new calendar is in force" wait_until 10 eval '[[ $(next_local) == "$DAILY" ]]'
sed -i 's/compression = "zstd"/compression = "lzma"/' "$T/d.conf"
kill -HUP "$DPID"
check "bad reload: rejected, previous config kept" wait_for "$T/daemon.log" 'failed; keeping the previous configuration' 5
check "bad reload: names the line" grep -q 'd.conf:[0-9]*: storage.compression' "$T/daemon.log"
check "bad reload: daemon still running" kill -0 "$DPID"
# The configuration gone: the message has no line number (it said FILE:0:).
n=$(grep -c 'keeping the previous configuration' "$T/daemon.log")
mv "$T/d.conf" "$T/d.conf.away"
kill -HUP "$DPID"
check "reload without the file: rejected" wait_count "$T/daemon.log" 'keeping the previous configuration' $((n + 1)) 5
check "reload without the file: FILE: cannot read: …, without a line" \
  grep -qx "etcd-backupd: $T/d.conf: cannot read: No such file or directory" "$T/daemon.log"
mv "$T/d.conf.away" "$T/d.conf"
# What a running daemon keeps: the directory it holds the lock of, and its
# socket. A reload that changes one is refused and says to restart.
for change in "s|directory = \"$T/b\"|directory = \"$T/b-moved\"|:storage.directory" \
              "s|socket = \"$T/control.sock\"|socket = \"$T/moved.sock\"|:control.socket"; do
  key=${change##*:}
  n=$(grep -c 'keeping the previous configuration' "$T/daemon.log")
  sed "${change%:*}" "$T/d2.conf" > "$T/d.conf"
  kill -HUP "$DPID"
  check "reload changing $key: refused" wait_count "$T/daemon.log" 'keeping the previous configuration' $((n + 1)) 5
  check "reload changing $key: says to restart" grep -q "d.conf: $key changed (.*): a running etcd-backupd keeps it; restart" "$T/daemon.log"
done
check "after the refused reloads: the socket answers" quiet "$ETCD_BACKUPCTL" -s "$T/control.sock" status
# A FIFO where the metrics' temporary file goes (the textfile directory is
# often shared): a warning, and the event loop goes on (it hung in open(2)).
mkfifo "$T/metrics.prom.tmp"
check "metrics' temporary name a FIFO: a backup through the socket succeeds" \
  quiet timeout 60 "$ETCD_BACKUPCTL" -s "$T/control.sock" --timeout 60 backup
check "... the daemon answers Status after it" quiet timeout 10 "$ETCD_BACKUPCTL" -s "$T/control.sock" --timeout 5 status
check "... and says why it wrote no metrics" \
  wait_for "$T/daemon.log" "cannot write metrics file $T/metrics.prom.tmp: it is there and not a regular file" 5
# (A daemon held in open(2) by it is let go, so that a regression fails here rather than hangs the stop.)
exec 3<>"$T/metrics.prom.tmp"; exec 3<&-
rm -f "$T/metrics.prom.tmp"
"$ETCD_BACKUPD" --once -c "$T/d2.conf" >/dev/null 2>&1; rc=$?
check "after the refused reloads: the daemon holds the directory's lock (--once: exit $rc)" test $rc = 75
# A reload that gives control.group: the daemon's own socket file gets it, 0660.
sed 's|group = "";|group = "nogroup";|' "$T/d2.conf" > "$T/d.conf"
n=$(grep -c 'Reloaded ' "$T/daemon.log")
kill -HUP "$DPID"
check "reload giving control.group: applied" wait_count "$T/daemon.log" 'Reloaded ' $((n + 1)) 5
check "reload giving control.group: the socket file is root:nogroup 0660" \
  test "$(stat -c '%G %a' "$T/control.sock")" = "nogroup 660"
stop_daemon
check "SIGTERM: STOPPING=1 and exit 0" test "$DRC" = 0 -a -n "$(grep '^STOPPING=1$' "$T/notify.log")"

# control.group's look-up fails (a name service that does not answer, as
# tests/helpers/getgrnam-fails.c makes every one): said as such, not as a
# group that does not exist; only root until a reload finds it, and a reload
# whose look-up fails keeps what there was.
: "${GETGRNAM_FAILS:?}"
DAEMON_ENV=(LD_PRELOAD="$GETGRNAM_FAILS" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
start_daemon "$T/d.conf" 60
DAEMON_ENV=()
check "group look-up fails at start: READY=1" wait_for "$T/notify.log" '^READY=1$' 30
check "group look-up fails at start: said so, naming the cause" \
  grep -qF 'cannot look up control.group "nogroup" (Resource temporarily unavailable); only root may use the control socket until a reload finds it' "$T/daemon.log"
check "group look-up fails at start: not said to be missing" test -z "$(grep 'does not exist' "$T/daemon.log")"
check "group look-up fails at start: the socket file is root's alone (0600)" \
  test "$(stat -c '%a' "$T/control.sock")" = 600
n=$(grep -c 'Reloaded ' "$T/daemon.log")
kill -HUP "$DPID"
check "group look-up fails on reload: applied" wait_count "$T/daemon.log" 'Reloaded ' $((n + 1)) 5
check "group look-up fails on reload: the group kept as it was, said so" \
  grep -qF 'cannot look up control.group "nogroup" (Resource temporarily unavailable); the control socket keeps the group it had' "$T/daemon.log"
stop_daemon

# 3. persistent with a recent backup and a daily calendar: no catch-up.
before=$(backups "$T/b")
start_daemon "$T/d2.conf" 60
check "section 3: READY=1 sent" wait_for "$T/notify.log" '^READY=1$' 30
# The daemon decides about a catch-up before its loop answers the first
# request: an answer "idle" means it decided against one.
st=$("$ETCD_BACKUPCTL" -s "$T/control.sock" --json status 2>&1)
check "persistent: idle after start when the last backup is recent" jq_true '.state == "idle"' "$st"
check "persistent: no catch-up when the last backup is recent" test "$(backups "$T/b")" = "$before"
check "persistent: no backup started" bash -c "! grep -q 'backup started' '$T/daemon.log'"
stop_daemon
# The newest backup named in 2099 (the clock set back since): it says
# nothing of when the last backup ran, so one runs at start.
newest=$(ls "$T/b" | grep '\.db\.zst$' | sort | tail -1)
future=$(sed -E 's/-[0-9]{8}T[0-9]{6}Z-/-20991231T000000Z-/' <<<"$newest")
cp "$T/b/$newest" "$T/b/$future"; jq --arg n "$future" '.name = $n' "$T/b/$newest.json" > "$T/b/$future.json"
start_daemon "$T/d2.conf" 60
check "persistent, the newest named in 2099: a catch-up at start" wait_for "$T/daemon.log" 'backup started \(missed run' 5
check "... and it succeeds" wait_for "$T/daemon.log" ' ok, rev ' 15
stop_daemon
rm -f "$T/b/$future" "$T/b/$future.json"

# 4. etcd unreachable: 1 try + 2 retries with backoff, reported honestly.
# Four endpoints: the error, naming each one's cause, is past 255 bytes.
hold_dead_port || exit 1; dead="https://127.0.0.1:$DEAD_PORT" dead4="https://127.0.0.4:$DEAD_PORT"
{ etcd_group "\"$dead\", \"https://127.0.0.2:$DEAD_PORT\", \"https://127.0.0.3:$DEAD_PORT\", \"$dead4\""
  storage_group "$T/b3" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = true; retry = { attempts = 2; backoff = \"1s\"; }; };"
  echo "control: { socket = \"$T/control3.sock\"; group = \"\"; };"
  echo "metrics: { textfile = \"$T/metrics3.prom\"; };"; } > "$T/d3.conf"
start_daemon "$T/d3.conf" 20
check "unreachable: three attempts fail" wait_count "$T/daemon.log" 'no etcd endpoint answered' 3 10
check "unreachable: retries announced" grep -q 'retrying in 2s (attempt 2 of 2)' "$T/daemon.log"
check "unreachable: STATUS says the last backup failed and why" \
  grep -qE "^STATUS=(Idle\. )?Last backup failed: no etcd endpoint answered: $dead" "$T/notify.log"
last4="$dead4: cannot connect: 127.0.0.4 port $DEAD_PORT: Connection refused"
check "unreachable: the log names the last endpoint's cause, the error past 255 bytes" \
  test -n "$(grep -F "no etcd endpoint answered: $dead" "$T/daemon.log" | grep -F "$last4" | awk 'length > 300')"
check "unreachable: status names the last endpoint's cause" \
  test "$("$ETCD_BACKUPCTL" -s "$T/control3.sock" --json status | jq -r '.last.error | endswith($e)' --arg e "$last4")" = true
check "unreachable: STATUS cuts the error with an ellipsis, keeping the retry or the next run" \
  test -n "$(grep -E '^STATUS=(Idle\. )?Last backup failed: no etcd endpoint answered: .*…\. (Retry [0-9]/2 in [0-9]+s\. )?Next ' "$T/notify.log")"
check "unreachable: failures_total = 3" wait_for "$T/metrics3.prom" '^etcd_backup_failures_total 3$' 3
check "unreachable: nothing in the backup directory" test "$(backups "$T/b3")" = 0
out=$("$ETCD_BACKUPCTL" -s "$T/control3.sock" backup 2>&1); rc=$?
check "unreachable: etcd-backupctl backup exits 69 ($rc)" test $rc -eq 69
check "unreachable: etcd-backupctl backup says why, to the last endpoint" \
  eval 'grep -qF "etcd_unreachable: no etcd endpoint answered: $dead" <<<"$out" && grep -qF "$last4" <<<"$out"'
stop_daemon

# 5. SIGTERM while a backup streams: the directory is as before, exit 0.
load_random 60 1024
{ etcd_group; storage_group "$T/b4" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = true; };"
  echo "control: { socket = \"$T/control4.sock\"; group = \"\"; };"
  echo "metrics: { textfile = \"$T/metrics4.prom\"; };"; } > "$T/d4.conf"
mkdir -m 0700 "$T/b4"
echo keep > "$T/b4/etcd-0000000000000001-20200101T000000Z-r1.db"
before=$(dir_state "$T/b4")
start_daemon "$T/d4.conf" 30
worker=""
for _ in $(seq 1 100); do worker=$(pgrep -P "$DPID" | head -1); [[ -n $worker ]] && break; sleep 0.05; done
if [[ -n $worker ]] && wait_streaming "$worker"; then
  # A SIGHUP while it stops (a reload-or-restart of a script) is no reload.
  stop_daemon "$worker"
  check "SIGTERM mid-backup: exit 0" test "$DRC" = 0
  check "SIGTERM mid-backup, then SIGHUP: no RELOADING=1 or READY=1 after STOPPING=1, nothing reloaded" \
    test -n "$(grep -x 'STOPPING=1' "$T/notify.log")" \
         -a -z "$(sed -n '/^STOPPING=1$/,$p' "$T/notify.log" | grep -E '^(RELOADING|READY)=1$')" \
         -a -z "$(grep -E '^etcd-backupd: Reloaded ' "$T/daemon.log")"
  check "SIGTERM mid-backup, then SIGHUP: the SIGHUP said ignored" grep -q 'SIGHUP while stopping: not reloaded' "$T/daemon.log"
  check "SIGTERM mid-backup: directory unchanged" test "$(dir_state "$T/b4")" = "$before"
  check "SIGTERM mid-backup: worker gone" test ! -e "/proc/$worker"
  # The stop's own cut is no failed backup (every upgrade would raise an alert).
  check "SIGTERM mid-backup: logged as cancelled by the stop" \
    grep -q "Backup cancelled: etcd-backupd is stopping (the worker ended by SIGTERM before it reported)" "$T/daemon.log"
  check "SIGTERM mid-backup: no failed backup logged" test -z "$(grep -i "worker was killed\|backup.*failed" "$T/daemon.log")"
  check "SIGTERM mid-backup: no metrics saying the last attempt failed (no job finished)" test ! -e "$T/metrics4.prom"
else
  not_ok "SIGTERM mid-backup: never saw the worker stream"; stop_daemon
fi

# 5b. SIGTERM right after the backup's link (the worker stopped there by a
# preload): the stop waits for the publish to be reported, and the backup,
# in place, is said as published, not as cancelled.
{ etcd_group; storage_group "$T/b5" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = true; };"
  echo "control: { socket = \"$T/control5.sock\"; group = \"\"; };"; } > "$T/d5.conf"
DAEMON_ENV=(LD_PRELOAD="$STOP_AFTER_LINK" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
start_daemon "$T/d5.conf" 120
DAEMON_ENV=()
worker=""
for _ in $(seq 1 600); do worker=$(pgrep -P "$DPID" | head -1); [[ -n $worker ]] && break; sleep 0.05; done
linked() { [[ $(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) == T ]]; }
# term_sent PID: the daemon's SIGTERM reached the worker (pending, or it ended on it).
term_sent() {
  local k v
  [[ -e /proc/$1 ]] || return 0
  while read -r k v; do [[ $k == SigPnd: || $k == ShdPnd: ]] && (( 0x$v & 0x4000 )) && return 0; done < "/proc/$1/status"
  return 1
}
if [[ -n $worker ]] && wait_until 60 linked "$worker"; then
  # One thread: the worker's signal mask (a thread's) then holds back a signal for the whole process.
  check "SIGTERM after the backup's link: the backup is in place, the worker one thread" \
    test "$(backups "$T/b5")" = 1 -a "$(ls "/proc/$worker/task" | wc -l)" = 1
  kill -TERM "$DPID"; wait_until 10 term_sent "$worker"; kill -CONT "$worker"
  wait "$DPID"; DRC=$?
  check "SIGTERM after the backup's link: exit 0" test "$DRC" = 0
  check "SIGTERM after the backup's link: said as published, not as cancelled ($(grep 'etcd-backupd is stopping' "$T/daemon.log"))" \
    grep -q "Backup published, its retention or upload cut short: etcd-backupd is stopping (the worker ended by SIGTERM" \
    "$T/daemon.log"
  check "SIGTERM after the backup's link: the backup and its sidecar kept" \
    test "$(backups "$T/b5")" = 1 -a -n "$(ls "$T/b5"/etcd-*.db.zst.json)"
  signal_proc -TERM "$NID"; wait "$NPID" 2>/dev/null; rm -f "$T/notify.sock"
else
  not_ok "SIGTERM after the backup's link: the worker never stopped after a link"; stop_daemon
fi
# The same, the publish never going on: the kill timer's SIGKILL (10 s)
# ends it, said as cut while being published.
sed "s|$T/b5|$T/b5k|; s|control5.sock|control5k.sock|" "$T/d5.conf" > "$T/d5k.conf"
DAEMON_ENV=(LD_PRELOAD="$STOP_AFTER_LINK" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
start_daemon "$T/d5k.conf" 120
DAEMON_ENV=()
worker=""
for _ in $(seq 1 600); do worker=$(pgrep -P "$DPID" | head -1); [[ -n $worker ]] && break; sleep 0.05; done
if [[ -n $worker ]] && wait_until 60 linked "$worker"; then
  kill -TERM "$DPID"; wait "$DPID"; DRC=$?
  check "a publish that does not go on: exit 0" test "$DRC" = 0
  check "a publish that does not go on: killed after 10 s, said as cut while being published" \
    eval 'grep -q "backup worker $worker did not stop; killing it" "$T/daemon.log" &&
          grep -q "Backup cut while being published (it is in the directory or not at all; .*(the worker ended by SIGKILL" "$T/daemon.log"'
  signal_proc -TERM "$NID"; wait "$NPID" 2>/dev/null; rm -f "$T/notify.sock"
else
  not_ok "a publish that does not go on: the worker never stopped after a link"; stop_daemon
fi

# 6. One run that prunes more backups than the worker's report can name
# (1,500 old ones, with their sidecars): the backup is ok, the names that
# do not fit are counted, and List matches the directory.
mkdir -m 0700 "$T/b6"
tpl=$(ls "$T/b"/*.db.zst | head -1)
python3 - "$tpl" "$T/b6" <<'PY'
import json, os, re, sys
tpl, out = sys.argv[1], sys.argv[2]
side = json.load(open(tpl + ".json"))
cluster = re.match(r"etcd-([0-9a-f]{16})-", os.path.basename(tpl)).group(1)
for i in range(1500):
    name = "etcd-%s-2020%02d%02dT%02d0000Z-r%d.db.zst" % (cluster, 1 + i // 672, 1 + (i // 24) % 28, i % 24, i + 1)
    side["name"] = name
    with open(os.path.join(out, name), "wb") as f:
        f.write(b"x")
    with open(os.path.join(out, name + ".json"), "w") as f:
        json.dump(side, f)
PY
{ etcd_group; storage_group "$T/b6" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; };"
  echo 'retention: { keep_last = 2; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'
  echo "control: { socket = \"$T/control6.sock\"; group = \"\"; };"; } > "$T/d6.conf"
start_daemon "$T/d6.conf" 60
check "section 6: READY=1 sent" wait_for "$T/notify.log" '^READY=1$' 30
out=$("$ETCD_BACKUPCTL" -s "$T/control6.sock" backup 2>&1); rc=$?
check "many pruned: the backup is ok" test $rc -eq 0
check "many pruned: the daemon logs it ok, not failed" \
  bash -c "grep -q ' ok, rev ' '$T/daemon.log' && ! grep -q 'without a result' '$T/daemon.log'"
check "many pruned: the ones not named are counted" grep -qE 'Pruned [0-9]+ more backups, too many to name' "$T/daemon.log"
check "many pruned: two backups left" test "$(backups "$T/b6")" = 2
check "many pruned: List matches the directory" \
  test "$("$ETCD_BACKUPCTL" -s "$T/control6.sock" --json list | jq -r '.[].name' | sort)" = "$(ls "$T/b6" | grep -v json | sort)"
stop_daemon

# 7. A reload while a scheduled run waits out its randomized_delay keeps that
# run: its elapse has passed, the timer has not fired yet. Every 10 s with up
# to 9 s of delay; the reload goes in once the elapse of a run planned at
# least 3 s after it has passed (at most 8 elapses are looked at).
{ etcd_group; storage_group "$T/b7" zstd 1
  echo 'schedule: { calendar = "*:*:0/10"; randomized_delay = "9s"; persistent = false; retry = { attempts = 0; backoff = "1s"; }; };'
  echo "control: { socket = \"$T/control7.sock\"; group = \"\"; };"; } > "$T/d7.conf"
start_daemon "$T/d7.conf" 120
check "section 7: READY=1 sent" wait_for "$T/notify.log" '^READY=1$' 30
next_of() { date -d "$(jq -r .next <<<"$("$ETCD_BACKUPCTL" -s "$T/control7.sock" --json status 2>/dev/null)")" +%s.%N; }
idle7() { [[ $("$ETCD_BACKUPCTL" -s "$T/control7.sock" --json status 2>/dev/null | jq -r .state) == idle ]]; }
before= after=
started=$(grep -c 'backup started (scheduled)' "$T/daemon.log")   # counted again before the reload, if one falls
for _ in $(seq 1 400); do  # 0.2 s apart: 80 s, at most 8 elapses
  armed=$(next_of) || break
  elapse=$(( ${armed%.*} / 10 * 10 ))
  now=$(date +%s.%N)
  # Idle too: the run before it, still going when the kept run's timer fires, would make it skip.
  if awk -v a="$armed" -v e="$elapse" -v n="$now" 'BEGIN { exit !(a - e >= 3 && n > e + 0.5 && n < a - 1.5) }' &&
     idle7; then
    # Counted before the reload: the kept run may start any time after it.
    started=$(grep -c 'backup started (scheduled)' "$T/daemon.log")
    reloads=$(grep -c 'Reloaded ' "$T/daemon.log")
    kill -HUP "$DPID"
    wait_count "$T/daemon.log" 'Reloaded ' $((reloads + 1)) 5
    after=$(next_of)
    # Conclusive only when the answer came before the armed time (a slow
    # reload or status call could otherwise see the timer fire and re-arm):
    # if not, the next elapse is tried.
    if awk -v a="$armed" -v n="$(date +%s.%N)" 'BEGIN { exit !(n < a) }'; then before=$armed; break; fi
    after=
  fi
  sleep 0.2
done
check "delay window: a reload fell inside one" test -n "$before"
check "delay window: the planned run keeps its time ($before, after the reload $after)" test "$before" = "$after"
check "delay window: that run starts" wait_count "$T/daemon.log" 'backup started \(scheduled\)' $((started + 1)) 12
# Once it started, the plan is the elapse right after the one that was kept.
following=$(next_of)
check "delay window: the run that started was that elapse's (next plan ${following%.*})" \
  test "$(( ${following%.*} / 10 * 10 ))" = "$(( elapse + 10 ))"
stop_daemon

# 8. A socket from systemd whose file does not let control.group in (its
# SocketGroup= is another): said at start, with what to set.
{ etcd_group; storage_group "$T/b8" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; };"
  echo "control: { socket = \"$T/act.sock\"; group = \"nogroup\"; };"; } > "$T/d8.conf"
(exec systemd-socket-activate -l "$T/act.sock" --fdname=control "$ETCD_BACKUPD" -c "$T/d8.conf" \
  > "$T/daemon8.log" 2>&1) &
APID=$!; kill_at_exit "$APID"
check "activated socket: the daemon answers on it" \
  bash -c "for _ in \$(seq 1 100); do '$ETCD_BACKUPCTL' -s '$T/act.sock' status >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1"
check "activated socket, another group: the warning names the file and SocketGroup=" \
  grep -qE "the socket $T/act.sock from systemd is group 0, mode 0[0-7]{3}: members of control.group \(gid $(getent group nogroup | cut -d: -f3)\) cannot connect; set SocketGroup= and SocketMode=0660" "$T/daemon8.log"
kill "$APID"; wait "$APID" 2>/dev/null

# 8b. control.group empty (root only) and a socket from systemd that others
# may connect to (SocketMode=0660 left as shipped, or 0666): said at start
# and at a reload, with what to set; one only root can connect to is not.
{ etcd_group; storage_group "$T/b8" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; };"
  echo "control: { socket = \"$T/act.sock\"; group = \"\"; };"; } > "$T/d8b.conf"
rm -f "$T/act.sock"
(exec systemd-socket-activate -l "$T/act.sock" --fdname=control "$ETCD_BACKUPD" -c "$T/d8b.conf" \
  > "$T/daemon8b.log" 2>&1) &
APID=$!; kill_at_exit "$APID"
check "root only: the daemon answers on the activated socket" \
  bash -c "for _ in \$(seq 1 100); do '$ETCD_BACKUPCTL' -s '$T/act.sock' status >/dev/null 2>&1 && exit 0; sleep 0.1; done; exit 1"
check "root only, a socket only root may connect to: no warning" \
  bash -c "! grep -q 'only root may use the control socket' '$T/daemon8b.log'"
chmod 0666 "$T/act.sock"
kill -HUP "$APID"
check "root only: the reload is done" wait_for "$T/daemon8b.log" "Reloaded $T/d8b.conf" 10
check "root only, a socket others may connect to: the warning names the file and SocketMode=0600" \
  grep -qE "only root may use the control socket \(control.group is empty or names no group\), but the socket $T/act.sock from systemd is group 0, mode 0666: others can connect, and each is refused; set SocketMode=0600" "$T/daemon8b.log"
check "a socket from systemd where control.socket says: no warning about its path" \
  bash -c "! grep -q 'passed by systemd, but control.socket is' '$T/daemon8b.log'"
kill "$APID"; wait "$APID" 2>/dev/null
# The socket unit listening elsewhere than control.socket (a drop-in changed one of them): etcd-backupctl,
# which connects where control.socket says, would find nobody; said at start, with both ways to mend it.
sed "s|socket = \"$T/act.sock\"|socket = \"$T/elsewhere.sock\"|" "$T/d8b.conf" > "$T/d8e.conf"
rm -f "$T/act.sock"
(exec systemd-socket-activate -l "$T/act.sock" --fdname=control "$ETCD_BACKUPD" -c "$T/d8e.conf" \
  > "$T/daemon8e.log" 2>&1) &
APID=$!; kill_at_exit "$APID"
check "socket from systemd elsewhere than control.socket: the daemon answers on it" \
  wait_until 10 quiet "$ETCD_BACKUPCTL" -s "$T/act.sock" status
check "socket from systemd elsewhere than control.socket: said at start, with both ways to mend it" \
  grep -qF "control socket $T/act.sock passed by systemd, but control.socket is $T/elsewhere.sock, where etcd-backupctl connects: set control.socket = \"$T/act.sock\" and restart etcd-backupd, or give etcd-backupd.socket a drop-in (systemctl edit etcd-backupd.socket) with an empty ListenStream= and ListenStream=$T/elsewhere.sock" "$T/daemon8e.log"
kill "$APID"; wait "$APID" 2>/dev/null

# 8c. A daemon that is not root and makes its own socket (no socket unit):
# given to control.group when the daemon's user is a member of it; when it
# is not, the daemon still starts and says at start what to do. (No backup
# is asked for: the user cannot read this test's TLS key.)
if getent passwd nobody >/dev/null && getent group users >/dev/null; then
  install -d -m 0700 -o nobody -g nogroup "$T/b8c" "$T/s8c"
  { etcd_group; storage_group "$T/b8c" zstd 1
    echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = false; };"
    echo "control: { socket = \"$T/s8c/control.sock\"; group = \"users\"; };"; } > "$T/d8c.conf"
  chmod 0644 "$T/d8c.conf"; chmod 0711 "$T"
  # users-filtered: in the group, but the change of group denied (a system call filter, as in the shipped unit)
  for groups in users none users-filtered; do
    rm -f "$T/s8c/control.sock"
    if [[ $groups == users* ]]; then g=(--groups=users); else g=(--clear-groups); fi
    pre=()
    [[ $groups == users-filtered ]] &&
      pre=(LD_PRELOAD="$FCHOWNAT_DENIED" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0")
    # Preloaded into the daemon alone (env after setpriv): setpriv, not built with the sanitizers, cannot load a
    # library that was (clang's runtime is in the programs).
    (exec setpriv --reuid=nobody --regid=nogroup "${g[@]}" env "${pre[@]}" "$ETCD_BACKUPD" -c "$T/d8c.conf" \
       > "$T/daemon8c.log" 2>&1) &
    APID=$!; kill_at_exit "$APID"
    check "not root, supplementary groups $groups: the daemon starts" \
      wait_for "$T/daemon8c.log" "control socket $T/s8c/control.sock" 10
    # The socket's group is set, and any warning about it logged, before the event loop answers.
    wait_until 10 quiet "$ETCD_BACKUPCTL" -s "$T/s8c/control.sock" status
    gid=$(getent group users | cut -d: -f3)
    if [[ $groups == users ]]; then
      check "not root, in control.group: the socket is the group's, 0660" \
        test "$(stat -c %G:%a "$T/s8c/control.sock")" = users:660
      check "not root, in control.group: no warning about the socket" \
        bash -c "! grep -q 'cannot give the control socket' '$T/daemon8c.log'"
    elif [[ $groups == users-filtered ]]; then
      check "not root, in control.group, the change denied: said as a filter's, not as the group's" \
        grep -qF "cannot give the control socket $T/s8c/control.sock to control.group (gid $gid): the change was denied although the daemon's user is in that group (a system call filter" "$T/daemon8c.log"
    else
      check "not root, not in control.group: said at start, with the uid and what to do" \
        grep -qF "cannot give the control socket $T/s8c/control.sock to control.group (gid $gid): the daemon runs as uid $(id -u nobody), which is not in that group, so only root can use the socket; add the daemon's user to the group (SupplementaryGroups=)" "$T/daemon8c.log"
      check "not root, not in control.group: root can still use the socket" \
        quiet "$ETCD_BACKUPCTL" -s "$T/s8c/control.sock" status
    fi
    kill "$APID"; wait "$APID" 2>/dev/null
  done
  chmod 0700 "$T"
else
  not_ok "not root: needs the user nobody and the group users"
fi

# 9. A calendar that never elapses again (a date gone by): warned about, no
# timer, and the daemon still serves on-demand backups.
{ etcd_group; storage_group "$T/b9" zstd 1
  echo 'schedule: { calendar = "2020-01-01 02:00"; persistent = true; };'
  echo "control: { socket = \"$T/control9.sock\"; group = \"\"; };"; } > "$T/d9.conf"
start_daemon "$T/d9.conf" 30
check "never elapses: READY=1 sent" wait_for "$T/notify.log" '^READY=1$' 5
check "never elapses: the configuration warning at start" \
  grep -qF "$T/d9.conf:3: schedule.calendar: \"2020-01-01 02:00\" never elapses again (systemd-analyze calendar says \"Next elapse: never\"): no scheduled backup runs" "$T/daemon.log"
check "never elapses: the daemon says it arms no timer" \
  grep -qF 'schedule.calendar "2020-01-01 02:00" has no future elapse; no more scheduled backups' "$T/daemon.log"
check "never elapses: STATUS says why there is no next run" \
  wait_for "$T/notify.log" '^STATUS=Idle\. No backup yet\. Next none \(schedule\.calendar never elapses again\)$' 5
out=$("$ETCD_BACKUPCTL" -s "$T/control9.sock" status 2>&1)
check "never elapses: status says so" grep -qF 'Next run:    none (schedule.calendar never elapses again)' <<<"$out"
check "never elapses: status --json has next null" \
  test "$("$ETCD_BACKUPCTL" -s "$T/control9.sock" --json status | jq -r .next)" = null
# An empty directory: a run was missed (as at any first start), whatever
# the calendar.
check "never elapses: schedule.persistent still takes a first backup at start" \
  wait_for "$T/daemon.log" 'backup started \(missed run' 5
check "never elapses: that backup ends ok" wait_count "$T/daemon.log" ' ok, rev ' 1 30
out=$("$ETCD_BACKUPCTL" -s "$T/control9.sock" backup 2>&1); rc=$?
check "never elapses: an on-demand backup works" test $rc -eq 0
check "never elapses: two backups" test "$(backups "$T/b9")" = 2
stop_daemon

# 10. A reload moving the calendar, with schedule.persistent: an elapse of
# the new calendar between the last run and now is caught up at once, as
# systemd's Persistent= does for a timer whose calendar changed; a calendar
# without one runs nothing.
{ etcd_group; storage_group "$T/b10" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = true; };"
  echo "control: { socket = \"$T/control10.sock\"; group = \"\"; };"; } > "$T/d10.conf"
"$ETCD_BACKUPD" --once -c "$T/d10.conf" >/dev/null 2>&1
t0=$(date +%s)
check "reload catch-up: a backup before the daemon" test "$(backups "$T/b10")" = 1
start_daemon "$T/d10.conf" 120
check "reload catch-up: READY=1 sent" wait_for "$T/notify.log" '^READY=1$' 30
check "reload catch-up: none at start (the calendar's last elapse is 12 h back)" \
  jq_true '.state == "idle"' "$("$ETCD_BACKUPCTL" -s "$T/control10.sock" --json status 2>&1)"
reload_to() { # CONF CALENDAR: the running daemon reloaded with CONF's calendar set to CALENDAR, READY=1 seen again
  local n; n=$(grep -c '^READY=1$' "$T/notify.log")
  sed -i -E "s|calendar = \"[^\"]*\"|calendar = \"$2\"|" "$1"
  kill -HUP "$DPID"
  wait_count "$T/notify.log" '^READY=1$' $((n + 1)) 30
}
reload10() { reload_to "$T/d10.conf" "$1"; }
check "reload catch-up: reloaded with a calendar 6 h ahead" reload10 "*-*-* $(date -d '+6 hours' +%H:%M:%S)"
check "reload catch-up: no elapse since the last run, nothing started" bash -c '! grep -q "backup started" "$1"' _ "$T/daemon.log"
wait_until 10 bash -c '(( $(date +%s) >= $1 + 3 ))' _ "$t0"
check "reload catch-up: reloaded with a calendar whose elapse was a second ago" reload10 "*-*-* $(date -d '-1 second' +%H:%M:%S)"
check "reload catch-up: that missed elapse runs at once" \
  grep -q 'backup started (missed run of the reloaded schedule.calendar (schedule.persistent))' "$T/daemon.log"
check "reload catch-up: it ends ok" wait_count "$T/daemon.log" ' ok, rev ' 1 60
stop_daemon

# 10b. A run whose elapse has passed and which waits out randomized_delay
# (6 h: the odds of a delay under 10 s are 1 in 2000, and such a sample is
# tried again), dropped by a reload to a calendar without that elapse: the
# new calendar's elapse since the last run stands in for it and runs at
# once. (Before, the waiting run was lost.)
{ etcd_group; storage_group "$T/b10b" zstd 1
  echo "schedule: { calendar = \"*-*-* $DAILY\"; persistent = true; randomized_delay = \"6h\"; };"
  echo "control: { socket = \"$T/control10b.sock\"; group = \"\"; };"; } > "$T/d10b.conf"
"$ETCD_BACKUPD" --once -c "$T/d10b.conf" >/dev/null 2>&1
check "reload of a waiting run: a backup before the daemon" test "$(backups "$T/b10b")" = 1
waiting=
for try in 1 2 3; do
  wait_until 5 bash -c '(( $(date +%s) > $1 ))' _ "$(stat -c %Y "$T/b10b")"  # a second after the last backup
  x=$(( $(date +%s) + 4 ))
  sed -i -E "s|calendar = \"[^\"]*\"|calendar = \"*-*-* $(date -d "@$x" +%H:%M:%S)\"|" "$T/d10b.conf"
  start_daemon "$T/d10b.conf" 120
  wait_for "$T/notify.log" '^READY=1$' 30
  wait_until 10 bash -c '(( $(date +%s) >= $1 + 1 ))' _ "$x"
  next=$("$ETCD_BACKUPCTL" -s "$T/control10b.sock" --json status 2>/dev/null | jq -r '.state + " " + (.next // "")')
  # Waiting: idle, nothing started (a daemon that came up after x would have
  # caught x up at start), armed within x's delay and later than now plus
  # the time the reload takes.
  if [[ $next == "idle "* ]] && ! grep -q 'backup started' "$T/daemon.log" &&
     (( $(date -d "${next#idle }" +%s) > $(date +%s) + 10 && $(date -d "${next#idle }" +%s) <= x + 6 * 3600 )); then
    waiting=1; break
  fi
  echo "# sample $try: not waiting ($next); another"
  stop_daemon
done
check "reload of a waiting run: its elapse passed, it waits out its delay (next ${next#idle })" test -n "$waiting"
if [[ -n $waiting ]]; then
  # The new calendar's elapse lies between the last backup and now, a second before the dropped one.
  check "reload of a waiting run: reloaded with a calendar whose elapse was a second before it" \
    reload_to "$T/d10b.conf" "*-*-* $(date -d "@$((x - 1))" +%H:%M:%S)"
  check "reload of a waiting run: the new calendar's missed elapse runs at once" \
    grep -q 'backup started (missed run of the reloaded schedule.calendar (schedule.persistent))' "$T/daemon.log"
  check "reload of a waiting run: it ends ok" wait_count "$T/daemon.log" ' ok, rev ' 1 60
  stop_daemon
fi

# The daemon as the first process of a PID namespace (a container's
# entrypoint): its worker's parent is PID 1 there, and still the daemon.
{ etcd_group; storage_group "$T/b11" zstd 1
  echo 'schedule: { calendar = "*-*-* 00:00:00"; persistent = true; retry = { attempts = 0; backoff = "1s"; }; };'
  echo 'retention: { keep_last = 10; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };'
  echo "control: { socket = \"$T/control11.sock\"; group = \"\"; };"; } > "$T/d11.conf"
(umask 077; exec unshare --pid --fork --kill-child=SIGTERM "$ETCD_BACKUPD" -c "$T/d11.conf" > "$T/daemon11.log" 2>&1) &
UPID=$!; kill_at_exit -9 "$UPID"
# The backup started at once (persistent): ok, or a worker's end without a result.
check "the daemon as PID 1 of its PID namespace: its first backup ends" \
  wait_count "$T/daemon11.log" ' ok, rev |without a result' 1 60
check "the daemon as PID 1: the backup is ok ($(tail -1 "$T/daemon11.log"))" grep -q ' ok, rev ' "$T/daemon11.log"
read -r inner < "/proc/$UPID/task/$UPID/children"
check "the daemon was PID 1 there" grep -qE '^NSpid:.*[[:space:]]1$' "/proc/${inner:-0}/status"
# unshare ignores SIGTERM while it waits: the daemon itself is stopped.
[[ -n $inner ]] && kill -TERM "$inner"
check "the daemon as PID 1 stops on SIGTERM" wait_until 20 test ! -e "/proc/$UPID"

finish
