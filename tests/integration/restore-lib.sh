# tests/integration/restore-lib.sh — shared by the restore-*.sh tests (not a
# test itself): a kubeadm-shaped node in a scratch directory, run by a
# KUBELET STAND-IN, and the restore socket under systemd-socket-activate.
#
# There is no kubelet here. tests/helpers/kubelet-standin.py watches the
# manifests directory and does with static pods what the kubelet does as
# far as the restore can tell: it reads each pod manifest (YAML as kubeadm
# writes it), runs its container's `command:` list as it is in a private
# mount namespace where each hostPath volume is mounted at its mountPath,
# stops a pod whose manifest leaves and restarts one that dies. etcd.yaml
# runs the real etcd with kubeadm's flags and in-pod paths (--data-dir
# /var/lib/etcd on the etcd-data hostPath volume $NODE/var/lib/etcd; the
# certificates of `scripts/dev-etcd --certs` at /etc/kubernetes/pki/etcd);
# kube-apiserver.yaml runs tests/helpers/apiserver-standin.py with
# kube-apiserver's flags, which serves /readyz over TLS at --bind-address
# (ABIND, when set) and --secure-port.
#
# Everything started here is stopped by PID at exit (lib.sh's CLEANUP).
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
for tool in systemd-socket-activate socat etcd etcdctl jq; do
  command -v "$tool" >/dev/null || { echo "$(basename "$0"): $tool missing"; exit 1; }
done

# shellcheck source=scripts/ports.sh
. "$TOP_SRCDIR/scripts/ports.sh"

# The node: NODE/var/lib/etcd, NODE/etc/kubernetes/manifests, backups in $T/backups.
NODE=$T/node
DATA=$NODE/var/lib/etcd
MAN=$NODE/etc/kubernetes/manifests
BACKUPS=$T/backups
mkdir -p "$NODE/var/lib" "$MAN" "$T/pids"
"$TOP_SRCDIR/scripts/dev-etcd" --certs "$T/etcd" >/dev/null || { echo "cannot make certificates"; exit 1; }
PKI=$T/etcd/pki/etcd
# kubeadm's /etc/kubernetes/pki (tests/helpers/k8s-pki.sh), etcd's
# certificates below it, as kubeadm lays them out.
. "$TOP_SRCDIR/tests/helpers/k8s-pki.sh"
K8S_PKI=$T/k8s/pki
mkdir -p "$K8S_PKI"; ln -s "$PKI" "$K8S_PKI/etcd"
make_k8s_pki "$K8S_PKI" || { echo "cannot make the kubernetes certificates"; exit 1; }
ETCD_CACERT=$PKI/ca.crt ETCD_CERT=$PKI/healthcheck-client.crt ETCD_KEY=$PKI/healthcheck-client.key
CPORT=$(free_port) && APORT=$(free_port "$CPORT") && CMPORT=$(free_port "$CPORT" "$APORT") &&
  SCHPORT=$(free_port "$CPORT" "$APORT" "$CMPORT") || exit 1
PPORT=$((CPORT + 1))
# Every port picked here, for a later free_port to stay apart from (nothing
# listens on kube-apiserver's or the controllers' while they are down).
PORTS_TAKEN=("$CPORT" "$APORT" "$CMPORT" "$SCHPORT")
ETCD_ENDPOINT=https://127.0.0.1:$CPORT
# Sockets live in a directory others may enter, so that the peer credential
# check (not only file permissions) is what refuses a stranger.
SOCKDIR=$(mktemp -d /tmp/etcd-backupd-rsock.XXXXXX); chmod 0755 "$SOCKDIR"; CLEANUP+=("rm -rf '$SOCKDIR'")
RESTORE_ENV=()

