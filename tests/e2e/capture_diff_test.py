"""Differential tests of the capture core against tshark on real traffic
captured here: curl <-> nginx and UDP/ICMP in network namespaces joined
through a relay of our own (this kernel has no sch_netem and no 802.1Q) that
drops, duplicates and reorders frames, or mirrors them VLAN-tagged to a
SPAN port. For every connection: packets and IP bytes per direction equal
tshark's, and the reassembled bytes of each direction equal what
`tshark -z follow,tcp,raw` gives."""

import hashlib
import os
import re
import sys
import textwrap
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402
from netlab import Lab  # noqa: E402

RELAY = os.path.join(g.ROOT, "tests", "tools", "relay.py")
CLI4, SRV4, CLI6, SRV6 = "10.88.0.1", "10.88.0.2", "fd88::1", "fd88::2"

UDP_ECHO = textwrap.dedent("""
    import socket, sys
    fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.bind((sys.argv[1], 7000))
    while True:
        data, peer = s.recvfrom(65535)
        s.sendto(bytes(range(256)) * (len(data) // 256 // 2 + 1), peer)
""")
UDP_CLIENT = textwrap.dedent("""
    import socket, sys
    fam = socket.AF_INET6 if ":" in sys.argv[1] else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(3)
    s.sendto(b"q" * int(sys.argv[2]), (sys.argv[1], 7000))
    print(len(s.recvfrom(65535)[0]))
""")


def big_file(n):
    # Deterministic, incompressible-looking content.
    out, block = bytearray(), b"gourmet"
    while len(out) < n:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:n])


class CaptureDiffTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.lab = lab = Lab("gmdiff")
        cls.cli, cls.rly, cls.srv = lab.ns("cli"), lab.ns("rly"), lab.ns("srv")
        lab.veth(cls.cli, "c0", cls.rly, "r0", [f"{CLI4}/24", f"{CLI6}/64"])
        lab.veth(cls.rly, "r1", cls.srv, "s0", [], [f"{SRV4}/24", f"{SRV6}/64"])
        lab.veth(cls.rly, "m0", cls.rly, "m1")  # the SPAN port
        lab.nginx(cls.srv, [f"{SRV4}:80", f"[{SRV6}]:80"],
                  {"/big.bin": big_file(600_000), "/small.txt": b"hello\n" * 50})
        for addr in (SRV4, SRV6):
            lab.start(cls.srv, [sys.executable, "-c", UDP_ECHO, addr], "udp-echo-" + addr)
        lab.wait_listen(cls.srv, "udp", 7000)

    @classmethod
    def tearDownClass(cls):
        cls.lab.cleanup()

    def relay(self, *args):
        return self.lab.start(self.rly, [sys.executable, RELAY, "--a", "r0", "--b", "r1", *args], "relay")

    def client(self, *cmd):
        return self.lab.exec(self.cli, list(cmd), check=False)

    def capture(self, name, relay_args, traffic, ns=None, ifname="s0"):
        pcap = os.path.join(self.lab.tmp, name + ".pcap")
        relay = self.relay(*relay_args)
        time.sleep(0.3)
        dump = self.lab.tcpdump(ns or self.srv, ifname, pcap)
        traffic()
        self.lab.stop_tcpdump(dump)
        self.lab.stop(relay)
        return pcap

    def pipeline(self, pcap, *extra):
        out = pcap + ".log"
        r = g.run([os.path.join(g.BIN, "gourmet"), "run", "-q", "-r", pcap, "-o", out, "--seed", "5",
                   "--plugin-dir", g.TEST_PLUGINS, "--plugins", "stream_digest", *extra], timeout=120)
        self.assertEqual(r.returncode, 0, r.stderr)
        return g.read_log(out)

    def check_counts(self, records, pcap):
        expected = g.tshark_conversations(pcap, count_payload=False)
        got = {g.conn_key(r): r for r in records if r["proto"] in ("tcp", "udp")}
        self.assertEqual(set(got), set(expected))
        for key, exp in expected.items():
            for field, value in exp.items():
                self.assertEqual(got[key][field], value, f"{key} {field}")
        return got

    def check_reassembly(self, records, pcap):
        """Each direction's bytes equal tshark's follow output; where the
        capture missed data, tshark writes a "[N bytes missing in capture
        file]" marker and Gourmet must count the same N as missed bytes."""
        streams = g.tshark_tcp_streams(pcap)
        follow = g.tshark_follow(pcap, sorted(streams))
        by_endpoints = {frozenset([(r["id"]["orig_h"], r["id"]["orig_p"]), (r["id"]["resp_h"], r["id"]["resp_p"])]): r
                        for r in records if r["proto"] == "tcp"}
        self.assertEqual(len(follow), len(streams))
        # tshark ends its marker with a NUL byte in raw output.
        missing = re.compile(rb"\[(\d+) bytes missing in capture file\]\x00?")
        for idx, (a, b, node0) in follow.items():
            rec = by_endpoints[streams[idx]]
            orig = (rec["id"]["orig_h"], rec["id"]["orig_p"])
            d = rec["stream_digest"]
            total_missed = 0
            for side, data in zip(("orig", "resp"), (a, b) if node0 == orig else (b, a)):
                gaps = sum(int(n) for n in missing.findall(data))
                data = missing.sub(b"", data)
                total_missed += gaps
                self.assertEqual(d[side + "_len"], len(data), (side, rec["id"]))
                self.assertEqual(d[side + "_sha1"], hashlib.sha1(data).hexdigest(), (side, rec["id"]))
                self.assertEqual(d[side + "_gaps"], gaps, (side, rec["id"]))
                self.assertEqual(rec[side + "_bytes"], len(data) + gaps, (side, rec["id"]))
            self.assertEqual(rec["missed_bytes"], total_missed, rec["id"])

    def test_impaired_link(self):
        def traffic():
            for url in (f"http://{SRV4}/big.bin", f"http://[{SRV6}]/big.bin"):
                r = self.client("curl", "-sS", "-o", "/dev/null", "--max-time", "60", url)
                self.assertEqual(r.returncode, 0, r.stderr)
            r = self.client("curl", "-sS", "-o", "/dev/null", "-o", "/dev/null", "-o", "/dev/null",
                            f"http://{SRV4}/small.txt", f"http://{SRV4}/small.txt", f"http://{SRV4}/big.bin")
            self.assertEqual(r.returncode, 0, r.stderr)
        pcap = self.capture("impaired", ["--loss", "0.02", "--dup", "0.02", "--reorder", "0.03", "--seed", "11"],
                            traffic)
        # Offloads are off on these links, so every checksum is right: checking
        # them must change nothing.
        cfg = os.path.join(self.lab.tmp, "checksums.yaml")
        with open(cfg, "w") as f:
            f.write("agent:\n  flows:\n    check_checksums: true\n")
        for extra in (["--capture-workers", "1"], ["--capture-workers", "2"], ["-c", cfg]):
            records = self.pipeline(pcap, *extra)
            self.check_counts(records, pcap)
            self.check_reassembly(records, pcap)
            self.assertFalse([r for r in records if "checksum" in str(r.get("weirds"))])
        tcp = [r for r in records if r["proto"] == "tcp"]
        self.assertEqual(len(tcp), 3)
        # The impairments really happened: retransmissions show in history.
        self.assertTrue(any("T" in r["history"] or "t" in r["history"] for r in tcp), [r["history"] for r in tcp])

    def test_fragments_v4_and_v6(self):
        def traffic():
            for args in (["ping", "-c", "3", "-i", "0.2", "-s", "4000", SRV4],
                         ["ping", "-6", "-c", "3", "-i", "0.2", "-s", "4000", SRV6],
                         [sys.executable, "-c", UDP_CLIENT, SRV4, "5000"],
                         [sys.executable, "-c", UDP_CLIENT, SRV6, "7000"]):
                r = self.client(*args)
                self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        pcap = self.capture("fragments", [], traffic)
        records = self.pipeline(pcap)
        got = self.check_counts(records, pcap)
        udp = [r for k, r in got.items() if k[0] == "udp" and r["id"]["resp_p"] == 7000]
        self.assertEqual(len(udp), 2)
        for r in udp:
            self.assertEqual((r["orig_pkts"], r["resp_pkts"]), (1, 1))
            self.assertIn(r["orig_bytes"], (5000, 7000))
            self.assertEqual(r["stream_digest"]["orig_len"], r["orig_bytes"])
        pings = [r for r in records if r["proto"] == "icmp" and r["id"]["orig_p"] in (8, 128)]
        self.assertEqual(len(pings), 2)
        for r in pings:
            self.assertEqual((r["orig_pkts"], r["resp_pkts"]), (3, 3))
            self.assertEqual(r["orig_bytes"], 3 * 4004)  # ICMP payload after the 4-byte type/code/checksum

    def test_vlan_and_qinq_on_a_span_port(self):
        for vlans in (["--vlan", "100"], ["--vlan", "100", "--inner-vlan", "200"]):
            def traffic():
                r = self.client("curl", "-sS", "-o", "/dev/null", f"http://{SRV4}/small.txt")
                self.assertEqual(r.returncode, 0, r.stderr)
                r = self.client(sys.executable, "-c", UDP_CLIENT, SRV4, "100")
                self.assertEqual(r.returncode, 0, r.stderr)
            pcap = self.capture("vlan" + "-".join(vlans[1::2]), ["--mirror", "m0", *vlans], traffic,
                                ns=self.rly, ifname="m1")
            records = self.pipeline(pcap)
            got = self.check_counts(records, pcap)
            self.check_reassembly(records, pcap)
            self.assertEqual(len(got), 2)
            for r in got.values():
                self.assertEqual(r.get("vlan"), 100)
                self.assertEqual(r.get("inner_vlan"), 200 if len(vlans) > 2 else None)

    def test_link_types_sll_sll2_pcapng(self):
        def traffic():
            r = self.client("curl", "-sS", "-o", "/dev/null", "-o", "/dev/null", f"http://{SRV4}/small.txt",
                            f"http://[{SRV6}]/big.bin")
            self.assertEqual(r.returncode, 0, r.stderr)
        for linktype in ("LINUX_SLL", "LINUX_SLL2"):
            pcap = os.path.join(self.lab.tmp, linktype + ".pcap")
            relay = self.relay()
            time.sleep(0.3)
            dump = self.lab.start(self.srv, ["tcpdump", "-i", "any", "-y", linktype, "-w", pcap, "-s", "0", "-B", "32768", "-U",
                                             "--immediate-mode", "-n", "-Z", "root"], "tcpdump-any")
            time.sleep(1)
            traffic()
            self.lab.stop_tcpdump(dump)
            self.lab.stop(relay)
            info = g.run(["capinfos", "-E", pcap]).stdout
            self.assertIn("Linux cooked-mode capture v" + ("2" if linktype.endswith("2") else "1"), info)
            records = self.pipeline(pcap)
            self.assertEqual(len(self.check_counts(records, pcap)), 2)
            self.check_reassembly(records, pcap)
            # The same capture as pcapng.
            ng = pcap + "ng"
            self.assertEqual(g.run(["editcap", "-F", "pcapng", pcap, ng]).returncode, 0)
            records_ng = self.pipeline(ng)
            strip = lambda rs: sorted(json_key(r) for r in rs)
            self.assertEqual(strip(records_ng), strip(records))


def json_key(r):
    return (g.conn_key(r), r["orig_pkts"], r["resp_pkts"], r["orig_ip_bytes"], r["resp_ip_bytes"], r["uid"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
