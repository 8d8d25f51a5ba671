#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""endless-http.py PORTFILE STATUS [trickle] — a broken S3 endpoint for the
upload test: on 127.0.0.1 (a free port, written to PORTFILE once it
listens) it answers every request with STATUS and a body that never ends
(chunked, 64 KiB at a time), as a misconfigured proxy might; with trickle,
one byte every 0.5 s, fast enough for any low-speed limit of 1 byte/s. It
serves until the client goes away, and ends by itself after 120 s.
"""
import http.server
import os
import signal
import sys
import time


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def answer(self):
        length = int(self.headers.get("Content-Length") or 0)
        while length > 0:  # the request's body, read and dropped
            chunk = self.rfile.read(min(length, 1 << 16))
            if not chunk:
                return
            length -= len(chunk)
        self.send_response(int(sys.argv[2]))
        self.send_header("Content-Type", "application/xml")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        if sys.argv[3:] == ["trickle"]:
            while True:
                self.wfile.write(b"1\r\nx\r\n")
                self.wfile.flush()
                time.sleep(0.5)
        chunk = b"%x\r\n%s\r\n" % (1 << 16, b"<Error>" + b"x" * ((1 << 16) - 7))
        while True:
            self.wfile.write(chunk)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = answer

    def log_message(self, *args):
        pass


signal.alarm(120)
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
server.daemon_threads = True
with open(sys.argv[1] + ".tmp", "w") as f:
    f.write("%d\n" % server.server_address[1])
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
server.serve_forever()
