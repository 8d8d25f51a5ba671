# tests/helpers/k8s-pki.sh — sourced: make_k8s_pki DIR makes kubeadm's
# /etc/kubernetes/pki in DIR: the cluster CA (ca.crt, ca.key: what
# kube-apiserver's --client-ca-file names) and kube-apiserver's serving
# certificate (apiserver.crt, apiserver.key) with kubeadm's names — not
# 127.0.0.1: the restore verifies the name "kubernetes". Returns non-zero
# when openssl fails.
make_k8s_pki() {
  mkdir -p "$1" &&
  ( cd "$1" &&
    openssl ecparam -name prime256v1 -genkey -noout -out ca.key &&
    openssl req -x509 -new -key ca.key -subj /CN=kubernetes -days 3650 -sha256 \
      -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -out ca.crt &&
    openssl ecparam -name prime256v1 -genkey -noout -out apiserver.key &&
    openssl req -new -key apiserver.key -subj /CN=kube-apiserver -out apiserver.csr &&
    printf '%s\n' 'subjectAltName=DNS:cp1,DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc,DNS:kubernetes.default.svc.cluster.local,IP:10.96.0.1,IP:192.168.122.10' \
      'extendedKeyUsage=serverAuth' > apiserver.ext &&
    openssl x509 -req -in apiserver.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 3650 -sha256 \
      -extfile apiserver.ext -out apiserver.crt ) >/dev/null 2>&1
}
