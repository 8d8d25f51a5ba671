#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""silent-dns.py ADDRESS LOG — a DNS server that has gone silent, for the
connection test: it takes queries on UDP port 53 of ADDRESS (a loopback
address), answers none, and writes one line per query to LOG (the name
asked for, or "?" when the packet is not a query it can read). Once it
listens it prints "ready" on stdout. It ends by itself after 120 s.
"""
import signal
import socket
import sys


def qname(packet):
    labels, i = [], 12
    try:
        while packet[i]:
            labels.append(packet[i + 1:i + 1 + packet[i]].decode("ascii", "replace"))
            i += 1 + packet[i]
    except IndexError:
        return "?"
    return ".".join(labels) or "?"


def main():
    address, log = sys.argv[1], sys.argv[2]
    signal.alarm(120)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((address, 53))
    print("ready", flush=True)
    with open(log, "a", buffering=1) as out:
        while True:
            packet, _ = s.recvfrom(4096)
            out.write(qname(packet) + "\n")


if __name__ == "__main__":
    main()
