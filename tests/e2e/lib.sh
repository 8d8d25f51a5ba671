# shellcheck shell=bash disable=SC2034  # sets variables for the sourcing test
# tests/e2e/lib.sh — shared by the end-to-end tests under a real systemd:
# the test's counters and report, a scratch directory, a time limit that
# ends the test by itself, and a container booted from the host's /usr with
# systemd-nspawn (its own network namespace, or E2E_NETNS, one the test
# created and shares between several containers), stopped by the PIDs this
# test started. The sourcing script sets TIME_LIMIT and TOP_SRCDIR first.

# shellcheck source=scripts/procs.sh
. "$TOP_SRCDIR/scripts/procs.sh"

PASS=0 FAIL=0 T0=$SECONDS E2E_NAME=e2e
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() { # DESCRIPTION COMMAND...: ok when COMMAND succeeds
  local d=$1; shift
  if "$@"; then ok "$d"; else not_ok "$d"; fi
}
# finish: prints "NAME: N passed, N failed (Ts)" and exits, 0 only if
# nothing failed; when something did, e2e_on_failure runs first if the
# test defines it (to print its logs).
finish() {
  echo "$E2E_NAME: $PASS passed, $FAIL failed ($((SECONDS - T0))s)"
  if [[ $FAIL -ne 0 ]] && declare -F e2e_on_failure >/dev/null; then e2e_on_failure; fi
  [[ $FAIL -eq 0 ]]
  exit $?
}

# e2e_begin NAME COMMAND...: names the test in its report; ends it unless it
# runs as root and every COMMAND is found.
e2e_begin() {
  E2E_NAME=$1; shift
  [[ $(id -u) == 0 ]] || { not_ok "needs root (systemd-nspawn)"; finish; }
  local c
  for c in "$@"; do command -v "$c" >/dev/null || { not_ok "needs $c"; finish; }; done
}

# wait_until SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_until() {
  local n=$(($1 * 5)); shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done
  return 1
}

# e2e_in PID COMMAND...: COMMAND inside the container whose systemd is PID,
# with a clean environment, bounded by CT_TIMEOUT seconds (default 120).
e2e_in() {
  local pid=$1; shift
  timeout "${CT_TIMEOUT:-120}" nsenter -t "$pid" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 ETCDCTL_API=3 "$@"
}
# ct COMMAND...: COMMAND inside the container (LEADER), logged to $T/ct.log.
ct() { echo "+ $*" >> "$T/ct.log"; e2e_in "$LEADER" "$@"; }
# active UNIT: the unit is active in the container.
active() { [[ $(ct systemctl show -P ActiveState "$1" 2>/dev/null) == active ]]; }

# e2e_booted [ARG...]: waits until the container's systemd has finished
# booting and prints its state (running or degraded, else what it said
# last); the ARGs go to ct before the command (a node's number).
e2e_booted() {
  local state=""
  for _ in $(seq 1 150); do
    state=$(ct "$@" systemctl is-system-running --wait 2>/dev/null) && break
    [[ $state == degraded ]] && break
    sleep 0.2
  done
  echo "$state"
}

# Every process is known by its ID, PID and start time (scripts/procs.sh),
# so a PID reaped and given to another process is never hit.
NSPAWN_PID="" LEADER="" WATCHDOG_ID="" E2E_NETNS=""
NSPAWN_IDS=() LEADERS=()

e2e_cleanup() {
  local id
  signal_proc -TERM "$WATCHDOG_ID"
  # SIGTERM: nspawn asks the container's systemd to halt.
  signal_proc -TERM "${NSPAWN_IDS[@]}"
  for id in "${NSPAWN_IDS[@]}"; do
    for _ in $(seq 1 100); do proc_alive "$id" || break; sleep 0.1; done
    signal_proc -KILL "$id"
    wait "${id%%:*}" 2>/dev/null
  done
  # A container whose nspawn had to be killed keeps its init (and with it
  # the container) alive: killing the init ends its PID namespace.
  signal_proc -KILL "${LEADERS[@]}"
  [[ -n $E2E_NETNS ]] && ip netns delete "$E2E_NETNS" 2>/dev/null
  [[ -n ${KEEP_T:-} ]] || rm -rf "$T"
}

# e2e_setup PREFIX: T (scratch, removed at exit unless KEEP_T), MACHINE, the
# exit trap and the TIME_LIMIT watchdog. TIME_SCALE (default 1) multiplies
# the limit, as meson's --timeout-multiplier does its own (scripts/check
# sets both to 3 for the sanitizer build).
e2e_setup() {
  TIME_LIMIT=$(( TIME_LIMIT * ${TIME_SCALE:-1} ))
  T=$(mktemp -d "/tmp/$1.XXXXXX")
  MACHINE=ebd-$$-${RANDOM}
  trap e2e_cleanup EXIT
  trap 'not_ok "time limit of ${TIME_LIMIT}s reached"; finish' USR1
  ( exec >/dev/null 2>&1; sleep "$TIME_LIMIT" & s=$!; trap 'kill $s; exit 0' TERM; wait $s && kill -USR1 $$ ) &
  WATCHDOG_ID=$(proc_id $!)
}

