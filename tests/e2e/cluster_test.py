"""A rehearsal of a real cluster: two capture hosts, analyzers and a sink as
separate processes, each host in a network namespace of its own with its own
address on a bridged control network, and real traffic (curl -> nginx,
dig -> dnsmasq) on the capture hosts' own links. During the run one analyzer
is killed with SIGKILL, the sink is restarted and an analyzer is added.
Afterwards every connection the clients made is in the log exactly once."""

import collections
import json
import os
import signal
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402
from netlab import Lab  # noqa: E402

CTL = "10.91.0.{}/24"
ANALYZERS = {"an1": 11, "an2": 12, "an3": 13, "an4": 14}
SINK = 20


class ClusterTest(unittest.TestCase):

    def setUp(self):
        self.lab = lab = Lab("gmcl")
        self.addCleanup(lab.cleanup)
        sw = lab.ns("sw")
        lab.exec(sw, ["ip", "link", "add", "br0", "type", "bridge"])
        lab.exec(sw, ["ip", "link", "set", "br0", "up"])
        self.hosts = {}
        for i, name in enumerate(["cap1", "cap2", *ANALYZERS, "sink"]):
            octet = {"cap1": 1, "cap2": 2, "sink": SINK}.get(name, ANALYZERS.get(name))
            ns = lab.ns(name)
            lab.veth(ns, "ctl0", sw, f"p{i}", [CTL.format(octet)])
            lab.exec(sw, ["ip", "link", "set", f"p{i}", "master", "br0"])
            self.hosts[name] = (ns, f"10.91.0.{octet}")
        # The servers the capture hosts talk to, each over its own link.
        self.srv = lab.ns("srv")
        for k, cap in enumerate(["cap1", "cap2"], start=1):
            lab.veth(self.hosts[cap][0], "d0", self.srv, f"d{k}", [f"10.92.{k}.1/24"], [f"10.92.{k}.2/24"])
        lab.nginx(self.srv, ["10.92.1.2:80", "10.92.2.2:80"], {"/index.html": b"cluster\n" * 100})
        lab.start(self.srv, ["dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", "--conf-file=/dev/null",
                             "--user=root", "--group=root", "--listen-address=10.92.1.2",
                             "--listen-address=10.92.2.2", "--bind-interfaces", "--local=/cl.test/",
                             "--host-record=www.cl.test,10.92.1.2"], "dnsmasq")
        lab.wait_listen(self.srv, "udp", 53)
        self.log = os.path.join(lab.tmp, "cluster.log")

    def start_sink(self):
        ns, addr = self.hosts["sink"]
        return self.lab.start(ns, [os.path.join(g.BIN, "log-sink"), "--listen", f"{addr}:50052", "--metrics", "",
                                   "-o", self.log], "sink-" + str(time.time()))

    def start_analyzer(self, name):
        ns, addr = self.hosts[name]
        # Agents reconnect every 2 s here (5 min by default), so an analyzer
        # added during the run gets streams within the test's time.
        cfg = os.path.join(self.lab.tmp, "analyzer.yaml")
        with open(cfg, "w") as f:
            f.write("max_connection_age: 2s\n")
        return self.lab.start(ns, [os.path.join(g.BIN, "analyzer-host"), "--listen", f"{addr}:50051", "--metrics",
                                   f"{addr}:9102", "--sink", f"10.91.0.{SINK}:50052", "--plugin-dir", g.PLUGINS,
                                   "--plugins", "bytes,dns,http", "-c", cfg], name)

    def batches_seen(self, name):
        ns, addr = self.hosts[name]
        out = self.lab.exec(ns, ["curl", "-s", f"http://{addr}:9102/metrics"], check=False).stdout
        for line in out.splitlines():
            if line.startswith("gourmet_analyzer_batches_total"):
                return float(line.split()[-1])
        return 0.0

    def test_kill_restart_and_scale_out(self):
        lab = self.lab
        sink = self.start_sink()
        lab.wait_listen(self.hosts["sink"][0], "tcp", 50052)
        analyzers = {n: self.start_analyzer(n) for n in ("an1", "an2", "an3")}
        for n in analyzers:
            lab.wait_listen(self.hosts[n][0], "tcp", 50051)
        target = "ipv4:" + ",".join(f"10.91.0.{o}:50051" for o in ANALYZERS.values())
        agents, dumps = {}, {}
        for cap in ("cap1", "cap2"):
            ns = self.hosts[cap][0]
            dumps[cap] = lab.start(ns, ["tcpdump", "-i", "d0", "-w", os.path.join(lab.tmp, cap + ".pcap"), "-s", "0",
                                        "-B", "32768", "-U", "--immediate-mode", "-n", "-Z", "root"],
                                   "tcpdump-" + cap)
            agents[cap] = lab.start(ns, [os.path.join(g.BIN, "capture-agent"), "-i", "d0", "--metrics", "",
                                         "-a", target, "--sensor", cap, "--connect-timeout", "60s",
                                         "--ack-timeout", "5s", "-c", self.batch_config()], "agent-" + cap)
        for cap in ("cap1", "cap2"):
            deadline = time.time() + 10
            while "capturing on d0" not in open(os.path.join(lab.tmp, f"agent-{cap}.log")).read():
                self.assertLess(time.time(), deadline)
                time.sleep(0.05)
        time.sleep(0.5)
        loops = []
        for k, cap in enumerate(("cap1", "cap2"), start=1):
            script = (f"i=0; while [ $i -lt 150 ]; do curl -s -o /dev/null http://10.92.{k}.2/index.html; "
                      f"dig +short +tries=1 @10.92.{k}.2 www.cl.test >/dev/null; i=$((i+1)); sleep 0.1; done")
            loops.append(lab.start(self.hosts[cap][0], ["sh", "-c", script], "traffic-" + cap))
        time.sleep(2)
        analyzers["an2"].send_signal(signal.SIGKILL)   # an analyzer dies
        time.sleep(0.5)
        analyzers["an4"] = self.start_analyzer("an4")  # an analyzer is added
        time.sleep(1.5)
        sink.send_signal(signal.SIGTERM)               # the sink restarts
        sink.wait(timeout=20)
        time.sleep(0.5)
        sink = self.start_sink()
        for p in loops:
            p.wait(timeout=120)
        time.sleep(1)
        # The added analyzer took a share of the work.
        self.assertGreater(self.batches_seen("an4"), 0)
        for cap in ("cap1", "cap2"):
            lab.stop(dumps[cap], signal.SIGINT)
            agents[cap].send_signal(signal.SIGTERM)
        for cap in ("cap1", "cap2"):
            self.assertEqual(agents[cap].wait(timeout=120), 0, open(os.path.join(lab.tmp, f"agent-{cap}.log")).read())
        for p in analyzers.values():
            lab.stop(p)
        lab.stop(sink)

        records = g.read_log(self.log)
        uids = collections.Counter(r["uid"] for r in records)
        self.assertEqual([u for u, n in uids.items() if n > 1], [], "a connection was logged twice")
        for cap in ("cap1", "cap2"):
            pcap = os.path.join(lab.tmp, cap + ".pcap")
            expected = g.tshark_conversations(pcap, seq_space=True)
            got = {g.conn_key(r): r for r in records if r["sensor"] == cap and r["proto"] in ("tcp", "udp")}
            self.assertEqual(set(got), set(expected), cap)
            self.assertGreater(len(expected), 100, cap)
            for key, exp in expected.items():
                for field, value in exp.items():
                    self.assertEqual(got[key][field], value, (cap, key, field))
        # The analyzers really did the work: every DNS connection has its result.
        dns = [r for r in records if r["id"]["resp_p"] == 53 and r["proto"] == "udp"]
        self.assertTrue(dns and all("dns" in r for r in dns))

    def batch_config(self):
        # Small batches, so that a killed analyzer holds several unacknowledged ones.
        path = os.path.join(self.lab.tmp, "agent.yaml")
        with open(path, "w") as f:
            f.write("batch:\n  connections: 8\n  max_delay: 200ms\n")
        return path


if __name__ == "__main__":
    unittest.main(verbosity=2)
