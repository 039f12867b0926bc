"""kill -9 loops during heavy ingest. sink-load streams batches with several
in flight and records the uids of every acknowledged batch; the sink is
killed at random moments (segments rotate every few hundred milliseconds,
so some kills land in a rotation) and restarted. After each restart every
line of every segment parses, no uid is there twice, and every acknowledged
uid is there. At the end the loader resends everything it sent: ingest is
idempotent, so the log holds each record exactly once."""

import collections
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402
import sink_lib  # noqa: E402

ROUNDS = int(os.environ.get("SINK_CRASH_ROUNDS", "8"))


class SinkCrashTest(unittest.TestCase):

    def check(self, reader, acked_path):
        uids = reader.uids()  # parses every line; fails on a torn one
        counts = collections.Counter(uids)
        dups = [u for u, n in counts.items() if n > 1]
        self.assertEqual(dups[:5], [], f"{len(dups)} uids are in the log more than once")
        acked = sink_lib.read_acked(acked_path)
        missing = [u for u in acked if u not in counts]
        self.assertEqual(missing[:5], [], f"{len(missing)} of {len(acked)} acknowledged uids are missing")
        return len(uids), len(acked)

    def run_loop(self, policy, rounds, seed):
        rng = random.Random(seed)
        with tempfile.TemporaryDirectory(prefix=f"gourmet-crash-{policy}-") as d:
            log = os.path.join(d, "g.log")
            acked = os.path.join(d, "acked.txt")
            args = ["--fsync", policy, "--rotate-bytes", "2MiB"]
            port = sink_lib.free_port()
            sink = sink_lib.Sink(d, log, args, port=port)
            total = 5000000  # more than can be sent meanwhile
            with open(os.path.join(d, "loader.out"), "w") as out:
                loader = subprocess.Popen(
                    [os.path.join(g.BIN, "sink-load"), "--sink", f"127.0.0.1:{port}", "--records", str(total),
                     "--batch", "200", "--in-flight", "8", "--prefix", "K", "--acked", acked, "--give-up", "60s"],
                    stdout=out, stderr=subprocess.STDOUT)
            reader = sink_lib.LogReader(log)
            torn = 0
            try:
                deadline = time.time() + 15
                while not os.path.exists(acked) and time.time() < deadline:
                    time.sleep(0.02)
                acked_size = os.path.getsize(acked)
                for r in range(rounds):
                    time.sleep(rng.uniform(0.2, 0.6))
                    sink.kill9()
                    if r % 2 == 1:
                        # A kill in the middle of write(2) leaves half a line:
                        # make sure some rounds have one.
                        with open(log, "ab") as f:
                            f.write(b'{"ts":1796397424.000001,"uid":"Ctorn","community_id":"1:')
                        torn += 1
                    # Recovery: a sink on another port (the loader cannot reach
                    # it) opens the log; then the files are checked.
                    probe = sink_lib.Sink(d, log, args, name="probe")
                    stats = sink_lib.gourmetctl("-s", probe.target, "stats")
                    self.assertEqual(probe.stop(), 0)
                    lines, n_acked = self.check(reader, acked)
                    self.assertEqual(stats.returncode, 0, stats.stderr)
                    self.assertIn(f'"records":{lines},', stats.stdout)
                    sink.start(port)
                    # The next kill comes while the loader is sending again.
                    deadline = time.time() + 15
                    while os.path.getsize(acked) <= acked_size and time.time() < deadline:
                        time.sleep(0.02)
                    self.assertGreater(os.path.getsize(acked), acked_size, f"round {r}: no progress")
                    acked_size = os.path.getsize(acked)
                time.sleep(0.3)
            finally:
                loader.send_signal(signal.SIGKILL)
                loader.wait()
            # Resend everything once more, from the start: only what never
            # reached the log is written.
            sent_upto = len(sink_lib.read_acked(acked)) + 200 * 8 * 2
            before = len(reader.uids())
            r = subprocess.run(
                [os.path.join(g.BIN, "sink-load"), "--sink", sink.target, "--records", str(sent_upto),
                 "--batch", "500", "--in-flight", "8", "--prefix", "K"],
                capture_output=True, text=True, timeout=120)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(sink.stop(), 0)
            lines, _ = self.check(reader, acked)
            self.assertEqual(lines, sent_upto)
            self.assertGreaterEqual(sent_upto, before)
            with open(os.path.join(d, "probe.stderr")) as f:
                cut = f.read().count("cutting")  # the probes did the recoveries
            self.assertGreaterEqual(cut, torn)
            return lines, cut

    def test_kill9_loop_group_fsync(self):
        lines, cut = self.run_loop("group", ROUNDS, seed=1)
        print(f"\ngroup: {lines} records after {ROUNDS} kills; {cut} torn tails cut", file=sys.stderr)

    def test_kill9_loop_no_fsync(self):
        # Without fsync an ack means write(2) returned: that survives the
        # death of the process (not of the machine).
        lines, cut = self.run_loop("none", max(3, ROUNDS // 2), seed=2)
        print(f"\nnone: {lines} records; {cut} torn tails cut", file=sys.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
