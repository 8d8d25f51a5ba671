#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tcp-listener.py HOST PORT SECONDS — something else than the program a
test expects on a TCP port: it binds HOST:PORT as soon as it can (trying
again every 10 ms while another socket holds the port), then takes each
connection and closes it, as a server does (its backlog, left to fill with
a prober's connections, would stop answering after a while). It ends by
itself SECONDS after it started.
"""
import socket
import sys
import time

host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
end = time.monotonic() + seconds
s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
while True:
    try:
        s.bind((host, port))
        break
    except OSError:
        if time.monotonic() >= end:
            sys.exit("tcp-listener.py: cannot bind %s port %d" % (host, port))
        time.sleep(0.01)
s.listen(64)
s.settimeout(1)
while time.monotonic() < end:
    try:
        s.accept()[0].close()
    except socket.timeout:
        pass
