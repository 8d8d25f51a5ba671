#!/usr/bin/env bash
# tests/e2e/restore-systemd.sh — restore in systemd mode under a real systemd
# (PID 1, journald, D-Bus) in a container: etcd and a kube-apiserver stand-in
# run as units; the restore service runs per connection from a socket unit
# (Accept=yes, the connection as standard input and output), and stops and
# starts those units over D-Bus. Checks: `restore.mode = auto` picks systemd
# (no manifests, etcd's unit loaded); a restore brings back the backed-up
# keys with both units active again and the old data dir kept; the journal
# has the restore MESSAGE_IDs; a restore whose etcd cannot come up
# (initial_cluster names a member that does not exist: etcd never becomes
# ready, the start job times out) rolls back to the old data with both
# units active.
#
#   TOP_SRCDIR=… ETCD_BACKUPD=… ETCD_BACKUPCTL=… bash tests/e2e/restore-systemd.sh
#
# The directories of the two programs are bind-mounted read-only at the same
# paths in the container (plus any in E2E_BIND, space-separated), which boots
# the host's own /usr, so the programs run there as built. Needs root,
# systemd-nspawn, nsenter, socat, etcd, etcdctl, jq, openssl. Bounded by
# TIME_LIMIT seconds (default 240); the container is stopped by the PID of
# the systemd-nspawn process this script started.
# shellcheck disable=SC2016
set -uo pipefail
: "${TOP_SRCDIR:?}" "${ETCD_BACKUPD:?}" "${ETCD_BACKUPCTL:?}"
TIME_LIMIT=${TIME_LIMIT:-240}

PASS=0 FAIL=0
ok() { PASS=$((PASS + 1)); echo "ok - $*"; }
not_ok() { FAIL=$((FAIL + 1)); echo "not ok - $*"; }
check() { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() {
  echo "e2e-restore-systemd: $PASS passed, $FAIL failed ($((SECONDS - T0))s)"
  [[ $FAIL -eq 0 ]]
  exit $?
}
T0=$SECONDS
[[ $(id -u) == 0 ]] || { not_ok "needs root (systemd-nspawn)"; finish; }
for c in systemd-nspawn nsenter socat etcd etcdctl jq openssl; do
  command -v "$c" >/dev/null || { not_ok "needs $c"; finish; }
done

. "$(dirname "$0")/lib.sh"
e2e_setup etcd-backupd-e2e-restore

# ---- what goes into the container (/e2e) ----
"$TOP_SRCDIR/scripts/dev-etcd" --certs "$T" >/dev/null || { not_ok "certificates"; finish; }
mkdir -p "$T/units"
ETCD_BACKUPD=$(realpath "$ETCD_BACKUPD"); ETCD_BACKUPCTL=$(realpath "$ETCD_BACKUPCTL")
BINDS=()
for d in "${ETCD_BACKUPD%/*}" "${ETCD_BACKUPCTL%/*}" ${E2E_BIND:-}; do BINDS+=("--bind-ro=$d:$d"); done
PKI=/e2e/pki/etcd
cat > "$T/units/e2e-etcd.service" <<EOF
[Unit]
Description=etcd with mutual TLS (restore test)
[Service]
Type=notify
ExecStart=/usr/bin/etcd --name default --data-dir /var/lib/etcd \\
  --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \\
  --listen-peer-urls https://127.0.0.1:2380 --initial-advertise-peer-urls https://127.0.0.1:2380 \\
  --initial-cluster default=https://127.0.0.1:2380 --initial-cluster-token e2e \\
  --client-cert-auth --trusted-ca-file $PKI/ca.crt --cert-file $PKI/server.crt --key-file $PKI/server.key \\
  --peer-client-cert-auth --peer-trusted-ca-file $PKI/ca.crt --peer-cert-file $PKI/peer.crt \\
  --peer-key-file $PKI/peer.key
EOF
cat > "$T/units/kube-apiserver.service" <<'EOF'
[Unit]
Description=kube-apiserver stand-in (a TCP listener on 6443)
[Service]
# socat exits 143 on SIGTERM, so after every stop the unit is "failed": each
# start the restore makes begins from that state, and must be judged by the
# state after its job ended, not the one before.
ExecStart=/usr/bin/socat TCP-LISTEN:6443,bind=127.0.0.1,reuseaddr,fork SYSTEM:true
EOF
for v in good bad; do
  cat > "$T/units/e2e-restore-$v.socket" <<EOF
[Socket]
ListenStream=/run/e2e-restore-$v.sock
Accept=yes
SocketMode=0600
EOF
  cat > "$T/units/e2e-restore-$v@.service" <<EOF
[Service]
ExecStart=$ETCD_BACKUPD --serve-restore -c /e2e/$v.conf
StandardInput=socket
StandardOutput=socket
StandardError=journal
EOF
  cluster="default=https://127.0.0.1:2380"
  [[ $v == bad ]] && cluster+=",ghost=https://127.0.0.1:2390"
  cat > "$T/$v.conf" <<EOF
etcd: { endpoints = ["https://127.0.0.1:2379"]; cacert = "$PKI/ca.crt";
        cert = "$PKI/healthcheck-client.crt"; key = "$PKI/healthcheck-client.key"; connect_timeout = "2s"; };
storage: { directory = "/var/lib/etcd-backupd"; compression = "zstd"; level = 1; min_free = "1M"; };
restore: { mode = "auto"; data_dir = "/var/lib/etcd"; manifests_dir = "/etc/kubernetes/manifests";
           etcd_unit = "e2e-etcd.service"; apiserver_unit = "kube-apiserver.service";
           name = "default"; initial_cluster = "$cluster"; initial_cluster_token = "e2e";
           initial_advertise_peer_urls = "https://127.0.0.1:2380"; health_timeout = "$([[ $v == bad ]] && echo 8s || echo 60s)"; };
EOF
done

# ---- boot ----
e2e_boot "${BINDS[@]}"
ok "container booted"

ct() { # CMD...: inside the container, clean environment, bounded
  echo "+ $*" >> "$T/ct.log"
  timeout 120 nsenter -t "$LEADER" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    LANG=C.UTF-8 SYSTEMD_PAGER= SYSTEMD_COLORS=0 ETCDCTL_API=3 "$@"
}
wait_until() { local n=$(($1 * 5)); shift; for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.2; done; return 1; }
active() { [[ $(ct systemctl show -P ActiveState "$1" 2>/dev/null) == active ]]; }
ectl() { ct etcdctl --endpoints https://127.0.0.1:2379 --cacert $PKI/ca.crt --cert $PKI/healthcheck-client.crt \
           --key $PKI/healthcheck-client.key "$@"; }

wait_until 30 ct systemctl is-system-running --wait >/dev/null 2>&1
ct mkdir -p /run/systemd/system
ct sh -c 'cp /e2e/units/* /run/systemd/system/ && systemctl daemon-reload'
ct systemctl start e2e-etcd.service kube-apiserver.service e2e-restore-good.socket e2e-restore-bad.socket \
  >> "$T/ct.log" 2>&1
check "etcd and the kube-apiserver stand-in run as units" wait_until 30 active e2e-etcd.service
check "kube-apiserver.service active" active kube-apiserver.service

for i in $(seq 1 10); do ectl put "/before/k$i" "v$i" >/dev/null; done
backup=$(ct "$ETCD_BACKUPD" --once -c /e2e/good.conf 2>>"$T/ct.log")
check "--once made a backup" test -n "$backup"
for i in $(seq 1 5); do ectl put "/after/k$i" "late" >/dev/null; done
pid_before=$(ct systemctl show -P MainPID e2e-etcd.service)

out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run --socket /run/e2e-restore-good.sock 2>&1)
check "dry run: mode auto picked systemd (the unit is loaded over D-Bus)" grep -q "Mode: *systemd" <<<"$out"
check "dry run: etcd untouched (same MainPID)" test "$pid_before" = "$(ct systemctl show -P MainPID e2e-etcd.service)"

