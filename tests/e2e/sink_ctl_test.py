"""gourmetctl against a real sink: the log that `gourmet run` writes for the
bundled sample pcap, served by a log-sink process; each filter flag checked
against the same filter applied by hand to the log; table output, bad
queries, an unreachable sink; and tail fed by a real analyzer host and
capture agent."""

import ipaddress
import json
import os
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402
import sink_lib  # noqa: E402


class GourmetctlTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="gourmet-ctl-")
        log = os.path.join(cls.dir.name, "g.log")
        cls.analyzers = all(os.path.exists(os.path.join(g.PLUGINS, p + ".so")) for p in ("http", "dns"))
        plugins = "bytes,http,dns" if cls.analyzers else "bytes"
        r = g.run([os.path.join(g.BIN, "gourmet"), "run", "-r", g.SAMPLE, "-o", log, "--seed", "3",
                   "--plugin-dir", g.PLUGINS, "--plugins", plugins])
        assert r.returncode == 0, r.stderr
        cls.records = g.read_log(log)
        assert len(cls.records) == 14, len(cls.records)
        cls.sink = sink_lib.Sink(cls.dir.name, log)

    @classmethod
    def tearDownClass(cls):
        cls.sink.stop()
        cls.dir.cleanup()

    def ctl(self, *args):
        return sink_lib.gourmetctl("-s", self.sink.target, *args)

    def query(self, *args):
        r = self.ctl("query", *args)
        self.assertEqual(r.returncode, 0, r.stderr)
        return [json.loads(l) for l in r.stdout.splitlines()]

    def expect(self, pred, *args):
        want = sorted((x for x in self.records if pred(x)), key=lambda x: x["ts"])
        self.assertGreater(len(want), 0, args)
        self.assertEqual([x["uid"] for x in self.query(*args)], [x["uid"] for x in want], args)

    def test_stats(self):
        r = self.ctl("stats")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = json.loads(r.stdout)
        self.assertEqual(s["records"], 14)
        self.assertEqual(s["segments"], 1)
        self.assertEqual(s["oldest_us"], min(round(x["ts"] * 1e6) for x in self.records))
        r = self.ctl("stats", "-o", "table")
        self.assertRegex(r.stdout, r"records\s+14\n")

    def test_query_everything_in_time_order(self):
        got = self.query()
        self.assertEqual(sorted(x["uid"] for x in got), sorted(x["uid"] for x in self.records))
        self.assertEqual([x["ts"] for x in got], sorted(x["ts"] for x in self.records))
        self.assertEqual(got, sorted(self.records, key=lambda x: x["ts"]))  # the lines as logged

    def test_each_filter_flag(self):
        rec = self.records[3]
        ts = sorted(x["ts"] for x in self.records)
        self.expect(lambda x: x["uid"] == rec["uid"], "--uid", rec["uid"])
        self.expect(lambda x: x["community_id"] == rec["community_id"], "--community-id", rec["community_id"])
        self.expect(lambda x: ts[2] <= x["ts"] < ts[6], "--from", f"{ts[2]:.6f}", "--to", f"{ts[6]:.6f}")
        self.expect(lambda x: "fd77::2" in (x["id"]["orig_h"], x["id"]["resp_h"]), "--addr", "fd77::2")
        self.expect(lambda x: x["id"]["orig_h"] == "10.77.0.1", "--orig-h", "10.77.0.1")
        self.expect(lambda x: ipaddress.ip_address(x["id"]["resp_h"]) in ipaddress.ip_network("fd77::/64"),
                    "--resp-h", "fd77::/64")
        self.expect(lambda x: 53 in (x["id"]["orig_p"], x["id"]["resp_p"]), "--port", "53")
        self.expect(lambda x: x["id"]["orig_p"] == 40003, "--orig-p", "40003")
        self.expect(lambda x: x["id"]["resp_p"] == 80, "--resp-p", "80")
        self.expect(lambda x: x["proto"] == "udp", "--proto", "udp")
        self.expect(lambda x: x["conn_state"] == "OTH", "--conn-state", "OTH")
        self.expect(lambda x: x["bytes"]["orig"] > 100 and x["proto"] == "tcp",
                    "bytes.orig > 100", "-w", "proto == tcp")
        self.expect(lambda x: x["proto"] == "udp" and x["id"]["resp_h"] == "10.77.0.2",
                    "--proto", "udp", "--where", 'id.resp_h == "10.77.0.2"')

    def test_service_and_analyzer_fields(self):
        if not self.analyzers:
            self.skipTest("the http and dns plugins are not built")
        self.expect(lambda x: "http" in x.get("service", []), "--service", "http")
        self.expect(lambda x: "dns" in x.get("service", []), "--service", "dns")
        self.expect(lambda x: any(t["host"] == "www.gourmet.test" for t in x.get("http", [])),
                    'http.host == "www.gourmet.test"')
        self.expect(lambda x: any(t["status_code"] >= 400 for t in x.get("http", [])), "http.status_code >= 400")
        self.expect(lambda x: any("nosuch" in q.get("query", "") for q in x.get("dns", [])),
                    "-w", 'dns.query contains "nosuch"')
        self.expect(lambda x: any(a.get("data") == "10.77.0.2" for q in x.get("dns", []) for a in q.get("answers", [])),
                    "dns.answers.data == 10.77.0.2")
        self.expect(lambda x: x["proto"] == "tcp" and "dns" in x.get("service", []),
                    "--proto", "tcp", "--service", "dns")

    def test_limit_and_order(self):
        by_ts = sorted(self.records, key=lambda x: x["ts"])
        self.assertEqual([x["uid"] for x in self.query("-n", "2", "--order", "desc")],
                         [by_ts[-1]["uid"], by_ts[-2]["uid"]])
        self.assertEqual([x["uid"] for x in self.query("--limit", "3")], [x["uid"] for x in by_ts[:3]])
        self.assertEqual(len(self.query("--order", "log")), 14)

    def test_table(self):
        r = self.ctl("query", "--proto", "udp", "-o", "table")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertRegex(lines[0], r"^ts\s+uid\s+proto\s+orig\s+resp\s+service\s+state")
        self.assertEqual(len(lines), 1 + 5)
        self.assertRegex(lines[1], r"^20\d\d-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}\s+C\w+\s+udp\s+")
        r = self.ctl("query", "--proto", "udp", "-o", "table", "--no-header")
        self.assertEqual(len(r.stdout.splitlines()), 5)

    def test_bad_query_exits_2_with_the_reason(self):
        r = self.ctl("query", "bytes.orig >")
        self.assertEqual(r.returncode, 2)
        self.assertIn("bad query: where[0] `bytes.orig >`: at column 13: expected a value after '>'", r.stderr)
        r = self.ctl("query", "--conn-state", "XX")
        self.assertEqual(r.returncode, 2)
        self.assertIn("conn_state 'XX' is not one of", r.stderr)
        r = self.ctl("query", "--port", "http")
        self.assertEqual(r.returncode, 2)
        self.assertIn("'http' is not a number", r.stderr)
        r = self.ctl("frobnicate")
        self.assertEqual(r.returncode, 2)
        self.assertIn("unknown command 'frobnicate'", r.stderr)

    def test_unreachable_sink_exits_1(self):
        r = sink_lib.gourmetctl("-s", "127.0.0.1:1", "stats")
        self.assertEqual(r.returncode, 1)
        self.assertIn("gourmetctl: error: stats from 127.0.0.1:1", r.stderr)

    def test_tail_fed_by_an_analyzer_and_an_agent(self):
        # The backlog's one line says the tail is following; then the five
        # udp connections of a second run (another seed, other uids) arrive.
        tail = subprocess.Popen([os.path.join(g.BIN, "gourmetctl"), "-s", self.sink.target, "tail",
                                 "--proto", "udp", "-n", "1", "--count", "6"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        analyzer = None
        try:
            first = json.loads(tail.stdout.readline())
            self.assertEqual(first["proto"], "udp")
            port_file = os.path.join(self.dir.name, "analyzer.port")
            analyzer = subprocess.Popen(
                [os.path.join(g.BIN, "analyzer-host"), "--listen", "127.0.0.1:0", "--metrics", "",
                 "--sink", self.sink.target, "--plugin-dir", g.PLUGINS, "--plugins", "bytes",
                 "--port-file", port_file], stderr=subprocess.DEVNULL)
            deadline = time.time() + 20
            while not os.path.exists(port_file) and time.time() < deadline:
                time.sleep(0.05)
            with open(port_file) as f:
                analyzer_port = int(f.read())
            r = g.agent(g.SAMPLE, analyzer_port, "--seed", "9")
            self.assertEqual(r.returncode, 0, r.stderr)
            out, err = tail.communicate(timeout=20)
            self.assertEqual(tail.returncode, 0, err)
            new = [json.loads(l) for l in out.splitlines()]
            self.assertEqual(len(new), 5)
            self.assertTrue(all(x["proto"] == "udp" for x in new))
            old_uids = {x["uid"] for x in self.records}
            self.assertFalse(old_uids & {x["uid"] for x in new})
        finally:
            if tail.poll() is None:
                tail.kill()
            if analyzer is not None:
                analyzer.terminate()
                analyzer.wait(timeout=20)


if __name__ == "__main__":
    unittest.main(verbosity=2)
