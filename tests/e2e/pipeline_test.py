"""End to end: the three real services as separate processes on loopback,
fed the bundled sample pcap; the log is checked against tshark."""

import os
import shutil
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402


class PipelineTest(unittest.TestCase):

    def check_against_tshark(self, records, pcap):
        expected = g.tshark_conversations(pcap)
        frames = g.tshark_conv_frames(pcap)
        got = {g.conn_key(r): r for r in records if r["proto"] in ("tcp", "udp")}
        self.assertEqual(set(got), set(expected), "connections differ from tshark's")
        for key, exp in expected.items():
            rec = got[key]
            for field, value in exp.items():
                self.assertEqual(rec[field], value, f"{key} {field}")
            # Packets per direction also equal tshark's conversation table.
            orig, resp = (key[1], key[2]), (key[3], key[4])
            conv = frames[frozenset([orig, resp])]
            self.assertEqual(rec["orig_pkts"], conv[orig], key)
            self.assertEqual(rec["resp_pkts"], conv[resp], key)
            self.assertEqual(rec["missed_bytes"], 0, key)
        return got

    def test_three_processes_match_tshark(self):
        with g.temp_dir() as d:
            svc = g.Services(d)
            try:
                r = g.agent(g.SAMPLE, svc.analyzer_port)
                self.assertEqual(r.returncode, 0, r.stderr)
            finally:
                svc.stop()
            records = svc.records()
        got = self.check_against_tshark(records, g.SAMPLE)
        # Every TCP connection of the sample is a complete, clean one.
        for key, rec in got.items():
            if key[0] == "tcp":
                self.assertEqual(rec["conn_state"], "SF", key)
                self.assertEqual(rec["history"], "ShADadFf", key)
            else:
                self.assertEqual(rec["conn_state"], "SF", key)
            # The bytes plugin saw exactly the reassembled payload.
            self.assertEqual(rec["bytes"]["orig"], rec["orig_bytes"], key)
            self.assertEqual(rec["bytes"]["resp"], rec["resp_bytes"], key)
        # Ping: one ICMP connection, two echo requests and two replies.
        icmp = [r for r in records if r["proto"] == "icmp" and r["id"]["orig_p"] == 8]
        self.assertEqual(len(icmp), 1)
        self.assertEqual((icmp[0]["orig_pkts"], icmp[0]["resp_pkts"]), (2, 2))
        # uids are unique and Zeek-shaped.
        uids = [r["uid"] for r in records]
        self.assertEqual(len(uids), len(set(uids)))
        for u in uids:
            self.assertRegex(u, r"^C[0-9A-Za-z]{17}$")

    def test_same_seed_same_uids(self):
        runs = []
        for _ in range(2):
            with g.temp_dir() as d:
                svc = g.Services(d)
                try:
                    self.assertEqual(g.agent(g.SAMPLE, svc.analyzer_port).returncode, 0)
                finally:
                    svc.stop()
                runs.append({g.conn_key(r): r["uid"] for r in svc.records()})
        self.assertEqual(runs[0], runs[1])

    def test_gourmet_run_one_command(self):
        with g.temp_dir() as d:
            out = os.path.join(d, "out.log")
            r = g.run([os.path.join(g.BIN, "gourmet"), "run", "-r", g.SAMPLE, "-o", out, "--seed", "3",
                       "--plugin-dir", g.PLUGINS])
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"372 packets, 14 connections")
            records = g.read_log(out)
        self.assertEqual(len(records), 14)
        self.check_against_tshark(records, g.SAMPLE)

    def test_resent_batches_are_not_duplicated(self):
        # Running the same pcap twice with the same seed resends the same uids:
        # the sink must keep one line per connection.
        with g.temp_dir() as d:
            svc = g.Services(d)
            try:
                for _ in range(2):
                    self.assertEqual(g.agent(g.SAMPLE, svc.analyzer_port).returncode, 0)
            finally:
                svc.stop()
            self.assertEqual(len(svc.records()), 14)


class ShardedSinksTest(unittest.TestCase):
    """An analyzer with two sinks sends each connection to the one its uid
    hashes to: the two logs are disjoint and together hold everything."""

    def test_two_sinks_split_by_uid(self):
        with g.temp_dir() as d:
            procs, ports, logs = [], [], []
            try:
                for i in range(2):
                    log = os.path.join(d, f"sink{i}.log")
                    port_file = os.path.join(d, f"sink{i}.port")
                    procs.append(subprocess.Popen([os.path.join(g.BIN, "log-sink"), "--listen", "127.0.0.1:0",
                                                   "--metrics", "", "--port-file", port_file, "-o", log],
                                                  stderr=subprocess.DEVNULL))
                    while not os.path.exists(port_file):
                        time.sleep(0.05)
                    ports.append(int(open(port_file).read()))
                    logs.append(log)
                an_port_file = os.path.join(d, "an.port")
                procs.append(subprocess.Popen([os.path.join(g.BIN, "analyzer-host"), "--listen", "127.0.0.1:0",
                                               "--metrics", "", "--port-file", an_port_file, "--sinks",
                                               ",".join(f"127.0.0.1:{p}" for p in ports), "--plugin-dir",
                                               g.PLUGINS, "--plugins", "bytes"], stderr=subprocess.DEVNULL))
                while not os.path.exists(an_port_file):
                    time.sleep(0.05)
                r = g.agent(g.SAMPLE, int(open(an_port_file).read()))
                self.assertEqual(r.returncode, 0, r.stderr)
            finally:
                for p in reversed(procs):
                    p.terminate()
                    p.wait()
            parts = [{rec["uid"] for rec in g.read_log(log)} for log in logs]
        self.assertTrue(parts[0] and parts[1], "both shards get connections")
        self.assertEqual(parts[0] & parts[1], set())
        self.assertEqual(len(parts[0] | parts[1]), 14)


