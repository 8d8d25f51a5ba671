#!/usr/bin/env bash
# tests/e2e/systemd.sh — the installed units under a real systemd (PID 1,
# journald) in a container.
#
# Installs the build into a scratch destdir (meson install --destdir), boots
# the host's own /usr in systemd-nspawn (--volatile=yes, private network) with
# the installed prefix bind-mounted in place, installs the units, the
# sysusers.d and tmpfiles.d entries there and runs a TLS etcd inside. Then it
# checks: the units load and `systemd-analyze verify` is clean; the
# exposure score; socket activation; Type=notify and StatusText; backups on
# a calendar a few seconds apart, owned by etcd-backup, mode 0600, reading
# the TLS material through LoadCredential=; structured journal entries and
# the catalog; the watchdog; reload; a failed backup and the recovery; a
# clean stop; accept(2) and close_range(2) refused by a seccomp drop-in;
# /etc/localtime changed under the running daemon (rm + ln -s, timedatectl,
# a copy, a copy rewritten, a zone that makes the configuration invalid,
# TZ=:/etc/localtime);
# the restore socket's permissions.
#
#   TOP_SRCDIR=… TOP_BUILDDIR=… bash tests/e2e/systemd.sh
#
# Needs root, systemd-nspawn, nsenter, socat, etcd, etcdctl, jq, openssl.
# Prints ok/not ok lines and "e2e-systemd: N passed, N failed"; exits 0 only
# if everything passed. Bounded: the whole run is stopped after TIME_LIMIT
# seconds (default 200), and the container is stopped by the PID of the
# systemd-nspawn process this script started.
# Functions below run through check/wait_until; single-quoted $ is for the container's shell.
# shellcheck disable=SC2317,SC2016
set -uo pipefail
: "${TOP_SRCDIR:?}" "${TOP_BUILDDIR:?}"
TIME_LIMIT=${TIME_LIMIT:-200} CT_TIMEOUT=30
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin e2e-systemd systemd-nspawn nsenter socat etcd etcdctl jq openssl meson setpriv
e2e_setup etcd-backupd-e2e

# ---- install into a destdir ----

if ! meson install -C "$TOP_BUILDDIR" --no-rebuild --destdir "$T/dest" > "$T/install.log" 2>&1; then
  cat "$T/install.log"; not_ok "meson install --destdir"; finish
