#!/usr/bin/env bash
# tests/e2e/kubeadm-node.sh — the README's quick start on a kubeadm
# control-plane node, and a restore in static-pod mode, under a real systemd
# (PID 1, journald, D-Bus) in a container, through the INSTALLED units and
# programs (`meson install --destdir`, the prefix bind-mounted in place; the
# units, sysusers.d and tmpfiles.d entries copied unchanged).
#
# The node: kubeadm's four manifests (tests/fixtures/kubeadm, unchanged) in
# /etc/kubernetes/manifests, 0600 as kubeadm writes them; kubeadm's PKI
# layout in /etc/kubernetes/pki; the node address 192.168.122.10 the
# manifests name, on the loopback of the container's own network namespace.
# There is no kubelet: tests/helpers/kubelet-standin.py runs as
# kubelet.service and starts each pod's `command:` as it is. etcd.yaml runs
# the real etcd; `kube-apiserver`, `kube-controller-manager` and
# `kube-scheduler` resolve (through the stand-in's PATH) to
# tests/helpers/apiserver-standin.py, which serves /readyz over TLS where
# the flags say (the controllers on their default ports 10257 and 10259).
# kube-apiserver's etcd client certificate (apiserver-etcd-client.crt) is a
# client certificate of etcd's CA, as kubeadm makes it.
#
# Checks: `etcd-backupctl discover --write` writes the configuration and the
# credentials drop-in from kube-apiserver.yaml (its EncryptionConfiguration
# too, which the daemon then checks each backup's Secrets against); the units it names start;
# `etcd-backupctl backup` takes a backup through the daemon, which reads the
# client key through LoadCredential=; `restore latest --dry-run` picks
# static-pod; `restore latest --yes` on the shipped restore socket brings the
# backed-up keys back with a new etcd process, the controllers restarted,
# the manifests back as they were, the old data dir kept and /readyz
# answering; the journal has the restore's MESSAGE_IDs; the daemon backs up
# again afterwards; a restore whose etcd cannot come up (a member that
# does not exist in restore.initial_cluster) rolls back under the unit, with
# the manifests and the data as they were; and one with kubelet.service
# killed (its pods still running) or crash-looping is refused before
# anything moves, unless a process of root's named kubelet runs.
#
#   TOP_SRCDIR=… TOP_BUILDDIR=… bash tests/e2e/kubeadm-node.sh
#
# Needs root, meson, systemd-nspawn, nsenter, etcd, etcdctl, jq, openssl,
# curl, python3 with yaml, ip, and a build whose prefix is not /usr. Bounded
# by TIME_LIMIT seconds (default 300); the container is stopped by the PID
# of the systemd-nspawn process this script started.
# shellcheck disable=SC2016,SC2317
set -uo pipefail
: "${TOP_SRCDIR:?}" "${TOP_BUILDDIR:?}"
TIME_LIMIT=${TIME_LIMIT:-300}

# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
e2e_on_failure() {
  [[ -n ${T:-} ]] || return 0
  echo "--- kubelet stand-in"; tail -20 "$T/kubelet/kubelet.log" 2>/dev/null
  echo "--- container commands"; tail -40 "$T/ct.log" 2>/dev/null
}
e2e_begin e2e-kubeadm-node meson systemd-nspawn nsenter etcd etcdctl jq openssl curl python3 ip
e2e_setup etcd-backupd-e2e-kubeadm

