#!/usr/bin/env bash
# tests/e2e/discover-systemd.sh — `etcd-backupctl discover` on a node whose
# etcd and kube-apiserver are systemd units, under a real systemd (nspawn).
#
# e2e-etcd.service (etcd.service is masked in the test container) takes its name, data dir and cluster from an EnvironmentFile=
# (ETCD_* variables, which etcd itself reads) and runs for real with mutual
# TLS; kube-apiserver.service is installed (not started) with a drop-in that
# replaces its ExecStart= and sets Environment=, and an EnvironmentFile=
# naming the client certificate: discover must read them as systemd holds
# them. Every field is compared; the printed configuration passes
# --check-config and takes a backup of that etcd; a kube-apiserver.yaml that
# names another certificate is refused, naming both sources; one that agrees
# (a mixed node) has its directory recorded as restore.manifests_dir.
#
# Needs root, systemd-nspawn, nsenter, etcd, jq, openssl, meson. Bounded by
# TIME_LIMIT (default 150 s); the container is stopped by the PID of the
# systemd-nspawn process this script started.
# shellcheck disable=SC2016
set -uo pipefail
: "${TOP_SRCDIR:?}" "${TOP_BUILDDIR:?}"
TIME_LIMIT=${TIME_LIMIT:-150} CT_TIMEOUT=60
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_begin e2e-discover-systemd systemd-nspawn nsenter etcd jq openssl meson
e2e_setup etcd-backupd-e2e-discover

if ! meson install -C "$TOP_BUILDDIR" --no-rebuild --destdir "$T/dest" > "$T/install.log" 2>&1; then
  cat "$T/install.log"; not_ok "meson install --destdir"; finish
fi
D=$T/dest
PREFIX=$(meson introspect --buildoptions "$TOP_BUILDDIR" | jq -r '.[] | select(.name == "prefix") | .value')
case $PREFIX in
  /usr | / | "") not_ok "prefix $PREFIX cannot be bind-mounted into the container"; finish ;;
