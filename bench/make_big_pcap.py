#!/usr/bin/env python3
"""Writes a large, realistic pcap for whole-run benchmarks: tens of
thousands of TCP and UDP flows of mixed sizes, interleaved as on a busy
link, a share of them impaired (lost, duplicated and reordered segments),
with correct TCP sequence numbers and handshakes. Deterministic for a seed.

  make_big_pcap.py OUT.pcap [--gigabytes 1.0] [--seed 1]
"""

import argparse
import random
import struct

ETH = bytes.fromhex("020000000002" "020000000001" "0800")


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ip4(src, dst, proto, payload, ident):
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident & 0xFFFF, 0x4000, 64, proto, 0, src, dst)
    return hdr[:10] + struct.pack("!H", csum(hdr)) + hdr[12:] + payload


def tcp(sport, dport, seq, ack, flags, payload):
    return struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, 5 << 4, flags, 65535, 0,
                       0) + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


SYN, ACK, PSH, FIN = 0x02, 0x10, 0x08, 0x01


class Flow:
    """A generator of frames for one connection, one frame per next()."""

    def __init__(self, rng, idx, blob):
        self.rng = rng
        self.cli = bytes([10, 1 + (idx >> 16) % 200, (idx >> 8) & 255, idx & 255])
        self.srv = bytes([172, 16, rng.randrange(0, 16), rng.randrange(1, 255)])
        self.cport = 1024 + (idx * 7919) % 60000
        self.kind = rng.random()
        self.impaired = rng.random() < 0.05
        self.blob = blob
        self.frames = self.build()

    def build(self):
        r = self.rng
        if self.kind < 0.35:  # DNS-like UDP exchange
            q = self.blob[: r.randrange(30, 60)]
            a = self.blob[100: 100 + r.randrange(60, 400)]
            return [(self.cli, self.srv, 17, udp(self.cport, 53, q)), (self.srv, self.cli, 17, udp(53, self.cport, a))]
        # TCP: sizes from a heavy-tailed mix.
        if self.kind < 0.85:
            down = r.randrange(200, 20_000)
        elif self.kind < 0.98:
            down = r.randrange(20_000, 400_000)
        else:
            down = r.randrange(400_000, 3_000_000)
        up = r.randrange(60, 800)
        cseq, sseq = r.getrandbits(32), r.getrandbits(32)
        c, s, sp, dp = self.cli, self.srv, self.cport, 80 if r.random() < 0.7 else 443
        out = [(c, s, 6, tcp(sp, dp, cseq, 0, SYN, b"")),
               (s, c, 6, tcp(dp, sp, sseq, cseq + 1, SYN | ACK, b"")),
               (c, s, 6, tcp(sp, dp, cseq + 1, sseq + 1, ACK, b""))]
        out.append((c, s, 6, tcp(sp, dp, cseq + 1, sseq + 1, PSH | ACK, self.blob[:up])))
        cseq += 1 + up
        sent, n = 0, 0
        sseq += 1
        while sent < down:
            size = min(1448, down - sent)
            off = (sent * 13) % (len(self.blob) - 1500)
            out.append((s, c, 6, tcp(dp, sp, sseq + sent, cseq, ACK, self.blob[off: off + size])))
            sent += size
            n += 1
            if n % 2 == 0:
                out.append((c, s, 6, tcp(sp, dp, cseq, sseq + sent, ACK, b"")))
        out.append((c, s, 6, tcp(sp, dp, cseq, sseq + sent, FIN | ACK, b"")))
        out.append((s, c, 6, tcp(dp, sp, sseq + sent, cseq + 1, FIN | ACK, b"")))
        out.append((c, s, 6, tcp(sp, dp, cseq + 1, sseq + sent + 1, ACK, b"")))
        if self.impaired:  # duplicate some segments and swap neighbours (capture-side view of a lossy path)
            i = 4
            while i < len(out) - 4:
                x = r.random()
                if x < 0.03:
                    out.insert(i, out[i])
                    i += 1
                elif x < 0.06:
                    out[i], out[i + 1] = out[i + 1], out[i]
                i += 1
        return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--gigabytes", type=float, default=1.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--concurrent", type=int, default=2000)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    blob = rng.randbytes(1 << 16)
    target = int(args.gigabytes * 1e9)
    written = 0
    ts = 1_796_000_000 * 1_000_000
    ident = 0
    flows, next_idx, npackets = [], 0, 0
    with open(args.out, "wb") as f:
        f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1))
        while written < target:
            while len(flows) < args.concurrent:
                flows.append([Flow(rng, next_idx, blob), 0])
                next_idx += 1
            k = rng.randrange(len(flows))
            flow = flows[k]
            src, dst, proto, l4 = flow[0].frames[flow[1]]
            flow[1] += 1
            if flow[1] == len(flow[0].frames):
                flows[k] = flows[-1]
                flows.pop()
            ident += 1
            frame = ETH + ip4(src, dst, proto, l4, ident)
            ts += rng.randrange(1, 20)
            f.write(struct.pack("<IIII", ts // 1_000_000, ts % 1_000_000, len(frame), len(frame)))
            f.write(frame)
            written += 16 + len(frame)
            npackets += 1
    print(f"{args.out}: {npackets} packets, {next_idx} flows, {written / 1e9:.2f} GB")


if __name__ == "__main__":
    main()