e2e_install_restore
UNITDIR=${RUNIT%/*}
SYSUSERS=$(find "$D" -path '*/sysusers.d/etcd-backupd.conf' | head -1)
TMPFILES=$(find "$D" -path '*/tmpfiles.d/etcd-backupd.conf' | head -1)
check "installed: the daemon's units, sysusers.d and tmpfiles.d entries" \
  test -f "$UNITDIR/etcd-backupd.service" -a -f "$UNITDIR/etcd-backupd.socket" -a -n "$SYSUSERS" -a -n "$TMPFILES"

# ---- what goes into the container (/e2e) ----
NODE_IP=192.168.122.10
"$TOP_SRCDIR/scripts/dev-etcd" --certs "$T" >/dev/null || { not_ok "certificates"; finish; }
. "$TOP_SRCDIR/tests/helpers/k8s-pki.sh"
make_k8s_pki "$T/k8s-pki" || { not_ok "kubernetes certificates"; finish; }
mkdir -p "$T/manifests"
cp "$TOP_SRCDIR"/tests/fixtures/kubeadm/*.yaml "$T/manifests/"
# Encryption at rest as kubeadm sets it up from apiServer.extraArgs and
# extraVolumes: --encryption-provider-config and a hostPath volume for its
# directory; the file (an aescbc key, no identity) root's, 0600.
python3 "$TOP_SRCDIR/tests/helpers/kubeadm-encryption.py" "$T/manifests/kube-apiserver.yaml" /etc/kubernetes/enc
printf 'apiVersion: apiserver.config.k8s.io/v1\nkind: EncryptionConfiguration\nresources:\n- resources:\n  - secrets\n  providers:\n  - aescbc:\n      keys:\n      - name: key1\n        secret: %s\n' \
  "$(head -c 32 /dev/urandom | base64)" > "$T/enc.yaml"
e2e_kubelet_files
# Sanitizer builds: the options the other end-to-end tests give (LeakSanitizer
# needs ptrace, which the units forbid).
if [[ $SANITIZE != none ]]; then
  for u in etcd-backupd.service etcd-backupd-restore@.service; do
    mkdir -p "$T/units/$u.d"
    echo -e '[Service]\nEnvironment=ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1' \
      > "$T/units/$u.d/sanitizer.conf"
  done
fi

# ---- boot ----
e2e_boot --bind="$D$PREFIX:$PREFIX"
ok "container booted"

EPKI=/etc/kubernetes/pki/etcd
ectl() { ct etcdctl --endpoints https://127.0.0.1:2379 --cacert $EPKI/ca.crt --cert $EPKI/healthcheck-client.crt \
           --key $EPKI/healthcheck-client.key --command-timeout=5s "$@"; }
etcd_healthy() { ectl endpoint health >/dev/null 2>&1; }
readyz() { [[ $(ct curl -sS --max-time 5 --cacert /etc/kubernetes/pki/ca.crt "https://$NODE_IP:6443/readyz" 2>&1) == ok ]]; }
pod_pid() { cat "$T/kubelet/pids/$1" 2>/dev/null; }
new_pid() { local p; p=$(pod_pid "$1"); [[ -n $p && $p != "$2" ]]; }
manifests_state() { ct sh -c 'cd /etc/kubernetes/manifests && stat -c "%n %a %U" * && sha256sum *'; }
data_keys() { local out; out=$(ectl get "$1" --prefix --keys-only) || { echo "etcdctl failed"; return 1; }; grep -c . <<<"$out"; }
# The controllers' ports answer (the stand-in's 404 over TLS): a controller
# that served before the restore is waited for by it.
controllers_serve() { ct curl -sk -o /dev/null --max-time 2 https://127.0.0.1:10257/ && ct curl -sk -o /dev/null --max-time 2 https://127.0.0.1:10259/; }
no_held_dir() { ct sh -c '! ls -d /etc/kubernetes/etcd-backupd-held-* >/dev/null 2>&1'; }

state=$(e2e_booted)
check "container: systemd is up ($state)" test "$state" = running -o "$state" = degraded
ct ip addr add "$NODE_IP/32" dev lo >> "$T/ct.log" 2>&1
check "the node address $NODE_IP on the container's loopback" \
  grep -q "inet $NODE_IP/32" <<<"$(ct ip -4 addr show dev lo)"

# kubeadm's layout: keys 0600, manifests 0600, all root's.
ct sh -ec "
  mkdir -p $EPKI /etc/kubernetes/manifests /etc/systemd/system/etcd-backupd.service.d /etc/sysusers.d /etc/tmpfiles.d
  cp /e2e/k8s-pki/ca.crt /e2e/k8s-pki/ca.key /e2e/k8s-pki/apiserver.crt /e2e/k8s-pki/apiserver.key /etc/kubernetes/pki/
  cp /e2e/pki/etcd/ca.crt /e2e/pki/etcd/server.crt /e2e/pki/etcd/server.key /e2e/pki/etcd/peer.crt /e2e/pki/etcd/peer.key \
     /e2e/pki/etcd/healthcheck-client.crt /e2e/pki/etcd/healthcheck-client.key $EPKI/
  cp /e2e/pki/etcd/healthcheck-client.crt /etc/kubernetes/pki/apiserver-etcd-client.crt
  cp /e2e/pki/etcd/healthcheck-client.key /etc/kubernetes/pki/apiserver-etcd-client.key
  chmod 0600 /etc/kubernetes/pki/*.key $EPKI/*.key
  install -m 0600 /e2e/manifests/*.yaml /etc/kubernetes/manifests/
  install -D -m 0600 /e2e/enc.yaml /etc/kubernetes/enc/enc.yaml
  cp /e2e/units/kubelet.service /etc/systemd/system/
  cp /e2e/dest${UNITDIR#"$D"}/etcd-backupd* /etc/systemd/system/
  cp -r /e2e/units/*.d /etc/systemd/system/ 2>/dev/null || true
  cp /e2e/dest${SYSUSERS#"$D"} /etc/sysusers.d/etcd-backupd.conf
  cp /e2e/dest${TMPFILES#"$D"} /etc/tmpfiles.d/etcd-backupd.conf
  systemctl daemon-reload
  systemd-sysusers etcd-backupd.conf
  systemd-tmpfiles --create etcd-backupd.conf
  systemctl start kubelet.service
" >> "$T/ct.log" 2>&1
check "node set up: PKI, manifests, units, sysusers, tmpfiles; kubelet.service started" test $? -eq 0
check "etcd runs as a static pod (etcd.yaml as kubeadm wrote it)" wait_until 60 etcd_healthy
check "the kube-apiserver static pod answers /readyz at $NODE_IP:6443" wait_until 30 readyz
check "kube-controller-manager and kube-scheduler serve on 10257 and 10259" wait_until 30 controllers_serve
man_before=$(manifests_state)

# ---- the quick start: discover --write, then the units ----
out=$(ct "$ETCD_BACKUPCTL" discover --write 2>&1); rc=$?
check "discover --write: exit 0 ($(tail -1 <<<"$out"))" test $rc -eq 0
check "discover --write: the configuration names kube-apiserver's etcd client certificate" \
  ct grep -qF 'cert = "/etc/kubernetes/pki/apiserver-etcd-client.crt";' "$CONF"
check "discover --write: restore.mode static-pod" ct grep -qF 'mode = "static-pod";' "$CONF"
check "discover --write: the credentials drop-in hands the key to the service" \
  ct grep -qxF 'LoadCredential=apiserver-etcd-client.key:/etc/kubernetes/pki/apiserver-etcd-client.key' \
    /etc/systemd/system/etcd-backupd.service.d/credentials.conf
check "discover --write: the configuration is root's, written by no one else" \
  test "$(ct stat -c '%a %U' "$CONF")" = "644 root"
check "discover --write: kube-apiserver's EncryptionConfiguration in the configuration, handed over as a credential" \
  eval 'ct grep -qxF "  encryption_config = \"/etc/kubernetes/enc/enc.yaml\";" "$CONF" &&
        ct grep -qxF "LoadCredential=enc.yaml:/etc/kubernetes/enc/enc.yaml" /etc/systemd/system/etcd-backupd.service.d/credentials.conf'
ct systemctl daemon-reload >> "$T/ct.log" 2>&1
ct systemctl enable --now etcd-backupd.socket etcd-backupd.service etcd-backupd-restore.socket >> "$T/ct.log" 2>&1
check "etcd-backupd.service runs (as the quick start enables it)" wait_until 20 active etcd-backupd.service
check "etcd-backupd.service runs as etcd-backup (its main process)" \
  test "$(ct ps -o user= -p "$(ct systemctl show -P MainPID etcd-backupd.service)")" = etcd-backup

# The backup `etcd-backupctl backup` reports ("Backup PATH ok, …"), by
# name: a scheduled one (the shipped 02:00) may come in between.
backup_path() { sed -n 's|^Backup \(/var/lib/etcd-backupd/etcd-[^ ]*\) ok, .*|\1|p' <<<"$1"; }
# On its first start, with no backup yet, the daemon takes one at once
# (schedule.persistent); the later ones must not join it.
first_done() { ct "$ETCD_BACKUPCTL" status --json 2>/dev/null | jq -e '.state == "idle" and .last.revision != null' >/dev/null; }
check "the daemon's first backup on start, then idle" wait_until 30 first_done
for i in $(seq 1 10); do ectl put "/before/k$i" "v$i" >/dev/null; done
# A Secret stored in plaintext, which kube-apiserver with that file (no
# identity provider) could not read: the backup's Secrets check, run by the
# service with the file as its credential, reports it.
ectl put /registry/secrets/default/plain '{"kind":"Secret","apiVersion":"v1","metadata":{"name":"plain"}}' >/dev/null
out=$(ct "$ETCD_BACKUPCTL" backup 2>&1); rc=$?
check "etcd-backupctl backup: exit 0 ($(tail -1 <<<"$out"))" test $rc -eq 0
check "the Secrets check ran under the unit with the EncryptionConfiguration: 1 Secret unreadable" \
  ct sh -c 'journalctl --sync; journalctl -q -o verbose MESSAGE_ID=9df5c1e6c9704067b14151767d00de8c | grep -qx "    ETCD_BACKUP_SECRETS_UNREADABLE=1"'
p1=$(backup_path "$out")
check "the backup is in /var/lib/etcd-backupd with its sidecar (${p1:-none})" ct test -n "$p1" -a -f "$p1" -a -f "$p1.json"
for i in $(seq 1 5); do ectl put "/after/k$i" late >/dev/null; done
check "later writes are there before the restore" test "$(data_keys /after/)" = 5

# ---- restore in static-pod mode through the shipped restore socket ----
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1); rc=$?
check "dry run: exit 0" test $rc -eq 0
check "dry run: mode static-pod (etcd.yaml in /etc/kubernetes/manifests)" grep -q "Mode: *static-pod" <<<"$out"
check "dry run: the cluster token derived from the backup (discover pins none)" \
  grep -q -- "--initial-cluster-token etcd-restore-[0-9a-f]\{16\} " <<<"$out"
check "dry run: the manifests unchanged" test "$man_before" = "$(manifests_state)"

etcd_before=$(pod_pid etcd) kcm_before=$(pod_pid kube-controller-manager) sch_before=$(pod_pid kube-scheduler)
t0=$SECONDS
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" > "$T/restore.out"
check "restore: exit 0 in $((SECONDS - t0)) s ($(tail -1 <<<"$out"))" test $rc -eq 0
check "restore: etcd is a new process (pid $etcd_before before)" new_pid etcd "$etcd_before"
check "restore: etcd healthy" wait_until 10 etcd_healthy
check "restore: the backed-up keys are back" test "$(data_keys /before/)" = 10
check "restore: the later writes are gone" test "$(data_keys /after/)" = 0
controllers_restarted() { new_pid kube-controller-manager "$kcm_before" && new_pid kube-scheduler "$sch_before"; }
check "restore: kube-controller-manager and kube-scheduler restarted (new pids)" controllers_restarted
check "restore: /readyz answers when the restore returns" readyz
check "restore: the manifests back as they were (names, modes, owners, contents)" \
  test "$man_before" = "$(manifests_state)"
check "restore: no holding dir left" no_held_dir
pre=$(ct sh -c 'ls -d /var/lib/etcd.pre-restore-* 2>/dev/null' | head -1)
check "restore: the old data dir kept ($pre), with the later writes" \
  ct sh -c "test -d '$pre/member' && grep -qa /after/k1 '$pre/member/snap/db'"
check "journal: restore started" ct sh -c 'journalctl --sync; journalctl -q MESSAGE_ID=017db7d7f98c434cb59d0ec5f2d54a05 | grep -q .'
check "journal: restore finished" ct sh -c 'journalctl --sync; journalctl -q MESSAGE_ID=4d355615b1504ddcbb94373e3965e3b6 | grep -q .'
check "the restore service is gone (the socket's connection ended)" \
  ct sh -c "test -z \"\$(systemctl list-units --no-legend --state=active 'etcd-backupd-restore@*')\""
out=$(ct "$ETCD_BACKUPCTL" backup 2>&1); rc=$?
p2=$(backup_path "$out")
check "the daemon backs up the restored etcd ($(tail -1 <<<"$out"))" \
  ct test $rc -eq 0 -a -n "$p2" -a "$p2" != "$p1" -a -f "$p2" -a -f "$p2.json"
check "etcd-backupd.service still active" active etcd-backupd.service

# ---- a restore whose etcd cannot come up rolls back ----
ectl put /after-restore/k1 kept >/dev/null
data_before=$(ectl get "" --prefix --keys-only | sort)
ct cp "$CONF" /run/good.conf
ct sed -i -e "s|^  initial_cluster = \"\\(.*\\)\";|  initial_cluster = \"\\1,ghost=https://127.0.0.1:2390\";|" \
  -e 's|^  health_timeout = ".*";|  health_timeout = "20s";|' "$CONF"
check "bad configuration: restore.initial_cluster names a member that does not exist" \
  ct grep -q 'initial_cluster = ".*ghost=' "$CONF"
check "bad configuration: restore.health_timeout 20 s" ct grep -qF 'health_timeout = "20s";' "$CONF"
etcd_before=$(pod_pid etcd)
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" > "$T/restore-bad.out"
check "failed restore: exit 1" test $rc -eq 1
check "failed restore: says why and that it rolled back" \
  eval 'grep -q "etcd is not healthy after 20 s" <<<"$out" && grep -q "rolled back" <<<"$out"'
check "failed restore: etcd healthy again" wait_until 30 etcd_healthy
check "failed restore: every key as it was" test "$data_before" = "$(ectl get "" --prefix --keys-only | sort)"
check "failed restore: /readyz answers" wait_until 10 readyz
check "failed restore: the manifests back as they were" test "$man_before" = "$(manifests_state)"
check "failed restore: no holding dir left" no_held_dir
check "failed restore: the failed data dir kept as .failed-restore-*" \
  ct sh -c 'test -d "$(ls -d /var/lib/etcd.failed-restore-* | head -1)/member"'
check "journal: restore failed" ct sh -c 'journalctl --sync; journalctl -q MESSAGE_ID=f7d5be1d166a4c44ae83864fd04d74ba | grep -q .'
ct cp /run/good.conf "$CONF"

# ---- no kubelet runs: refused before anything moves ----
# A real kubelet that has died leaves its pods running (the container
# runtime runs them); the stand-in's live on too when only it is killed,
# with KillMode=process. Moving etcd's manifest would then stop nothing:
# the plan refuses. So it does for a kubelet that keeps crashing (systemd
# waiting to restart it), and not where a process of root's named kubelet
# runs under another unit (one of another user's does not count).
ct sh -c 'mkdir -p /run/systemd/system/kubelet.service.d &&
  printf "[Service]\nKillMode=process\n" > /run/systemd/system/kubelet.service.d/keep-pods.conf &&
  systemctl daemon-reload && systemctl kill --kill-who=main --signal=SIGKILL kubelet.service' >> "$T/ct.log" 2>&1
etcd_before=$(pod_pid etcd)
check "kubelet killed, its pods still running" wait_until 10 eval '! active kubelet.service && etcd_healthy && readyz'
no_kubelet="kubelet.service is not running (ActiveState=%s) and no process of root's named kubelet runs: the restore stops and starts etcd and kube-apiserver by moving their manifests out of /etc/kubernetes/manifests and back, which only a running kubelet acts on. Start it (systemctl start kubelet.service; journalctl -u kubelet.service says why it stopped), wait until etcd's pod answers, then restore again"
out=$(ct "$ETCD_BACKUPCTL" restore latest --yes 2>&1); rc=$?
echo "$out" | sed 's/^/    /'
# shellcheck disable=SC2059
check "no kubelet: refused (exit $rc), naming the kubelet's unit and what to do" \
  eval 'test $rc -eq 1 && grep -qF "etcd runs as a static pod here (restore.mode = static-pod), but $(printf "$no_kubelet" failed)" <<<"$out"'
check "no kubelet: nothing moved, etcd the same process" \
  eval 'test "$man_before" = "$(manifests_state)" && no_held_dir && test "$(pod_pid etcd)" = "$etcd_before" && etcd_healthy'
ct sh -c 'cp /usr/bin/sleep /run/kubelet && systemd-run --uid=nobody --unit=nobodys-kubelet /run/kubelet 300' >> "$T/ct.log" 2>&1
# kubelet_owners: the owners of the processes named kubelet.
kubelet_owners() { ct sh -c 'for p in /proc/[0-9]*; do [ "$(cat "$p/comm" 2>/dev/null)" = kubelet ] && stat -c %U "$p"; done'; }
check "a process named kubelet of nobody's runs" wait_until 10 eval 'test "$(kubelet_owners)" = nobody'
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1); rc=$?
# shellcheck disable=SC2059
check "a process named kubelet of nobody's: still refused (exit $rc)" \
  eval 'test $rc -eq 1 && grep -qF "$(printf "$no_kubelet" failed)" <<<"$out"'
ct sh -c 'systemctl stop nobodys-kubelet.service && systemd-run --unit=other-kubelet /run/kubelet 300' >> "$T/ct.log" 2>&1
check "a process of root's named kubelet runs" wait_until 10 eval 'test "$(kubelet_owners)" = root'
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1); rc=$?
check "a process of root's named kubelet under another unit: the dry run plans (exit $rc)" test $rc -eq 0
ct systemctl stop other-kubelet.service >> "$T/ct.log" 2>&1
ct sh -c 'printf "[Service]\nExecStart=\nExecStart=/bin/false\nRestart=always\nRestartSec=3600\n" > /run/systemd/system/kubelet.service.d/crash.conf &&
  systemctl daemon-reload && systemctl reset-failed kubelet.service && systemctl start kubelet.service' >> "$T/ct.log" 2>&1
check "a kubelet that keeps crashing: waiting to be restarted" \
  wait_until 10 eval '[[ $(ct systemctl show -P SubState kubelet.service) == auto-restart ]]'
out=$(ct "$ETCD_BACKUPCTL" restore latest --dry-run 2>&1); rc=$?
# shellcheck disable=SC2059
check "a kubelet that keeps crashing: refused (exit $rc)" \
  eval 'test $rc -eq 1 && grep -qF "$(printf "$no_kubelet" "activating, SubState=auto-restart")" <<<"$out"'
finish
