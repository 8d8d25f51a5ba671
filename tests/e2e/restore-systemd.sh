#!/usr/bin/env bash
# tests/e2e/restore-systemd.sh — restore in systemd mode under a real systemd
# (PID 1, journald, D-Bus) in a container, through the INSTALLED units: the
# build is installed with `meson install --destdir`, its prefix bind-mounted
# in place, and etcd-backupd-restore.socket and etcd-backupd-restore@.service
# copied unchanged into /etc/systemd/system (the configuration goes where
# their ExecStart's -c says). etcd and a kube-apiserver stand-in run as
# units; `etcd-backupctl restore` talks to the shipped socket
# (MaxConnections=4) on one connection: plan, confirmation, run. Checks:
# `restore.mode = auto` picks systemd (no manifests, etcd's unit loaded); a
# restore brings back the backed-up keys with both units active again and
# the old data dir kept, kube-controller-manager restarted (kube-scheduler,
# not running, left alone), and kube-apiserver's /readyz (where its unit's
# ExecStart= says it serves) answering when the restore returns, its start
# of etcd, made to fail once, waited through systemd's Restart=; the
# journal has the restore MESSAGE_IDs; a plan
# that is never confirmed ends within restore.confirm_timeout with nothing
# changed; a restore whose etcd cannot come up (initial_cluster names a
# member that does not exist: etcd never becomes ready, the start job times
# out) rolls back to the old data with both units active and /readyz
# answering; one whose kube-scheduler refuses to stop (RefuseManualStop=)
# fails naming it, starts kube-controller-manager again and rolls back;
# one whose kube-controller-manager refuses to start (RefuseManualStart=)
# still starts kube-scheduler and says in its rollback which stays
# stopped; one whose rollback cannot rename the old data back (a preload)
# leaves etcd, kube-apiserver and that controller's units stopped; a mixed node (etcd a unit; kube-apiserver and the controllers
# static pods from kubeadm's manifests, run by the kubelet stand-in as
# kubelet.service): the restore moves kube-apiserver's manifest out and
# back, restarts the controllers' pods, starts none of their units, and a
# failed one rolls the pods back the same way; one whose etcd unit binds
# another directory at member/wal (BindPaths=: not in the host's mount
# table) is refused by the plan, etcd running or not, and so is one whose
# running etcd still has that mount after the line was taken out, and one
# that binds another directory at a parent of the data dir; one bound onto
# itself is not;
# and one whose etcd really
# runs on another data dir than its unit says is refused by the plan, or,
# where the plan cannot tell, caught by the proof (the db it holds open)
# and rolled back.
#
#   TOP_SRCDIR=… TOP_BUILDDIR=… bash tests/e2e/restore-systemd.sh
#
# Needs root, meson, systemd-nspawn, nsenter, socat, etcd, etcdctl, jq,
# openssl, curl, python3, and a build whose prefix is not /usr (it is bind-mounted into the
# container, which boots the host's own /usr). Bounded by TIME_LIMIT seconds
# (default 300); the container is stopped by the PID of the systemd-nspawn
# process this script started.
# shellcheck disable=SC2016
set -uo pipefail
: "${TOP_SRCDIR:?}" "${TOP_BUILDDIR:?}"
TIME_LIMIT=${TIME_LIMIT:-300}

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin e2e-restore-systemd meson systemd-nspawn nsenter socat etcd etcdctl jq openssl curl python3
e2e_setup etcd-backupd-e2e-restore

e2e_install_restore
check "the restore unit runs the installed daemon ($ETCD_BACKUPD)" test -x "$D$ETCD_BACKUPD"
check "etcd-backupctl installed ($ETCD_BACKUPCTL)" test -x "$D$ETCD_BACKUPCTL"

# ---- what goes into the container (/e2e) ----
"$TOP_SRCDIR/scripts/dev-etcd" --certs "$T" >/dev/null || { not_ok "certificates"; finish; }
mkdir -p "$T/units"
PKI=/e2e/pki/etcd
cat > "$T/units/e2e-etcd.service" <<EOF
[Unit]
Description=etcd with mutual TLS (restore test)
[Service]
Type=notify
# Restarted on failure, as etcd's own contrib unit and "Kubernetes the hard
# way" do it: on a cgroup v1 host the container's systemd now and then
# cannot move a new process into the unit's cgroup (it exits 219/CGROUP
# before it runs); the unit then starts again by itself.
Restart=on-failure
RestartSec=5
# That failure, once, on demand: the first start after the test creates
# /run/e2e-etcd-fail-once fails before etcd runs.
ExecStartPre=/bin/sh -c 'if [ -e /run/e2e-etcd-fail-once ]; then rm /run/e2e-etcd-fail-once; echo "this start fails once (restore test)"; exit 1; fi'
# The name comes from an EnvironmentFile=, as packaged etcd units do it.
EnvironmentFile=/e2e/etcd.env
ExecStart=/usr/bin/etcd --data-dir /var/lib/etcd \\
  --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \\
  --listen-peer-urls https://127.0.0.1:2380 --initial-advertise-peer-urls https://127.0.0.1:2380 \\
  --initial-cluster default=https://127.0.0.1:2380 --initial-cluster-token e2e \\
  --client-cert-auth --trusted-ca-file $PKI/ca.crt --cert-file $PKI/server.crt --key-file $PKI/server.key \\
  --peer-client-cert-auth --peer-trusted-ca-file $PKI/ca.crt --peer-cert-file $PKI/peer.crt \\
  --peer-key-file $PKI/peer.key
EOF
# kube-apiserver: the stand-in of the restore tests, serving /readyz over
# TLS (200 once etcd accepts connections) with a certificate of kubeadm's
# names; the restore finds its port, address and CA in this ExecStart=.
. "$TOP_SRCDIR/tests/helpers/k8s-pki.sh"
make_k8s_pki "$T/k8s-pki" || { not_ok "kubernetes certificates"; finish; }
cp "$TOP_SRCDIR/tests/helpers/apiserver-standin.py" "$T/"
cat > "$T/units/kube-apiserver.service" <<'EOF'
[Unit]
Description=kube-apiserver stand-in (/readyz over TLS on 127.0.0.1:6443)
[Service]
# Type=exec: the start job ends once the stand-in runs (Type=simple's ends
# at the fork, before a failure to exec could be seen); restarted on
# failure like a real kube-apiserver unit.
Type=exec
Restart=on-failure
RestartSec=5
# It exits 143 on SIGTERM, so after every stop the unit is "failed": each
# start the restore makes begins from that state, and must be judged by the
# state after its job ended, not the one before.
Environment=STANDIN_TERM_EXIT=143
ExecStart=/usr/bin/python3 /e2e/apiserver-standin.py --secure-port=6443 --bind-address=127.0.0.1 \
  --client-ca-file=/e2e/k8s-pki/ca.crt --tls-cert-file=/e2e/k8s-pki/apiserver.crt \
  --tls-private-key-file=/e2e/k8s-pki/apiserver.key --etcd-servers=https://127.0.0.1:2379
