"""TLS, mutual TLS and the sink's query authorization, with real processes
and certificates made by openssl for the test."""

import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402

CERTS = r"""
set -e
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=gourmet-test-ca 2>/dev/null
for n in sink analyzer agent client; do
  openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=gourmet-$n 2>/dev/null
  printf 'subjectAltName=DNS:gourmet-%s\n' $n > $n.ext
  openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem -days 2 -extfile $n.ext 2>/dev/null
done
openssl req -x509 -newkey rsa:2048 -nodes -keyout other-ca.key -out other-ca.pem -days 2 -subj /CN=other 2>/dev/null
echo s3cret-token > token
echo wrong-token > wrong-token
"""


class SecurityTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.tmp = g.temp_dir()
        cls.d = cls.tmp.name
        subprocess.run(["sh", "-c", CERTS], cwd=cls.d, check=True)
        # A log to serve: the sample run through the pipeline once.
        cls.log = os.path.join(cls.d, "served.log")
        r = g.run([os.path.join(g.BIN, "gourmet"), "run", "-q", "-r", g.SAMPLE, "-o", cls.log, "--plugin-dir",
                   g.PLUGINS, "--plugins", "bytes"])
        assert r.returncode == 0, r.stderr

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def f(self, name):
        return os.path.join(self.d, name)

    def start_sink(self, *args):
        port_file = self.f("sink.port")
        if os.path.exists(port_file):
            os.remove(port_file)
        p = subprocess.Popen([os.path.join(g.BIN, "log-sink"), "--listen", "127.0.0.1:0", "--metrics", "",
                              "--port-file", port_file, "-o", self.log, *args],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (p.poll() is None and p.terminate(), p.wait()))
        deadline = time.time() + 15
        while not os.path.exists(port_file):
            if p.poll() is not None:
                return p, None
            self.assertLess(time.time(), deadline)
            time.sleep(0.05)
        return p, int(open(port_file).read())

    def ctl(self, port, *args):
        return g.run([os.path.join(g.BIN, "gourmetctl"), "-s", f"127.0.0.1:{port}", "--timeout", "5s", *args],
                     timeout=30)

    def test_bearer_token_guards_query(self):
        with open(self.f("sink-token.yaml"), "w") as out:
            out.write(f"auth:\n  token_file: {self.f('token')}\n")
        _, port = self.start_sink("-c", self.f("sink-token.yaml"))
        r = self.ctl(port, "query", "--proto", "tcp")
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("needs a bearer token", r.stderr)
        r = self.ctl(port, "query", "--proto", "tcp", "--token-file", self.f("wrong-token"))
        self.assertEqual(r.returncode, 1)
        r = self.ctl(port, "query", "--proto", "tcp", "--token-file", self.f("token"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 6)  # the sample's TCP connections

    def test_mutual_tls_sink(self):
        with open(self.f("sink-mtls.yaml"), "w") as out:
            out.write(f"tls:\n  cert: {self.f('sink.pem')}\n  key: {self.f('sink.key')}\n  ca: {self.f('ca.pem')}\n")
        _, port = self.start_sink("-c", self.f("sink-mtls.yaml"))
        tls = ["--ca", self.f("ca.pem"), "--server-name", "gourmet-sink"]
        # A client certificate signed by the CA is enough.
        r = self.ctl(port, "query", "--proto", "udp", *tls, "--cert", self.f("client.pem"), "--key",
                     self.f("client.key"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(r.stdout.splitlines()), 5)
        # Without a client certificate, or in plaintext, no connection.
        for extra in (tls, []):
            r = self.ctl(port, "stats", *extra)
            self.assertEqual(r.returncode, 1, r.stdout)
        # A server certificate the client does not trust.
        r = self.ctl(port, "stats", "--ca", self.f("other-ca.pem"), "--server-name", "gourmet-sink", "--cert",
                     self.f("client.pem"), "--key", self.f("client.key"))
        self.assertEqual(r.returncode, 1)

    def write(self, name, text):
        with open(self.f(name), "w") as out:
            out.write(text)
        return self.f(name)

    def tls_yaml(self, who, ca="ca.pem", server_name=None):
        y = f"tls:\n  cert: {self.f(who + '.pem')}\n  key: {self.f(who + '.key')}\n  ca: {self.f(ca)}\n"
        return y + (f"  server_name: {server_name}\n" if server_name else "")

    def test_whole_pipeline_over_mutual_tls(self):
        log = self.f("mtls-pipeline.log")
        sink_cfg = self.write("p-sink.yaml", self.tls_yaml("sink"))
        sink = subprocess.Popen([os.path.join(g.BIN, "log-sink"), "--listen", "127.0.0.1:0", "--metrics", "",
                                 "--port-file", self.f("p-sink.port"), "-o", log, "-c", sink_cfg],
                                stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (sink.terminate(), sink.wait()))
        while not os.path.exists(self.f("p-sink.port")):
            self.assertIsNone(sink.poll())
            time.sleep(0.05)
        an_cfg = self.write("p-an.yaml", self.tls_yaml("analyzer", server_name="gourmet-sink"))
        an = subprocess.Popen([os.path.join(g.BIN, "analyzer-host"), "--listen", "127.0.0.1:0", "--metrics", "",
                               "--port-file", self.f("p-an.port"), "-c", an_cfg,
                               "--sink", "127.0.0.1:" + open(self.f("p-sink.port")).read().strip(),
                               "--plugin-dir", g.PLUGINS, "--plugins", "bytes"], stderr=subprocess.PIPE, text=True)
        self.addCleanup(lambda: (an.terminate(), an.wait()))
        while not os.path.exists(self.f("p-an.port")):
            self.assertIsNone(an.poll())
            time.sleep(0.05)
        target = "127.0.0.1:" + open(self.f("p-an.port")).read().strip()
        agent_cfg = self.write("p-agent.yaml", self.tls_yaml("agent", server_name="gourmet-analyzer"))
        r = g.run([os.path.join(g.BIN, "capture-agent"), "-r", g.SAMPLE, "-a", target, "--metrics", "",
                   "-c", agent_cfg], timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(len(g.read_log(log)), 14)
        # An agent without a certificate, or trusting another CA, cannot deliver.
        for cfg in ("tls:\n  ca: " + self.f("ca.pem") + "\n  server_name: gourmet-analyzer\n",
                    self.tls_yaml("agent", ca="other-ca.pem", server_name="gourmet-analyzer")):
            r = g.run([os.path.join(g.BIN, "capture-agent"), "-r", g.SAMPLE, "-a", target, "--metrics", "",
                       "-c", self.write("bad-agent.yaml", cfg), "--connect-timeout", "2s"], timeout=60)
            self.assertEqual(r.returncode, 1)
            self.assertIn("cannot reach analyzer", r.stderr)

    def test_bad_certificate_files_fail_at_start(self):
        for cfg, message in (
                (f"tls:\n  cert: {self.f('nope.pem')}\n  key: {self.f('sink.key')}\n", "nope.pem': cannot read"),
                (f"tls:\n  cert: {self.f('sink.pem')}\n  key: {self.f('client.key')}\n", "does not match"),
                (f"tls:\n  cert: {self.f('sink.pem')}\n", "go together")):
            with open(self.f("bad.yaml"), "w") as out:
                out.write(cfg)
            p, port = self.start_sink("-c", self.f("bad.yaml"))
            self.assertIsNone(port)
            err = p.stderr.read()
            self.assertNotEqual(p.wait(), 0)
            self.assertIn(message, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