out=$(ct "$ETCD_BACKUPCTL" restore latest --yes --socket /run/e2e-restore-good.sock 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "restore: exit 0" test $rc -eq 0
check "restore: etcd unit active again" active e2e-etcd.service
check "restore: kube-apiserver unit active again" active kube-apiserver.service
check "restore: etcd restarted (new MainPID)" test "$pid_before" != "$(ct systemctl show -P MainPID e2e-etcd.service)"
check "restore: later writes gone" test -z "$(ectl get /after/ --prefix --keys-only)"
check "restore: backed-up keys back" test "$(ectl get /before/k1 --print-value-only)" = v1
check "restore: old data dir kept" ct sh -c 'test -d /var/lib/etcd.pre-restore-*/member'
check "journal: restore started" ct sh -c 'journalctl -q MESSAGE_ID=017db7d7f98c434cb59d0ec5f2d54a05 | grep -q .'
check "journal: restore finished" ct sh -c 'journalctl -q MESSAGE_ID=4d355615b1504ddcbb94373e3965e3b6 | grep -q .'

ectl put /keep/k1 "after the first restore" >/dev/null
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes --socket /run/e2e-restore-bad.sock 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
check "failed restore: exit 1" test $rc -eq 1
check "failed restore: rolled back" grep -q "rolled back" <<<"$out"
check "failed restore: etcd unit active" wait_until 20 active e2e-etcd.service
check "failed restore: kube-apiserver unit active" active kube-apiserver.service
check "failed restore: data as it was" test "$(ectl get /keep/k1 --print-value-only)" = "after the first restore"
check "failed restore: failed restore kept" ct sh -c 'test -d /var/lib/etcd.failed-restore-*/member'
check "journal: restore failed" ct sh -c 'journalctl -q MESSAGE_ID=f7d5be1d166a4c44ae83864fd04d74ba | grep -q .'
finish
