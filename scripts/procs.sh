# shellcheck shell=bash
# scripts/procs.sh — signalling only the processes a script started, sourced
# by scripts/dev-etcd, scripts/dev-swift, scripts/bench and the tests' libraries.
#
# A process is named by its ID, "PID:START" (START: its start time in clock
# ticks since boot, field 22 of /proc/PID/stat), taken while it runs. Once it
# has exited and been reaped, the kernel may give its PID to another process;
# that one has another start time, so it is never signalled in its place.

# proc_id PID: "PID:START", empty when there is no such process.
proc_id() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
  stat=${stat##*) }
  # shellcheck disable=SC2086 # split into fields; field 3 (state) is $2 here
  set -- "$1" $stat
  echo "$1:${21}"
}

# proc_alive ID: the process is still the one ID names (a zombie counts).
proc_alive() { [[ -n $1 && $(proc_id "${1%%:*}") == "$1" ]]; }

# signal_proc SIGNAL ID...: send SIGNAL (-TERM, -9, -CONT, …) to each process
# still running as its ID; the others are left alone. Never fails.
signal_proc() {
  local sig=$1 id
  shift
  for id; do
    if proc_alive "$id"; then kill "$sig" "${id%%:*}" 2>/dev/null || true; fi  # it may end in between
  done
}

# stop_proc ID...: SIGTERM, up to 5 s for each to exit, then SIGKILL.
stop_proc() {
  local id
  signal_proc -TERM "$@"
  for id; do
    for _ in $(seq 1 50); do proc_alive "$id" || break; sleep 0.1; done
  done
  signal_proc -KILL "$@"
}
