#!/usr/bin/env python3
"""Extracts the payload of the captured test traffic (tests/data/*.pcap)
with tshark, for the parser benchmarks and the fuzz seed corpora:

  bench/data/PROTO.streams     every connection of that protocol, as records
                               [direction:1][length:4, big endian][bytes]
                               (direction 0 client, 1 server; for DNS one
                               record per message, the TCP length prefix
                               removed); connections separated by a record
                               of direction 255 and length 0.
  plugins/PROTO/corpus/*       one seed per connection, in the fuzz
                               harness's input format (see NAME_fuzz.cc).

Run from the repository root after recapturing: bench/make_data.py"""

import os
import struct
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "tests", "data")
SEED_CAP = 8192  # bytes per direction in a fuzz seed


def tcp_streams(pcap, port_filter, decode_as=()):
    """[(conn_id, [(dir, bytes), ...])] for every TCP stream matching the filter."""
    out = subprocess.run(["tshark", "-r", pcap, *decode_as, "-Y", port_filter, "-T", "fields",
                          "-e", "tcp.stream"], capture_output=True, text=True, check=True).stdout
    streams = sorted({int(x) for x in out.split()})
    result = []
    for s in streams:
        txt = subprocess.run(["tshark", "-r", pcap, "-q", "-z", f"follow,tcp,raw,{s}"],
                             capture_output=True, text=True, check=True).stdout
        chunks = []
        started = False
        for line in txt.splitlines():
            if line.startswith("Node 1:"):
                started = True
                continue
            if not started or not line.strip() or line.startswith("="):
                continue
            d = 1 if line.startswith("\t") else 0
            chunks.append((d, bytes.fromhex(line.strip())))
        result.append((s, chunks))
    return result


def udp_dns(pcap):
    out = subprocess.run(["tshark", "-r", pcap, "-Y", "udp.port == 53", "-T", "fields",
                          "-e", "udp.stream", "-e", "udp.dstport", "-e", "udp.payload"],
                         capture_output=True, text=True, check=True).stdout
    conns = {}
    for line in out.splitlines():
        s, dport, payload = line.split("\t")
        conns.setdefault(int(s), []).append((0 if dport == "53" else 1, bytes.fromhex(payload)))
    return sorted(conns.items())


def write_streams(name, conns):
    path = os.path.join(ROOT, "bench", "data", name + ".streams")
    with open(path, "wb") as f:
        for _, chunks in conns:
            for d, b in chunks:
                f.write(struct.pack(">BI", d, len(b)) + b)
            f.write(struct.pack(">BI", 255, 0))
    print(f"{path}: {len(conns)} connections, {os.path.getsize(path)} bytes")


def joined(chunks, d):
    return b"".join(b for dd, b in chunks if dd == d)


def write_seeds(proto, conns, sep):
    corpus = os.path.join(ROOT, "plugins", proto, "corpus")
    os.makedirs(corpus, exist_ok=True)
    for i, (_, chunks) in enumerate(conns):
        seed = joined(chunks, 0)[:SEED_CAP] + sep + joined(chunks, 1)[:SEED_CAP]
        with open(os.path.join(corpus, f"{proto}-{i:02d}.bin"), "wb") as f:
            f.write(seed)


def dns_messages(conns_udp, conns_tcp):
    out = []
    for _, chunks in conns_udp:
        out.append((0, chunks))
    for _, chunks in conns_tcp:
        msgs = []
        for d in (0, 1):
            buf = joined(chunks, d)
            while len(buf) >= 2:
                n = struct.unpack(">H", buf[:2])[0]
                msgs.append((d, buf[2:2 + n]))
                buf = buf[2 + n:]
        out.append((0, msgs))
    return out


def main():
    sample = os.path.join(DATA, "sample.pcap")
    http = tcp_streams(sample, "tcp.port == 80") + tcp_streams(
        os.path.join(DATA, "http-extra.pcap"), "tcp.port == 8080")
    write_streams("http", http)
    write_seeds("http", http, b"\xff")
    tls = tcp_streams(os.path.join(DATA, "tls.pcap"), "tcp", ["-d", "tcp.port==8443,tls"])
    write_streams("tls", tls)
    write_seeds("tls", tls, b"\xff\xfe")
    ssh = tcp_streams(os.path.join(DATA, "ssh.pcap"), "tcp", ["-d", "tcp.port==2222,ssh"])
    write_streams("ssh", ssh)
    write_seeds("ssh", ssh, b"\xff\xfe")
    dns = dns_messages(udp_dns(sample), tcp_streams(sample, "tcp.port == 53"))
    write_streams("dns", dns)
    corpus = os.path.join(ROOT, "plugins", "dns", "corpus")
    os.makedirs(corpus, exist_ok=True)
    n = 0
    for _, msgs in dns:
        for _, m in msgs:
            with open(os.path.join(corpus, f"dns-{n:02d}.bin"), "wb") as f:
                f.write(m)
            n += 1


if __name__ == "__main__":
    main()