NAME=${NAME:-node1}   # this member's --name: in etcd.yaml only
write_manifests() { # the static pods, as kubeadm writes them (with this node's paths)
  MPORT=$(free_port "${PORTS_TAKEN[@]}") || exit 1
  PORTS_TAKEN+=("$MPORT")
  cat > "$T/etcd.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://127.0.0.1:$CPORT
  creationTimestamp: null
  labels:
    component: etcd
    tier: control-plane
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://127.0.0.1:$CPORT
    - --cert-file=/etc/kubernetes/pki/etcd/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --experimental-initial-corrupt-check=true
    - --initial-advertise-peer-urls=https://127.0.0.1:$PPORT
    - --initial-cluster=$NAME=https://127.0.0.1:$PPORT
    - --key-file=/etc/kubernetes/pki/etcd/server.key
    - --listen-client-urls=https://127.0.0.1:$CPORT
    - --listen-metrics-urls=http://127.0.0.1:$MPORT
    - --listen-peer-urls=https://127.0.0.1:$PPORT
    - --name=$NAME
    - --peer-cert-file=/etc/kubernetes/pki/etcd/peer.crt
    - --peer-client-cert-auth=true
    - --peer-key-file=/etc/kubernetes/pki/etcd/peer.key
    - --peer-trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    - --snapshot-count=10000
    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt
    image: registry.k8s.io/etcd:3.5.9-0
    imagePullPolicy: IfNotPresent
    livenessProbe:
      failureThreshold: 8
      httpGet:
        host: 127.0.0.1
        path: /health?exclude=NOSPACE&serializable=true
        port: $MPORT
        scheme: HTTP
      initialDelaySeconds: 10
      periodSeconds: 10
      timeoutSeconds: 15
    name: etcd
    resources:
      requests:
        cpu: 100m
        memory: 100Mi
    volumeMounts:
    - mountPath: /var/lib/etcd
      name: etcd-data
    - mountPath: /etc/kubernetes/pki/etcd
      name: etcd-certs
  hostNetwork: true
  priority: 2000001000
  priorityClassName: system-node-critical
  securityContext:
    seccompProfile:
      type: RuntimeDefault
  volumes:
  - hostPath:
      path: $PKI
      type: DirectoryOrCreate
    name: etcd-certs
  - hostPath:
      path: $DATA
      type: DirectoryOrCreate
    name: etcd-data
status: {}
EOF
  cat > "$T/kube-apiserver.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  labels:
    component: kube-apiserver
    tier: control-plane
  name: kube-apiserver
  namespace: kube-system
spec:
  containers:
  - command:
    - python3
    - $TOP_SRCDIR/tests/helpers/apiserver-standin.py
    - --advertise-address=127.0.0.1
    - --allow-privileged=true
    - --authorization-mode=Node,RBAC${ABIND:+
    - --bind-address=$ABIND}
    - --client-ca-file=/etc/kubernetes/pki/ca.crt
    - --etcd-cafile=/etc/kubernetes/pki/etcd/ca.crt
    - --etcd-certfile=/etc/kubernetes/pki/etcd/healthcheck-client.crt
    - --etcd-keyfile=/etc/kubernetes/pki/etcd/healthcheck-client.key
    - --etcd-servers=https://127.0.0.1:$CPORT
    - --secure-port=$APORT
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    image: registry.k8s.io/kube-apiserver:v1.28.4
    name: kube-apiserver
    readinessProbe:
      httpGet:
        host: ${ABIND:-127.0.0.1}
        path: /readyz
        port: $APORT
        scheme: HTTPS
    volumeMounts:
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
  hostNetwork: true
  priorityClassName: system-node-critical
  volumes:
  - hostPath:
      path: $K8S_PKI
      type: DirectoryOrCreate
    name: k8s-certs
status: {}
EOF
  for c in kube-controller-manager kube-scheduler; do
    port=$CMPORT; [[ $c == kube-scheduler ]] && port=$SCHPORT
    cat > "$T/$c.yaml" <<EOF
apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  labels:
    component: $c
    tier: control-plane
  name: $c
  namespace: kube-system
spec:
  containers:
  - command:
    - python3
    - $TOP_SRCDIR/tests/helpers/apiserver-standin.py
    - --authentication-kubeconfig=/etc/kubernetes/$c.conf
    - --authorization-kubeconfig=/etc/kubernetes/$c.conf
    - --bind-address=127.0.0.1
    - --kubeconfig=/etc/kubernetes/$c.conf
    - --leader-elect=true
    - --secure-port=$port
    - --tls-cert-file=/etc/kubernetes/pki/apiserver.crt
    - --tls-private-key-file=/etc/kubernetes/pki/apiserver.key
    image: registry.k8s.io/$c:v1.28.4
    livenessProbe:
      httpGet:
        host: 127.0.0.1
        path: /healthz
        port: $port
        scheme: HTTPS
    name: $c
    volumeMounts:
    - mountPath: /etc/kubernetes/pki
      name: k8s-certs
      readOnly: true
  hostNetwork: true
  priorityClassName: system-node-critical
  volumes:
  - hostPath:
      path: $K8S_PKI
      type: DirectoryOrCreate
    name: k8s-certs
status: {}
EOF
  done
  cp "$T/etcd.yaml" "$T/kube-apiserver.yaml" "$T/kube-controller-manager.yaml" "$T/kube-scheduler.yaml" "$MAN/"
}

kubelet_standin() {
  exec python3 "$TOP_SRCDIR/tests/helpers/kubelet-standin.py" "$MAN" "$T"
}