class BadInputTest(unittest.TestCase):
    """Bad input: one clear error line, a non-zero exit, never a hang."""

    @classmethod
    def setUpClass(cls):
        cls.dir = g.temp_dir()
        cls.svc = g.Services(cls.dir.name)

    @classmethod
    def tearDownClass(cls):
        cls.svc.stop()
        cls.dir.cleanup()

    def assert_one_error(self, r, pattern):
        self.assertNotEqual(r.returncode, 0)
        errors = [l for l in r.stderr.splitlines() if " error: " in l]
        self.assertEqual(len(errors), 1, r.stderr)
        self.assertRegex(errors[0], pattern)

    def test_missing_pcap(self):
        self.assert_one_error(g.agent("/nonexistent.pcap", self.svc.analyzer_port), "no such file")

    def test_not_a_pcap(self):
        self.assert_one_error(g.agent(os.path.join(g.ROOT, "tests", "data", "README.md"), self.svc.analyzer_port),
                              "as pcap or pcapng")

    def test_truncated_pcap_is_read_then_reported(self):
        with g.temp_dir() as d:
            cut = os.path.join(d, "cut.pcap")
            with open(g.SAMPLE, "rb") as f:
                data = f.read()
            with open(cut, "wb") as f:
                f.write(data[: len(data) // 2 + 7])
            before = len(self.svc.records())
            r = g.agent(cut, self.svc.analyzer_port, "--seed", "99")
            self.assert_one_error(r, "truncated")
            self.assertRegex(r.stderr, r"packets read before it")
            time.sleep(0.2)
            self.assertGreater(len(self.svc.records()), before, "what was read must still be delivered")

    def test_unreachable_analyzer_gives_up(self):
        t0 = time.time()
        r = g.run([os.path.join(g.BIN, "capture-agent"), "-r", g.SAMPLE, "-a", "127.0.0.1:1",
                   "--metrics", "", "--connect-timeout", "2s"], timeout=30)
        self.assert_one_error(r, "cannot reach analyzer at 127.0.0.1:1")
        self.assertLess(time.time() - t0, 15)

    def test_bad_yaml_config(self):
        with g.temp_dir() as d:
            cfg = os.path.join(d, "bad.yaml")
            with open(cfg, "w") as f:
                f.write("read_file: [unclosed\n")
            r = g.run([os.path.join(g.BIN, "capture-agent"), "-c", cfg])
            self.assert_one_error(r, "config file")
            with open(cfg, "w") as f:
                f.write("read_file: x.pcap\nbatch:\n  connections: many\n")
            r = g.run([os.path.join(g.BIN, "capture-agent"), "-c", cfg])
            self.assert_one_error(r, "batch.connections.*expected an integer")
            with open(cfg, "w") as f:
                f.write("read_file: x.pcap\nanalyser: typo\n")
            r = g.run([os.path.join(g.BIN, "capture-agent"), "-c", cfg])
            self.assert_one_error(r, "unknown config key 'analyser'")

    def test_unknown_flag(self):
        self.assert_one_error(g.run([os.path.join(g.BIN, "log-sink"), "--frobnicate"]), "unknown option")

    def test_missing_plugin(self):
        r = g.run([os.path.join(g.BIN, "analyzer-host"), "--listen", "127.0.0.1:0", "--metrics", "",
                   "--plugin-dir", g.PLUGINS, "--plugins", "nosuchplugin"])
        self.assert_one_error(r, "nosuchplugin.so' cannot be loaded")

    def test_file_that_is_not_a_plugin(self):
        with g.temp_dir() as d:
            fake = os.path.join(d, "fake.so")
            shutil.copy(os.path.join(g.ROOT, "tests", "data", "README.md"), fake)
            r = g.run([os.path.join(g.BIN, "analyzer-host"), "--listen", "127.0.0.1:0", "--metrics", "",
                       "--plugin-dir", d, "--plugins", "fake"])
            self.assert_one_error(r, "fake.so' cannot be loaded")


if __name__ == "__main__":
    unittest.main(verbosity=2)
