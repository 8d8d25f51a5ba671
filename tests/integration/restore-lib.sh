# tests/integration/restore-lib.sh — shared by the restore-*.sh tests (not a
# test itself): a kubeadm-shaped node in a scratch directory, run by a
# KUBELET STAND-IN, and the restore socket under systemd-socket-activate.
#
# There is no kubelet here. The stand-in below is a bash loop that watches
# a manifests directory and does what the kubelet does with static pods as
# far as the restore can tell: a manifest that appears is started, one that
# leaves is stopped (SIGTERM, then waited for), a pod that dies while its
# manifest is there is restarted. Its "manifests" are small bash scripts,
# not pod specs; the restore code never parses them (it only moves files
# and scans kube-apiserver's for --secure-port=N and --bind-address=IP,
# which these carry in a comment; ABIND, when set, is that address). etcd runs with the certificates of `scripts/dev-etcd --certs`
# and the data dir from the config; the kube-apiserver stand-in is a socat
# listener on the port named by --secure-port.
#
# Everything started here is stopped by PID at exit (lib.sh's CLEANUP).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for tool in systemd-socket-activate socat etcd etcdctl jq; do
  command -v "$tool" >/dev/null || { echo "$(basename "$0"): $tool missing"; exit 1; }
done

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
free_port() {
  local p
  for _ in $(seq 1 200); do
    p=$((20000 + RANDOM % 40000))
    port_in_use "$p" || port_in_use $((p + 1)) || { echo "$p"; return 0; }
  done
  return 1
}

# The node: NODE/var/lib/etcd, NODE/etc/kubernetes/manifests, backups in $T/backups.
NODE=$T/node
DATA=$NODE/var/lib/etcd
MAN=$NODE/etc/kubernetes/manifests
BACKUPS=$T/backups
mkdir -p "$NODE/var/lib" "$MAN" "$T/pids"
"$TOP_SRCDIR/scripts/dev-etcd" --certs "$T/etcd" >/dev/null || { echo "cannot make certificates"; exit 1; }
PKI=$T/etcd/pki/etcd
ETCD_CACERT=$PKI/ca.crt ETCD_CERT=$PKI/healthcheck-client.crt ETCD_KEY=$PKI/healthcheck-client.key
CPORT=$(free_port); PPORT=$((CPORT + 1))
APORT=$(free_port)
while [[ $APORT == "$CPORT" || $APORT == "$PPORT" ]]; do APORT=$(free_port); done
ETCD_ENDPOINT=https://127.0.0.1:$CPORT
# Sockets live in a directory others may enter, so that the peer credential
# check (not only file permissions) is what refuses a stranger.
SOCKDIR=$(mktemp -d /tmp/etcd-backupd-rsock.XXXXXX); chmod 0755 "$SOCKDIR"; CLEANUP+=("rm -rf '$SOCKDIR'")

