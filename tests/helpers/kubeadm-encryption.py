#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""kubeadm-encryption.py MANIFEST HOST_DIR — kube-apiserver.yaml (kubeadm's,
as in tests/fixtures/kubeadm) with encryption at rest as kubeadm sets it up
from apiServer.extraArgs and extraVolumes: --encryption-provider-config=
/etc/kubernetes/enc/enc.yaml among the flags, in their order, and a hostPath
volume "enc" mounting HOST_DIR there. The file is changed in place; one
without those anchors is left as it was and the script exits 1.
"""
import sys

path, host = sys.argv[1], sys.argv[2]
text = open(path).read()
edits = [
    ("    - --enable-bootstrap-token-auth=true\n",
     "    - --encryption-provider-config=/etc/kubernetes/enc/enc.yaml\n"),
    ("    volumeMounts:\n", "    - mountPath: /etc/kubernetes/enc\n      name: enc\n      readOnly: true\n"),
    ("  volumes:\n", "  - hostPath:\n      path: %s\n      type: DirectoryOrCreate\n    name: enc\n" % host),
]
for anchor, added in edits:
    if anchor not in text:
        sys.exit("kubeadm-encryption.py: %s has no %r" % (path, anchor.strip()))
    text = text.replace(anchor, anchor + added, 1)
open(path, "w").write(text)
