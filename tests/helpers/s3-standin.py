#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""An S3 stand-in for downloads: serves the files of DIR as the objects of
bucket/node1/ (a ListObjectsV2 listing and GETs; signatures are not
checked). Options make it misbehave:
  --cut-once       the first GET of each backup (not a .json) sends its
                   headers and half its body, then closes the connection
  --list-size N=S  the listing says object N is S bytes (whatever it is)
  --list-loop      every listing page is empty and says more is to come,
                   its continuation token alternating between A and B
  --list-slow      every listing page takes half a second, is empty and says
                   more is to come, with a new continuation token each time
  --list-denied    the listing is refused (403) with a message holding a
                   terminal control sequence (U+009B, CSI) and a raw 0x9b
  --deep N         N more objects below the prefix, in its folder sub/: as
                   S3 does, a listing with delimiter=/ names that folder once
                   (CommonPrefixes), one without lists every object in it
  --stall          each GET of a backup sends its headers and half its body,
                   says "GET key stalled" and sends nothing more until the
                   client goes away (at most 60 s)
Writes its port to PORTFILE and one line per GET to stdout ("GET key cut" or
"GET key whole"; "LIST" for a listing).

  s3-standin.py PORTFILE DIR [--cut-once] [--stall] [--list-loop | --list-slow | --list-denied]
                [--list-size NAME=SIZE]... [--deep N]
"""
import http.server
import os
import sys
import time
from xml.sax.saxutils import escape

port_file, root = sys.argv[1], sys.argv[2]
cut = "--cut-once" in sys.argv[3:]
stall = "--stall" in sys.argv[3:]
list_mode = next((a for a in sys.argv[3:] if a in ("--list-loop", "--list-slow", "--list-denied")), None)
pages = [0]
listed_size = {}
deep = 0
for i, a in enumerate(sys.argv):
    if a == "--list-size":
        name, size = sys.argv[i + 1].split("=", 1)
        listed_size[name] = int(size)
    if a == "--deep":
        deep = int(sys.argv[i + 1])
PREFIX = "node1/"
cut_once = set()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = self.path.split("?", 1)[0]
        if path.rstrip("/") == "/bucket" and list_mode:
            pages[0] += 1
            print("LIST", flush=True)
            if list_mode == "--list-denied":
                self.answer(403, b"<Error><Code>AccessDenied</Code><Message>x&#x9b;2J\x9b31mall good"
                                 b"</Message></Error>")
                return
            token = "AB"[pages[0] % 2] if list_mode == "--list-loop" else "p%d" % pages[0]
            if list_mode == "--list-slow":
                time.sleep(0.5)
            self.answer(200, ('<ListBucketResult><IsTruncated>true</IsTruncated><NextContinuationToken>%s'
                              '</NextContinuationToken></ListBucketResult>' % token).encode())
            return
        if path.rstrip("/") == "/bucket":
            items = "".join(
                "<Contents><Key>%s</Key><Size>%d</Size></Contents>"
                % (escape(PREFIX + n), listed_size.get(n, os.path.getsize(os.path.join(root, n))))
                for n in sorted(os.listdir(root)))
            if deep and "delimiter=%2F" in self.path:
                items += "<CommonPrefixes><Prefix>%ssub/</Prefix></CommonPrefixes>" % PREFIX
            elif deep:
                items += "".join("<Contents><Key>%ssub/k%d</Key><Size>1</Size></Contents>" % (PREFIX, i)
                                 for i in range(deep))
            body = ('<?xml version="1.0" encoding="UTF-8"?><ListBucketResult><IsTruncated>false'
                    '</IsTruncated>%s</ListBucketResult>' % items).encode()
            self.answer(200, body)
            return
        key = path[len("/bucket/"):]
        name = key[len(PREFIX):] if key.startswith(PREFIX) else None
        if not name or "/" in name or not os.path.isfile(os.path.join(root, name)):
            self.answer(404, b"<Error><Code>NoSuchKey</Code><Message>not here</Message></Error>")
            return
        with open(os.path.join(root, name), "rb") as f:
            data = f.read()
        if stall and not name.endswith(".json"):
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            print("GET %s stalled" % key, flush=True)
            self.connection.settimeout(60)
            try:
                self.connection.recv(1)
            except OSError:
                pass
            self.close_connection = True
            return
        cut_now = cut and not name.endswith(".json") and name not in cut_once
        print("GET %s %s" % (key, "cut" if cut_now else "whole"), flush=True)
        if cut_now:
            cut_once.add(name)
            self.send_response(200)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.answer(200, data)

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(port_file + ".tmp", "w") as f:
    f.write(str(server.server_address[1]))
os.rename(port_file + ".tmp", port_file)
server.serve_forever()
