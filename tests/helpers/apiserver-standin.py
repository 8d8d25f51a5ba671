#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""apiserver-standin.py --flag=value ... — a stand-in for kube-apiserver in
the restore tests, run by the kubelet stand-in from a kubeadm-shaped
kube-apiserver.yaml. It reads kube-apiserver's own flags (--secure-port,
--bind-address, --tls-cert-file, --tls-private-key-file, --etcd-servers;
the rest are accepted and ignored) and serves HTTPS at
https://<bind-address>:<secure-port>: GET /readyz answers 200 "ok" when the
first of --etcd-servers accepts a TCP connection, else 500 "etcd not
reachable" — the readiness the restore waits for. Every other path is 404.
SIGTERM ends it, with exit status $STANDIN_TERM_EXIT (default 0).
"""
import http.server
import os
import signal
import socket
import ssl
import sys
import urllib.parse

flags = {}
for a in sys.argv[1:]:
    if a.startswith("--") and "=" in a:
        k, v = a[2:].split("=", 1)
        flags[k] = v
port = int(flags.get("secure-port", "6443"))
bind = flags.get("bind-address", "0.0.0.0")
etcd = urllib.parse.urlsplit(flags.get("etcd-servers", "https://127.0.0.1:2379").split(",")[0])


def etcd_reachable():
    try:
        socket.create_connection((etcd.hostname, etcd.port or 2379), timeout=1).close()
        return True
    except OSError:
        return False


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.split("?")[0] != "/readyz":
            code, body = 404, b"not found\n"
        elif etcd_reachable():
            code, body = 200, b"ok"
        else:
            code, body = 500, b"etcd not reachable\n"
        self.send_response(code)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, fmt, *args):
        sys.stderr.write("readyz: " + fmt % args + "\n")


class Server(http.server.ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in bind else socket.AF_INET
    allow_reuse_address = True


srv = Server((bind, port), Handler)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(flags["tls-cert-file"], flags["tls-private-key-file"])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(int(os.environ.get("STANDIN_TERM_EXIT", "0"))))
srv.serve_forever()
