#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Kubernetes values as kube-apiserver writes them into etcd, for the tests.

Protobuf is encoded here from the field numbers of the Kubernetes API
(k8s.io/apimachinery runtime.Unknown and meta/v1 ObjectMeta, k8s.io/api
core/v1), custom resources are JSON, and Secrets are encrypted under an
EncryptionConfiguration by an independent implementation: Python's
cryptography (aescbc, aesgcm with the etcd key as additional data) and
PyNaCl (secretbox). Debian's python3-cryptography, python3-nacl and
python3-yaml; run with /usr/bin/python3.

  k8s-values.py make DIR
      writes DIR/encryption-config.yaml (several keys), and for each object
      DIR/objects/<n>.{key,value,json} (etcd key, stored value, the object as
      `get -o json` must print it) plus DIR/bad/<n>.{key,value,error} for
      values that must be refused.
  k8s-values.py compare GOT.json WANT.json
      field-by-field comparison; prints each difference, exit 1 if any.
  k8s-values.py manifest GOT.yaml WANT.json
      the YAML parsed and compared with WANT minus what the cluster owns.
"""

import base64
import json
import os
import sys

import yaml
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
import nacl.secret
import nacl.utils

# ---- protobuf from field numbers ----


def varint(n):
    if n < 0:
        n += 1 << 64
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def f_bytes(num, data):
    if isinstance(data, str):
        data = data.encode()
    return varint(num << 3 | 2) + varint(len(data)) + data


def f_varint(num, value):
    return varint(num << 3) + varint(value)


def f_map(num, mapping):
    return b"".join(f_bytes(num, f_bytes(1, k) + f_bytes(2, v)) for k, v in mapping.items())


def f_time(num, seconds):
    return f_bytes(num, f_varint(1, seconds) + f_varint(2, 0))


def rfc3339(seconds):
    import time
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


# ObjectMeta: name 1, generateName 2, namespace 3, selfLink 4, uid 5,
# resourceVersion 6, generation 7, creationTimestamp 8, deletionTimestamp 9,
# labels 11, annotations 12, ownerReferences 13, finalizers 14, clusterName
# 15 (gone in 1.25), managedFields 17; laid out as kube-apiserver's gogo
# protobuf writes it: every string and integer that is not a pointer, empty
# or not (kube-apiserver stores no resourceVersion or selfLink: both empty),
# and by 1.24 and before (meta's "_old") an empty clusterName.
def object_meta(meta):
    out = f_bytes(1, meta["name"]) + f_bytes(2, meta.get("generateName", "")) + f_bytes(3, meta.get("namespace", ""))
    out += f_bytes(4, "") + f_bytes(5, meta["uid"]) + f_bytes(6, "") + f_varint(7, meta.get("generation", 0))
    out += f_time(8, meta["_created"])
    out += f_map(11, meta.get("labels", {}))
    out += f_map(12, meta.get("annotations", {}))
    for o in meta.get("ownerReferences", []):
        # OwnerReference: kind 1, name 3, uid 4, apiVersion 5, controller 6
        out += f_bytes(13, f_bytes(1, o["kind"]) + f_bytes(3, o["name"]) + f_bytes(4, o["uid"]) +
                       f_bytes(5, o["apiVersion"]) + f_varint(6, 1 if o["controller"] else 0))
    for fin in meta.get("finalizers", []):
        out += f_bytes(14, fin)
    if meta.get("_old"):
        out += f_bytes(15, "")
    for m in meta.get("managedFields", []):
        # ManagedFieldsEntry: manager 1, operation 2, apiVersion 3, time 4,
        # fieldsType 6, fieldsV1 7 (FieldsV1: Raw 1), subresource 8 (empty)
        out += f_bytes(17, f_bytes(1, m["manager"]) + f_bytes(2, m["operation"]) + f_bytes(3, m["apiVersion"]) +
                       f_time(4, m["_time"]) + f_bytes(6, m["fieldsType"]) +
                       f_bytes(7, f_bytes(1, json.dumps(m["fieldsV1"], separators=(",", ":")))) + f_bytes(8, ""))
    return out


def meta_json(meta):
    j = {k: v for k, v in meta.items() if not k.startswith("_")}
    j["creationTimestamp"] = rfc3339(meta["_created"])
    if not j.get("labels"):
        j.pop("labels", None)
    if not j.get("annotations"):
        j.pop("annotations", None)
    for m in j.get("managedFields", []):
        m["time"] = rfc3339(m.pop("_time"))
    return j


def envelope(api_version, kind, raw):
    # runtime.Unknown: typeMeta 1 {apiVersion 1, kind 2}, raw 2,
    # contentEncoding 3, contentType 4
    return (b"k8s\x00" + f_bytes(1, f_bytes(1, api_version) + f_bytes(2, kind)) + f_bytes(2, raw) +
            f_bytes(3, b"") + f_bytes(4, b""))


def meta(name, namespace=None, n=0, **extra):
    # Every other object as kube-apiserver 1.24 and before wrote it.
    m = {"name": name, "uid": "0b1c%04d-5e6f-4a7b-8c9d-0e1f2a3b4c5d" % n, "_created": 1700000000 + n * 3600,
         "_old": n % 2 == 0}
    if namespace:
        m["namespace"] = namespace
    m.update(extra)
    return m


MANAGED = [{"manager": "kubectl-client-side-apply", "operation": "Update", "apiVersion": "v1",
            "_time": 1700000100, "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {".": {}, "f:password": {}}, "f:type": {}}}]


def secret(m, data, stype="Opaque"):
    # Secret: metadata 1, data 2 (map<string, bytes>), type 3
    raw = f_bytes(1, object_meta(m)) + f_map(2, data) + f_bytes(3, stype)
    want = {"apiVersion": "v1", "kind": "Secret", "metadata": meta_json(m),
            "data": {k: base64.b64encode(v).decode() for k, v in data.items()}, "type": stype}
    return envelope("v1", "Secret", raw), want


def configmap(m, data, binary):
    # ConfigMap: metadata 1, data 2 (map<string, string>), binaryData 3
    raw = f_bytes(1, object_meta(m)) + f_map(2, data) + f_map(3, binary)
    want = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta_json(m), "data": data}
    if binary:
        want["binaryData"] = {k: base64.b64encode(v).decode() for k, v in binary.items()}
    return envelope("v1", "ConfigMap", raw), want


def pod(m):
    # Pod: metadata 1, spec 2 (PodSpec: containers 2 {name 1, image 2},
    # nodeName 10), status 3 (PodStatus: phase 1). The decoder knows only
    # the metadata: the rest must come back undecoded, byte for byte.
    rest = (f_bytes(2, f_bytes(2, f_bytes(1, "web") + f_bytes(2, "nginx:1.25")) + f_bytes(10, "node-1")) +
            f_bytes(3, f_bytes(1, "Running")))
    raw = f_bytes(1, object_meta(m)) + rest
    want = {"apiVersion": "v1", "kind": "Pod", "metadata": meta_json(m),
            "undecoded": {"protobuf": {".": base64.b64encode(rest).decode()}}}
    return envelope("v1", "Pod", raw), want


# ---- encryption ----

KEYS = {
    ("aescbc", "key1"): bytes(range(32)),
    ("aescbc", "old"): bytes(range(40, 56)),
    ("aesgcm", "gcm1"): bytes(range(100, 132)),
    ("aesgcm", "gcm:2"): bytes(range(150, 174)),  # a name with a colon, as kube-apiserver allows
    ("secretbox", "box1"): bytes(range(200, 232)),
}
RETIRED = ("aescbc", "retired"), bytes(range(1, 33))   # not in the configuration


def encrypt(provider, name, key, etcd_key, plaintext):
    prefix = ("k8s:enc:%s:v1:%s:" % (provider, name)).encode()
    if provider == "aescbc":
        iv = os.urandom(16)
        p = padding.PKCS7(128).padder()
        padded = p.update(plaintext) + p.finalize()
        e = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
        return prefix + iv + e.update(padded) + e.finalize()
    if provider == "aesgcm":
        nonce = os.urandom(12)
        return prefix + nonce + AESGCM(key).encrypt(nonce, plaintext, etcd_key.encode())
    if provider == "secretbox":
        nonce = nacl.utils.random(nacl.secret.SecretBox.NONCE_SIZE)
        return prefix + bytes(nacl.secret.SecretBox(key).encrypt(plaintext, nonce))
    raise ValueError(provider)


def config_yaml():
    def keys(provider):
        return [{"name": n, "secret": base64.b64encode(k).decode()} for (p, n), k in KEYS.items() if p == provider]
    doc = {"apiVersion": "apiserver.config.k8s.io/v1", "kind": "EncryptionConfiguration",
           "resources": [
               {"resources": ["secrets"],
                "providers": [{"aescbc": {"keys": keys("aescbc")}}, {"aesgcm": {"keys": keys("aesgcm")}},
                              {"secretbox": {"keys": keys("secretbox")}}, {"identity": {}}]},
               {"resources": ["configmaps"],
                "providers": [{"identity": {}}, {"aesgcm": {"keys": keys("aesgcm")}}]}]}
    return yaml.safe_dump(doc, sort_keys=False)


def length_past_end():
    """An envelope whose raw field claims 100 bytes more than there are."""
    raw = f_bytes(1, object_meta(meta("x", "bad", 21)))
    return (b"k8s\x00" + f_bytes(1, f_bytes(1, "v1") + f_bytes(2, "Secret")) + varint(2 << 3 | 2) +
            varint(len(raw) + 100) + raw)


def make(d):
    os.makedirs(os.path.join(d, "objects"), exist_ok=True)
    os.makedirs(os.path.join(d, "bad"), exist_ok=True)
    with open(os.path.join(d, "encryption-config.yaml"), "w") as f:
        f.write(config_yaml())
    os.chmod(os.path.join(d, "encryption-config.yaml"), 0o600)

    objects = []

    def add(name, etcd_key, value, want):
        objects.append(name)
        with open(os.path.join(d, "objects", name + ".key"), "w") as f:
            f.write(etcd_key)
        with open(os.path.join(d, "objects", name + ".value"), "wb") as f:
            f.write(value)
        with open(os.path.join(d, "objects", name + ".json"), "w") as f:
            json.dump(want, f, indent=1, sort_keys=True)

    def add_secret(name, ns, provider, keyname, n, data, **extra):
        etcd_key = "/registry/secrets/%s/%s" % (ns, name)
        value, want = secret(meta(name, ns, n, **extra), data)
        if provider:
            key = KEYS.get((provider, keyname)) or RETIRED[1]
            value = encrypt(provider, keyname, key, etcd_key, value)
        add("secret-" + name, etcd_key, value, want)
        return value

    add_secret("db-password", "prod", "aescbc", "key1", 1, {"password": b"hunter2", "user": b"app"},
               labels={"app": "db", "tier": "backend"},
               annotations={"kubectl.kubernetes.io/last-applied-configuration": '{"kind":"Secret"}\n'},
               managedFields=json.loads(json.dumps(MANAGED)))
    add_secret("api-token", "prod", "aesgcm", "gcm1", 2, {"token": os.urandom(48)})
    add_secret("legacy", "prod", "aescbc", "old", 3, {"k": b"v"})
    add_secret("tls", "default", "secretbox", "box1", 4, {"tls.crt": b"-----BEGIN CERTIFICATE-----\nMIIB\n",
                                                          "tls.key": b"\x00\x01binary\xff"},
               ownerReferences=[{"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
                                 "uid": "aaaa-bbbb", "controller": True}], finalizers=["example.com/keep"])
    add_secret("plain", "default", None, None, 5, {"yes": b"no"}, generation=2)
    gcm2 = add_secret("gcm2", "kube-system", "aesgcm", "gcm:2", 6, {"a": b"b"})
    # Encrypted with a key the configuration no longer has: cannot be read.
    etcd_key = "/registry/secrets/prod/rotated-away"
    value, _ = secret(meta("rotated-away", "prod", 7), {"lost": b"forever"})
    with open(os.path.join(d, "bad", "rotated-away.key"), "w") as f:
        f.write(etcd_key)
    with open(os.path.join(d, "bad", "rotated-away.value"), "wb") as f:
        f.write(encrypt("aescbc", "retired", RETIRED[1], etcd_key, value))
    with open(os.path.join(d, "bad", "rotated-away.error"), "w") as f:
        f.write("which the encryption configuration does not have")

    v, want = configmap(meta("settings", "default", 8, labels={"app": "web"}),
                        {"app.properties": "color=blue\nsize=3\n", "enabled": "true", "count": "0123", "empty": ""},
                        {"logo.bin": b"\x89PNG\x00\x01"})
    add("configmap-settings", "/registry/configmaps/default/settings", v, want)
    etcd_key = "/registry/configmaps/kube-system/encrypted"
    v, want = configmap(meta("encrypted", "kube-system", 9), {"k": "v"}, {})
    add("configmap-encrypted", etcd_key, encrypt("aesgcm", "gcm1", KEYS[("aesgcm", "gcm1")], etcd_key, v), want)
    v, want = pod(meta("web-0", "default", 10, labels={"app": "web"}))
    add("pod-web-0", "/registry/pods/default/web-0", v, want)
    cr = {"apiVersion": "example.com/v1", "kind": "Widget",
          "metadata": {"name": "w1", "namespace": "default", "uid": "cr-uid-1", "generation": 4,
                       "creationTimestamp": "2023-11-14T22:13:20Z", "labels": {"size": "large"}},
          "spec": {"size": 3, "colors": ["red", "blue"], "enabled": True,
                   # A number that is no int64 is a float64 to kube-apiserver, written as Go
                   # writes one below 1e21: digits, no exponent (1e20, 2^64, -1e20).
                   "quota": 100000000000000000000, "limit": 18446744073709552000,
                   "floor": -100000000000000000000},
          "status": {"ready": True}}
    add("widget-w1", "/registry/example.com/widgets/default/w1", (json.dumps(cr) + "\n").encode(), cr)
    v, want = envelope("v1", "Namespace", f_bytes(1, object_meta(meta("team-a", None, 11))) +
                       f_bytes(2, f_bytes(1, "kubernetes")) + f_bytes(3, f_bytes(1, "Active"))), None
    add("namespace-team-a", "/registry/namespaces/team-a", v,
        {"apiVersion": "v1", "kind": "Namespace", "metadata": meta_json(meta("team-a", None, 11)),
         "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}})

    # Objects under a key kube-apiserver would not store them under (a crafted
    # backup): each with what -o manifest's refusal must say and what -o
    # json's warning must say ("" for none).
    os.makedirs(os.path.join(d, "planted"), exist_ok=True)

    def plant(name, etcd_key, value, refusal, warning):
        for ext, content in (("key", etcd_key.encode()), ("value", value), ("refusal", refusal.encode()),
                             ("warning", warning.encode())):
            with open(os.path.join(d, "planted", name + "." + ext), "wb") as f:
                f.write(content)

    crb = {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
           "metadata": {"name": "settings2", "namespace": "team-a", "uid": "crb-uid-1",
                        "creationTimestamp": "2023-11-14T22:13:20Z"},
           "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
           "subjects": [{"kind": "ServiceAccount", "name": "x", "namespace": "team-a"}]}
    said = ("holds kind ClusterRoleBinding (rbac.authorization.k8s.io) named team-a/settings2, "
            "where its key names configmaps team-a/settings2")
    plant("crb-among-configmaps", "/registry/configmaps/team-a/settings2", (json.dumps(crb) + "\n").encode(),
          said, said)
    v, _ = configmap(meta("real", "default", 30), {"k": "v"}, {})
    said = "holds kind ConfigMap named default/real, where its key names configmaps default/decoy"
    plant("configmap-under-another-name", "/registry/configmaps/default/decoy", v, said, said)
    # A kind with a terminal escape in it (a custom resource's: not checked
    # against the key), whose spec cannot be decoded: named with '?'.
    v = envelope("example.com/v1", "Widget\x1b]0;t\x07", f_bytes(1, object_meta(meta("w2", "default", 31))) +
                 f_bytes(2, f_bytes(1, "a spec it does not know")))
    plant("widget-kind-escape", "/registry/example.com/widgets/default/w2", v,
          "only the metadata of a Widget?]0;t? can be decoded", "")
    # Text a terminal would act on (a right-to-left override that shows
    # "good" for "doog", a C1 CSI, DEL) in a label and a value of a ConfigMap
    # where kube-apiserver would keep it: printed as escapes that read back
    # as the same strings (bidi.json: the strings, for the test to compare).
    bidi = {"label": "prod\u202egood", "value": "a\u009b2Jb\u007fc\u2066d\u200f"}
    v, _ = configmap(meta("bidi", "default", 32, labels={"tier": bidi["label"]}), {"note": bidi["value"]}, {})
    plant("configmap-bidi", "/registry/configmaps/default/bidi", v, "", "")
    with open(os.path.join(d, "planted", "bidi.json"), "w") as f:
        json.dump(bidi, f)
    # Not planted: built-in resources newer than kube-apiserver 1.28, stored
    # as protobuf without their group as the older ones are: the ServiceCIDR
    # every 1.33 cluster has, and one of a group's resource that the reader's
    # table does not know (its group cannot be told from the key, so it is not
    # compared). Only their metadata can be decoded (the ServiceCIDR's spec
    # cannot, so it is no manifest); no warning.
    v = envelope("networking.k8s.io/v1", "ServiceCIDR", f_bytes(1, object_meta(meta("kubernetes", None, 33))) +
                 f_bytes(2, f_bytes(1, "10.96.0.0/12")))
    plant("servicecidr-kubernetes", "/registry/servicecidrs/kubernetes", v,
          "only the metadata of a ServiceCIDR can be decoded", "")
    v = envelope("scheduling.k8s.io/v1alpha1", "Workload", f_bytes(1, object_meta(meta("batch", "default", 34))))
    plant("workload-newer", "/registry/workloads/default/batch", v, "", "")
    # Planted: a ClusterRoleBinding under a first segment the table does not
    # know; a resource the table knows is stored under its own key.
    said = ("holds kind ClusterRoleBinding (rbac.authorization.k8s.io) named default/x, "
            "where its key names widgetthings default/x")
    crb2 = dict(crb, metadata=dict(crb["metadata"], name="x", namespace="default"))
    plant("crb-under-unknown", "/registry/widgetthings/default/x", (json.dumps(crb2) + "\n").encode(), said, said)
    # Not planted: a Deployment last written by kube-apiserver 1.15, still in
    # the group it had then. Neither refused nor warned about.
    old = {"apiVersion": "extensions/v1beta1", "kind": "Deployment",
           "metadata": {"name": "old", "namespace": "default", "uid": "dep-uid-1",
                        "creationTimestamp": "2019-06-01T00:00:00Z"},
           "spec": {"replicas": 1}}
    plant("deployment-extensions", "/registry/deployments/default/old", (json.dumps(old) + "\n").encode(), "", "")

    # Values that must be refused, each with a word the error must contain.
    sec, _ = secret(meta("x", "bad", 20), {"a": b"b"})
    bad = {
        "truncated": (sec[:len(sec) // 2], "cannot be read as a Kubernetes object"),
        "length-past-end": (length_past_end(), "runs past the end"),
        "tampered-tag": (None, "wrong key or tampered"),
        "short-ciphertext": (b"k8s:enc:secretbox:v1:box1:" + os.urandom(10), "shorter than its nonce"),
        "unknown-provider": (b"k8s:enc:rot13:v1:key1:" + os.urandom(40), "does not exist"),
        "wrong-key": (None, "wrong key or tampered"),
        "kms": (b"k8s:enc:kms:v2:vault:" + os.urandom(40), "KMS plugin"),
        # A terminal escape in the envelope's content type: named with '?'.
        "escape-content-type": (b"k8s\x00" + f_bytes(1, f_bytes(1, "v1") + f_bytes(2, "Secret")) +
                                f_bytes(2, f_bytes(1, object_meta(meta("x", "bad", 22)))) +
                                f_bytes(4, "\x1b[2J\x1b]0;title\x07text/x"), "content type ?[2J?]0;title?text/x,"),
    }
    for name, (value, word) in bad.items():
        etcd_key = "/registry/secrets/bad/" + name
        if name == "tampered-tag":
            value = bytearray(encrypt("aesgcm", "gcm1", KEYS[("aesgcm", "gcm1")], etcd_key, sec))
            value[-1] ^= 1
            value = bytes(value)
        if name == "wrong-key":
            # encrypted with another key under the name of key1
            value = encrypt("aescbc", "key1", bytes(range(7, 39)), etcd_key, sec)
        for ext, content in (("key", etcd_key.encode()), ("value", value), ("error", word.encode())):
            with open(os.path.join(d, "bad", name + "." + ext), "wb") as f:
                f.write(content)
    del gcm2


# ---- comparison ----

def diff(got, want, path, out):
    if isinstance(want, dict) and isinstance(got, dict):
        for k in sorted(set(got) | set(want)):
            if k not in got:
                out.append("%s/%s: missing (want %r)" % (path, k, want[k]))
            elif k not in want:
                out.append("%s/%s: unexpected %r" % (path, k, got[k]))
            else:
                diff(got[k], want[k], path + "/" + k, out)
    elif isinstance(want, list) and isinstance(got, list):
        if len(got) != len(want):
            out.append("%s: %d items, want %d" % (path, len(got), len(want)))
        for i, (g, w) in enumerate(zip(got, want)):
            diff(g, w, "%s/%d" % (path, i), out)
    elif got != want or type(got) is not type(want):
        out.append("%s: %r, want %r" % (path, got, want))


def compare(got_path, want_path, strip=False):
    with open(want_path) as f:
        want = json.load(f)
    with open(got_path) as f:
        got = yaml.safe_load(f) if strip else json.load(f)
    if "undecoded" in want and isinstance(got, dict) and "undecoded" in got:
        got["undecoded"].pop("note", None)    # the note's wording is the program's
    if strip:
        want.pop("status", None)
        for k in ("uid", "resourceVersion", "creationTimestamp", "generation", "managedFields", "selfLink"):
            want.get("metadata", {}).pop(k, None)
    out = []
    diff(got, want, "", out)
    for line in out:
        print(line)
    return 1 if out else 0


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "make":
        make(sys.argv[2])
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        return compare(sys.argv[2], sys.argv[3])
    if len(sys.argv) == 4 and sys.argv[1] == "manifest":
        return compare(sys.argv[2], sys.argv[3], strip=True)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