EOF
# The controllers the restore restarts (restore.restart_controllers, the
# default): kube-controller-manager runs, kube-scheduler is loaded but not
# started (left alone).
for u in kube-controller-manager kube-scheduler; do
  printf '[Unit]\nDescription=%s stand-in\n[Service]\nExecStart=/bin/sleep infinity\n' "$u" > "$T/units/$u.service"
done
# A mixed node (etcd a unit, the control plane static pods, as kubespray
# sets nodes up): kubeadm's own manifests of kube-apiserver and the
# controllers, run by the kubelet stand-in as kubelet.service (started only
# for that part of the test), their programs the stand-ins of the restore
# tests as its PATH finds them.
mkdir -p "$T/manifests"
cp "$TOP_SRCDIR"/tests/fixtures/kubeadm/kube-{apiserver,controller-manager,scheduler}.yaml "$T/manifests/"
e2e_kubelet_files
# Sanitizer builds: the same options the unit test drivers use, as a drop-in.
if [[ $SANITIZE != none ]]; then
  mkdir -p "$T/units/etcd-backupd-restore@.service.d"
  echo -e '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1' \
    > "$T/units/etcd-backupd-restore@.service.d/sanitizer.conf"
fi
printf '# etcd settings\nETCD_NAME="default"\n' > "$T/etcd.env"
# A loaded etcd unit that names no data dir (never started).
printf '[Service]\nExecStart=/usr/bin/etcd --name nodata\n' > "$T/units/e2e-nodatadir.service"
for v in good bad; do
  cluster="default=https://127.0.0.1:2380"
  [[ $v == bad ]] && cluster+=",ghost=https://127.0.0.1:2390"
  cat > "$T/$v.conf" <<EOF
etcd: { endpoints = ["https://127.0.0.1:2379"]; cacert = "$PKI/ca.crt";
        cert = "$PKI/healthcheck-client.crt"; key = "$PKI/healthcheck-client.key"; connect_timeout = "2s"; };
storage: { directory = "/var/lib/etcd-backupd"; compression = "zstd"; level = 1; min_free = "1M"; };
restore: { mode = "auto"; data_dir = "/var/lib/etcd"; manifests_dir = "/etc/kubernetes/manifests";
           etcd_unit = "e2e-etcd.service"; apiserver_unit = "kube-apiserver.service";
           name = "default"; initial_cluster = "$cluster"; initial_cluster_token = "e2e";
           initial_advertise_peer_urls = "https://127.0.0.1:2380"; health_timeout = "$([[ $v == bad ]] && echo 20s || echo 60s)";
           confirm_timeout = "3s"; };
EOF
done

# ---- boot ----
e2e_boot --bind="$D$PREFIX:$PREFIX"
ok "container booted"