# e2e_boot NSPAWN-OPTION...: boot the container named $MACHINE with $T
# bound at /e2e plus the given options, in its own network namespace or in
# E2E_NETNS when set; sets NSPAWN_PID and LEADER (the container's systemd).
# Fails the test if systemd does not appear within 10 s.
e2e_boot() {
  local net=--private-network
  [[ -n $E2E_NETNS ]] && net=--network-namespace-path=/run/netns/$E2E_NETNS
  systemd-nspawn -D / --volatile=yes --boot --register=no --keep-unit "$net" \
    --machine="$MACHINE" --bind="$T:/e2e" "$@" -- \
    systemd.firstboot=off systemd.unit=basic.target \
    systemd.mask=systemd-networkd-wait-online.service systemd.mask=etcd.service \
    > "$T/nspawn.log" 2>&1 < /dev/null &
  NSPAWN_PID=$!
  NSPAWN_IDS+=("$(proc_id "$NSPAWN_PID")")
  for _ in $(seq 1 100); do
    LEADER=$(pgrep -P "$NSPAWN_PID" | head -1)
    [[ -n $LEADER && $(cat "/proc/$LEADER/comm" 2>/dev/null) == systemd ]] && { LEADERS+=("$(proc_id "$LEADER")"); return 0; }
    LEADER=""; sleep 0.1
  done
  cat "$T/nspawn.log"; not_ok "container booted"; finish
}

# e2e_install_restore: `meson install --destdir` of the build into $T/dest
# (D), its PREFIX and SANITIZE (b_sanitize), and the installed restore
# units (RUNIT, RSOCKET) and what they run, as they say it: ETCD_BACKUPD,
# CONF (the -c of ExecStart=) and ETCD_BACKUPCTL (paths inside the
# container). Ends the test when the install fails, the prefix cannot be
# bind-mounted or the units are missing.
e2e_install_restore() {
  if ! meson install -C "$TOP_BUILDDIR" --no-rebuild --destdir "$T/dest" > "$T/install.log" 2>&1; then
    cat "$T/install.log"; not_ok "meson install --destdir"; finish
  fi
  D=$T/dest
  local opts
  opts=$(meson introspect --buildoptions "$TOP_BUILDDIR")
  PREFIX=$(jq -r '.[] | select(.name == "prefix") | .value' <<<"$opts")
  SANITIZE=$(jq -r '.[] | select(.name == "b_sanitize") | .value' <<<"$opts")
  case $PREFIX in
    /usr | / | "") not_ok "prefix $PREFIX cannot be bind-mounted into the container (use /usr/local or /opt/…)"; finish ;;
  esac
  RUNIT=$(find "$D" -path '*/systemd/system/etcd-backupd-restore@.service' | head -1)
  RSOCKET=${RUNIT%/*}/etcd-backupd-restore.socket
  check "installed: etcd-backupd-restore.socket and etcd-backupd-restore@.service" test -f "$RUNIT" -a -f "$RSOCKET"
  [[ -f $RUNIT ]] || finish
  ETCD_BACKUPD=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$RUNIT")
  CONF=$(sed -n 's/^ExecStart=.* -c \([^ ]*\).*/\1/p' "$RUNIT")
  ETCD_BACKUPCTL=$(find "$D$PREFIX" -path '*/bin/etcd-backupctl' | head -1); ETCD_BACKUPCTL=${ETCD_BACKUPCTL#"$D"}
}

# The kubelet stand-in and the control plane's stand-in programs, for a
# container: /e2e/kubelet-standin.py, /e2e/apiserver-standin.py,
# /e2e/bin/kube-{apiserver,controller-manager,scheduler} (the controllers'
# manifests name no port or certificate: their defaults) and
# $T/units/kubelet.service, which runs the static pods of
# /etc/kubernetes/manifests with /e2e/kubelet as its state directory.
e2e_kubelet_files() {
  mkdir -p "$T/bin" "$T/kubelet" "$T/units"
  cp "$TOP_SRCDIR/tests/helpers/kubelet-standin.py" "$TOP_SRCDIR/tests/helpers/apiserver-standin.py" "$T/"
  printf '#!/bin/sh\nexec python3 /e2e/apiserver-standin.py "$@"\n' > "$T/bin/kube-apiserver"
  for c in kube-controller-manager:10257 kube-scheduler:10259; do
    printf '#!/bin/sh\nexec python3 /e2e/apiserver-standin.py --secure-port=%s --tls-cert-file=/etc/kubernetes/pki/apiserver.crt --tls-private-key-file=/etc/kubernetes/pki/apiserver.key "$@"\n' \
      "${c#*:}" > "$T/bin/${c%%:*}"
  done
  chmod 0755 "$T"/bin/*
  cat > "$T/units/kubelet.service" <<'EOF'
[Unit]
Description=kubelet stand-in (the static pods of /etc/kubernetes/manifests)
[Service]
Environment=PATH=/e2e/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ExecStart=/usr/bin/python3 /e2e/kubelet-standin.py /etc/kubernetes/manifests /e2e/kubelet
EOF
}
