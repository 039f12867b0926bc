"""The watchlist plugin in the real pipeline (`gourmet run`) after dns, http
and tls, posting its notices to a local webhook receiver (python
http.server) that records every POST; and what happens when the receiver is
down or hangs: connections are never lost and analysis is not held up."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402

TLS_PCAP = os.path.join(g.ROOT, "tests", "data", "tls.pcap")


class Receiver:
    """An HTTP server on 127.0.0.1 that records POST bodies."""

    def __init__(self, status=204):
        self.posts = []
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts.append({"path": self.path, "type": self.headers.get("Content-Type"),
                                       "body": json.loads(body)})
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notice"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def run_gourmet(d, pcap, watchlist_config, env=None):
    cfg = os.path.join(d, "gourmet.yaml")
    with open(cfg, "w") as f:
        f.write("analyzer:\n  plugins:\n    - dns\n    - http\n    - tls\n"
                "    - name: watchlist\n      depends_on: [dns, http, tls]\n"
                f"      config: {json.dumps(watchlist_config)}\n")
    out = os.path.join(d, "out.log")
    start = time.time()
    r = subprocess.run([os.path.join(g.BIN, "gourmet"), "run", "-r", pcap, "-o", out, "-c", cfg,
                        "--plugin-dir", g.PLUGINS, "--seed", "11"],
                       capture_output=True, text=True, timeout=120, env={**os.environ, **(env or {})})
    elapsed = time.time() - start
    if r.returncode != 0:
        raise AssertionError(r.stderr)
    return g.read_log(out), elapsed


def by_port(records):
    return {r["id"]["orig_p"]: r for r in records}


class WatchlistTest(unittest.TestCase):

    def test_notices_recorded_and_posted(self):
        rx = Receiver()
        try:
            with g.temp_dir() as d:
                records, _ = run_gourmet(d, g.SAMPLE, {
                    "domains": ["www.gourmet.test", "*.cdn.gourmet.test"],
                    "webhook": {"url": rx.url, "timeout": "2s"}})
        finally:
            rx.stop()
        self.assertEqual(len(records), 14)
        recs = by_port(records)
        http_ports = (40001, 40002, 40003, 40004, 40005)
        expected = {p: ("www.gourmet.test", "www.gourmet.test", ["http.host"]) for p in http_ports}
        expected[50001] = ("www.gourmet.test", "www.gourmet.test", ["dns.query", "dns.answer"])
        expected[50002] = expected[50001]
        expected[50006] = ("img.cdn.gourmet.test", "*.cdn.gourmet.test",
                           ["dns.query", "dns.answer"])
        noticed = {p for p, r in recs.items() if "watchlist" in r}
        self.assertEqual(noticed, set(expected))
        for port, (domain, pattern, seen_in) in expected.items():
            w = recs[port]["watchlist"]
            self.assertEqual(w["notices"], [{"rule": "watchlist", "domain": domain,
                                             "pattern": pattern, "seen_in": seen_in}], port)
            self.assertRegex(w["local_time"], r"^2026-12-04T15:33:4\d\+00:00$")
            self.assertEqual(w["webhook"], "sent")
            self.assertEqual(w["webhook_failures"], 0)
            self.assertNotIn("watchlist", recs[port].get("service", []))
            self.assertNotIn("_errors", recs[port])
        # One POST per noticed connection, with the connection and its notices.
        self.assertEqual(len(rx.posts), len(expected))
        by_uid = {r["uid"]: r for r in records}
        for post in rx.posts:
            self.assertEqual(post["path"], "/notice")
            self.assertEqual(post["type"], "application/json")
            body = post["body"]
            rec = by_uid[body["uid"]]
            self.assertEqual(body["notices"], rec["watchlist"]["notices"])
            self.assertEqual(body["id"], rec["id"])
            self.assertEqual(body["proto"], rec["proto"])
            self.assertEqual(body["local_time"], rec["watchlist"]["local_time"])
            self.assertAlmostEqual(body["ts"], rec["ts"], places=6)

    def test_tls_server_names(self):
        with g.temp_dir() as d:
            records, _ = run_gourmet(d, TLS_PCAP, {"domains": ["*.gourmet.test"]})
        sni = [r for r in records if "watchlist" in r]
        self.assertTrue(sni)
        domains = set()
        for r in sni:
            for n in r["watchlist"]["notices"]:
                self.assertIn("tls.sni", n["seen_in"])
                self.assertEqual(n["pattern"], "*.gourmet.test")
                domains.add(n["domain"])
            self.assertNotIn("webhook", r["watchlist"])
        self.assertEqual(domains, {"www.gourmet.test", "api.gourmet.test"})

    def test_time_windows_follow_the_connection_time_not_the_clock(self):
        # The sample was captured on Friday 2026-12-04 at 15:33 UTC (16:33 in
        # Paris). The process time zone must not matter either.
        cases = [({"windows": ["15:00-16:00"]}, True),
                 ({"windows": ["22:00-06:00"]}, False),
                 ({"windows": ["16:00-17:00"], "time_zone": "Europe/Paris"}, True),
                 ({"windows": ["15:00-16:00"], "time_zone": "Europe/Paris"}, False),
                 ({"windows": ["sat,sun 00:00-24:00"]}, False),
                 ({"windows": ["mon-fri 15:33-15:34"]}, True)]
        for extra, noticed in cases:
            with g.temp_dir() as d:
                records, _ = run_gourmet(d, g.SAMPLE, {"domains": ["www.gourmet.test"], **extra},
                                         env={"TZ": "Asia/Tokyo"})
            got = [r for r in records if "watchlist" in r]
            self.assertEqual(len(records), 14)
            self.assertEqual(len(got), 7 if noticed else 0, extra)

    def test_receiver_down_or_hanging_loses_nothing(self):
        # Connection refused: every POST fails at once; after 3 in a row the
        # webhook pauses, and the count of failures goes on in the result.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            closed_port = s.getsockname()[1]
        # A hung receiver: the kernel accepts, nobody answers.
        hung = socket.socket()
        hung.bind(("127.0.0.1", 0))
        hung.listen(64)
        try:
            for port, timeout in ((closed_port, "2s"), (hung.getsockname()[1], "300ms")):
                with g.temp_dir() as d:
                    records, elapsed = run_gourmet(d, g.SAMPLE, {
                        "domains": ["www.gourmet.test", "*.cdn.gourmet.test"],
                        "webhook": {"url": f"http://127.0.0.1:{port}/x", "timeout": timeout,
                                    "pause_after_failures": 3, "pause": "1m"}})
                self.assertEqual(len(records), 14)
                noticed = [r["watchlist"] for r in records if "watchlist" in r]
                self.assertEqual(len(noticed), 8)
                statuses = [w["webhook"] for w in noticed]
                failed = [s for s in statuses if s.startswith("failed: ")]
                paused = [s for s in statuses if s.startswith("paused: ")]
                self.assertEqual(len(failed), 3, statuses)
                self.assertEqual(len(paused), 5, statuses)
                self.assertEqual(sorted(w["webhook_failures"] for w in noticed), list(range(1, 9)))
                # At most three timeouts, spread over two workers.
                self.assertLess(elapsed, 5, statuses)
        finally:
            hung.close()

    def test_bad_config_refuses_start(self):
        with g.temp_dir() as d:
            with self.assertRaises(AssertionError) as ctx:
                run_gourmet(d, g.SAMPLE, {"domains": ["www.gourmet.test"],
                                          "windows": ["25:00-26:00"]})
        msg = str(ctx.exception)
        self.assertIn("plugin 'watchlist'", msg)
        self.assertIn("key 'windows[0]'", msg)


if __name__ == "__main__":
    unittest.main()
