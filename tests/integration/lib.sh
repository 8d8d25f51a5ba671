# tests/integration/lib.sh — shared by the integration tests: a private TLS
# etcd from scripts/dev-etcd, a scratch directory removed at exit (in
# $TMPDIR, else /tmp), a config writer, data loading, and ok/fail counting
# that ends in "N passed, N failed". Everything started here is stopped by
# PID at exit, and only while that PID is still the process started
# (kill_at_exit, scripts/procs.sh).
set -uo pipefail
: "${TOP_SRCDIR:?}" "${ETCD_BACKUPD:?}" "${ETCD_BACKUPCTL:?}"
export ETCDCTL_API=3
# The machine as it is: a test that plans for another size says so itself.
unset ETCD_BACKUPD_CPUS

T=$(mktemp -d --tmpdir etcd-backupd-test.XXXXXX)
PASS=0 FAIL=0
declare -a CLEANUP=()

cleanup() {
  local i
  for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[i]}" >/dev/null 2>&1 || true; done
  "$TOP_SRCDIR/scripts/dev-etcd" --stop "$T/etcd" >/dev/null 2>&1 || true
  rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=scripts/procs.sh
. "$TOP_SRCDIR/scripts/procs.sh"
# kill_at_exit [-SIGNAL] PID...: at exit, signal each process (SIGTERM unless
# given), if it is still the one running now: a PID reaped before the exit
# may belong to another process by then.
kill_at_exit() {
  local sig=-TERM pid ids=()
  [[ ${1:-} == -* ]] && { sig=$1; shift; }
  for pid; do ids+=("$(proc_id "$pid")"); done
  CLEANUP+=("signal_proc $sig ${ids[*]}")
}

ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() { # description command...
  local d=$1; shift
  if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# jq_true FILTER JSON: the filter holds for the JSON text (quietly). Empty
# text fails (jq 1.6 -e exits 0 when there is no input at all).
jq_true() { [[ -n ${2//[[:space:]]/} ]] && jq -e "$1" >/dev/null 2>&1 <<<"$2"; }
# quiet CMD...: run a command for its exit status only.
quiet() { "$@" >/dev/null 2>&1; }
finish() {
  echo "$(basename "$0" .sh): $PASS passed, $FAIL failed"
  [[ $FAIL -eq 0 ]]
  exit $?
}

start_etcd() { # [--members N]
  "$TOP_SRCDIR/scripts/dev-etcd" "$T/etcd" "$@" > "$T/etcd.env" || { echo "cannot start etcd"; exit 1; }
  # shellcheck disable=SC1091
  . "$T/etcd/env"
}

ctl() { etcdctl --endpoints "$ETCD_ENDPOINT" --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" "$@"; }

# load_random COUNT KB: COUNT keys with incompressible values of KB KiB.
load_random() {
  local count=$1 kb=$2 dir=$T/load
  mkdir -p "$dir"
  head -c $((kb * 1024)) /dev/urandom > "$dir/v"
  seq 1 "$count" | xargs -P 4 -I{} sh -c \
    "etcdctl --endpoints '$ETCD_ENDPOINT' --cacert '$ETCD_CACERT' --cert '$ETCD_CERT' --key '$ETCD_KEY' put /load/{} < '$dir/v' >/dev/null"
}

etcd_revision() { ctl endpoint status -w json | jq -r '.[0].Status.header.revision'; }

# etcd_alarm NOSPACE|CORRUPT: raises that alarm for the member at
# ETCD_ENDPOINT through etcd's own Maintenance.Alarm RPC (ACTIVATE), as etcd
# raises it itself; etcdctl can only list and disarm alarms. The request is
# written by hand: AlarmRequest{action ACTIVATE (1), memberID, alarm}.
etcd_alarm() {
  local alarm id
  case $1 in NOSPACE) alarm=1 ;; CORRUPT) alarm=2 ;; *) echo "etcd_alarm: $1?" >&2; return 1 ;; esac
  id=$(ctl endpoint status | awk -F', ' '{ print $2; exit }')
  python3 -c 'import struct, sys
def varint(n):
    out = b""
    while n >= 0x80:
        out += bytes([n & 0x7f | 0x80]); n >>= 7
    return out + bytes([n])
msg = b"\x08\x01\x10" + varint(int(sys.argv[1], 16)) + b"\x18" + bytes([int(sys.argv[2])])
sys.stdout.buffer.write(b"\x00" + struct.pack(">I", len(msg)) + msg)' "$id" "$alarm" > "$T/alarm.grpc" || return 1
  curl -sS --http2 --cacert "$ETCD_CACERT" --cert "$ETCD_CERT" --key "$ETCD_KEY" --max-time 10 \
    -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @"$T/alarm.grpc" -o /dev/null \
    "$ETCD_ENDPOINT/etcdserverpb.Maintenance/Alarm" &&
    etcd_has_alarm "$1"
}
# etcd_has_alarm NOSPACE|CORRUPT: etcd lists it. (The list is read whole
# first: `grep -q` leaving early would make etcdctl die of SIGPIPE writing
# the next alarm, which pipefail counts as a failure.)
etcd_has_alarm() {
  local list
  list=$(ctl alarm list) && grep -q "alarm:$1" <<<"$list"
}

# etcd_group [ENDPOINTS CACERT CERT KEY [EXTRA]]: the etcd group for the test etcd.
# ENDPOINTS is a libconfig list body such as '"https://127.0.0.1:1", "https://…"'.
etcd_group() {
  local eps=${1:-\"$ETCD_ENDPOINT\"} ca=${2-$ETCD_CACERT} cert=${3-$ETCD_CERT} key=${4-$ETCD_KEY}
  printf 'etcd: { endpoints = [%s]; cacert = "%s"; cert = "%s"; key = "%s"; connect_timeout = "2s"; %s };\n' \
    "$eps" "$ca" "$cert" "$key" "${5:-}"
}
# storage_group DIR [COMPRESSION LEVEL MIN_FREE]
storage_group() {
  printf 'storage: { directory = "%s"; compression = "%s"; level = %s; min_free = "%s"; };\n' \
    "$1" "${2:-gzip}" "${3:-6}" "${4:-1M}"
}

# Waits until PID has an anonymous temporary file larger than 1 MiB open
# (the spool: the stream is under way). Bounded to 20 s.
wait_streaming() {
  local pid=$1 f
  for _ in $(seq 1 2000); do
    for f in /proc/"$pid"/fd/*; do
      [[ $(readlink "$f" 2>/dev/null) == *"(deleted)"* ]] || continue
      [[ $(stat -L -c %s "$f" 2>/dev/null || echo 0) -gt 1048576 ]] && return 0
    done
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.01
  done
  return 1
}

# A daily time 12 hours from now, for daemons that must not run a scheduled
# backup while a test looks (a fixed 02:00 would fire in a run that spans
# it); its last elapse was 12 hours ago.
DAILY=$(date -d '+12 hours' +%H:%M:%S)

# hold_dead_port: sets DEAD_PORT to a loopback port that refuses every
# connection: a socket is bound to it without listening, for as long as the
# test runs, so nothing beside the test can start to listen there.
hold_dead_port() {
  rm -f "$T/dead.port"
  python3 -c 'import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1], flush=True); sys.stdout.close()
time.sleep(3600)' > "$T/dead.port" &
  kill_at_exit "$!"
  wait_until 10 test -s "$T/dead.port" || { echo "hold_dead_port: no port" >&2; return 1; }
  DEAD_PORT=$(cat "$T/dead.port")
}

# stop_running PID: SIGSTOP, and wait (up to 2 s) until PID is seen stopped.
# Fails when it has exited (a zombie not yet reaped takes the signal too) or
# is not seen stopped in time (then it is let go).
stop_running() {
  local state
  kill -STOP "$1" 2>/dev/null || return 1
  for _ in $(seq 1 20); do
    state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)
    case $state in T|t) return 0 ;; Z|X|"") return 1 ;; esac
    sleep 0.1
  done
  kill -CONT "$1" 2>/dev/null
  return 1
}

# hold_worker DAEMON_PID: sets HELD_WORKER to the PID of the daemon's
# backup worker once one is seen stopped (stop_running), within 500 looks
# (10 s or more); fails (HELD_WORKER empty) when none is. Not in a
# subshell: the worker is ended at exit should the test stop before it lets
# it go (a stopped worker would keep the directory's lock and its
# connections).
hold_worker() {
  local w
  HELD_WORKER=""
  for _ in $(seq 1 500); do
    w=$(pgrep -P "$1" | head -1)
    if [[ -n $w ]] && stop_running "$w"; then kill_at_exit -9 "$w"; HELD_WORKER=$w; return 0; fi
    sleep 0.01
  done
  return 1
}

# A listing of the backup directory: names, sizes and checksums.
# The lock file (.lock, holding the PID of the instance that has the
# directory) is not part of it.
dir_state() { (cd "$1" 2>/dev/null && find . -type f ! -name .lock -printf '%p %s\n' | sort && sha256sum ./* 2>/dev/null | sort); }
# dir_files DIR: what is in DIR but the lock file, one name a line.
dir_files() { ls -A "$1" 2>/dev/null | grep -vx '\.lock'; }

# wait_until SECONDS COMMAND...: polls COMMAND every 0.05 s until it succeeds
# (0) or SECONDS have passed (1). The wait is on an event COMMAND observes.
wait_until() {
  local end=$((SECONDS + $1 + 1)); shift  # SECONDS counts whole seconds: at least $1 of them
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < end)) || return 1
    sleep 0.05
  done
}

# listening PATH [PID]: a stream socket listens at PATH. The file appears
# at bind(2) and connections are refused until listen(2): a test that waits
# for the file alone may connect in between (ECONNREFUSED, exit 69). A
# listener in a network namespace of its own (unshare -n) is seen from
# there: PID is a process in it.
listening() {
  local in=()
  [[ -n ${2:-} ]] && in=(nsenter -t "$2" -n)
  [[ -n $("${in[@]}" ss -Hxl src "$1" 2>/dev/null) ]]
}

# daemon_start CONF [ARG...]: runs the daemon in the background with a
# NOTIFY_SOCKET whose messages go to $T/notify.log and its output to
# $T/daemon.log; DPID is its PID. Wait for READY=1 in notify.log.
daemon_start() {
  local conf=$1; shift
  rm -f "$T/notify.sock"
  "$NOTIFY_RECV" "$T/notify.sock" 600 > "$T/notify.log" &
  NPID=$!; NID=$(proc_id "$NPID"); kill_at_exit "$NPID"
  wait_until 5 test -S "$T/notify.sock" || { echo "notify socket did not appear"; exit 1; }
  NOTIFY_SOCKET=$T/notify.sock "$ETCD_BACKUPD" -c "$conf" "$@" >> "$T/daemon.log" 2>&1 &
  DPID=$!; kill_at_exit -9 "$DPID"
}
# daemon_stop: SIGTERM, wait; DRC is its exit status.
daemon_stop() {
  kill -TERM "$DPID"; wait "$DPID"; DRC=$?
  signal_proc -TERM "$NID"; wait "$NPID" 2>/dev/null  # it may have ended by itself
}
