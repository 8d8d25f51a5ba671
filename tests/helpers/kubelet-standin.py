#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kubelet-standin.py MANIFESTS_DIR STATE_DIR — a stand-in for the kubelet's
static pods, for the restore tests (there is no kubelet here).

Like the kubelet it watches MANIFESTS_DIR: a pod manifest (YAML, as kubeadm
writes it) that appears is started, one that leaves is stopped (SIGTERM,
then SIGKILL after 10 s), one that changes is restarted, a pod that exits
while its manifest is there is started again; a file that is not a valid
pod is logged and ignored. A pod is its first container's `command:` +
`args:` list, run as it is, in a private mount namespace in which each
`hostPath` volume is bind-mounted at its container's `mountPath` (a tmpfs
over the nearest existing parent provides a missing mount point), so the
program sees the in-pod paths its flags name, as in a real pod. Pods share
the node's network, as kubeadm's control plane does (hostNetwork: true).
A missing DirectoryOrCreate hostPath is made; one that cannot be (below a
read-only /usr) is logged and left out, where the kubelet would fail the pod.

STATE_DIR/pids/<pod name> holds each running pod's process ID, PID:START as
scripts/procs.sh names a process (the program's own: the mount setup ends in
exec; START from /proc/PID/stat, so a restarted pod never has the same ID); STATE_DIR/kubelet.log says what happened;
STATE_DIR/<pod name>.log is the pod's output. The stand-in stops all pods
and exits when STATE_DIR/kubelet.stop appears.
"""
import hashlib
import os
import signal
import subprocess
import sys
import time

import yaml

MAN, STATE = sys.argv[1], sys.argv[2]
PIDS = os.path.join(STATE, "pids")
os.makedirs(PIDS, exist_ok=True)


def log(msg):
    with open(os.path.join(STATE, "kubelet.log"), "a") as f:
        f.write("%s %s\n" % (time.strftime("%H:%M:%S"), msg))


def pod_of(path):
    """(name, argv, [(hostPath, mountPath)]) or None for a file that is not a pod.
    A missing hostPath of type DirectoryOrCreate is made, as the kubelet does."""
    try:
        with open(path) as f:
            doc = yaml.safe_load(f)
        spec = doc["spec"]
        c = spec["containers"][0]
        argv = [str(a) for a in (c.get("command") or []) + (c.get("args") or [])]
        if doc.get("kind") != "Pod" or not argv:
            raise ValueError("not a pod with a command")
        host = {}
        for v in spec.get("volumes") or []:
            if "hostPath" not in v:
                continue
            host[v["name"]] = v["hostPath"]["path"]
            if v["hostPath"].get("type") == "DirectoryOrCreate":
                try:
                    os.makedirs(v["hostPath"]["path"], mode=0o755, exist_ok=True)
                except OSError as e:
                    # The kubelet would fail the pod; here a path the test
                    # cannot make (below the host's read-only /usr in a
                    # container) is left out and the pod runs without it.
                    log("%s: hostPath %s cannot be made (%s); the pod runs without it"
                        % (os.path.basename(path), v["hostPath"]["path"], e.strerror))
                    del host[v["name"]]
        mounts = [(host[m["name"]], m["mountPath"]) for m in c.get("volumeMounts") or [] if m["name"] in host]
        return doc["metadata"]["name"], argv, mounts
    except Exception as e:  # the kubelet logs a bad manifest and goes on
        log("%s: not a valid pod: %s" % (os.path.basename(path), e))
        return None


SETUP = r'''
set -e
for m in "$@"; do
  [ "$m" = -- ] && break
  src=${m%%=*} dst=${m#*=}
  [ "$src" = "$dst" ] && continue
  if [ ! -e "$dst" ]; then
    p=$dst; while [ ! -e "$p" ]; do p=${p%/*}; p=${p:-/}; done
    [ "$p" = / ] && { echo "no mount point for $dst" >&2; exit 1; }
    # A tmpfs over the nearest existing parent holds the new mount point; what
    # was there stays visible to the pod only through its own volumes.
    mount -t tmpfs -o mode=0755 pod "$p"
    mkdir -p "$dst"
  fi
  mount --bind "$src" "$dst"
done
while [ "$1" != -- ]; do shift; done; shift
exec "$@"
'''


def start(name, argv, mounts, out):
    spec = ["%s=%s" % m for m in mounts]
    p = subprocess.Popen(["unshare", "-m", "--propagation", "private", "sh", "-c", SETUP, "pod"] + spec + ["--"] + argv,
                         stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    with open("/proc/%d/stat" % p.pid) as f:  # not reaped yet: it is there
        start = f.read().rsplit(")", 1)[1].split()[19]
    with open(os.path.join(PIDS, name), "w") as f:
        f.write("%d:%s\n" % (p.pid, start))
    log("started %s pid %d: %s" % (name, p.pid, " ".join(argv)))
    return p


def stop(name, p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
    try:
        os.unlink(os.path.join(PIDS, name))
    except FileNotFoundError:
        pass
    log("stopped %s pid %d" % (name, p.pid))


running = {}  # file -> (digest, name, Popen)
bad = {}  # file -> digest of a manifest that is not a pod (not read again until it changes)
signal.signal(signal.SIGTERM, lambda *_: open(os.path.join(STATE, "kubelet.stop"), "a").close())
while not os.path.exists(os.path.join(STATE, "kubelet.stop")):
    seen = {}
    for f in sorted(os.listdir(MAN)):
        path = os.path.join(MAN, f)
        if f.startswith(".") or not f.endswith((".yaml", ".yml", ".json")) or not os.path.isfile(path):
            continue
        try:
            with open(path, "rb") as fh:
                seen[f] = hashlib.sha256(fh.read()).hexdigest()
        except OSError:
            continue
    for f, (digest, name, p) in list(running.items()):
        if seen.get(f) != digest:
            stop(name, p)
            del running[f]
        elif p.poll() is not None:
            log("%s exited with %s; restarting" % (name, p.returncode))
            del running[f]
    for f, digest in seen.items():
        if f in running or bad.get(f) == digest:
            continue
        pod = pod_of(os.path.join(MAN, f))
        if pod is None:
            bad[f] = digest
            continue
        name, argv, mounts = pod
        out = open(os.path.join(STATE, name + ".log"), "ab")
        running[f] = (digest, name, start(name, argv, mounts, out))
        out.close()
    time.sleep(0.2)
for f, (digest, name, p) in running.items():
    if p.poll() is None:
        stop(name, p)
