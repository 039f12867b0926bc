"""Helpers for Gourmet's end-to-end tests: start the real services as
processes on loopback with ephemeral ports, and compute reference figures
for a pcap with tshark."""

import collections
import json
import os
import re
import signal
import subprocess
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("GOURMET_BUILD", os.path.join(ROOT, "build"))
BIN = os.path.join(BUILD, "bin")
PLUGINS = os.path.join(BUILD, "plugins")
TEST_PLUGINS = os.path.join(BUILD, "test-plugins")
SAMPLE = os.path.join(ROOT, "tests", "data", "sample.pcap")


class Services:
    """log-sink and analyzer-host as real processes; stopped by PID."""

    def __init__(self, workdir, plugins="bytes", sink_args=(), analyzer_args=()):
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "gourmet.log")
        self.procs = []
        self.sink_port = self._start(
            "log-sink", ["--listen", "127.0.0.1:0", "--metrics", "", "-o", self.log_path, *sink_args])
        self.analyzer_port = self._start(
            "analyzer-host",
            ["--listen", "127.0.0.1:0", "--metrics", "", "--sink", f"127.0.0.1:{self.sink_port}",
             "--plugin-dir", PLUGINS, "--plugins", plugins, *analyzer_args])

    def _start(self, name, args):
        port_file = os.path.join(self.workdir, name + ".port")
        err = open(os.path.join(self.workdir, name + ".stderr"), "w")
        p = subprocess.Popen([os.path.join(BIN, name), "--port-file", port_file, *args],
                             stdout=err, stderr=subprocess.STDOUT)
        self.procs.append(p)
        deadline = time.time() + 20
        while time.time() < deadline:
            if os.path.exists(port_file):
                return int(open(port_file).read())
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with {p.returncode}: "
                                   + open(os.path.join(self.workdir, name + ".stderr")).read())
            time.sleep(0.05)
        raise RuntimeError(f"{name} did not start")

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def records(self):
        return read_log(self.log_path)


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f]


def run(cmd, timeout=60):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def agent(pcap, analyzer_port, *extra, timeout=60):
    return run([os.path.join(BIN, "capture-agent"), "-r", pcap, "-a", f"127.0.0.1:{analyzer_port}",
                "--metrics", "", "--seed", "7", *extra], timeout=timeout)


