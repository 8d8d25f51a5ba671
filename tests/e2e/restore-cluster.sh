#!/usr/bin/env bash
# tests/e2e/restore-cluster.sh — the README's multi-member procedure end to
# end: three nodes, each a container booted with a real systemd (PID 1,
# journald, D-Bus), all in one network namespace this test creates, so the
# members listen on 127.0.0.1, 127.0.0.2 and 127.0.0.3 of one loopback.
# Each node runs its etcd member as a unit and has the INSTALLED
# etcd-backupd-restore.socket and etcd-backupd-restore@.service, unchanged,
# with its own configuration (the same restore.initial_cluster on every
# node, no initial_cluster_token). A backup is taken on node 1, later writes
# are made, the backup file is copied to every node and
# `etcd-backupctl restore FILE --yes` runs on nodes 1 and 2 at once; the
# restored cluster is written to, and node 3 follows (it joins above the
# backup's revision, as a node restored a little later does in a real
# cluster). Checks: all three members on the backup's revision and that
# one write, one cluster ID shared
# by the three and different from the old cluster's, the later writes gone,
# and an old member that was not restored (a copy of node 1's pre-restore
# data dir, started with the old cluster's settings) cannot join: the
# restored members refuse it (cluster ID mismatch) and its requests fail.
#
#   TOP_SRCDIR=… TOP_BUILDDIR=… bash tests/e2e/restore-cluster.sh
#
# Needs root, meson, ip, systemd-nspawn, nsenter, socat, etcd, etcdctl, jq,
# openssl, and a build whose prefix is not /usr. Bounded by TIME_LIMIT
# seconds (default 300); the containers are stopped by the PIDs of the
# systemd-nspawn processes this script started, the namespace deleted.
#
# The units have Restart=on-failure as real ones do: without it, on this
# cgroup v1 host a start now and then failed at once (the container's
# systemd could not move etcd or the stand-in into the unit's cgroup: exit status
# 219/CGROUP, after "Failed to kill control group …: Input/output error"
# at the stop) and that node rolled back. How often systemd restarted each
# unit is printed. The kube-apiserver stand-in is Type=exec: as Type=simple
# its start job ended at the fork, and a process that then exited
# 219/CGROUP left the unit "activating" (auto-restart) after a restore that
# had already returned. KEEP_T=1 keeps the scratch directory.
# shellcheck disable=SC2016
set -uo pipefail
: "${TOP_SRCDIR:?}" "${TOP_BUILDDIR:?}"
TIME_LIMIT=${TIME_LIMIT:-300} CT_TIMEOUT=150
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin e2e-restore-cluster meson ip systemd-nspawn nsenter socat etcd etcdctl jq openssl
e2e_setup etcd-backupd-e2e-restore-cluster

e2e_install_restore
check "etcd-backupctl installed ($ETCD_BACKUPCTL)" test -x "$D$ETCD_BACKUPCTL"

# ---- what goes into the containers (/e2e) ----
"$TOP_SRCDIR/scripts/dev-etcd" --certs "$T" >/dev/null || { not_ok "certificates"; finish; }
PKI=/e2e/pki/etcd
# kube-apiserver: the restore tests' stand-in, serving /readyz over TLS
# (tests/helpers/apiserver-standin.py), one per node.
. "$TOP_SRCDIR/tests/helpers/k8s-pki.sh"
make_k8s_pki "$T/k8s-pki" || { not_ok "kubernetes certificates"; finish; }
cp "$TOP_SRCDIR/tests/helpers/apiserver-standin.py" "$T/"
OLD_CLUSTER="node1=https://127.0.0.1:2380,node2=https://127.0.0.2:2380,node3=https://127.0.0.3:2380"
TLS="--client-cert-auth --trusted-ca-file $PKI/ca.crt --cert-file $PKI/server.crt --key-file $PKI/server.key \
--peer-client-cert-auth --peer-trusted-ca-file $PKI/ca.crt --peer-cert-file $PKI/peer.crt --peer-key-file $PKI/peer.key"
for n in 1 2 3; do
  ip=127.0.0.$n
  mkdir -p "$T/node$n/units"
  # Shaped like the etcd units people run (etcd's own contrib unit, "Kubernetes
  # the hard way"): Type=notify, restarted on failure. The restart matters
  # here: on a cgroup v1 host the container's systemd now and then cannot
  # move a unit's new process into the cgroup it has just emptied (the
  # process exits 219/CGROUP before it runs); a real unit starts again by
  # itself, and the restore waits through that "activating" (auto-restart).
  cat > "$T/node$n/units/e2e-etcd.service" <<EOF
