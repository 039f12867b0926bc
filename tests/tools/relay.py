#!/usr/bin/env python3
"""A small L2 relay between two interfaces, for tests on kernels without
sch_netem or 802.1Q: it forwards every frame from one side to the other and
can drop, duplicate, reorder and delay frames, and mirror what it forwards
to a third interface with VLAN tags (a SPAN port), deterministically from a
seed. It stops on SIGTERM or after --max-seconds.

  relay.py --a IF --b IF [--loss P] [--dup P] [--reorder P] [--delay-ms N]
           [--mirror IF --vlan ID [--inner-vlan ID]] [--seed N]
"""

import argparse
import random
import select
import signal
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003
PACKET_OUTGOING = 4


def open_port(ifname):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.bind((ifname, 0))
    s.setblocking(False)
    return s


def tag(frame, vlans):
    """Inserts 802.1Q tags (outer first) after the MAC addresses."""
    tags = b""
    for i, vid in enumerate(vlans):
        tpid = 0x88A8 if (len(vlans) > 1 and i == 0) else 0x8100
        tags += struct.pack(">HH", tpid, vid & 0x0FFF)
    return frame[:12] + tags + frame[12:]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--a", required=True)
    ap.add_argument("--b", required=True)
    ap.add_argument("--loss", type=float, default=0.0)
    ap.add_argument("--dup", type=float, default=0.0)
    ap.add_argument("--reorder", type=float, default=0.0)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--mirror")
    ap.add_argument("--vlan", type=int)
    ap.add_argument("--inner-vlan", type=int)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--max-seconds", type=float, default=300)
    args = ap.parse_args()

    rng = random.Random(args.seed)
    ports = {args.a: open_port(args.a), args.b: open_port(args.b)}
    peer = {args.a: args.b, args.b: args.a}
    mirror = open_port(args.mirror) if args.mirror else None
    vlans = [v for v in (args.vlan, args.inner_vlan) if v is not None]
    held = {args.a: None, args.b: None}  # a frame held back to be sent after the next one
    queue = []  # (due time, out port, frame)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    deadline = time.time() + args.max_seconds
    counts = {"in": 0, "dropped": 0, "duplicated": 0, "reordered": 0}

    def send(out, frame):
        due = time.time() + args.delay_ms / 1000.0
        queue.append((due, out, frame))

    while not stop and time.time() < deadline:
        timeout = 0.05
        if queue:
            timeout = max(0.0, min(timeout, queue[0][0] - time.time()))
        readable, _, _ = select.select(list(ports.values()), [], [], timeout)
        for s in readable:
            ifname = [k for k, v in ports.items() if v is s][0]
            while True:
                try:
                    frame, addr = s.recvfrom(65535)
                except BlockingIOError:
                    break
                if addr[2] == PACKET_OUTGOING:
                    continue  # our own transmissions
                counts["in"] += 1
                out = peer[ifname]
                if mirror is not None:
                    mirror.send(tag(frame, vlans) if vlans else frame)
                if rng.random() < args.loss:
                    counts["dropped"] += 1
                    continue
                if held[out] is None and rng.random() < args.reorder:
                    held[out] = frame
                    counts["reordered"] += 1
                    continue
                send(out, frame)
                if rng.random() < args.dup:
                    counts["duplicated"] += 1
                    send(out, frame)
                if held[out] is not None:
                    send(out, held[out])
                    held[out] = None
        now = time.time()
        # Flush frames held for reordering if nothing followed them soon.
        while queue and queue[0][0] <= now:
            _, out, frame = queue.pop(0)
            try:
                ports[out].send(frame)
            except OSError:
                pass
        if not readable:
            for out, frame in list(held.items()):
                if frame is not None:
                    ports[out].send(frame)
                    held[out] = None
    print(" ".join(f"{k}={v}" for k, v in counts.items()), file=sys.stderr)


if __name__ == "__main__":
    main()