write_manifests() { # the stand-in "static pods"
  cat > "$T/etcd.yaml" <<EOF
# kubelet stand-in manifest (tests/integration/restore-lib.sh), not a pod spec
exec etcd --name default --data-dir '$DATA' \\
  --listen-client-urls https://127.0.0.1:$CPORT --advertise-client-urls https://127.0.0.1:$CPORT \\
  --listen-peer-urls https://127.0.0.1:$PPORT --initial-advertise-peer-urls https://127.0.0.1:$PPORT \\
  --initial-cluster default=https://127.0.0.1:$PPORT --initial-cluster-token restore-test \\
  --client-cert-auth --trusted-ca-file '$PKI/ca.crt' --cert-file '$PKI/server.crt' --key-file '$PKI/server.key' \\
  --peer-client-cert-auth --peer-trusted-ca-file '$PKI/ca.crt' --peer-cert-file '$PKI/peer.crt' \\
  --peer-key-file '$PKI/peer.key' --snapshot-count 100000
EOF
  cat > "$T/kube-apiserver.yaml" <<EOF
# kubelet stand-in manifest (tests/integration/restore-lib.sh), not a pod spec
#    - --secure-port=$APORT
${ABIND:+#    - --bind-address=$ABIND}
exec socat TCP-LISTEN:$APORT,bind=${ABIND:-127.0.0.1},reuseaddr,fork SYSTEM:true
EOF
  cp "$T/etcd.yaml" "$T/kube-apiserver.yaml" "$MAN/"
}

# kubelet_standin: runs in the background until $T/kubelet.stop exists.
kubelet_standin() {
  declare -A pid=()
  local m f p
  while [[ ! -e $T/kubelet.stop ]]; do
    for m in etcd kube-apiserver; do
      f=$MAN/$m.yaml p=${pid[$m]:-}
      if [[ -f $f ]]; then
        if [[ -z $p ]] || ! kill -0 "$p" 2>/dev/null; then
          [[ -n $p ]] && echo "$(date +%T.%N) $m exited; restarting" >> "$T/kubelet.log"
          bash "$f" >> "$T/$m.log" 2>&1 &
          pid[$m]=$!; echo "$!" > "$T/pids/$m"
          echo "$(date +%T.%N) started $m pid $!" >> "$T/kubelet.log"
        fi
      elif [[ -n $p ]]; then
        kill "$p" 2>/dev/null
        for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null
        echo "$(date +%T.%N) stopped $m pid $p" >> "$T/kubelet.log"
        pid[$m]=""; rm -f "$T/pids/$m"
      fi
    done
    sleep 0.2
  done
  for p in "${pid[@]}"; do
    [[ -n $p ]] || continue
    kill "$p" 2>/dev/null
    for _ in $(seq 1 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$p" 2>/dev/null
  done
}

stop_kubelet() {
  touch "$T/kubelet.stop"
  for _ in $(seq 1 150); do kill -0 "$KUBELET" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$KUBELET" 2>/dev/null
  local f
  for f in "$T"/pids/*; do [[ -f $f ]] && kill -9 "$(cat "$f")" 2>/dev/null; done
}

etcd_healthy() { ctl --command-timeout=2s endpoint health >/dev/null 2>&1; }
apiserver_up() { (exec 3<>"/dev/tcp/${ABIND:-127.0.0.1}/$APORT") 2>/dev/null; }
wait_for() { # SECONDS command...
  local n=$(($1 * 10)); shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

start_node() {
  write_manifests
  kubelet_standin & KUBELET=$!
  CLEANUP+=("stop_kubelet")
  wait_for 30 etcd_healthy || { echo "etcd did not start"; tail -20 "$T/etcd.log"; exit 1; }
  wait_for 10 apiserver_up || { echo "the kube-apiserver stand-in did not start"; exit 1; }
}

# restore_conf FILE [EXTRA restore KEYS...]: the config the restore service uses.
restore_conf() {
  local f=$1; shift
  { etcd_group
    storage_group "$BACKUPS" gzip 3
    printf 'restore: { mode = "auto"; data_dir = "%s"; manifests_dir = "%s"; name = "default";\n' "$DATA" "$MAN"
    printf '  initial_cluster = "default=https://127.0.0.1:%s"; initial_cluster_token = "restore-test";\n' "$PPORT"
    printf '  initial_advertise_peer_urls = "https://127.0.0.1:%s"; health_timeout = "60s";\n' "$PPORT"
    printf '  %s\n};\n' "$*"; } > "$f"
}

# restore_socket NAME CONF [WRAPPER...]: a restore socket (Accept=yes, the
# connection on stdin/stdout) serving CONF, its path in RSOCK. WRAPPER runs
# the activator (e.g. inside another mount namespace); its PID is in RPID.
restore_socket() {
  local name=$1 conf=$2; shift 2
  RSOCK=$SOCKDIR/$name.sock
  "$@" systemd-socket-activate --accept --inetd -l "$RSOCK" "$ETCD_BACKUPD" --serve-restore -c "$conf" \
    >> "$T/restore-$name.log" 2>&1 &
  RPID=$!
  CLEANUP+=("kill $RPID")
  wait_for 5 test -S "$RSOCK" || { echo "no restore socket"; exit 1; }
}

# A listing of a directory tree: names, sizes, modes, owners and checksums.
tree_state() {
  (cd "$1" 2>/dev/null && find . -printf '%p %y %s %m %u:%g\n' | sort &&
   find . -type f -exec sha256sum {} + | sort)
}
etcd_pid() { cat "$T/pids/etcd" 2>/dev/null; }
# jqt EXPR: jq -e on stdin, quietly (for check).
jqt() { jq -e "$1" >/dev/null; }