[Unit]
Description=etcd member node$n with mutual TLS (cluster restore test)
[Service]
Type=notify
Restart=on-failure
RestartSec=5
ExecStart=/usr/bin/etcd --name node$n --data-dir /var/lib/etcd \\
  --listen-client-urls https://$ip:2379 --advertise-client-urls https://$ip:2379 \\
  --listen-peer-urls https://$ip:2380 --initial-advertise-peer-urls https://$ip:2380 \\
  --initial-cluster $OLD_CLUSTER --initial-cluster-token e2e-old $TLS
EOF
  cat > "$T/node$n/units/kube-apiserver.service" <<EOF
[Unit]
Description=kube-apiserver stand-in (/readyz over TLS on $ip:6443)
[Service]
# Type=exec: the start job ends once the stand-in runs, not at the fork,
# so a start the restore waited for cannot still fail afterwards.
Type=exec
Restart=on-failure
RestartSec=5
ExecStart=/usr/bin/python3 /e2e/apiserver-standin.py --secure-port=6443 --bind-address=$ip \\
  --client-ca-file=/e2e/k8s-pki/ca.crt --tls-cert-file=/e2e/k8s-pki/apiserver.crt \\
  --tls-private-key-file=/e2e/k8s-pki/apiserver.key --etcd-servers=https://$ip:2379
EOF
  if [[ $SANITIZE != none ]]; then
    mkdir -p "$T/node$n/units/etcd-backupd-restore@.service.d"
    echo -e '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1' \
      > "$T/node$n/units/etcd-backupd-restore@.service.d/sanitizer.conf"
  fi
  # The README's procedure: the same initial_cluster everywhere, no token;
  # this node's own member first in etcd.endpoints; name, data dir and peer
  # URLs come from the etcd unit.
  others=$(for m in 1 2 3; do [[ $m != "$n" ]] && printf ', "https://127.0.0.%s:2379"' "$m"; done)
  install -m 0600 /dev/null "$T/node$n/etcd-backupd.conf"
  cat > "$T/node$n/etcd-backupd.conf" <<EOF
etcd: { endpoints = ["https://$ip:2379"$others]; cacert = "$PKI/ca.crt";
        cert = "$PKI/healthcheck-client.crt"; key = "$PKI/healthcheck-client.key"; connect_timeout = "2s"; };
storage: { directory = "/var/lib/etcd-backupd"; compression = "zstd"; level = 1; min_free = "1M"; };
restore: { mode = "systemd"; etcd_unit = "e2e-etcd.service"; apiserver_unit = "kube-apiserver.service";
           initial_cluster = "$OLD_CLUSTER"; health_timeout = "60s"; confirm_timeout = "10s"; };
EOF
done

mkdir -p "$D${CONF%/*}" && touch "$D$CONF"

# ---- boot three nodes in one network namespace ----
E2E_NETNS=ebd-$$-${RANDOM}
if ! ip netns add "$E2E_NETNS"; then E2E_NETNS=""; not_ok "ip netns add"; finish; fi
ip -n "$E2E_NETNS" link set lo up || { not_ok "loopback up in $E2E_NETNS"; finish; }
NODE_LEADER=()
base=$MACHINE
for n in 1 2 3; do
  MACHINE=$base-$n
  # The prefix (and its etc/) is shared: each node's configuration is bound
  # over the path the restore unit's -c names.
  e2e_boot --bind="$D$PREFIX:$PREFIX" --bind-ro="$T/node$n/etcd-backupd.conf:$CONF"
  NODE_LEADER[n]=$LEADER
done
ok "three containers booted in one network namespace"