def tshark_conversations(pcap, count_payload=True, seq_space=False):
    """Per TCP/UDP conversation, from tshark's dissection: the originator
    (sender of the first packet), and per direction the packets, IP bytes
    and transport payload bytes. Keyed by (proto, orig_h, orig_p, resp_h, resp_p).
    IP fragments count as one packet per reassembled datagram, of its
    reassembled length (Zeek's counting); tshark reassembles by default."""
    fields = ["frame.number", "ip.src", "ipv6.src", "ip.dst", "ipv6.dst", "ip.len", "ipv6.plen",
              "tcp.stream", "tcp.srcport", "tcp.dstport", "tcp.len",
              "udp.stream", "udp.srcport", "udp.dstport", "udp.length",
              "ip.hdr_len", "ip.reassembled.length", "ipv6.reassembled.length", "tcp.nxtseq"]
    cmd = ["tshark", "-r", pcap, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f"]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    convs = collections.OrderedDict()
    for line in out.splitlines():
        v = dict(zip(fields, line.split("|")))
        if v["tcp.stream"]:
            proto, sport, dport = "tcp", v["tcp.srcport"], v["tcp.dstport"]
            payload = int(v["tcp.len"] or 0)
        elif v["udp.stream"]:
            proto, sport, dport = "udp", v["udp.srcport"], v["udp.dstport"]
            payload = int(v["udp.length"]) - 8
        else:
            continue
        src = v["ip.src"] or v["ipv6.src"]
        dst = v["ip.dst"] or v["ipv6.dst"]
        if v["ip.reassembled.length"]:
            ip_bytes = int(v["ip.hdr_len"]) + int(v["ip.reassembled.length"])
        elif v["ipv6.reassembled.length"]:
            ip_bytes = 40 + int(v["ipv6.reassembled.length"])
        else:
            ip_bytes = int(v["ip.len"]) if v["ip.len"] else int(v["ipv6.plen"]) + 40
        a, b = (src, int(sport)), (dst, int(dport))
        key = None
        for k in ((proto, *a, *b), (proto, *b, *a)):
            if k in convs:
                key = k
        if key is None:
            key = (proto, *a, *b)
            convs[key] = {"orig_pkts": 0, "resp_pkts": 0, "orig_ip_bytes": 0, "resp_ip_bytes": 0,
                          "orig_bytes": 0, "resp_bytes": 0}
        side = "orig" if (src, int(sport)) == (key[1], key[2]) else "resp"
        c = convs[key]
        c[side + "_pkts"] += 1
        c[side + "_ip_bytes"] += ip_bytes
        if count_payload and seq_space and proto == "tcp":
            # Zeek's orig_bytes: sequence space (retransmissions count once);
            # relative sequence numbers start at 1 after the SYN.
            if payload > 0:
                c[side + "_bytes"] = max(c[side + "_bytes"], int(v["tcp.nxtseq"]) - 1)
        elif count_payload:
            c[side + "_bytes"] += payload
    if not count_payload:
        for c in convs.values():
            del c["orig_bytes"], c["resp_bytes"]
    return convs


def tshark_follow(pcap, streams):
    """Reassembled bytes per TCP stream index from `tshark -z follow,tcp,raw,N`:
    {stream: (first sender's bytes, other side's bytes, (first sender ip, port))}."""
    cmd = ["tshark", "-r", pcap, "-q"]
    for s in streams:
        cmd += ["-z", f"follow,tcp,raw,{s}"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    result = {}
    for block in out.split("===================================================================")[1:]:
        lines = block.strip("\n").splitlines()
        m = [l for l in lines if l.startswith("Filter: tcp.stream eq ")]
        if not m:
            continue
        stream = int(m[0].split()[-1])
        node0 = [l for l in lines if l.startswith("Node 0: ")][0][len("Node 0: "):]
        host, port = node0.rsplit(":", 1)
        a, b = bytearray(), bytearray()
        for l in lines:
            if not l or l.startswith(("Follow:", "Filter:", "Node ")):
                continue
            if l.startswith("\t"):
                b += bytes.fromhex(l.strip())
            else:
                a += bytes.fromhex(l.strip())
        result[stream] = (bytes(a), bytes(b), (host.strip("[]"), int(port)))
    return result


def tshark_tcp_streams(pcap):
    """{stream index: frozenset of its two (ip, port) endpoints}."""
    out = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-E", "separator=|", "-E", "occurrence=f",
                          "-e", "tcp.stream", "-e", "ip.src", "-e", "ipv6.src", "-e", "tcp.srcport",
                          "-e", "ip.dst", "-e", "ipv6.dst", "-e", "tcp.dstport", "-Y", "tcp"],
                         capture_output=True, text=True, check=True).stdout
    streams = {}
    for line in out.splitlines():
        st, s4, s6, sp, d4, d6, dp = line.split("|")
        streams.setdefault(int(st), frozenset([(s4 or s6, int(sp)), (d4 or d6, int(dp))]))
    return streams


def tshark_conv_frames(pcap):
    """Frames per direction from `tshark -z conv,tcp -z conv,udp`: maps
    frozenset of the two endpoints to {endpoint: frames it sent}."""
    out = subprocess.run(["tshark", "-r", pcap, "-q", "-z", "conv,tcp", "-z", "conv,udp"],
                         capture_output=True, text=True, check=True).stdout
    result = {}
    pat = re.compile(r"^(\S+):(\d+)\s+<->\s+(\S+):(\d+)\s+(\d+)\s+\d+\s+\S+\s+(\d+)\s+\d+\s+\S+")
    for line in out.splitlines():
        m = pat.match(line)
        if not m:
            continue
        a, b = (m.group(1), int(m.group(2))), (m.group(3), int(m.group(4)))
        # tshark's columns: "<-" are frames B sent to A, "->" frames A sent to B.
        result[frozenset([a, b])] = {b: int(m.group(5)), a: int(m.group(6))}
    return result


def conn_key(rec):
    i = rec["id"]
    return (rec["proto"], i["orig_h"], i["orig_p"], i["resp_h"], i["resp_p"])


def temp_dir():
    return tempfile.TemporaryDirectory(prefix="gourmet-test-")