fi
ok "meson install --destdir"
D=$T/dest
opt() { meson introspect --buildoptions "$TOP_BUILDDIR" | jq -r --arg n "$1" '.[] | select(.name == $n) | .value'; }
PREFIX=$(opt prefix)
# A second `meson install` (an upgrade from source) keeps the configuration
# an operator edited; the example as shipped is refreshed beside it.
CONF=$D$PREFIX/$(opt sysconfdir)/etcd-backupd/etcd-backupd.conf
[[ $(opt sysconfdir) == /* ]] && CONF=$D$(opt sysconfdir)/etcd-backupd/etcd-backupd.conf
check "installed: the configuration is the example" cmp -s "$CONF" "$TOP_SRCDIR/conf/etcd-backupd.conf"
echo "# edited by the operator" >> "$CONF"; edited=$(sha256sum < "$CONF")
meson install -C "$TOP_BUILDDIR" --no-rebuild --destdir "$T/dest" > "$T/install2.log" 2>&1; rc=$?
check "meson install again (exit $rc): the edited configuration is kept" test $rc -eq 0 -a "$(sha256sum < "$CONF")" = "$edited"
cp "$TOP_SRCDIR/conf/etcd-backupd.conf" "$CONF"
SANITIZE=$(opt b_sanitize)
UNIT=$(find "$D" -path '*/systemd/system/etcd-backupd.service' | head -1)
UNITDIR=${UNIT%/*}
SYSUSERS=$(find "$D" -path '*/sysusers.d/etcd-backupd.conf' | head -1)
TMPFILES=$(find "$D" -path '*/tmpfiles.d/etcd-backupd.conf' | head -1)
CATALOG=$(find "$D" -name etcd-backupd.catalog | head -1)
UNITS=(etcd-backupd.service etcd-backupd.socket etcd-backupd-restore.socket etcd-backupd-restore@.service)
missing=""
for u in "${UNITS[@]}"; do [[ -f $UNITDIR/$u ]] || missing+=" $u"; done
[[ -n $UNIT && -z $missing && -n $SYSUSERS && -n $TMPFILES ]]
check "installed: units, sysusers.d and tmpfiles.d entries${missing:+ (missing$missing)}" test $? = 0
[[ -n $UNIT ]] || finish

# The paths the unit names must be the installed ones.
DAEMON=$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$UNIT")
CONF=$(sed -n 's/^ExecStart=.* -c \([^ ]*\).*/\1/p' "$UNIT")
check "unit: ExecStart names the installed daemon ($DAEMON)" test -x "$D$DAEMON"
check "unit: -c names the installed configuration ($CONF)" test -f "$D$CONF"
check "unit: Type=notify, WatchdogSec=60s, ExecReload sends SIGHUP" \
  grep -qzP 'Type=notify\n(.|\n)*ExecReload=/bin/kill -HUP \$MAINPID\n(.|\n)*WatchdogSec=60s' "$UNIT"
case $PREFIX in
  /usr | / | "") not_ok "prefix $PREFIX cannot be bind-mounted into the container (use /usr/local or /opt/…)"; finish ;;
esac
# The catalog is found under /usr/local/lib/systemd/catalog too.
if [[ -n $CATALOG && $PREFIX == /usr/local ]]; then
  mkdir -p "$D/usr/local/lib/systemd/catalog"
  cp "$CATALOG" "$D/usr/local/lib/systemd/catalog/"
fi

# ---- exposure score of the installed unit ----

systemd-analyze security --offline=true "$UNIT" > "$T/security.txt" 2>&1
EXPOSURE=$(grep -oP 'Overall exposure level for .*: \K[0-9.]+' "$T/security.txt")
check "systemd-analyze security --offline=true: exposure ${EXPOSURE:-?} <= 2.0" \
  awk -v e="${EXPOSURE:-99}" 'BEGIN { exit !(e <= 2.0) }'

# ---- what goes into the container (/e2e) ----

"$TOP_SRCDIR/scripts/dev-etcd" --certs "$T" || { not_ok "certificates"; finish; }
mkdir -p "$T/stage"
cat > "$T/stage/e2e-etcd.service" <<'EOF'
[Unit]
Description=etcd with mutual TLS for the end-to-end test

[Service]
Type=notify
ExecStart=/usr/bin/etcd --name default --data-dir /var/lib/e2e-etcd \
  --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
  --listen-peer-urls https://127.0.0.1:2380 --initial-advertise-peer-urls https://127.0.0.1:2380 \
  --initial-cluster default=https://127.0.0.1:2380 --initial-cluster-state new \
  --client-cert-auth --trusted-ca-file /e2e/pki/etcd/ca.crt \
  --cert-file /e2e/pki/etcd/server.crt --key-file /e2e/pki/etcd/server.key \
  --peer-client-cert-auth --peer-trusted-ca-file /e2e/pki/etcd/ca.crt \
  --peer-cert-file /e2e/pki/etcd/peer.crt --peer-key-file /e2e/pki/etcd/peer.key
EOF
# The kubeadm file names the shipped unit loads, from where this test keeps
# them (the configuration below names kubeadm's paths, which do not exist in
# the container: the credentials of the same names stand in), and a short
# watchdog.
# A short watchdog, as long again for each TIME_SCALE (an ASan loop on a loaded machine may stall a second).
WD=$((4 * ${TIME_SCALE:-1}))
{ cat <<EOF
[Service]
LoadCredential=
LoadCredential=healthcheck-client.crt:/e2e/pki/etcd/healthcheck-client.crt
LoadCredential=healthcheck-client.key:/e2e/pki/etcd/healthcheck-client.key
LoadCredential=ca.crt:/e2e/pki/etcd/ca.crt
WatchdogSec=${WD}s
EOF
  # Sanitizer builds: LeakSanitizer needs ptrace, which the unit forbids.
  [[ $SANITIZE != none ]] &&
    echo 'Environment=ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1'
} > "$T/stage/e2e.conf"
cat > "$T/stage/etcd-backupd.conf" <<'EOF'
etcd: {
  endpoints = ["https://127.0.0.1:2379"];
  cacert = "/etc/kubernetes/pki/etcd/ca.crt";
  cert = "/etc/kubernetes/pki/etcd/healthcheck-client.crt";
  key = "/etc/kubernetes/pki/etcd/healthcheck-client.key";
  connect_timeout = "2s";
};
schedule: { calendar = "*:*:0/3"; persistent = true; retry = { attempts = 0; backoff = "1s"; }; };
storage: { directory = "/var/lib/etcd-backupd"; compression = "zstd"; level = 1; min_free = "1M"; };
retention: { keep_last = 20; keep_hourly = 0; keep_daily = 0; keep_weekly = 0; keep_monthly = 0; };
EOF

# ---- boot ----

e2e_boot --bind="$D$PREFIX:$PREFIX"

# ct CMD...: runs CMD inside the container, with a clean environment, bounded;
# its stderr goes to a log shown on failure (ct_stderr keeps it).
ct_stderr() { echo "+ $*" >> "$T/ct.log"; e2e_in "$LEADER" "$@"; }
ct() { ct_stderr "$@" 2>> "$T/ct.log"; }
prop() { ct systemctl show -P "$2" "$1"; } # unit property
is() { [[ $(prop "$1" "$2") == "$3" ]]; }  # unit property value
quiet() { "$@" >> "$T/ct.log"; }
state=$(e2e_booted)
check "container: systemd is up ($state)" test "$state" = running -o "$state" = degraded
[[ $state == running || $state == degraded ]] || finish

# ---- install the units inside ----

ct sh -ec "
  cp /e2e/dest${UNITDIR#"$D"}/etcd-backupd* /etc/systemd/system/
  cp /e2e/stage/e2e-etcd.service /etc/systemd/system/
  mkdir -p /etc/systemd/system/etcd-backupd.service.d /etc/sysusers.d /etc/tmpfiles.d
  cp /e2e/stage/e2e.conf /etc/systemd/system/etcd-backupd.service.d/
  cp /e2e/dest${SYSUSERS#"$D"} /etc/sysusers.d/etcd-backupd.conf
  cp /e2e/dest${TMPFILES#"$D"} /etc/tmpfiles.d/etcd-backupd.conf
  systemctl daemon-reload
" >> "$T/ct.log" 2>&1
rc=$?
check "units copied, daemon-reload" test "$rc" = 0
[[ $rc == 0 ]] || finish
check "systemd-sysusers etcd-backupd.conf" ct systemd-sysusers etcd-backupd.conf
check "sysusers: etcd-backup user and group exist" \
  test "$(ct id -un etcd-backup)-$(ct id -gn etcd-backup)" = etcd-backup-etcd-backup
check "sysusers: the operators' group etcd-backup-ctl exists" quiet ct getent group etcd-backup-ctl
check "systemd-tmpfiles --create etcd-backupd.conf" ct systemd-tmpfiles --create etcd-backupd.conf
check "tmpfiles: /var/lib/etcd-backupd 700 etcd-backup:etcd-backup" \
  test "$(ct stat -c '%a %U:%G' /var/lib/etcd-backupd)" = "700 etcd-backup:etcd-backup"
check "tmpfiles: ${CONF%/*} 750 root:etcd-backup" \
  test "$(ct stat -c '%a %U:%G' "${CONF%/*}")" = "750 root:etcd-backup"
check "the installed example configuration passes --check-config" \
  quiet ct setpriv --reuid=etcd-backup --regid=etcd-backup --init-groups "$DAEMON" --check-config -c "$CONF"
ct install -m 0640 -o root -g etcd-backup /e2e/stage/etcd-backupd.conf "$CONF"

for u in "${UNITS[@]/restore@/restore@1}"; do
  check "LoadState=loaded: $u" test "$(prop "$u" LoadState)" = loaded
done
# A restore is never killed half-way: no SIGKILL after the stop timeout, and
# the stop's SIGTERM (blocked by the runbook) reaches only the main process.
check "restore@: SendSIGKILL=no, KillMode=mixed, TimeoutStopUSec=30min" \
  test "$(prop etcd-backupd-restore@1.service SendSIGKILL) $(prop etcd-backupd-restore@1.service KillMode) $(prop etcd-backupd-restore@1.service TimeoutStopUSec)" = "no mixed 30min"
# The service's stop reaches the daemon alone, which ends its worker and
# logs the backup as cancelled (signalled by systemd too, the worker could end
# first and the stop read as a failed backup).
check "etcd-backupd.service: KillMode=mixed, TimeoutStopUSec=30s" \
  test "$(prop etcd-backupd.service KillMode) $(prop etcd-backupd.service TimeoutStopUSec)" = "mixed 30s"
ct_stderr systemd-analyze verify "${UNITS[@]/#//e2e/dest${UNITDIR#"$D"}/}" > "$T/verify.txt" 2>&1
rc=$?
check "systemd-analyze verify: clean on every installed unit" test "$rc" = 0 -a ! -s "$T/verify.txt"
[[ -s $T/verify.txt ]] && sed 's/^/# /' "$T/verify.txt"
# The same verify notices a unit whose program is missing.
mkdir -p "$T/broken"
sed 's|^ExecStart=[^ ]*|ExecStart=/nonexistent/etcd-backupd|' "$UNIT" > "$T/broken/etcd-backupd-broken.service"
ct_stderr systemd-analyze verify /e2e/broken/etcd-backupd-broken.service > "$T/verify-broken.txt" 2>&1
check "systemd-analyze verify: notices a missing ExecStart program" grep -q nonexistent "$T/verify-broken.txt"
ct_stderr systemd-analyze security etcd-backupd.service > "$T/security-live.txt" 2>&1
live=$(grep -oP 'Overall exposure level for .*: \K[0-9.]+' "$T/security-live.txt")
check "systemd-analyze security (live, with the test drop-in): exposure ${live:-?} <= 2.0" \
  awk -v e="${live:-99}" 'BEGIN { exit !(e <= 2.0) }'

# ---- etcd ----

ct systemctl start e2e-etcd.service
check "etcd (TLS, 127.0.0.1:2379) runs inside" test "$(prop e2e-etcd.service ActiveState)" = active
etcdctl_in() {
  ct env ETCDCTL_API=3 etcdctl --endpoints https://127.0.0.1:2379 --cacert /e2e/pki/etcd/ca.crt \
    --cert /e2e/pki/etcd/healthcheck-client.crt --key /e2e/pki/etcd/healthcheck-client.key "$@"
}
etcdctl_in put /e2e/a 1 >/dev/null

# ---- socket activation ----

check "etcd-backupd.socket starts" ct systemctl start etcd-backupd.socket
check "etcd-backupd.socket is active" test "$(prop etcd-backupd.socket ActiveState)" = active
check "control.sock: 660 root:etcd-backup-ctl in a 755 /run/etcd-backupd" \
  test "$(ct stat -c '%a %U:%G' /run/etcd-backupd/control.sock /run/etcd-backupd)" = \
  "$(printf '660 root:etcd-backup-ctl\n755 root:root')"
check "etcd-backupd.service is not running before a connection" \
  test "$(prop etcd-backupd.service ActiveState)" = inactive
denied() { # user group socket: connecting as user:group fails with EACCES
  local out
  out=$(ct_stderr setpriv --reuid="$1" --regid="$2" --clear-groups socat -u OPEN:/dev/null "UNIX-CONNECT:$3" 2>&1)
  [[ $out == *"Permission denied"* ]]
}
check "control.sock: a user outside the group (65534) cannot connect" denied 65534 65534 /run/etcd-backupd/control.sock
check "control.sock: a refused connection does not start the service" \
  test "$(prop etcd-backupd.service ActiveState)" = inactive
# SOCKET ACTIVATION ONLY: a bare connection (no request) must start the
# service; what the daemon answers on the socket is not checked here.
ct socat -u OPEN:/dev/null UNIX-CONNECT:/run/etcd-backupd/control.sock
check "socket activation (connection only, no request): control.sock starts etcd-backupd.service" \
  wait_until 15 is etcd-backupd.service ActiveState active
PID=$(prop etcd-backupd.service MainPID)
OPERATOR=(setpriv --reuid=65534 --regid=65534 --groups=etcd-backup-ctl)
check "control.sock: a member of etcd-backup-ctl (uid 65534) can connect" \
  ct "${OPERATOR[@]}" socat -u OPEN:/dev/null UNIX-CONNECT:/run/etcd-backupd/control.sock
check "operator: etcd-backupctl status through the daemon (no configuration needed)" \
  ct "${OPERATOR[@]}" "$PREFIX/bin/etcd-backupctl" status
cannot() { ! ct "$@"; }
check "operator: cannot read the configuration" cannot "${OPERATOR[@]}" cat "$CONF"
out=$(ct_stderr "${OPERATOR[@]}" "$PREFIX/bin/etcd-backupctl" prune --dry-run 2>&1)
check "operator: prune is root only" grep -q 'permission denied: Prune is root only' <<<"$out"
check "unit: LimitNOFILE=1024 and MemoryMax=1G in force" \
  test "$(prop etcd-backupd.service LimitNOFILE)-$(prop etcd-backupd.service MemoryMax)" = 1024-1073741824
check "the daemon's soft file limit is 1024" ct grep -qE '^Max open files +1024 ' "/proc/$PID/limits"
check "Type=notify: READY=1 reached (SubState=running, MainPID $PID)" \
  test "$(prop etcd-backupd.service SubState)" = running -a "${PID:-0}" -gt 0
check "the daemon runs as etcd-backup" test "$(ct stat -c %U "/proc/$PID")" = etcd-backup
check "sandbox in force: / read-only, /proc hidepid=invisible,subset=pid, no capabilities" \
  ct sh -c "grep -q ' / / ro,' /proc/$PID/mountinfo && grep -qE ' /proc .*hidepid=invisible,subset=pid' /proc/$PID/mountinfo &&
            grep -qx 'CapBnd:[[:space:]]*0000000000000000' /proc/$PID/status && grep -qx 'NoNewPrivs:[[:space:]]*1' /proc/$PID/status &&
            grep -qx 'Seccomp:[[:space:]]*2' /proc/$PID/status"
check "the daemon got the listener (LISTEN_FDNAMES=control)" \
  ct sh -c "tr '\\0' '\\n' < /proc/$PID/environ | grep -qx LISTEN_FDNAMES=control"

# ---- backups on the calendar ----

status_ok() { prop etcd-backupd.service StatusText | grep -qE 'Last backup [0-9]{2}:[0-9]{2}:[0-9]{2} ok, rev [0-9]+'; }
check "StatusText reports the last backup (Last backup HH:MM:SS ok, rev N)" wait_until 20 status_ok
echo "# StatusText: $(prop etcd-backupd.service StatusText)"
count() { ct sh -c 'ls /var/lib/etcd-backupd | grep -c "^etcd-.*\.db\(\.gz\|\.zst\)\?$"'; }
enough() { [[ $(count) -ge 3 ]]; }
check "calendar *:*:0/3: at least 3 backups within 20 s" wait_until 20 enough
check "backups and sidecars: 600 etcd-backup:etcd-backup" \
  ct sh -c 'cd /var/lib/etcd-backupd && test -n "$(ls)" && ! stat -c "%a %U:%G %n" * | grep -v "^600 etcd-backup:etcd-backup "'
check "backup directory: 700 etcd-backup:etcd-backup" \
  test "$(ct stat -c '%a %U:%G' /var/lib/etcd-backupd)" = "700 etcd-backup:etcd-backup"
REV=$(etcdctl_in put /e2e/b 2 -w json | jq -r .header.revision)
rev_reached() {
  local r; r=$(prop etcd-backupd.service StatusText | grep -oP 'ok, rev \K[0-9]+')
  [[ -n $REV && ${r:-0} -ge $REV ]]
}
check "a later backup has the new revision ${REV:-?}" wait_until 15 rev_reached

# ---- the journal ----

ct journalctl -u etcd-backupd -o json MESSAGE_ID=6f4d1e7603174871a906e1567f206ed7 > "$T/ok.json"
n=$(jq -s 'map(select(.ETCD_BACKUP_FILE != null and (.ETCD_BACKUP_FILE | startswith("/var/lib/etcd-backupd/etcd-"))
                     and .ETCD_REVISION != null and .SIZE != null and .SYSLOG_IDENTIFIER == "etcd-backupd")) | length' "$T/ok.json")
check "journal: $n backup entries (MESSAGE_ID=6f4d1e76…, ETCD_BACKUP_FILE, ETCD_REVISION, SIZE)" test "${n:-0}" -ge 3
newest=$(jq -rs 'last | .ETCD_BACKUP_FILE' "$T/ok.json")
check "journal: the newest ETCD_BACKUP_FILE exists ($newest)" ct test -f "$newest"
# The compressor lowers its own priority (nice 19) under the unit's system
# call filter; a denied setpriority is logged after the backup as a warning.
check "journal: no backup warns that the compressor could not lower its priority" \
  ct sh -c '! journalctl -u etcd-backupd --no-pager -o cat | grep "could not lower the compressor"'
if [[ -n $CATALOG && $PREFIX == /usr/local ]]; then
  ct journalctl --update-catalog
  check "catalog: journalctl -x explains the entry" \
    ct sh -c 'journalctl -x -u etcd-backupd MESSAGE_ID=6f4d1e7603174871a906e1567f206ed7 -n 1 --no-pager | grep -q "etcd backup completed"'
fi

# ---- watchdog ----

check "watchdog armed: WatchdogUSec=${WD}s (drop-in)" test "$(prop etcd-backupd.service WatchdogUSec)" = "${WD}s"
# Wait for the daemon's own pings rather than for a fixed time: the last
# ping's time must move past the start plus two and a half periods, each
# ping resetting the timer (bounded at five periods).
wd0=$(prop etcd-backupd.service WatchdogTimestampMonotonic)
check "watchdog: pinged for more than two periods ($((WD * 5 / 2)) s)" \
  wait_until $((WD * 5)) bash -c '[[ $(nsenter -t "$1" -a systemctl show -P WatchdogTimestampMonotonic etcd-backupd.service) -gt $(( $2 + $3 * 1000000 )) ]]' _ "$LEADER" "${wd0:-0}" $((WD * 5 / 2))
check "watchdog: still running with the same MainPID after $((WD * 5 / 2)) s" \
  test "$(prop etcd-backupd.service MainPID)" = "${PID:-none}" -a "$(prop etcd-backupd.service ActiveState)" = active
check "watchdog: no restarts" test "$(prop etcd-backupd.service NRestarts)" = 0

# ---- reload ----

since=$(ct date '+%Y-%m-%d %H:%M:%S')
check "systemctl reload etcd-backupd" ct systemctl reload etcd-backupd
check "reload: same MainPID, active" \
  test "$(prop etcd-backupd.service MainPID)" = "${PID:-none}" -a "$(prop etcd-backupd.service ActiveState)" = active
reloaded() {
  ct journalctl -u etcd-backupd -o json --since "$since" MESSAGE_ID=9c2021c0e6b44f6199a76303b3f25ada |
    jq -se 'map(select(.MESSAGE | startswith("Reloaded "))) | length > 0' >/dev/null
}
check "reload: a Reloaded entry (MESSAGE_ID=9c2021c0…)" wait_until 5 reloaded

# ---- a failed backup and the recovery ----

since=$(ct date '+%Y-%m-%d %H:%M:%S')
ct systemctl stop e2e-etcd.service
failed() {
  ct journalctl -o json --since "$since" MESSAGE_ID=f5d97bf879114aa88ae68932dc98c22f |
    jq -se 'map(select(.ETCD_BACKUP_ERROR != null and ._SYSTEMD_UNIT == "etcd-backupd.service")) | length > 0' >/dev/null
}
check "etcd down: journalctl MESSAGE_ID=f5d97bf8… finds the failed backup" wait_until 15 failed
status_failed() { prop etcd-backupd.service StatusText | grep -q 'Last backup failed: '; }
check "etcd down: StatusText says the last backup failed" wait_until 5 status_failed
ct systemctl start e2e-etcd.service
check "etcd back: the next backup is ok again" wait_until 15 status_ok
check "etcd down and back: same MainPID" test "$(prop etcd-backupd.service MainPID)" = "${PID:-none}"

# ---- stop ----

check "systemctl stop etcd-backupd" ct systemctl stop etcd-backupd
check "stop: Result=success, inactive" \
  test "$(prop etcd-backupd.service Result)-$(prop etcd-backupd.service ActiveState)" = success-inactive
check "stop: the socket keeps listening" test "$(prop etcd-backupd.socket ActiveState)" = active

# ---- accept(2) refused ----
# The kernel refuses the daemon's accept of a queued connection (here a
# seccomp drop-in; a security module's hook does the same): the daemon
# says so and rests instead of spinning on the connection, which stays
# queued; without the drop-in it answers again.
ct sh -c 'mkdir -p /run/systemd/system/etcd-backupd.service.d &&
  printf "[Service]\nSystemCallFilter=~accept4\n" > /run/systemd/system/etcd-backupd.service.d/deny-accept.conf &&
  systemctl daemon-reload' >> "$T/ct.log" 2>&1
since=$(ct date '+%Y-%m-%d %H:%M:%S')
ct "$PREFIX/bin/etcd-backupctl" --timeout 2 status >> "$T/ct.log" 2>&1 # starts the daemon (socket activation)
check "accept refused: the daemon started by the socket" wait_until 10 eval '[[ $(prop etcd-backupd.service ActiveState) == active ]]'
PID=$(prop etcd-backupd.service MainPID)
tick=$(ct getconf CLK_TCK)
cputicks() { ct cat "/proc/$PID/stat" | awk '{ print $14 + $15 }'; } # user + system, of the container's PID
cpu0=$(cputicks)
check "accept refused: status gets no answer" eval '! ct "$PREFIX/bin/etcd-backupctl" --timeout 3 status >> "$T/ct.log" 2>&1'
cpu1=$(cputicks)
check "accept refused: the daemon's CPU time read ($cpu0, $cpu1)" test -n "$cpu0" -a -n "$cpu1"
check "accept refused: the daemon rests instead of spinning ($((cpu1 - cpu0)) ticks of $tick a second while the client waited 3 s)" \
  test $((cpu1 - cpu0)) -lt $((tick / 2))
check "accept refused: the journal says why" wait_until 10 \
  eval 'ct journalctl -u etcd-backupd --since "$since" -o cat | grep -F "control socket: cannot accept a connection: Operation not permitted; not accepting connections for a second (logged at most once a minute)" >/dev/null'
# (The connections the client gave up on are still queued: the socket would
# start a stopped daemon again at once, so the drop-in goes first.)
ct sh -c 'rm /run/systemd/system/etcd-backupd.service.d/deny-accept.conf && systemctl daemon-reload &&
  systemctl restart etcd-backupd.service' >> "$T/ct.log" 2>&1
check "accept allowed again: status answers" ct "$PREFIX/bin/etcd-backupctl" --timeout 10 status
check "systemctl stop etcd-backupd (again)" ct systemctl stop etcd-backupd

# ---- close_range(2) refused ----
# A container runtime's seccomp filter may refuse close_range(2) (here the
# unit's SystemCallErrorNumber=EPERM) or lack it (a kernel before 5.9): the
# backup worker closes the daemon's descriptors one by one there, and
# backups go on.
ct sh -c 'printf "[Service]\nSystemCallFilter=~close_range\n" > /run/systemd/system/etcd-backupd.service.d/deny-close-range.conf &&
  systemctl daemon-reload && systemctl start etcd-backupd.service' >> "$T/ct.log" 2>&1
PID2=$(prop etcd-backupd.service MainPID)
# entries PID MESSAGE_ID: how many the daemon of that PID logged with the ID
entries() { ct journalctl -u etcd-backupd -o json "MESSAGE_ID=$2" | jq -s --arg p "$1" 'map(select(._PID == $p)) | length'; }
check "close_range refused: the daemon runs under the drop-in ($PID2)" \
  test "$(prop etcd-backupd.service ActiveState)" = active -a -n "$(prop etcd-backupd.service DropInPaths | grep deny-close-range)"
check "close_range refused: backups end ok (3 within 20 s)" \
  wait_until 20 eval '[[ $(entries "$PID2" 6f4d1e7603174871a906e1567f206ed7) -ge 3 ]]'
check "close_range refused: no backup failed" test "$(entries "$PID2" f5d97bf879114aa88ae68932dc98c22f)" = 0
check "systemctl stop etcd-backupd (close_range refused)" ct systemctl stop etcd-backupd
ct sh -c 'rm /run/systemd/system/etcd-backupd.service.d/deny-close-range.conf && systemctl daemon-reload' >> "$T/ct.log" 2>&1

# ---- the local time zone changed ----
# /etc/localtime changed while the daemon runs: the schedule follows the
# new zone without a reload, as systemd's timers do. Removed and made again
# (`rm`, `ln -s`: the daemon waits for it to settle), then set back with
# `timedatectl set-timezone` (systemd-timedated renames a new link over it).
ct sh -c "ln -sf /usr/share/zoneinfo/UTC /etc/localtime &&
  sed -i 's|calendar = \"\*:\*:0/3\"|calendar = \"*-*-* 02:00:00\"|' $CONF && systemctl start etcd-backupd.service" >> "$T/ct.log" 2>&1
PID3=$(prop etcd-backupd.service MainPID)
# (through the socket by name: etcd-backupctl refuses a configuration file that does not load, below)
next() { ct "$PREFIX/bin/etcd-backupctl" -s /run/etcd-backupd/control.sock --json status | jq -r .next; }
# zone_reads ZONE SINCE: how often the daemon logged reading its configuration again for ZONE since
# SINCE (epoch); nothing when the journal cannot be read
zone_reads() {
  ct journalctl -u etcd-backupd --since "@$2" -o json MESSAGE_ID=9c2021c0e6b44f6199a76303b3f25ada |
    jq -s --arg m "Read $CONF again for the new local time zone ($1)" \
      'map(select(.MESSAGE == $m and .ETCD_BACKUP_RELOAD_CAUSE == "localtime" and .ETCD_BACKUP_RELOAD_RESULT == "ok")) | length'
}
zone_read() { [[ $(zone_reads "$@") == 1 ]]; }
check "zone: the daily 02:00 planned at 02:00 UTC ($(next))" eval '[[ $(next) == *T02:00:00Z ]]'
since=$(ct date +%s)
ct sh -c 'rm /etc/localtime && ln -s /usr/share/zoneinfo/Asia/Tokyo /etc/localtime'
check "zone: /etc/localtime removed and linked to Asia/Tokyo: the configuration read again once, with it" \
  wait_until 15 zone_read Asia/Tokyo "$since"
check "zone: not with UTC in between (the link was missing for a moment)" test "$(zone_reads UTC "$since")" = 0
check "zone: the daily 02:00 now planned at 02:00 in Tokyo, 17:00 UTC ($(next))" eval '[[ $(next) == *T17:00:00Z ]]'
since=$(ct date +%s)
ct timedatectl set-timezone UTC >> "$T/ct.log" 2>&1
check "zone: timedatectl set-timezone UTC: read again with it" wait_until 15 zone_read UTC "$since"
check "zone: the daily 02:00 planned at 02:00 UTC again ($(next))" eval '[[ $(next) == *T02:00:00Z ]]'
# A copy of a zone file in place of the link (as some images ship it), then that copy rewritten in place.
since=$(ct date +%s)
ct sh -c 'rm /etc/localtime && cp /usr/share/zoneinfo/Asia/Tokyo /etc/localtime'
check "zone: a copy of Asia/Tokyo's file in place of the link: read again with it" \
  wait_until 15 zone_read "the zone in /etc/localtime, JST" "$since"
check "zone: the daily 02:00 planned at 17:00 UTC ($(next))" eval '[[ $(next) == *T17:00:00Z ]]'
since=$(ct date +%s)
ct sh -c 'cat /usr/share/zoneinfo/UTC > /etc/localtime'
check "zone: the copy rewritten in place with UTC's file: read again with it" \
  wait_until 15 zone_read "the zone in /etc/localtime, UTC" "$since"
check "zone: the daily 02:00 planned at 02:00 UTC ($(next))" eval '[[ $(next) == *T02:00:00Z ]]'
# A configuration the new zone makes invalid: the calendar ends in JST, which UTC does not have. Refused; the
# daemon keeps the configuration and zone it runs until a reload.
since=$(ct date +%s)
ct sh -c 'ln -sf /usr/share/zoneinfo/Asia/Tokyo /etc/localtime'
check "zone: linked to Asia/Tokyo again: read again with it" wait_until 15 zone_read Asia/Tokyo "$since"
since=$(ct date +%s)
ct sh -c "sed -i 's|calendar = \"\*-\*-\* 02:00:00\"|calendar = \"*-*-* 02:00:00 JST\"|' $CONF &&
  systemctl reload etcd-backupd.service" >> "$T/ct.log" 2>&1
reloaded_ok() {
  ct journalctl -u etcd-backupd --since "@$1" -o json MESSAGE_ID=9c2021c0e6b44f6199a76303b3f25ada |
    jq -se --arg m "Reloaded $CONF" 'map(select(.MESSAGE == $m)) | length == 1' >/dev/null
}
check "zone: in Asia/Tokyo, reloaded with the daily 02:00 JST" wait_until 10 reloaded_ok "$since"
check "zone: the daily 02:00 JST planned at 17:00 UTC ($(next))" eval '[[ $(next) == *T17:00:00Z ]]'
since=$(ct date +%s)
ct sh -c 'ln -sf /usr/share/zoneinfo/UTC /etc/localtime'
# zone_refused SINCE: the daemon logged, since SINCE, that reading its configuration again for a new zone failed
zone_refused() {
  ct journalctl -u etcd-backupd --since "@$1" -o json MESSAGE_ID=9c2021c0e6b44f6199a76303b3f25ada |
    jq -se --arg m "Reading $CONF again for the new local time zone failed; keeping the previous configuration and zone until a reload or the next change of /etc/localtime" \
      'map(select(.MESSAGE == $m and .ETCD_BACKUP_RELOAD_CAUSE == "localtime" and .ETCD_BACKUP_RELOAD_RESULT == "rejected")) | length == 1' >/dev/null
}
check "zone: linked to UTC, where the calendar's JST is no zone: the configuration refused" \
  wait_until 15 zone_refused "$since"
check "zone: the error before it names the calendar and JST" eval \
  "ct journalctl -u etcd-backupd --since @$since -p err -o cat | grep -q 'schedule.calendar.*JST'"
check "zone: the daily 02:00 JST still planned at 17:00 UTC ($(next))" eval '[[ $(next) == *T17:00:00Z ]]'
check "zone: not read again with UTC" test "$(zone_reads UTC "$since")" = 0
status_err=$(ct_stderr "$PREFIX/bin/etcd-backupctl" status 2>&1 >/dev/null); rc=$?
check "zone: etcd-backupctl status, reading the file in UTC, exits 78 naming the calendar (exit $rc)" \
  eval '[[ $rc == 78 && $status_err == *schedule.calendar*JST* ]]'
ct sh -c "sed -i 's|calendar = \"\*-\*-\* 02:00:00 JST\"|calendar = \"*-*-* 02:00:00\"|' $CONF &&
  systemctl reload etcd-backupd.service" >> "$T/ct.log" 2>&1
check "zone: the calendar mended and reloaded: planned at 02:00 UTC" wait_until 10 eval '[[ $(next) == *T02:00:00Z ]]'
# A tzdata upgrade renames new rules over the zone file the link leads to and leaves the link alone: followed
# too (glibc, and so systemd, see the file changed). The zone file here is a copy in the container's /etc (its
# /usr is the host's, read-only).
ct sh -c 'mkdir -p /etc/tz/zoneinfo/Asia && cp /usr/share/zoneinfo/Asia/Tokyo /etc/tz/zoneinfo/Asia/Tokyo'
since=$(ct date +%s)
ct sh -c 'ln -sf /etc/tz/zoneinfo/Asia/Tokyo /etc/localtime'
check "zone: linked to a copy of Asia/Tokyo's zone file: read again with Asia/Tokyo" \
  wait_until 15 zone_read Asia/Tokyo "$since"
check "zone: the daily 02:00 planned at 17:00 UTC ($(next))" eval '[[ $(next) == *T17:00:00Z ]]'
# Counted, not looked for since a second: the read just before has the same zone name.
tokyo_reads=$(zone_reads Asia/Tokyo 0)
ct sh -c 'cp /usr/share/zoneinfo/UTC /etc/tz/zoneinfo/Asia/Tokyo.dpkg-new &&
  mv -f /etc/tz/zoneinfo/Asia/Tokyo.dpkg-new /etc/tz/zoneinfo/Asia/Tokyo'
check "zone: new rules renamed over that file, the link untouched (a tzdata upgrade): read again" \
  wait_until 15 eval '[[ $(zone_reads Asia/Tokyo 0) == $((tokyo_reads + 1)) ]]'
check "zone: the daily 02:00 planned by the new rules, at 02:00 UTC ($(next))" eval '[[ $(next) == *T02:00:00Z ]]'
since=$(ct date +%s)
ct sh -c 'ln -sf /usr/share/zoneinfo/UTC /etc/localtime'
check "zone: linked to UTC again: read again with it" wait_until 15 zone_read UTC "$since"
check "zone: no reload or restart, the same daemon ($PID3)" \
  test "$(prop etcd-backupd.service MainPID)" = "$PID3" -a "$(prop etcd-backupd.service NRestarts)" = 0
# TZ=:/etc/localtime in the unit's environment (often set to spare glibc a look at the file) names the same
# zone, followed the same.
ct sh -c 'printf "[Service]\nEnvironment=TZ=:/etc/localtime\n" > /run/systemd/system/etcd-backupd.service.d/tz.conf &&
  systemctl daemon-reload && systemctl restart etcd-backupd.service' >> "$T/ct.log" 2>&1
check "zone: the daemon restarted with TZ=:/etc/localtime" \
  eval '[[ $(prop etcd-backupd.service Environment) == *TZ=:/etc/localtime* && $(prop etcd-backupd.service MainPID) != "$PID3" ]]'
since=$(ct date +%s)
ct sh -c 'ln -sf /usr/share/zoneinfo/Asia/Tokyo /etc/localtime'
check "zone: with TZ=:/etc/localtime, linked to Asia/Tokyo: read again with it" \
  wait_until 15 zone_read Asia/Tokyo "$since"
check "zone: with TZ=:/etc/localtime, the daily 02:00 planned at 17:00 UTC ($(next))" eval '[[ $(next) == *T17:00:00Z ]]'
ct sh -c "systemctl stop etcd-backupd.service && ln -sf /usr/share/zoneinfo/UTC /etc/localtime &&
  rm /run/systemd/system/etcd-backupd.service.d/tz.conf && systemctl daemon-reload &&
  sed -i 's|calendar = \"\*-\*-\* 02:00:00\"|calendar = \"*:*:0/3\"|' $CONF" >> "$T/ct.log" 2>&1

# ---- the restore socket ----

check "etcd-backupd-restore.socket starts" ct systemctl start etcd-backupd-restore.socket
check "restore.sock: 600 root:root" test "$(ct stat -c '%a %U:%G' /run/etcd-backupd/restore.sock)" = "600 root:root"
check "restore.sock: etcd-backup cannot connect" denied etcd-backup etcd-backup /run/etcd-backupd/restore.sock

if [[ $FAIL -gt 0 ]]; then
  echo "# stderr of the commands run inside (last 40 lines):"
  tail -40 "$T/ct.log" | sed 's/^/#   /'
  echo "# journal of etcd-backupd:"
  ct journalctl -u etcd-backupd -u etcd-backupd.socket --no-pager -n 60 | sed 's/^/#   /'
fi
finish
