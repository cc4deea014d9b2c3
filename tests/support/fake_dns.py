#!/usr/bin/python3
"""A DNS server for tests of the proxy's name resolution: it answers A queries from a file
that the test rewrites as it goes, so that a name's addresses can change mid-test.

  fake_dns.py NAMES_FILE

NAMES_FILE holds lines "name ip [ip ...]", re-read on every query. A queried name that is
not in it gets NXDOMAIN; AAAA and other types get an empty answer. TTL 1 s. UDP on
127.0.0.1; it prints "listening on 127.0.0.1:PORT", then "query <name> <type>" per query,
and exits after 120 s."""
import socket
import struct
import sys
import time


def read_names(path):
    names = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if parts:
                    names[parts[0].lower().rstrip(".")] = parts[1:]
    except OSError:
        pass
    return names


def parse_question(packet):
    labels, at = [], 12
    while packet[at] != 0:
        length = packet[at]
        labels.append(packet[at + 1:at + 1 + length].decode())
        at += 1 + length
    qtype, _ = struct.unpack("!HH", packet[at + 1:at + 5])
    return ".".join(labels).lower(), qtype, packet[12:at + 5]


def answer(packet, names):
    (ident, flags) = struct.unpack("!HH", packet[:4])
    name, qtype, question = parse_question(packet)
    ips = names.get(name)
    rcode = 3 if ips is None else 0
    records = []
    if ips is not None and qtype == 1:
        for ip in ips:
            records.append(b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 1, 4) + socket.inet_aton(ip))
    header = struct.pack("!HHHHHH", ident, 0x8180 | (flags & 0x0100) | rcode, 1, len(records), 0,
                         0)
    return name, qtype, header + question + b"".join(records)


def main():
    path = sys.argv[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.5)
    print("listening on 127.0.0.1:%d" % sock.getsockname()[1], flush=True)
    end = time.time() + 120
    while time.time() < end:
        try:
            packet, peer = sock.recvfrom(512)
        except socket.timeout:
            continue
        try:
            name, qtype, reply = answer(packet, read_names(path))
        except (IndexError, struct.error, UnicodeDecodeError):
            continue
        print("query %s %d" % (name, qtype), flush=True)
        sock.sendto(reply, peer)


if __name__ == "__main__":
    sys.exit(main())