esac
CTL=$(find "$D" -path '*/bin/etcd-backupctl' | head -1); CTL=${CTL#"$D"}
DAEMON=$(find "$D" -path '*/sbin/etcd-backupd' | head -1); DAEMON=${DAEMON#"$D"}

"$TOP_SRCDIR/scripts/dev-etcd" --certs "$T" >/dev/null || { not_ok "certificates"; finish; }
S=$T/stage
mkdir -p "$S/kube-apiserver.service.d" "$S/manifests"
cat > "$S/etcd.env" <<'EOF'
# etcd's settings, as a distribution's /etc/default/etcd carries them
ETCD_NAME=node1
ETCD_DATA_DIR="/var/lib/e2e-etcd"
ETCD_INITIAL_CLUSTER='node1=https://127.0.0.1:2380'
ETCD_INITIAL_ADVERTISE_PEER_URLS=https://127.0.0.1:2380
ETCD_INITIAL_CLUSTER_TOKEN=e2e-token
EOF
cat > "$S/e2e-etcd.service" <<'EOF'
[Unit]
Description=etcd for the discover end-to-end test

[Service]
Type=notify
EnvironmentFile=/e2e/stage/etcd.env
ExecStart=/usr/bin/etcd \
  --listen-client-urls https://127.0.0.1:2379 --advertise-client-urls https://127.0.0.1:2379 \
  --listen-peer-urls https://127.0.0.1:2380 --initial-cluster-state new \
  --client-cert-auth --trusted-ca-file /e2e/pki/etcd/ca.crt \
  --cert-file /e2e/pki/etcd/server.crt --key-file /e2e/pki/etcd/server.key \
  --peer-client-cert-auth --peer-trusted-ca-file /e2e/pki/etcd/ca.crt \
  --peer-cert-file /e2e/pki/etcd/peer.crt --peer-key-file /e2e/pki/etcd/peer.key
EOF
cat > "$S/kube-apiserver.service" <<'EOF'
[Unit]
Description=kube-apiserver stand-in (installed, never started)

[Service]
ExecStart=/usr/bin/kube-apiserver --etcd-servers=https://10.9.9.9:2379
EOF
# The drop-in replaces ExecStart= and brings the variables it uses.
cat > "$S/kube-apiserver.service.d/10-etcd.conf" <<'EOF'
[Service]
Environment=ETCD_SERVERS=https://127.0.0.1:2379,https://[::1]:2379
EnvironmentFile=/e2e/stage/apiserver.env
EnvironmentFile=-/e2e/stage/absent.env
ExecStart=
ExecStart=/usr/bin/kube-apiserver --etcd-servers=${ETCD_SERVERS} \
  --etcd-cafile /e2e/pki/etcd/ca.crt --etcd-certfile $CLIENT_CERT --etcd-keyfile=${CLIENT_KEY}
EOF
cat > "$S/apiserver.env" <<'EOF'
CLIENT_CERT=/e2e/pki/etcd/healthcheck-client.crt
CLIENT_KEY=/e2e/pki/etcd/healthcheck-client.key
EOF

e2e_boot --bind="$D$PREFIX:$PREFIX"
state=$(e2e_booted)
check "container: systemd is up ($state)" test "$state" = running -o "$state" = degraded

ct sh -ec '
  cp /e2e/stage/e2e-etcd.service /e2e/stage/kube-apiserver.service /etc/systemd/system/
  cp -r /e2e/stage/kube-apiserver.service.d /etc/systemd/system/
  systemctl daemon-reload
  systemctl start e2e-etcd.service
' >> "$T/ct.log" 2>&1
check "e2e-etcd.service runs with mutual TLS" test "$(ct systemctl is-active e2e-etcd.service)" = active

out=$(ct "$CTL" discover --manifests-dir /nonexistent --etcd-unit e2e-etcd.service 2>"$T/err"); rc=$?
check "discover exits 0 ($(head -c 300 "$T/err"))" test $rc -eq 0
printf '%s\n' "$out" > "$T/found.conf"
value() { sed -n "s|^  $1 = \"\\(.*\\)\";\$|\\1|p" "$T/found.conf"; }
source_of() { grep -B1 "^  $1 = " "$T/found.conf" | head -1; }
check "endpoints: from the drop-in's Environment= through \${ETCD_SERVERS}, IPv6 included" \
  test "$(sed -n '/endpoints = \[/,/\];/p' "$T/found.conf" | grep -o 'https://[^"]*' | paste -sd,)" \
       = "https://127.0.0.1:2379,https://[::1]:2379"
check "endpoints: the source is the unit" grep -qx '  # kube-apiserver.service: --etcd-servers' "$T/found.conf"
check "cacert: the --flag value form" test "$(value cacert)" = /e2e/pki/etcd/ca.crt
check "cert: from the EnvironmentFile= through \$CLIENT_CERT" test "$(value cert)" = /e2e/pki/etcd/healthcheck-client.crt
check "cert: its source" test "$(source_of cert)" = "  # kube-apiserver.service: --etcd-certfile"
check "key: through \${CLIENT_KEY}" test "$(value key)" = /e2e/pki/etcd/healthcheck-client.key
check "restore.mode: systemd" test "$(value mode)" = systemd
check "restore.etcd_unit" test "$(value etcd_unit)" = e2e-etcd.service
check "restore.data_dir: etcd's ETCD_DATA_DIR (quotes removed)" test "$(value data_dir)" = /var/lib/e2e-etcd
check "restore.data_dir: its source" test "$(source_of data_dir)" = "  # e2e-etcd.service: ETCD_DATA_DIR"
check "restore.name: ETCD_NAME" test "$(value name)" = node1
check "restore.initial_cluster: ETCD_INITIAL_CLUSTER" test "$(value initial_cluster)" = "node1=https://127.0.0.1:2380"
check "restore.initial_cluster_token: not pinned to etcd's ETCD_INITIAL_CLUSTER_TOKEN, which the comment names" \
  test -z "$(value initial_cluster_token)" -a -n "$(grep -xF '  # old data cannot join the restored cluster (e2e-etcd.service: ETCD_INITIAL_CLUSTER_TOKEN: e2e-token)' "$T/found.conf")" \
       -a -n "$(grep -x '  # initial_cluster_token = "";' "$T/found.conf")"

sed -e 's|  directory = "/var/lib/etcd-backupd";|  directory = "/var/lib/discover-backups";|' \
    -e 's|  min_free = "1G";|  min_free = "1M";|' "$T/found.conf" > "$S/once.conf"
out=$(ct "$DAEMON" --check-config -c /e2e/stage/once.conf 2>&1); rc=$?
check "the printed configuration passes --check-config ($out)" test $rc -eq 0
path=$(ct "$DAEMON" --once -c /e2e/stage/once.conf 2>"$T/once.err"); rc=$?
check "it takes a backup of e2e-etcd.service ($(tail -1 "$T/once.err"))" test $rc -eq 0 -a -n "$path"

# A kube-apiserver.yaml beside the unit that names another client certificate.
sed -e 's|      path: /etc/kubernetes/pki$|      path: /e2e/pki|' \
    -e 's|--etcd-servers=https://127.0.0.1:2379|--etcd-servers=https://127.0.0.1:2379,https://[::1]:2379|' \
    -e 's|--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt|--etcd-certfile=/etc/kubernetes/pki/etcd/peer.crt|' \
    -e 's|--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key|--etcd-keyfile=/etc/kubernetes/pki/etcd/healthcheck-client.key|' \
    "$TOP_SRCDIR/tests/fixtures/kubeadm/kube-apiserver.yaml" > "$S/manifests/kube-apiserver.yaml"
out=$(ct "$CTL" discover --manifests-dir /e2e/stage/manifests --etcd-unit e2e-etcd.service --write --root /e2e/stage/root 2>&1); rc=$?
check "two sources that disagree: exit 1 ($out)" test $rc -eq 1
check "two sources that disagree: both named with their values" \
  grep -qF 'two sources disagree: kube-apiserver.yaml: --etcd-certfile is "/e2e/pki/etcd/peer.crt", kube-apiserver.service: --etcd-certfile is "/e2e/pki/etcd/healthcheck-client.crt"' <<<"$out"
check "two sources that disagree: nothing written" test ! -e "$S/root"
# A kube-apiserver.yaml beside an etcd unit that agrees with the unit (a
# mixed node): mode systemd, and the manifests dir recorded, where the
# restore looks for kube-apiserver's pod when its unit does not run.
sed -e 's|      path: /etc/kubernetes/pki$|      path: /e2e/pki|' \
    -e 's|--etcd-servers=https://127.0.0.1:2379|--etcd-servers=https://127.0.0.1:2379,https://[::1]:2379|' \
    -e 's|--etcd-certfile=/etc/kubernetes/pki/apiserver-etcd-client.crt|--etcd-certfile=/etc/kubernetes/pki/etcd/healthcheck-client.crt|' \
    -e 's|--etcd-keyfile=/etc/kubernetes/pki/apiserver-etcd-client.key|--etcd-keyfile=/etc/kubernetes/pki/etcd/healthcheck-client.key|' \
    "$TOP_SRCDIR/tests/fixtures/kubeadm/kube-apiserver.yaml" > "$S/manifests/kube-apiserver.yaml"
out=$(ct "$CTL" discover --manifests-dir /e2e/stage/manifests --etcd-unit e2e-etcd.service 2>&1); rc=$?
printf '%s\n' "$out" > "$T/found.conf"
check "a mixed node: exit 0, mode systemd, etcd's unit" \
  eval 'test $rc -eq 0 && test "$(value mode)" = systemd && test "$(value etcd_unit)" = e2e-etcd.service'
check "a mixed node: the manifests dir recorded, said why" \
  eval 'test "$(value manifests_dir)" = /e2e/stage/manifests && test "$(source_of manifests_dir)" = "  # controllers are static pods (a mixed node)"'
printf '%s\n' "$out" | sed -e 's|  directory = "/var/lib/etcd-backupd";|  directory = "/var/lib/discover-backups";|' > "$S/mixed.conf"
out=$(ct "$DAEMON" --check-config -c /e2e/stage/mixed.conf 2>&1); rc=$?
check "a mixed node: the printed configuration passes --check-config ($out)" test $rc -eq 0
# A unit whose flag names a relative path (below its WorkingDirectory=,
# which the configuration cannot follow): refused, naming the unit and flag.
ct sh -ec '
  mkdir -p /etc/systemd/system/rel-apiserver.service.d
  printf "[Service]\nWorkingDirectory=/e2e\nExecStart=/usr/bin/kube-apiserver --etcd-servers=https://127.0.0.1:2379 --etcd-cafile=pki/etcd/ca.crt\n" \
    > /etc/systemd/system/rel-apiserver.service
  systemctl daemon-reload
' >> "$T/ct.log" 2>&1
out=$(ct "$CTL" discover --manifests-dir /nonexistent --apiserver-unit rel-apiserver.service --etcd-unit e2e-etcd.service 2>&1); rc=$?
check "a unit's relative path: exit 1 ($out)" test $rc -eq 1
check "a unit's relative path: named, with the unit and the flag" \
  grep -qF "rel-apiserver.service: pki/etcd/ca.crt is a relative path (rel-apiserver.service: --etcd-cafile, below the unit's WorkingDirectory=): make it absolute in the unit" <<<"$out"
out=$(ct "$CTL" discover --manifests-dir /nonexistent --apiserver-unit absent.service 2>&1); rc=$?
check "a named unit that is not installed: exit 1, named ($out)" \
  test $rc -eq 1 -a -n "$(grep 'absent.service is not installed' <<<"$out")"
finish
