"""Live capture end to end: real servers (nginx, dnsmasq) and clients (curl,
dig) in network namespaces joined by a veth pair; Gourmet captures on the
veth with AF_PACKET and with libpcap, with and without a BPF filter, while
tcpdump records the same veth. Every connection the clients made is in the
log with the counters of tcpdump's recording; nothing a filter excludes is."""

import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402
from netlab import Lab  # noqa: E402

CLI4, SRV4 = "10.89.0.1", "10.89.0.2"


class LiveCaptureTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.lab = lab = Lab("gmlive")
        cls.cli, cls.srv = lab.ns("cli"), lab.ns("srv")
        lab.veth(cls.cli, "c0", cls.srv, "s0", [f"{CLI4}/24", "fd89::1/64"], [f"{SRV4}/24", "fd89::2/64"])
        lab.nginx(cls.srv, [f"{SRV4}:80"], {"/index.html": b"<h1>live</h1>\n" * 20, "/big.bin": os.urandom(300_000)})
        lab.start(cls.srv, ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                            "--user=root", "--group=root", f"--listen-address={SRV4}", "--bind-interfaces",
                            "--local=/live.test/", f"--host-record=www.live.test,{SRV4}",
                            "--mx-host=live.test,mail.live.test,10", "--txt-record=live.test,hello"], "dnsmasq")
        lab.wait_listen(cls.srv, "udp", 53)
        lab.wait_listen(cls.srv, "tcp", 53)

    @classmethod
    def tearDownClass(cls):
        cls.lab.cleanup()

    def traffic(self):
        for cmd in (["curl", "-sS", "-o", "/dev/null", "-o", "/dev/null", f"http://{SRV4}/index.html",
                     f"http://{SRV4}/big.bin"],
                    ["curl", "-sS", "-o", "/dev/null", f"http://{SRV4}/nothing-here"],
                    ["dig", f"@{SRV4}", "www.live.test", "A", "+tries=1"],
                    ["dig", f"@{SRV4}", "live.test", "MX", "+tries=1"],
                    ["dig", f"@{SRV4}", "live.test", "TXT", "+tcp"]):
            r = self.lab.exec(self.cli, cmd, check=False)
            self.assertEqual(r.returncode, 0, r.stderr)

    def wait_for(self, path, text, timeout=15):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if os.path.exists(path) and text in open(path, errors="replace").read():
                return
            time.sleep(0.05)
        self.fail(f"'{text}' not in {path}: {open(path).read() if os.path.exists(path) else '(missing)'}")

    def run_capture(self, name, args, bpf=None):
        """gourmet run -i c0 in the client namespace, tcpdump beside it."""
        log = os.path.join(self.lab.tmp, name + ".log")
        pcap = os.path.join(self.lab.tmp, name + ".pcap")
        dump_args = ["tcpdump", "-i", "c0", "-w", pcap, "-s", "0", "-B", "32768", "-U", "--immediate-mode", "-n",
                     "-Z", "root"] + ([bpf] if bpf else [])
        dump = self.lab.start(self.cli, dump_args, "tcpdump-" + name)
        cmd = [os.path.join(g.BIN, "gourmet"), "run", "-v", "-q", "-i", "c0", "-o", log, "--seed", "9",
               "--plugins", "bytes", "--plugin-dir", g.PLUGINS, *args] + (["-f", bpf] if bpf else [])
        agent = self.lab.start(self.cli, cmd, "gourmet-" + name)
        err = os.path.join(self.lab.tmp, "gourmet-" + name + ".log")
        self.wait_for(err, "capturing on c0")
        self.wait_for(os.path.join(self.lab.tmp, "tcpdump-" + name + ".log"), "listening on")
        time.sleep(0.3)
        self.traffic()
        time.sleep(0.5)
        self.lab.stop(dump, signal.SIGINT)
        agent.send_signal(signal.SIGTERM)
        self.assertEqual(agent.wait(timeout=60), 0, open(err).read())
        return g.read_log(log), pcap, open(err).read()

    def check(self, records, pcap):
        # Payload by sequence space: a busy veth can make TCP retransmit.
        expected = g.tshark_conversations(pcap, seq_space=True)
        got = {g.conn_key(r): r for r in records if r["proto"] in ("tcp", "udp")}
        self.assertEqual(set(got), set(expected))
        for key, exp in expected.items():
            for field, value in exp.items():
                self.assertEqual(got[key][field], value, f"{key} {field}")
        return got

    def test_afpacket_and_pcap_with_and_without_filter(self):
        for source in ("afpacket", "pcap"):
            records, pcap, err = self.run_capture(source, ["--source", source])
            got = self.check(records, pcap)
            self.assertEqual(len([k for k in got if k[0] == "tcp"]), 3, source)  # 2 curl + dig +tcp
            self.assertIn("0 dropped by the kernel", err)
            records, pcap, _ = self.run_capture(source + "-dns", ["--source", source], bpf="udp port 53")
            got = self.check(records, pcap)
            self.assertEqual(len(got), 2, source)
            self.assertTrue(all(k[0] == "udp" and k[4] == 53 for k in got), got.keys())
            self.assertEqual([r for r in records if r["proto"] != "udp"], [])

    def test_three_processes_with_fanout_workers(self):
        d = self.lab.tmp
        log = os.path.join(d, "three.log")
        pcap = os.path.join(d, "three.pcap")
        sink = self.lab.start(self.cli, [os.path.join(g.BIN, "log-sink"), "--listen", "127.0.0.1:0", "--metrics", "",
                                         "--port-file", f"{d}/sink.port", "-o", log], "sink")
        self.wait_for(f"{d}/sink.port", "\n")
        an = self.lab.start(self.cli, [os.path.join(g.BIN, "analyzer-host"), "--listen", "127.0.0.1:0", "--metrics",
                                       "", "--port-file", f"{d}/an.port", "--sink",
                                       "127.0.0.1:" + open(f"{d}/sink.port").read().strip(),
                                       "--plugin-dir", g.PLUGINS, "--plugins", "bytes"], "analyzer")
        self.wait_for(f"{d}/an.port", "\n")
        dump = self.lab.start(self.cli, ["tcpdump", "-i", "c0", "-w", pcap, "-s", "0", "-B", "32768", "-U",
                                         "--immediate-mode", "-n", "-Z", "root"], "tcpdump-three")
        agent = self.lab.start(self.cli, [os.path.join(g.BIN, "capture-agent"), "-i", "c0", "-w", "2", "--metrics",
                                          "", "-a", "127.0.0.1:" + open(f"{d}/an.port").read().strip(),
                                          "--stats-interval", "1s"], "agent")
        self.wait_for(f"{d}/agent.log", "capturing on c0 with afpacket (2 workers)")
        self.wait_for(f"{d}/tcpdump-three.log", "listening on")
        time.sleep(0.3)
        self.traffic()
        time.sleep(0.5)
        self.lab.stop(dump, signal.SIGINT)
        agent.send_signal(signal.SIGTERM)
        self.assertEqual(agent.wait(timeout=60), 0, open(f"{d}/agent.log").read())
        self.lab.stop(an)
        self.lab.stop(sink)
        self.check(g.read_log(log), pcap)

    def test_sigterm_mid_traffic_keeps_finished_connections(self):
        d = self.lab.tmp
        log = os.path.join(d, "term.log")
        pcap = os.path.join(d, "term.pcap")
        dump = self.lab.start(self.cli, ["tcpdump", "-i", "c0", "-w", pcap, "-s", "0", "-B", "32768", "-U",
                                         "--immediate-mode", "-n", "-Z", "root", "tcp"], "tcpdump-term")
        agent = self.lab.start(self.cli, [os.path.join(g.BIN, "gourmet"), "run", "-v", "-q", "-i", "c0", "-o", log,
                                          "--plugins", "bytes", "--plugin-dir", g.PLUGINS], "gourmet-term")
        self.wait_for(f"{d}/gourmet-term.log", "capturing on c0")
        self.wait_for(f"{d}/tcpdump-term.log", "listening on")
        loop = self.lab.start(self.cli, ["sh", "-c", f"while :; do curl -s -o /dev/null http://{SRV4}/index.html; "
                                         "sleep 0.05; done"], "curl-loop")
        time.sleep(1.5)
        term_at = time.time()
        agent.send_signal(signal.SIGTERM)
        self.assertEqual(agent.wait(timeout=60), 0)
        time.sleep(0.3)
        self.lab.stop(loop, signal.SIGKILL)
        time.sleep(0.3)
        self.lab.stop(dump, signal.SIGINT)
        records = {g.conn_key(r): r for r in g.read_log(log)}
        # Connections whose last packet came before the signal are complete in the log.
        out = subprocess.run(["tshark", "-r", pcap, "-q", "-z", "conv,tcp"], capture_output=True, text=True).stdout
        expected = g.tshark_conversations(pcap, seq_space=True)
        last = {}
        fields = subprocess.run(["tshark", "-r", pcap, "-T", "fields", "-e", "tcp.srcport", "-e", "tcp.dstport",
                                 "-e", "frame.time_epoch"], capture_output=True, text=True).stdout
        for line in fields.splitlines():
            sp, dp, t = line.split()
            port = int(sp) if int(dp) == 80 else int(dp)
            last[port] = max(last.get(port, 0), float(t))
        finished = [k for k in expected if last[k[2]] < term_at - 0.05]
        self.assertGreater(len(finished), 5, out)
        for k in finished:
            self.assertIn(k, records)
            for field, value in expected[k].items():
                self.assertEqual(records[k][field], value, (k, field))

    def test_clear_errors(self):
        agent = os.path.join(g.BIN, "capture-agent")
        r = self.lab.exec(self.cli, [agent, "-i", "nosuch0", "--metrics", ""], check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("interface 'nosuch0' does not exist", r.stderr)
        self.lab.exec(self.cli, ["ip", "link", "add", "dn0", "type", "veth", "peer", "dn1"])
        r = self.lab.exec(self.cli, [agent, "-i", "dn0", "--metrics", ""], check=False)
        self.assertIn("interface 'dn0' is down", r.stderr)
        for source in ("afpacket", "pcap"):
            r = self.lab.exec(self.cli, ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", agent,
                                         "-i", "c0", "--source", source, "--metrics", ""], check=False)
            self.assertNotEqual(r.returncode, 0)
            errors = [l for l in r.stderr.splitlines() if " error: " in l]
            self.assertEqual(len(errors), 1, r.stderr)
            self.assertIn("CAP_NET_RAW", errors[0])

    def test_user_drops_privileges(self):
        d = self.lab.tmp
        agent = self.lab.start(self.cli, [os.path.join(g.BIN, "capture-agent"), "-i", "c0", "--metrics", "",
                                          "--user", "nobody", "-a", "127.0.0.1:1", "--connect-timeout", "30s"],
                               "agent-user")
        self.wait_for(f"{d}/agent-user.log", "running as user nobody")
        # `ip netns exec` forks: the agent is the child of the process we started.
        pid = subprocess.run(["pgrep", "-P", str(agent.pid)], capture_output=True, text=True).stdout.split()
        target = pid[0] if pid else str(agent.pid)
        status = open(f"/proc/{target}/status").read()
        uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
        cap_line = [l for l in status.splitlines() if l.startswith("CapEff:")][0]
        nobody = subprocess.run(["id", "-u", "nobody"], capture_output=True, text=True).stdout.strip()
        self.assertEqual(uid_line.split()[1:], [nobody] * 4)
        self.assertEqual(int(cap_line.split()[1], 16), 0)
        self.lab.stop(agent)


if __name__ == "__main__":
    unittest.main(verbosity=2)