stop_kubelet() { # the stand-in stops its pods; any it left (killed itself) are killed by their IDs
  touch "$T/kubelet.stop"
  for _ in $(seq 1 150); do proc_alive "$KUBELET" || break; sleep 0.1; done
  signal_proc -KILL "$KUBELET"
  local f
  for f in "$T"/pids/*; do [[ -f $f ]] && signal_proc -KILL "$(cat "$f")"; done
}

etcd_healthy() { ctl --command-timeout=2s endpoint health >/dev/null 2>&1; }
apiserver_up() { # /readyz answers 200, verified with the CA of --client-ca-file for the name "kubernetes"
  [[ $(curl -s -o /dev/null -w '%{http_code}' --max-time 2 --cacert "$K8S_PKI/ca.crt" \
       --resolve "kubernetes:$APORT:${ABIND:-127.0.0.1}" "https://kubernetes:$APORT/readyz") == 200 ]]
}
pod_pid() { cat "$T/pids/$1" 2>/dev/null; } # PID:START (scripts/procs.sh), empty when not running
wait_for() { # SECONDS command...
  local n=$(($1 * 10)); shift
  for _ in $(seq 1 "$n"); do "$@" && return 0; sleep 0.1; done
  return 1
}

start_node() {
  write_manifests
  kubelet_standin & KUBELET=$(proc_id $!)
  CLEANUP+=("stop_kubelet")
  wait_for 30 etcd_healthy || { echo "etcd did not start"; tail -20 "$T/etcd.log"; exit 1; }
  wait_for 10 apiserver_up || { echo "the kube-apiserver stand-in did not start"; exit 1; }
}

# restore_conf FILE [EXTRA restore KEYS...]: the config the restore service
# uses. It names no data dir, member name or peer URLs: the restore reads
# them from etcd.yaml in the manifests dir ($RMAN when set, else $MAN).
restore_conf() {
  local f=$1; shift
  { etcd_group
    storage_group "$BACKUPS" gzip 3
    printf 'restore: { mode = "auto"; manifests_dir = "%s"; \n' "${RMAN:-$MAN}"
    printf '  health_timeout = "60s";\n'
    printf '  %s\n};\n' "$*"; } > "$f"
}

# manifests_for DIR DATA_DIR: a manifests dir holding this node's etcd.yaml
# with its etcd-data hostPath volume at DATA_DIR instead (for refusals that
# happen before anything is stopped: no kubelet watches DIR).
manifests_for() {
  mkdir -p "$1"
  sed "s|^      path: $DATA\$|      path: $2|" "$T/etcd.yaml" > "$1/etcd.yaml"
  grep -q "path: $2\$" "$1/etcd.yaml" || { echo "manifests_for: no etcd-data hostPath in etcd.yaml"; exit 1; }
}

# restore_socket NAME CONF [WRAPPER...]: a restore socket (Accept=yes, the
# connection on stdin/stdout) serving CONF, its path in RSOCK. WRAPPER runs
# the activator (e.g. inside another mount namespace); its PID is in RPID.
restore_socket() {
  local name=$1 conf=$2 setenv=() v; shift 2
  RSOCK=$SOCKDIR/$name.sock
  # The service's environment is systemd-socket-activate's own: VAR=VALUE
  # words in RESTORE_ENV (an array) are set there. No system bus: the
  # stand-ins here are no units, and a kubelet.service of the machine the
  # tests run on is not this node's.
  setenv=(-E DBUS_SYSTEM_BUS_ADDRESS=unix:path=/nonexistent)
  for v in "${RESTORE_ENV[@]}"; do setenv+=(-E "$v"); done
  "$@" systemd-socket-activate --accept --inetd "${setenv[@]}" -l "$RSOCK" "$ETCD_BACKUPD" --serve-restore -c "$conf" \
    >> "$T/restore-$name.log" 2>&1 &
  RPID=$!
  kill_at_exit "$RPID"
  wait_for 5 listening "$RSOCK" "$RPID" || { echo "no restore socket listens at $RSOCK"; exit 1; }
}

# restore_socket_preloaded NAME CONF LIBRARY [VAR=VALUE...]: restore_socket
# with LIBRARY (a test helper that watches or fails some of its calls)
# preloaded into the service, and the VAR=VALUE words in its environment.
restore_socket_preloaded() {
  local name=$1 conf=$2 lib=$3; shift 3
  RESTORE_ENV=(LD_PRELOAD="$lib" ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" "$@")
  restore_socket "$name" "$conf"
  RESTORE_ENV=()
}

# etcd_settled: etcd's writes so far in its db file. etcd commits them
# there within its batch interval (100 ms), or at once for a snapshot: a
# listing of the data dir taken after this is not changed by etcd itself
# while nothing writes to it.
etcd_settled() { ctl snapshot save "$T/settled.db" >/dev/null && rm -f "$T/settled.db"; }
# A listing of a directory tree: names, sizes, modes, owners and checksums.
tree_state() {
  (cd "$1" 2>/dev/null && find . -printf '%p %y %s %m %u:%g\n' | sort &&
   find . -type f -exec sha256sum {} + | sort)
}
etcd_pid() { cat "$T/pids/etcd" 2>/dev/null; }
# jqt EXPR: jq -e on stdin, quietly (for check).
jqt() { local in; in=$(cat); jq_true "$1" "$in"; } # FILTER, JSON on stdin: empty input fails