readyz() { [[ $(ct curl -sS --max-time 5 --cacert /e2e/k8s-pki/ca.crt --resolve kubernetes:6443:127.0.0.1 \
             https://kubernetes:6443/readyz 2>&1) == ok ]]; }
ectl() { ct etcdctl --endpoints https://127.0.0.1:2379 --cacert $PKI/ca.crt --cert $PKI/healthcheck-client.crt \
           --key $PKI/healthcheck-client.key "$@"; }

state=$(e2e_booted)
check "container: systemd is up ($state)" test "$state" = running -o "$state" = degraded
ct mkdir -p /run/systemd/system
use_conf() { ct install -D -m 0600 "/e2e/$1.conf" "$CONF"; }
ct sh -c "cp -r /e2e/units/* /run/systemd/system/ &&
  cp /e2e/dest${RSOCKET#"$D"} /e2e/dest${RUNIT#"$D"} /etc/systemd/system/ && systemctl daemon-reload"
use_conf good
ct systemctl start e2e-etcd.service kube-apiserver.service kube-controller-manager.service \
  etcd-backupd-restore.socket >> "$T/ct.log" 2>&1
check "etcd and the kube-apiserver stand-in run as units" wait_until 30 active e2e-etcd.service
check "kube-apiserver.service active" active kube-apiserver.service

for i in $(seq 1 10); do ectl put "/before/k$i" "v$i" >/dev/null; done
backup=$(ct "$ETCD_BACKUPD" --once -c "$CONF" 2>>"$T/ct.log")
check "--once made a backup" test -n "$backup"
for i in $(seq 1 5); do ectl put "/after/k$i" "late" >/dev/null; done
pid_before=$(ct systemctl show -P MainPID e2e-etcd.service)
kcm_before=$(ct systemctl show -P MainPID kube-controller-manager.service)
check "kube-controller-manager.service active" test "$kcm_before" -gt 0

out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1)
check "dry run: mode auto picked systemd (the unit is loaded over D-Bus)" grep -q "Mode: *systemd" <<<"$out"
check "dry run: kube-apiserver judged by its /readyz, where its unit's ExecStart= says it serves" \
  grep -qF "https://127.0.0.1:6443/readyz answers 200, verified with /e2e/k8s-pki/ca.crt (kube-apiserver.service: ExecStart= --client-ca-file)" <<<"$out"
check "dry run: etcd untouched (same MainPID)" test "$pid_before" = "$(ct systemctl show -P MainPID e2e-etcd.service)"
# A backup copied to /tmp, which the restore service (PrivateTmp=yes) does not see: said why.
ct cp "$backup" /tmp/copied.db.zst
out=$(ct "$ETCD_BACKUPCTL" restore /tmp/copied.db.zst --dry-run 2>&1); rc=$?
check "a backup in /tmp: refused (exit $rc), saying the service has a /tmp of its own" \
  eval 'test $rc -eq 1 && grep -qF "no backup /tmp/copied.db.zst: No such file or directory here (the restore service has a /tmp and /var/tmp of its own, PrivateTmp=yes" <<<"$out"'
ct rm -f /tmp/copied.db.zst

data_before=$(ct sh -c 'cd /var/lib/etcd && find . -printf "%p %y %s\n" | sort')
# A plan nobody confirms: the service gives up after confirm_timeout (3 s),
# nothing changed. Meanwhile a dry run connects: the socket gives it a
# service of its own (MaxConnections=4), which waits for the first one's
# lock and then plans (systemd dropped it without a word at 1).
t0=$SECONDS
ct sh -c 'echo "{\"method\":\"Restore\",\"backup\":\"latest\"}" | socat -t1 -,ignoreeof UNIX-CONNECT:/run/etcd-backupd/restore.sock' \
  > "$T/unconfirmed.out" 2>&1 &
UNCONFIRMED=$!
check "unconfirmed plan: its plan arrived (its service holds the restore's lock)" \
  wait_until 20 grep -q '"plan"' "$T/unconfirmed.out"
second=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1); rc=$?
check "a dry run while that plan waits: served after it (exit $rc), not dropped" \
  test $rc -eq 0 -a -n "$(grep -E "Mode: *systemd" <<<"$second")" -a -z "$(grep -F "without a result" <<<"$second")"
wait "$UNCONFIRMED"
out=$(cat "$T/unconfirmed.out")
check "unconfirmed plan: the plan is sent" grep -q '"plan"' <<<"$out"
check "unconfirmed plan: not_confirmed after confirm_timeout (3 s)" \
  grep -q '"error":"not_confirmed","message":"no confirmation within restore.confirm_timeout (3 s)"' <<<"$out"
check "unconfirmed plan: ended within $((20 * ${TIME_SCALE:-1})) s ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -lt $((20 * ${TIME_SCALE:-1}))
check "unconfirmed plan: etcd untouched (same MainPID)" test "$pid_before" = "$(ct systemctl show -P MainPID e2e-etcd.service)"
check "unconfirmed plan: data dir listing unchanged" \
  test "$data_before" = "$(ct sh -c 'cd /var/lib/etcd && find . -printf "%p %y %s\n" | sort')"

# The restore's start of etcd fails once and systemd's Restart= starts it
# again: the restore waits through the auto-restart instead of rolling back.
restarts_before=$(ct systemctl show -P NRestarts e2e-etcd.service)
ct touch /run/e2e-etcd-fail-once
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "restore: exit 0" test $rc -eq 0
check "restore: etcd's failed first start was restarted by systemd and waited through (NRestarts $restarts_before -> 1 more)" \
  test "$(ct systemctl show -P NRestarts e2e-etcd.service)" = $((restarts_before + 1))
check "restore: the failed first start happened (its ExecStartPre= line in the journal)" \
  ct sh -c 'journalctl -q -u e2e-etcd.service | grep -q "this start fails once"'
check "restore: etcd unit active again" active e2e-etcd.service
check "restore: kube-apiserver unit active again" active kube-apiserver.service
check "restore: kube-apiserver's /readyz answers ok when the restore returns" readyz
check "restore: kube-controller-manager restarted (active, new MainPID)" \
  eval 'active kube-controller-manager.service && test "$kcm_before" != "$(ct systemctl show -P MainPID kube-controller-manager.service)"'
check "restore: kube-scheduler, not running before, left alone" \
  test "$(ct systemctl show -P ActiveState kube-scheduler.service)" = inactive
check "restore: etcd restarted (new MainPID)" test "$pid_before" != "$(ct systemctl show -P MainPID e2e-etcd.service)"
check "restore: later writes gone" test -z "$(ectl get /after/ --prefix --keys-only)"
check "restore: backed-up keys back" test "$(ectl get /before/k1 --print-value-only)" = v1
check "restore: old data dir kept" ct sh -c 'test -d /var/lib/etcd.pre-restore-*/member'
check "journal: restore started, with the revision its catalog entry names" \
  ct sh -c 'journalctl --sync; journalctl -q -o verbose MESSAGE_ID=017db7d7f98c434cb59d0ec5f2d54a05 | grep -q "^    ETCD_REVISION=[0-9]"'
check "journal: restore finished" ct sh -c 'journalctl --sync; journalctl -q MESSAGE_ID=4d355615b1504ddcbb94373e3965e3b6 | grep -q .'

# Both controllers running: the restore restarts them together, both stop
# jobs done before either start job is queued, so in their journal both
# "Stopped" lines come before either "Started" line (one after the other,
# one would be started before the other is stopped).
ct systemctl start kube-scheduler.service
kcm_before=$(ct systemctl show -P MainPID kube-controller-manager.service)
sch_before=$(ct systemctl show -P MainPID kube-scheduler.service)
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
check "both controllers: restore exit 0" test $rc -eq 0
check "both controllers: each restarted (active, new MainPIDs)" \
  eval 'active kube-controller-manager.service && active kube-scheduler.service &&
        test "$kcm_before" != "$(ct systemctl show -P MainPID kube-controller-manager.service)" &&
        test "$sch_before" != "$(ct systemctl show -P MainPID kube-scheduler.service)"'
controllers_order() {
  ct journalctl --sync && ct journalctl -q -o cat -u kube-controller-manager.service -u kube-scheduler.service |
    grep -E '^(Stopped|Started) kube-(controller-manager|scheduler)' | tail -4 | awk '{ printf "%s ", $1 }'
}
order=$(controllers_order)
check "both controllers: restarted together (both stopped, then both started: $order)" \
  test "$order" = "Stopped Stopped Started Started "
ct systemctl stop kube-scheduler.service

# What the unit runs etcd with (ExecStart=, EnvironmentFile=, over D-Bus)
# against the configuration: disagreements refused before anything stops.
refused_e2e() { # DESCRIPTION PATTERN CONF-SED
  local out rc pid
  pid=$(ct systemctl show -P MainPID e2e-etcd.service)
  sed "$3" "$T/good.conf" > "$T/case.conf"; use_conf case
  out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
  check "$1: exit 1" test $rc -eq 1
  if grep -qF -- "$2" <<<"$out"; then ok "$1: names both values and sources"; else not_ok "$1: says '$2' (got: $out)"; fi
  check "$1: etcd untouched (same MainPID)" test "$pid" = "$(ct systemctl show -P MainPID e2e-etcd.service)"
}
refused_e2e "restore.data_dir not the unit's --data-dir" \
  'restore.data_dir = "/var/lib/etcd-other" ('"$CONF"') disagrees with what etcd runs with: "/var/lib/etcd" (e2e-etcd.service: ExecStart= --data-dir)' \
  's|data_dir = "/var/lib/etcd"|data_dir = "/var/lib/etcd-other"|'
refused_e2e "restore.name not the unit's EnvironmentFile= ETCD_NAME" \
  'restore.name = "other" ('"$CONF"') disagrees with what etcd runs with: "default" (e2e-etcd.service: environment ETCD_NAME)' \
  's|name = "default"|name = "other"|'
refused_e2e "an etcd unit without a data dir" \
  'e2e-nodatadir.service: etcd runs without a data dir (no --data-dir in ExecStart=, no ETCD_DATA_DIR in its environment)' \
  's|data_dir = "/var/lib/etcd";||; s|etcd_unit = "e2e-etcd.service"|etcd_unit = "e2e-nodatadir.service"|; s|mode = "auto"|mode = "systemd"|'

ectl put /keep/k1 "after the first restore" >/dev/null
use_conf bad
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "failed restore: exit 1" test $rc -eq 1
check "failed restore: rolled back" grep -q "rolled back" <<<"$out"
check "failed restore: etcd proven back on the old data (its MainPID holds the db's inode open)" \
  grep -qE "etcd is healthy on the old data at revision [0-9]+ \(pid $(ct systemctl show -P MainPID e2e-etcd.service) holds /var/lib/etcd/member/snap/db inode $(ct stat -c %i /var/lib/etcd/member/snap/db) open\)" <<<"$out"
check "failed restore: the error names etcd's state and its last journal lines" \
  grep -q 'e2e-etcd.service is still activating after the start timeout (20 s) (sub-state start; see journalctl -u e2e-etcd.service; its last lines: "' <<<"$out"
# The rollback returns once both start jobs have ended with the units
# active: read at once, no settling time.
check "failed restore: etcd unit active" active e2e-etcd.service
if active kube-apiserver.service; then ok "failed restore: kube-apiserver unit active"
else not_ok "failed restore: kube-apiserver unit active ($(ct systemctl show -P ActiveState kube-apiserver.service)/$(ct systemctl show -P SubState kube-apiserver.service), result $(ct systemctl show -P Result kube-apiserver.service))"; fi
check "failed restore: kube-apiserver's /readyz answers ok when the restore returns" readyz
check "failed restore: data as it was" test "$(ectl get /keep/k1 --print-value-only)" = "after the first restore"
check "failed restore: failed restore kept" ct sh -c 'test -d /var/lib/etcd.failed-restore-*/member'
check "journal: restore failed" ct sh -c 'journalctl --sync; journalctl -q MESSAGE_ID=f7d5be1d166a4c44ae83864fd04d74ba | grep -q .'

# A controller whose stop systemd refuses (RefuseManualStop=yes on
# kube-scheduler): the restart step fails naming the unit and systemd's
# refusal, kube-controller-manager is started again all the same,
# kube-scheduler keeps running, and the restore rolls back to the data as
# it was, with etcd and kube-apiserver up.
use_conf good
ct systemctl start kube-scheduler.service
ct mkdir -p /run/systemd/system/kube-scheduler.service.d
ct sh -c 'printf "[Unit]\nRefuseManualStop=yes\n" > /run/systemd/system/kube-scheduler.service.d/refuse-stop.conf &&
  systemctl daemon-reload'
ectl put /refused/k1 "before the refused stop" >/dev/null
# shellcheck disable=SC2034 # read in the eval below
sch_before=$(ct systemctl show -P MainPID kube-scheduler.service)
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "refused stop: exit 1" test $rc -eq 1
check "refused stop: the restart step fails naming kube-scheduler.service and the refusal" \
  grep -q 'restart controllers: cannot restart kube-controller-manager.service and kube-scheduler.service: StopUnit kube-scheduler.service: .*refuse' <<<"$out"
check "refused stop: rolled back" grep -q "rolled back" <<<"$out"
check "refused stop: data as it was" test "$(ectl get /refused/k1 --print-value-only)" = "before the refused stop"
check "refused stop: kube-controller-manager active" active kube-controller-manager.service
check "refused stop: kube-scheduler still runs (same MainPID)" \
  eval 'active kube-scheduler.service && test "$sch_before" = "$(ct systemctl show -P MainPID kube-scheduler.service)"'
check "refused stop: etcd unit active" active e2e-etcd.service
check "refused stop: kube-apiserver's /readyz answers ok when the restore returns" readyz
check "refused stop: this failed restore kept too" \
  test "$(ct sh -c 'ls -d /var/lib/etcd.failed-restore-*/member | wc -l')" -eq 2
ct sh -c 'rm -r /run/systemd/system/kube-scheduler.service.d && systemctl daemon-reload && systemctl stop kube-scheduler.service'

# A controller whose start systemd refuses (RefuseManualStart=yes on
# kube-controller-manager, set while it runs): the restart step fails
# naming it, kube-scheduler, asked after it, is started all the same, and
# the rollback starts it again and says which one stays stopped instead of
# "everything is as it was".
ct systemctl start kube-scheduler.service
ct mkdir -p /run/systemd/system/kube-controller-manager.service.d
ct sh -c 'printf "[Unit]\nRefuseManualStart=yes\n" > /run/systemd/system/kube-controller-manager.service.d/refuse-start.conf &&
  systemctl daemon-reload'
ectl put /refused/k2 "before the refused start" >/dev/null
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "refused start: exit 3 (the rollback incomplete)" test $rc -eq 3
check "refused start: the restart step fails naming kube-controller-manager.service and the refusal" \
  grep -q 'restart controllers: cannot restart kube-controller-manager.service and kube-scheduler.service: StartUnit kube-controller-manager.service: .*refuse' <<<"$out"
check "refused start: kube-scheduler, asked after it, started all the same (by the step, not the rollback)" \
  eval 'active kube-scheduler.service && test -z "$(grep "rollback: starting kube-scheduler.service" <<<"$out")"'
check "refused start: the rollback says kube-controller-manager stays stopped, and why" \
  grep -q 'kube-controller-manager.service was active before the restore and cannot be started again: StartUnit kube-controller-manager.service: .*refuse' <<<"$out"
check "refused start: not \"everything is as it was\"" test -z "$(grep 'everything is as it was' <<<"$out")"
check "refused start: data as it was" test "$(ectl get /refused/k2 --print-value-only)" = "before the refused start"
check "refused start: the restore's record kept for the operator (the rollback is incomplete)" \
  ct sh -c 'test -f /var/lib/etcd.unfinished-restore-*'
ct sh -c 'rm -r /run/systemd/system/kube-controller-manager.service.d && systemctl daemon-reload &&
  systemctl start kube-controller-manager.service && systemctl stop kube-scheduler.service &&
  rm /var/lib/etcd.unfinished-restore-*'

# No data dir left by the rollback: on a file system that cannot exchange
# (every RENAME_EXCHANGE fails with EINVAL, as on CIFS), the swap renames;
# the restore fails at its last step (kube-controller-manager refuses to
# start), and the rollback's rename of the old data back to the data dir's
# name fails (EIO): a preload (tests/helpers/fail-renames.c) in a drop-in
# of the shipped restore unit. The rollback says where the old data is and
# starts none of etcd's, kube-apiserver's and kube-controller-manager's
# units: etcd would make an empty new cluster there, and a unit that
# requires etcd's would start it.
cp "${FAIL_RENAMES:?}" "$T/fail-renames.so"
ct sh -c 'mkdir -p /run/systemd/system/kube-controller-manager.service.d /run/systemd/system/etcd-backupd-restore@.service.d &&
  printf "[Unit]\nRefuseManualStart=yes\n" > /run/systemd/system/kube-controller-manager.service.d/refuse-start.conf &&
  printf "[Service]\nEnvironment=LD_PRELOAD=/e2e/fail-renames.so FAIL_EXCHANGE_EINVAL=1 FAIL_RENAME_TO==etcd FAIL_RENAME_AFTER=1 ASAN_OPTIONS=detect_leaks=0:abort_on_error=1:verify_asan_link_order=0\n" \
    > /run/systemd/system/etcd-backupd-restore@.service.d/test-fail-renames.conf && systemctl daemon-reload'
old_ino=$(ct stat -c %i /var/lib/etcd)
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
pre=$(ct find /var/lib -maxdepth 1 -inum "$old_ino")
check "no data dir left: exit 3 (the rollback incomplete), no /var/lib/etcd, the old data (inode $old_ino) at ${pre:-nowhere}" \
  eval 'test $rc -eq 3 && ! ct test -e /var/lib/etcd && [[ $pre == /var/lib/etcd.pre-restore-* ]]'
check "no data dir left: the rollback says where the old data and the restored data are" \
  eval 'grep -qF "cannot put $pre back in place of /var/lib/etcd (set aside as ${pre/pre-restore/failed-restore}): Input/output error" <<<"$out" &&
        ct test -f "${pre/pre-restore/failed-restore}/member/snap/db"'
check "no data dir left: etcd, kube-apiserver and kube-controller-manager not started again, each said" \
  eval 'grep -qF "etcd is not started again: /var/lib/etcd does not exist (etcd would make an empty one, a new cluster); its unit stays stopped" <<<"$out" &&
        grep -qF "kube-apiserver is not started again either: etcd is not running; its unit stays stopped" <<<"$out" &&
        grep -qF "kube-controller-manager.service is not started again either: /var/lib/etcd does not exist" <<<"$out"'
check "no data dir left: their units inactive" \
  eval '! active e2e-etcd.service && ! active kube-apiserver.service && ! active kube-controller-manager.service'
# The operator's part: the old data back, the restored data and the record
# out of the way, the units started.
ct sh -c "rm -r /run/systemd/system/kube-controller-manager.service.d /run/systemd/system/etcd-backupd-restore@.service.d/test-fail-renames.conf &&
  systemctl daemon-reload && mv $pre /var/lib/etcd && rm -r /var/lib/etcd.unfinished-restore-* &&
  systemctl start e2e-etcd.service kube-apiserver.service kube-controller-manager.service" >> "$T/ct.log" 2>&1
check "no data dir left: put right by hand, etcd and /readyz back" wait_until 30 readyz

# A restore killed half-way (SIGKILL to the service's main process, as by
# the OOM killer) while etcd's tool runs (made slow: it waits 120 s first):
# the tool goes with it, both units stay stopped, and only the restore's
# record says so. The next restore is refused, quoting it, until the
# operator has started the units again and removed it.
printf '%s\n' '#!/bin/sh' 'echo $$ > /run/e2e-tool.pid' 'sleep 120' 'exec /usr/bin/etcdctl "$@"' > "$T/etcdctl-slow"
chmod 0755 "$T/etcdctl-slow"
sed 's|^restore: {|restore: { etcdutl = "/e2e/etcdctl-slow";|' "$T/good.conf" > "$T/slow.conf"
use_conf slow
ct sh -c 'rm -f /run/e2e-tool.pid'
ct "$ETCD_BACKUPCTL" restore latest --yes > "$T/killed.out" 2>&1 &
KILLED_CLIENT=$!
check "killed restore: etcd's tool started" wait_until 60 ct test -s /run/e2e-tool.pid
ct systemctl kill --kill-who=main --signal=SIGKILL 'etcd-backupd-restore@*.service' >> "$T/ct.log" 2>&1
wait "$KILLED_CLIENT"
check "killed restore: etcd's tool ended with the service" \
  wait_until 10 eval '! ct sh -c "kill -0 \$(cat /run/e2e-tool.pid)" 2>/dev/null'
check "killed restore: etcd and kube-apiserver left stopped" \
  eval '! active e2e-etcd.service && ! active kube-apiserver.service'
record=$(ct sh -c 'ls -d /var/lib/etcd.unfinished-restore-*' 2>/dev/null)
check "killed restore: its record names the units it stops" \
  ct grep -qF "it stops kube-apiserver.service and e2e-etcd.service while it runs" "$record"
check "killed restore: its record names the controllers' units, which its last step stops" \
  ct grep -qxF "last it stops kube-controller-manager.service and kube-scheduler.service (those active) and starts them again" "$record"
use_conf good
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "after a killed restore: the next is refused (exit $rc), quoting the record" \
  test $rc -eq 1 -a -n "$(grep -F "an earlier restore did not finish ($record: started at " <<<"$out" | grep -F "kube-apiserver.service and e2e-etcd.service")"
check "after a killed restore: nothing was changed (the units still stopped)" \
  eval 'grep -q "nothing was changed" <<<"$out" && ! active e2e-etcd.service'
ct systemctl start e2e-etcd.service kube-apiserver.service >> "$T/ct.log" 2>&1
ct rm "$record"
# The data dir's db replaced under the running etcd (a copy renamed over
# it): etcd holds a db no longer linked, which is what a wiped or damaged
# data dir looks like, and what restores are for. The plan goes on.
ct sh -c 'cp /var/lib/etcd/member/snap/db /var/lib/etcd/member/snap/db.copy &&
          mv /var/lib/etcd/member/snap/db.copy /var/lib/etcd/member/snap/db'
epid=$(ct systemctl show -P MainPID e2e-etcd.service)
check "db replaced under a running etcd: etcd holds one no longer linked" \
  eval 'ct ls -l /proc/$epid/fd | grep -F "/var/lib/etcd/member/snap/db (deleted)" >/dev/null'
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "units started, record removed, db replaced under etcd: the restore runs again (exit $rc)" test $rc -eq 0
check "units started, record removed: both units active" eval 'active e2e-etcd.service && active kube-apiserver.service'

# A mixed node: etcd a unit, kube-apiserver and the controllers static pods
# (their units not running, their manifests in manifests_dir). The restore
# stops and starts kube-apiserver as a pod (its manifest moved out and
# back), restarts the controllers' pods, and starts no unit of theirs; a
# failed one rolls the pods back the same way.
pod_pid() { cat "$T/kubelet/pids/$1" 2>/dev/null; }
new_pid() { local p; p=$(pod_pid "$1"); [[ -n $p && $p != "$2" ]]; }
controllers_serve() { ct curl -sk -o /dev/null --max-time 2 https://127.0.0.1:10257/ && ct curl -sk -o /dev/null --max-time 2 https://127.0.0.1:10259/; }
manifests_listing() { ct sh -c 'cd /etc/kubernetes/manifests && ls'; }
no_held_dir() { ct sh -c '! ls -d /etc/kubernetes/etcd-backupd-held-* >/dev/null 2>&1'; }
ct systemctl stop kube-apiserver.service kube-controller-manager.service >> "$T/ct.log" 2>&1
ct sh -ec 'mkdir -p /etc/kubernetes/manifests /etc/kubernetes/pki
  cp /e2e/k8s-pki/ca.crt /e2e/k8s-pki/apiserver.crt /e2e/k8s-pki/apiserver.key /etc/kubernetes/pki/
  chmod 0600 /etc/kubernetes/pki/apiserver.key
  install -m 0600 /e2e/manifests/*.yaml /etc/kubernetes/manifests/
  systemctl start kubelet.service' >> "$T/ct.log" 2>&1
check "mixed: kube-apiserver runs as a static pod and answers /readyz" wait_until 60 readyz
check "mixed: the controllers' pods serve" wait_until 30 controllers_serve
check "mixed: kube-apiserver.service not running" eval '! active kube-apiserver.service'
api_before=$(pod_pid kube-apiserver) kcm_before=$(pod_pid kube-controller-manager) sch_before=$(pod_pid kube-scheduler)
epid=$(ct systemctl show -P MainPID e2e-etcd.service)
manifests_before=$(manifests_listing)
ectl put /mixed/k1 late >/dev/null
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1)
check "mixed: the plan says how each part runs" grep -qE \
  "Mode: *systemd \(no /etc/kubernetes/manifests/etcd.yaml; e2e-etcd.service is a loaded systemd unit; kube-apiserver and the controllers are static pods: kube-apiserver.service is not running \(ActiveState=(inactive|failed)\), and /etc/kubernetes/manifests/kube-apiserver.yaml is there, its pod answering at 127.0.0.1 port 6443\)" <<<"$out"
check "mixed: the plan stops kube-apiserver by its manifest and judges it by its port" grep -qF \
  "move /etc/kubernetes/manifests/kube-apiserver.yaml to /etc/kubernetes/etcd-backupd-held-" <<<"$out"
check "mixed: the plan restarts the controllers' pods" grep -qF \
  "restart controllers: move kube-controller-manager.yaml and kube-scheduler.yaml (those present) out of /etc/kubernetes/manifests" <<<"$out"
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "mixed: restore exit 0" test $rc -eq 0
check "mixed: kube-apiserver's pod was stopped (its manifest moved out, its port closed)" \
  grep -qE "stop kube-apiserver: kube-apiserver.yaml moved to /etc/kubernetes/etcd-backupd-held-[0-9TZ-]+; 127.0.0.1 port 6443 closed" <<<"$out"
check "mixed: kube-apiserver is a new pod (pid $api_before before)" new_pid kube-apiserver "$api_before"
check "mixed: kube-apiserver's /readyz answers ok when the restore returns" readyz
check "mixed: the controllers' pods restarted" \
  eval 'new_pid kube-controller-manager "$kcm_before" && new_pid kube-scheduler "$sch_before"'
check "mixed: no unit of the control plane started" \
  eval '! active kube-apiserver.service && ! active kube-controller-manager.service && ! active kube-scheduler.service'
check "mixed: etcd restarted (new MainPID)" test "$epid" != "$(ct systemctl show -P MainPID e2e-etcd.service)"
check "mixed: the later write is gone" test -z "$(ectl get /mixed/ --prefix --keys-only)"
check "mixed: every manifest back, no holding dir left" \
  eval 'test "$manifests_before" = "$(manifests_listing)" && no_held_dir'
ectl put /mixed/k2 "before the failed restore" >/dev/null
api_before=$(pod_pid kube-apiserver)
use_conf bad
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "mixed, failed restore: exit 1, rolled back" eval 'test $rc -eq 1 && grep -q "rolled back: everything is as it was" <<<"$out"'
check "mixed, failed restore: kube-apiserver's pod stopped and back (new pid, /readyz ok)" \
  eval 'new_pid kube-apiserver "$api_before" && readyz'
check "mixed, failed restore: data as it was" test "$(ectl get /mixed/k2 --print-value-only)" = "before the failed restore"
check "mixed, failed restore: every manifest back, no holding dir left" \
  eval 'test "$manifests_before" = "$(manifests_listing)" && no_held_dir'
# Killed while etcd's tool runs (as above): kube-apiserver's manifest is
# left held and etcd's unit stopped. The next restore names the held
# manifest and says etcd's is not among them, that its unit may be
# stopped, and leaves the record for the attempt after, which quotes it.
use_conf slow
ct sh -c 'rm -f /run/e2e-tool.pid'
ct "$ETCD_BACKUPCTL" restore latest --yes > "$T/killed-mixed.out" 2>&1 &
KILLED_CLIENT=$!
check "mixed, killed restore: etcd's tool started" wait_until 60 ct test -s /run/e2e-tool.pid
record=$(ct sh -c 'ls -d /var/lib/etcd.unfinished-restore-*' 2>/dev/null)
held=$(ct sh -c 'ls -d /etc/kubernetes/etcd-backupd-held-*' 2>/dev/null)
check "mixed, killed restore: its record names the manifest it moves and the unit it stops" \
  ct grep -qF "before it: kube-apiserver ran (a static pod), e2e-etcd.service active; it moves kube-apiserver.yaml to $held and stops e2e-etcd.service while it runs" "$record"
check "mixed, killed restore: its record names the controllers' manifests" \
  ct grep -qxF "last it moves kube-controller-manager.yaml and kube-scheduler.yaml (those present) to $held and back" "$record"
ct systemctl kill --kill-who=main --signal=SIGKILL 'etcd-backupd-restore@*.service' >> "$T/ct.log" 2>&1
wait "$KILLED_CLIENT"
check "mixed, killed restore: etcd's tool ended with the service" \
  wait_until 10 eval '! ct sh -c "kill -0 \$(cat /run/e2e-tool.pid)" 2>/dev/null'
check "mixed, killed restore: kube-apiserver's manifest held, etcd's unit stopped" \
  eval 'ct test -f "$held/kube-apiserver.yaml" && ! active e2e-etcd.service'
use_conf good
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "mixed, after a killed restore: refused (exit $rc), naming the held manifest and etcd's unit" \
  eval 'test $rc -eq 1 && grep -qF "an earlier restore did not finish: it left $held/kube-apiserver.yaml, moved out of /etc/kubernetes/manifests" <<<"$out" &&
        grep -qF "etcd.yaml is not among them: it went back, or etcd runs as a systemd unit (e2e-etcd.service), which the restore may have left stopped" <<<"$out" &&
        grep -qF "remove the empty holding directory, and restore again (the record is quoted then, with where the old data is)" <<<"$out"'
ct sh -c "mv $held/kube-apiserver.yaml /etc/kubernetes/manifests/ && rmdir $held"
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "mixed, after a killed restore: the next refusal quotes the record, naming the stopped unit" \
  eval 'test $rc -eq 1 && grep -qF "an earlier restore did not finish ($record: started at " <<<"$out" &&
        grep -qF "stops e2e-etcd.service while it runs" <<<"$out"'
ct systemctl start e2e-etcd.service >> "$T/ct.log" 2>&1
ct rm "$record"
check "mixed, after a killed restore: etcd and kube-apiserver's pod back" wait_until 30 eval 'readyz && active e2e-etcd.service'
# A kube-apiserver pod that runs but does not serve (hung, or
# crash-looping): left alone, its manifest never moved, while the
# controllers' pods are restarted.
# The kubelet stand-in stops the old pod (waiting for its exit) before it
# starts the new one: a new pod, and nothing on the port (a TCP connect).
port_closed() { ! ct python3 -c 'import socket; socket.create_connection(("127.0.0.1", 6443), 2)' 2>/dev/null; }
check "hung kube-apiserver: before, its port takes connections" eval '! port_closed'
api_before=$(pod_pid kube-apiserver)
ct sh -c "sed 's|^    - kube-apiserver\$|    - /bin/sh\n    - -c\n    - exec sleep 3600\n    - kube-apiserver|' /e2e/manifests/kube-apiserver.yaml > /etc/kubernetes/kube-apiserver.hung &&
  chmod 0600 /etc/kubernetes/kube-apiserver.hung && mv /etc/kubernetes/kube-apiserver.hung /etc/kubernetes/manifests/kube-apiserver.yaml"
check "hung kube-apiserver: a new pod, which does not serve" \
  wait_until 30 eval 'new_pid kube-apiserver "$api_before" && port_closed'
api_hung=$(pod_pid kube-apiserver)
kcm_before=$(pod_pid kube-controller-manager) sch_before=$(pod_pid kube-scheduler)
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "hung kube-apiserver: restore exit 0" test $rc -eq 0
check "hung kube-apiserver: the plan leaves it alone, as the kubelet runs" grep -qE \
  "kube-apiserver and the controllers are static pods: kube-apiserver.service is not running \(ActiveState=(inactive|failed)\), and /etc/kubernetes/manifests/kube-apiserver.yaml is there, but nothing answers at 127.0.0.1 port 6443 \(kubelet.service runs: kube-apiserver is left alone\)" <<<"$out"
check "hung kube-apiserver: its manifest never moved, its pod the same" \
  eval 'grep -qF "stop kube-apiserver: kube-apiserver.yaml is in /etc/kubernetes/manifests but its pod does not answer: nothing to stop" <<<"$out" &&
        ! grep -q "kube-apiserver.yaml moved" <<<"$out" && test "$(pod_pid kube-apiserver)" = "$api_hung"'
check "hung kube-apiserver: the controllers' pods restarted" \
  eval 'new_pid kube-controller-manager "$kcm_before" && new_pid kube-scheduler "$sch_before"'
ct install -m 0600 /e2e/manifests/kube-apiserver.yaml /etc/kubernetes/manifests/kube-apiserver.yaml
check "hung kube-apiserver: served again from kubeadm's manifest" wait_until 30 readyz
# Its manifest left behind with no kubelet to run it: nothing answers on
# its port, and the restore leaves kube-apiserver alone rather than wait
# for a /readyz that would never come; the controllers stay units.
ct systemctl stop kubelet.service >> "$T/ct.log" 2>&1
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1)
check "a manifest no kubelet runs: the plan says so and leaves kube-apiserver alone" grep -qE \
  "kube-apiserver.service is not running \(ActiveState=(inactive|failed)\), and /etc/kubernetes/manifests/kube-apiserver.yaml is there, but nothing answers at 127.0.0.1 port 6443 and kubelet.service does not run: a manifest left behind, kube-apiserver is left alone\)" <<<"$out"
check "a manifest no kubelet runs: nothing to stop" \
  grep -qF "stop kube-apiserver: kube-apiserver.service is not running: nothing to stop" <<<"$out"
check "a manifest no kubelet runs: the controllers are their units" grep -qF \
  "restart controllers: stop kube-controller-manager.service and kube-scheduler.service (those loaded and active)" <<<"$out"
# A running unit wins over a manifest.
ct systemctl start kube-apiserver.service >> "$T/ct.log" 2>&1
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1)
check "a running kube-apiserver.service wins over its manifest" \
  eval 'grep -qF "stop kube-apiserver: systemctl stop kube-apiserver.service" <<<"$out" && ! grep -q "static pods" <<<"$out"'
ct sh -c 'rm /etc/kubernetes/manifests/*.yaml &&
  systemctl start kube-apiserver.service kube-controller-manager.service' >> "$T/ct.log" 2>&1
check "mixed: the units of the control plane back for what follows" \
  wait_until 30 eval 'active kube-apiserver.service && readyz'

# The WAL on a disk of its own, bound into the data dir by etcd's unit
# (BindPaths=): the host's mount table has nothing there. The restore would
# swap the data dir, and etcd's next start would bind the old WAL over the
# restored one: the plan refuses, naming the unit's bind, whether etcd runs
# or not; and, the line taken out but etcd not restarted, names the mount
# the running etcd has in its own namespace. A directory of the data dir
# bound onto itself (as ReadWritePaths= does) is let be.
use_conf good
etcd_mounts() { ct sh -c 'cat "/proc/$(systemctl show -P MainPID e2e-etcd.service)/mountinfo"' | awk '{print $5}' | grep '^/var/lib/etcd/'; }
ct mkdir -p /run/systemd/system/e2e-etcd.service.d
ct sh -c 'printf "[Service]\nBindPaths=/var/lib/etcd/member\n" > /run/systemd/system/e2e-etcd.service.d/bind.conf &&
  systemctl daemon-reload && systemctl restart e2e-etcd.service' >> "$T/ct.log" 2>&1
check "member bound onto itself: etcd runs, with /var/lib/etcd/member a mount point in its namespace" \
  wait_until 30 eval 'ectl put /bind/k1 one >/dev/null 2>&1 && test "$(etcd_mounts)" = /var/lib/etcd/member'
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "member bound onto itself: the dry run plans (exit $rc)" test $rc -eq 0
ct sh -c 'systemctl stop e2e-etcd.service && cp -a /var/lib/etcd/member/wal /var/lib/etcd-wal &&
  printf "[Service]\nBindPaths=/var/lib/etcd-wal:/var/lib/etcd/member/wal\n" > /run/systemd/system/e2e-etcd.service.d/bind.conf &&
  systemctl daemon-reload && systemctl start e2e-etcd.service' >> "$T/ct.log" 2>&1
check "the WAL bound into the data dir: etcd runs on it, the host has no mount there" \
  wait_until 30 eval 'ectl put /bind/k2 two >/dev/null 2>&1 && test "$(etcd_mounts)" = /var/lib/etcd/member/wal &&
                      ! ct grep -q " /var/lib/etcd/" /proc/self/mountinfo'
unit_bind="e2e-etcd.service binds /var/lib/etcd-wal at /var/lib/etcd/member/wal, inside the data dir /var/lib/etcd (BindPaths= or BindReadOnlyPaths=; systemctl cat e2e-etcd.service): the restore swaps the data dir, and etcd's next start would bind /var/lib/etcd-wal over the restored data with what it holds now; restore such a member by hand, or stop etcd, move what /var/lib/etcd-wal holds into the data dir, drop that line, and start etcd first"
epid=$(ct systemctl show -P MainPID e2e-etcd.service); apid=$(ct systemctl show -P MainPID kube-apiserver.service)
unchanged() { test "$(ct systemctl show -P MainPID e2e-etcd.service)" = "$epid" -a \
                   "$(ct systemctl show -P MainPID kube-apiserver.service)" = "$apid" -a -z "$(grep -E "stop (kube-apiserver|etcd):" <<<"$out")"; }
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "the WAL bound into the data dir: refused (exit $rc), naming the unit's bind and what to do" \
  eval 'test $rc -eq 1 && grep -qF "$unit_bind" <<<"$out"'
check "the WAL bound into the data dir: nothing stopped (etcd and kube-apiserver under the same PIDs), no step ran" unchanged
ct systemctl stop e2e-etcd.service
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1); rc=$?
check "the WAL bound into the data dir, etcd stopped: refused all the same (exit $rc)" \
  eval 'test $rc -eq 1 && grep -qF "$unit_bind" <<<"$out"'
ct systemctl start e2e-etcd.service >> "$T/ct.log" 2>&1
check "the WAL bound into the data dir: etcd started again on it" \
  wait_until 30 eval 'ectl put /bind/k3 three >/dev/null 2>&1 && test "$(etcd_mounts)" = /var/lib/etcd/member/wal'
ct sh -c 'rm /run/systemd/system/e2e-etcd.service.d/bind.conf && systemctl daemon-reload'
epid=$(ct systemctl show -P MainPID e2e-etcd.service)
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "the bind taken out of the unit, etcd not restarted: refused (exit $rc), naming the running etcd's mount" \
  eval 'test $rc -eq 1 && grep -qF "etcd (process $epid) runs with another directory mounted at /var/lib/etcd/member/wal, inside its data dir /var/lib/etcd as it sees it (in its own mount namespace: a unit'"'"'s BindPaths= not yet restarted away, a mount its unit makes, a pod not as its manifest says), not the directory at /var/lib/etcd/member/wal on this node" <<<"$out"'
check "the bind taken out of the unit: nothing stopped, no step ran" unchanged
ct sh -c 'systemctl stop e2e-etcd.service && rm -r /var/lib/etcd/member/wal && mv /var/lib/etcd-wal /var/lib/etcd/member/wal &&
  systemctl start e2e-etcd.service' >> "$T/ct.log" 2>&1
check "the WAL back in the data dir: etcd runs on it with every write" \
  wait_until 30 eval 'test "$(ectl get /bind/k3 --print-value-only 2>/dev/null)" = three'
# Bound at a parent of the data dir: etcd would see another directory at
# the data dir's path (dry runs, the unit reloaded, etcd not restarted).
ct sh -c 'mkdir -p /var/lib/etcd-parent && printf "[Service]\nBindPaths=/var/lib/etcd-parent:/var/lib\n" > /run/systemd/system/e2e-etcd.service.d/bind.conf &&
  systemctl daemon-reload' >> "$T/ct.log" 2>&1
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1); rc=$?
check "another directory bound at /var/lib: refused (exit $rc), naming what etcd would see" \
  eval 'test $rc -eq 1 && grep -qF "e2e-etcd.service binds /var/lib/etcd-parent at /var/lib, which holds the data dir /var/lib/etcd (BindPaths= or BindReadOnlyPaths=; systemctl cat e2e-etcd.service): etcd sees /var/lib/etcd-parent/etcd there, not the directory the restore would swap" <<<"$out"'
ct sh -c 'printf "[Service]\nBindPaths=/var/lib\n" > /run/systemd/system/e2e-etcd.service.d/bind.conf && systemctl daemon-reload' >> "$T/ct.log" 2>&1
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1); rc=$?
check "/var/lib bound onto itself: the dry run plans (exit $rc)" test $rc -eq 0
ct sh -c 'rm /run/systemd/system/e2e-etcd.service.d/bind.conf && rmdir /var/lib/etcd-parent && systemctl daemon-reload' >> "$T/ct.log" 2>&1

# etcd on other data than its unit names: a unit that says one data dir
# (Environment=ETCD_DATA_DIR=/var/lib/etcd, which every settings check
# reads) while etcd really runs on another (env(1) overrides it at exec).
# The restore would swap a directory etcd never reads. Where the data dir
# holds a db and etcd holds another, the plan sees it and refuses before
# anything stops.
use_conf good
ct systemctl stop e2e-etcd.service
ct cp -a /var/lib/etcd /var/lib/etcd-real
ct mkdir -p /run/systemd/system/e2e-etcd.service.d
sed -n '/^ExecStart=/,/[^\\]$/p' "$T/units/e2e-etcd.service" |
  sed 's|^ExecStart=/usr/bin/etcd --data-dir /var/lib/etcd|ExecStart=/usr/bin/env ETCD_DATA_DIR=/var/lib/etcd-real /usr/bin/etcd|' \
  > "$T/elsewhere.exec"
printf '[Service]\nEnvironment=ETCD_DATA_DIR=/var/lib/etcd\nExecStart=\n%s\n' "$(cat "$T/elsewhere.exec")" > "$T/elsewhere.conf"
ct cp /e2e/elsewhere.conf /run/systemd/system/e2e-etcd.service.d/
ct systemctl daemon-reload
ct systemctl start e2e-etcd.service >> "$T/ct.log" 2>&1
check "elsewhere: etcd runs on /var/lib/etcd-real" wait_until 30 eval 'ectl put /elsewhere/k1 late >/dev/null 2>&1'
epid=$(ct systemctl show -P MainPID e2e-etcd.service); apid=$(ct systemctl show -P MainPID kube-apiserver.service)
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "elsewhere: refused (exit $rc)" test $rc -eq 1
dbid() { ct stat -c 'device %Hd:%Ld, inode %i' "$1"; }
check "elsewhere: names the db etcd holds, the unit's data dir and what to do" grep -qF \
  "etcd does not run on the data dir the restore would swap: process $epid, which listens on port 2379 for https://127.0.0.1:2379, holds /var/lib/etcd-real/member/snap/db open (the path as that process sees it; $(dbid /var/lib/etcd-real/member/snap/db)), not /var/lib/etcd/member/snap/db ($(dbid /var/lib/etcd/member/snap/db)) of the data dir /var/lib/etcd (e2e-etcd.service: environment ETCD_DATA_DIR). The restore would swap a directory etcd does not read, and etcd would come back on its old data. Make e2e-etcd.service's ExecStart= and environment name the data dir etcd runs on (systemctl cat e2e-etcd.service); or, if etcd is to run on /var/lib/etcd, restart it so that it does (systemctl restart e2e-etcd.service); then restore again" <<<"$out"
check "elsewhere: nothing stopped (etcd and kube-apiserver under the same PIDs)" \
  test "$(ct systemctl show -P MainPID e2e-etcd.service)" = "$epid" -a "$(ct systemctl show -P MainPID kube-apiserver.service)" = "$apid"
check "elsewhere: no step ran" test -z "$(grep -E "stop (kube-apiserver|etcd):" <<<"$out")"

# Where the plan cannot be sure (the data dir holds no db, only its WAL:
# what a data dir moved away under a running etcd would look like too), the
# restore goes on; the proof after etcd's start sees etcd back on its old
# data, and the rollback puts everything back without claiming the data
# dir's db, which etcd never held.
ct rm /var/lib/etcd/member/snap/db
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "elsewhere, no db in the data dir: exit 1" test $rc -eq 1
check "elsewhere, no db in the data dir: the proof failed, naming the revision" grep -q "check failed: etcd at https://127.0.0.1:2379 answers at revision [0-9]*, not" <<<"$out"
check "elsewhere, no db in the data dir: rolled back" grep -q "rolled back" <<<"$out"
check "elsewhere, no db in the data dir: the rollback does not claim etcd on /var/lib/etcd's db, which it never held" \
  eval 'grep -qE "etcd is healthy on the old data at revision [0-9]+$" <<<"$out" && ! grep -q " holds /var/lib/etcd/member/snap/db inode" <<<"$out"'
check "elsewhere, no db in the data dir: the later write is still there" test "$(ectl get /elsewhere/k1 --print-value-only)" = late
finish
