"""Crash containment, for real: an analyzer-host whose `segfaults` test plugin
kills the process on some connections, restarted by a supervisor after each
crash, fed the sample pcap by a real capture agent. Every connection must
reach the log exactly once: the poison ones set aside unanalysed (with the
reason under _errors.analyzer) once their batch exceeded max_attempts, the
others analysed normally."""

import os
import resource
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402

POISON_PORTS = (40003, 50005)  # the 404 GET, the NXDOMAIN lookup


class SinkOnly(g.Services):
    """A log-sink process; the analyzer is the supervisor's."""

    def __init__(self, workdir):  # pylint: disable=super-init-not-called
        self.workdir = workdir
        self.log_path = os.path.join(workdir, "gourmet.log")
        self.procs = []
        self.sink_port = self._start(
            "log-sink", ["--listen", "127.0.0.1:0", "--metrics", "", "-o", self.log_path])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def no_core_dumps():
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


class Supervisor:
    """Runs analyzer-host on a fixed port and starts it again whenever it
    dies, as Kubernetes would; counts the crashes."""

    def __init__(self, workdir, config_path):
        self.cmd = [os.path.join(g.BIN, "analyzer-host"), "-c", config_path]
        self.stderr_path = os.path.join(workdir, "analyzer-host.stderr")
        self.crashes = 0
        self.starts = 0
        self.stopping = False
        self.proc = None
        self.lock = threading.Lock()
        self.thread = threading.Thread(target=self._loop, daemon=True)
        self.thread.start()

    def _loop(self):
        with open(self.stderr_path, "w") as err:
            while True:
                with self.lock:
                    if self.stopping:
                        return
                    self.proc = subprocess.Popen(self.cmd, stdout=err, stderr=subprocess.STDOUT,
                                                 preexec_fn=no_core_dumps)
                    self.starts += 1
                rc = self.proc.wait()
                if rc == -signal.SIGSEGV:
                    self.crashes += 1
                elif not self.stopping:
                    raise RuntimeError(f"analyzer-host exited with {rc}")

    def stop(self):
        with self.lock:
            self.stopping = True
            if self.proc and self.proc.poll() is None:
                self.proc.send_signal(signal.SIGTERM)
        self.thread.join(timeout=20)


class CrashContainmentTest(unittest.TestCase):

    def run_pipeline(self, d, plugin_config, max_attempts=None):
        sink = SinkOnly(d)
        port = free_port()
        config = os.path.join(d, "analyzer.yaml")
        with open(config, "w") as f:
            f.write(f"listen: 127.0.0.1:{port}\nsink: 127.0.0.1:{sink.sink_port}\n"
                    "metrics_listen: ''\n")
            if max_attempts is not None:
                f.write(f"max_attempts: {max_attempts}\n")
            f.write("plugins:\n"
                    f"  - {{name: bytes, path: {g.PLUGINS}/bytes.so}}\n"
                    f"  - name: segfaults\n    path: {g.TEST_PLUGINS}/segfaults.so\n"
                    f"    config: {plugin_config}\n")
        sup = Supervisor(d, config)
        try:
            start = time.time()
            r = g.agent(g.SAMPLE, port, timeout=180)
            elapsed = time.time() - start
        finally:
            sup.stop()
            sink.stop()
        with open(sup.stderr_path) as f:
            analyzer_log = f.read()
        self.assertEqual(r.returncode, 0, r.stderr + analyzer_log)
        return sink.records(), sup, analyzer_log, r, elapsed

    def test_poison_connections_are_logged_once_unanalysed(self):
        with g.temp_dir() as d:
            records, sup, analyzer_log, agent, elapsed = self.run_pipeline(
                d, "{crash_on_orig_ports: [%s]}" % ", ".join(map(str, POISON_PORTS)))
        # The sample's 14 connections, each exactly once.
        uids = [r["uid"] for r in records]
        self.assertEqual(len(uids), 14, uids)
        self.assertEqual(len(set(uids)), 14)
        keys = [g.conn_key(r) for r in records]
        self.assertEqual(len(set(keys)), 14)
        poison = [r for r in records if r["id"]["orig_p"] in POISON_PORTS]
        self.assertEqual(len(poison), len(POISON_PORTS))
        for rec in poison:
            self.assertNotIn("bytes", rec)
            self.assertNotIn("segfaults", rec)
            self.assertNotIn("service", rec)
            self.assertIn("skipped after crashing analyzers 3 times",
                          rec["_errors"]["analyzer"], rec)
            self.assertIn("no plugin ran", rec["_errors"]["analyzer"])
            self.assertGreater(rec["orig_pkts"], 0)  # the flow summary is all there
        for rec in records:
            if rec["id"]["orig_p"] in POISON_PORTS:
                continue
            self.assertNotIn("_errors", rec)
            self.assertEqual(rec["segfaults"], {"survived": True}, rec)
            if rec["proto"] in ("tcp", "udp"):
                self.assertEqual(rec["bytes"]["orig"], rec["orig_bytes"], rec)
        # The batch holding the poison crashed an analyzer with the others,
        # then one alone; split, each poison connection crashed one more
        # alone, and its fourth delivery was set aside: 2 + 1 per poison
        # (more only if the agent had cut the sample into several batches).
        self.assertGreaterEqual(sup.crashes, 2 + len(POISON_PORTS), analyzer_log)
        self.assertLessEqual(sup.crashes, 3 * len(POISON_PORTS), analyzer_log)
        self.assertEqual(sup.starts, sup.crashes + 1)
        self.assertIn("resending its connections one per batch", agent.stderr)
        self.assertEqual(analyzer_log.count("no plugin ran"), len(POISON_PORTS), analyzer_log)
        print(f"\n{sup.crashes} analyzer crashes, agent done in {elapsed:.1f} s", file=sys.stderr)

    def test_every_connection_poison(self):
        # The plugin crashes on everything: nothing is analysed, nothing lost.
        with g.temp_dir() as d:
            records, sup, _, _, _ = self.run_pipeline(d, "{}", max_attempts=1)
        self.assertEqual(len(records), 14)
        self.assertEqual(len({r["uid"] for r in records}), 14)
        for rec in records:
            self.assertNotIn("bytes", rec)
            self.assertIn("skipped after crashing analyzers", rec["_errors"]["analyzer"])
        # max_attempts 1: the batch's second delivery is past it and is
        # logged whole, unanalysed, after one crash.
        self.assertEqual(sup.crashes, 1)


if __name__ == "__main__":
    unittest.main()