ct() { # N CMD...: inside node N
  local n=$1; shift
  echo "+ [node$n] $*" >> "$T/ct.log"
  e2e_in "${NODE_LEADER[n]}" "$@"
}
active() { [[ $(ct "$1" systemctl show -P ActiveState "$2" 2>/dev/null) == active ]]; }
ectl() { # N ETCDCTL-ARGS...: etcdctl against node N's member only
  local n=$1; shift
  ct "$n" etcdctl --endpoints "https://127.0.0.$n:2379" --cacert $PKI/ca.crt --cert $PKI/healthcheck-client.crt \
    --key $PKI/healthcheck-client.key --command-timeout=5s "$@"
}
field() { # N NAME: a field of node N's `endpoint status -w fields`
  ectl "$1" endpoint status -w fields 2>/dev/null | sed -n "s/^\"$2\" : //p"
}

for n in 1 2 3; do
  state=$(e2e_booted "$n")
  check "node$n: systemd is up ($state)" test "$state" = running -o "$state" = degraded
  ct "$n" sh -c "mkdir -p /run/systemd/system && cp -r /e2e/node$n/units/* /run/systemd/system/ &&
    cp /e2e/dest${RSOCKET#"$D"} /e2e/dest${RUNIT#"$D"} /etc/systemd/system/ &&
    systemctl daemon-reload" >> "$T/ct.log" 2>&1
  # --no-block: a member of a new cluster is ready only once a majority runs.
  ct "$n" systemctl start --no-block e2e-etcd.service kube-apiserver.service etcd-backupd-restore.socket >> "$T/ct.log" 2>&1
done
for n in 1 2 3; do
  check "node$n: etcd and the kube-apiserver stand-in run as units" wait_until 60 active "$n" e2e-etcd.service
done
check "the old cluster has three members" test "$(ectl 1 member list 2>/dev/null | wc -l)" -eq 3
OLD_ID=$(field 1 ClusterID)
check "old cluster ID known ($OLD_ID)" test -n "$OLD_ID"

for i in $(seq 1 10); do ectl 1 put "/before/k$i" "v$i" >/dev/null; done
backup=$(ct 1 "$ETCD_BACKUPD" --once -c "$CONF" 2>>"$T/ct.log")
check "--once made a backup on node1 ($backup)" test -n "$backup"
[[ -n $backup ]] || finish
BREV=$(sed -n 's/.*-r\([0-9]*\)\..*/\1/p' <<<"${backup##*/}")
for i in $(seq 1 5); do ectl "$(( (i % 3) + 1 ))" put "/after/k$i" late >/dev/null; done
check "later writes made (revision $(field 2 Revision) > backup's $BREV)" test "$(field 2 Revision)" -gt "$BREV"
mkdir -p "$T/backup"
ct 1 cp "$backup" /e2e/backup/
FILE=/e2e/backup/${backup##*/}

# ---- the procedure: the same file, `restore FILE --yes` on every node ----
# Nodes 1 and 2 at once (a majority: each waits for the other), then the
# restored cluster is written to, as the kube-apiservers of the first nodes
# and its expiring leases write in a real one, and node 3 follows: it joins
# above the backup's revision and still counts as restored.
restore_on() { # N...: restore on these nodes at once
  local n rc pids=()
  for n in "$@"; do
    ct "$n" "$ETCD_BACKUPCTL" restore "$FILE" --yes > "$T/restore$n.out" 2>&1 &
    pids[n]=$!
  done
  for n in "$@"; do
    wait "${pids[n]}"; rc=$?
    sed "s/^/    [node$n] /" "$T/restore$n.out"
    check "node$n: restore exit 0" test $rc -eq 0
    if [[ $rc -ne 0 ]]; then
      ct "$n" journalctl -q -o short-monotonic -u e2e-etcd.service | grep -v -E "ID mismatch|was ignored|pipelining|stream|peer .* became|purge" | sed -n "/Stopping e2e-etcd/,\$p" | head -70 | sed "s/^/    [node$n etcd] /"
      ct "$n" journalctl -q -o short-monotonic -u kube-apiserver.service | tail -20 | sed "s/^/    [node$n kube-apiserver] /"
    fi
  done
}
restore_on 1 2
check "the first two restored members take a write" eval 'ectl 1 put /restored/k1 first >/dev/null'
RREV=$(field 1 Revision)
check "the restored cluster moved on (revision $RREV > the backup's $BREV)" test "${RREV:-0}" -gt "$BREV"
restore_on 3
check "node3: proven above the backup's revision, and says so" \
  grep -q "etcd is healthy at revision [0-9]* (restored at $BREV, the backup's; the cluster has written since)" \
  "$T/restore3.out"
for n in 1 2 3; do
  echo "# node$n: restarted by systemd's Restart= during the test: e2e-etcd.service $(ct "$n" systemctl show -P NRestarts \
    e2e-etcd.service) times, kube-apiserver.service $(ct "$n" systemctl show -P NRestarts kube-apiserver.service) times"
done
for n in 1 2 3; do
  check "node$n: the plan used the derived token" grep -q "etcd-restore-[0-9a-f]\{16\}" "$T/restore$n.out"
  for u in e2e-etcd.service kube-apiserver.service; do
    if active "$n" $u; then ok "node$n: $u active again"
    else not_ok "node$n: $u active again ($(ct "$n" systemctl show -P ActiveState $u)/$(ct "$n" systemctl show -P SubState $u), result $(ct "$n" systemctl show -P Result $u))"; fi
  done
  check "node$n: old data dir kept" ct "$n" sh -c 'test -d /var/lib/etcd.pre-restore-*/member'
done
ids=() revs=()
for n in 1 2 3; do
  ids[n]=$(field "$n" ClusterID) revs[n]=$(field "$n" Revision)
  check "node$n: on the backup's revision and the one write after it (${revs[n]} = $RREV)" test "${revs[n]}" = "$RREV"
done
check "one cluster ID shared by the three (${ids[*]})" test -n "${ids[1]}" -a "${ids[1]}" = "${ids[2]}" -a "${ids[2]}" = "${ids[3]}"
check "the restored cluster's ID differs from the old one ($OLD_ID)" test -n "${ids[1]}" -a "${ids[1]}" != "$OLD_ID"
check "restored cluster: three members" test "$(ectl 1 member list 2>/dev/null | wc -l)" -eq 3
for n in 1 2 3; do
  check "node$n: later writes gone" test -z "$(ectl "$n" get /after/ --prefix --keys-only)"
  check "node$n: backed-up keys back" test "$(ectl "$n" get /before/k10 --print-value-only)" = v10
  check "node$n: the write after the first two restores kept" \
    test "$(ectl "$n" get /restored/k1 --print-value-only)" = first
done

# ---- an old member that was not restored ----
# node1's pre-restore data, started with the old cluster's settings on
# other ports of 127.0.0.1: it still believes in the old cluster and sends
# to node2 and node3 at their peer URLs, which now serve the restored one.
ct 1 sh -c 'cp -a /var/lib/etcd.pre-restore-* /var/lib/etcd-old' >> "$T/ct.log" 2>&1
# shellcheck disable=SC2086
ct 1 systemd-run --unit=e2e-old-member --property=Type=exec /usr/bin/etcd --name node1 --data-dir /var/lib/etcd-old \
  --listen-client-urls https://127.0.0.1:2391 --advertise-client-urls https://127.0.0.1:2391 \
  --listen-peer-urls https://127.0.0.1:2390 --initial-advertise-peer-urls https://127.0.0.1:2380 \
  --initial-cluster "$OLD_CLUSTER" --initial-cluster-token e2e-old $TLS >> "$T/ct.log" 2>&1
old_log() { ct 1 journalctl -q -o cat -u e2e-old-member.service; }
# The whole log first: with pipefail, `old_log | grep -q` fails when grep
# stops reading before journalctl has written everything (SIGPIPE).
refused() { grep -qi "cluster ID mismatch" <<<"$(old_log)"; }
check "old member: its requests are refused (cluster ID mismatch in its log)" wait_until 40 refused
old_log | grep -i -m3 "cluster ID mismatch" | sed 's/^/    /'
check "old member: a read through it fails" eval '! ct 1 etcdctl --endpoints https://127.0.0.1:2391 --cacert $PKI/ca.crt \
  --cert $PKI/healthcheck-client.crt --key $PKI/healthcheck-client.key --command-timeout=3s get /before/k1 >/dev/null 2>&1'
check "restored cluster: still three members, still its own ID" \
  test "$(ectl 2 member list 2>/dev/null | wc -l)" -eq 3 -a "$(field 2 ClusterID)" = "${ids[1]}"
check "restored cluster: later writes still gone" test -z "$(ectl 2 get /after/ --prefix --keys-only)"
finish
