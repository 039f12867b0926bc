"""Helpers for the log sink's end-to-end tests: a log-sink process that can
be killed with SIGKILL and restarted, a reader of its segment files that
checks every line, and Python gRPC stubs generated from proto/ at test time
(with Debian's python3-grpcio and python3-grpc-tools)."""

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402

SYSTEM_PYTHON = "/usr/bin/python3"


def ensure_grpc():
    """Re-runs the test with Debian's Python when this one lacks grpcio
    (e.g. a pyenv interpreter first on PATH)."""
    try:
        import grpc  # noqa: F401
        import grpc_tools  # noqa: F401
        return
    except ImportError:
        pass
    if os.path.realpath(sys.executable) != os.path.realpath(SYSTEM_PYTHON) and os.path.exists(SYSTEM_PYTHON):
        os.execv(SYSTEM_PYTHON, [SYSTEM_PYTHON] + sys.argv)
    raise SystemExit("this test needs python3-grpcio and python3-grpc-tools (scripts/install-deps.sh)")


def generate_stubs(out_dir):
    """Compiles proto/gourmet/v1/*.proto into Python modules under out_dir
    and returns (sink_pb2, sink_pb2_grpc, connection_pb2)."""
    from grpc_tools import protoc
    proto_dir = os.path.join(g.ROOT, "proto")
    files = [os.path.join("gourmet", "v1", f) for f in sorted(os.listdir(os.path.join(proto_dir, "gourmet", "v1")))
             if f.endswith(".proto")]
    rc = protoc.main(["grpc_tools.protoc", f"-I{proto_dir}", f"--python_out={out_dir}",
                      f"--grpc_python_out={out_dir}", *files])
    if rc != 0:
        raise RuntimeError(f"protoc failed with {rc}")
    sys.path.insert(0, out_dir)
    from gourmet.v1 import connection_pb2, sink_pb2, sink_pb2_grpc
    return sink_pb2, sink_pb2_grpc, connection_pb2


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Sink:
    """A log-sink process on loopback."""

    def __init__(self, workdir, log_path, args=(), port=0, name="log-sink"):
        self.workdir, self.log_path, self.args = workdir, log_path, list(args)
        self.name = name
        self.proc = None
        self.port = None
        self.start(port)

    def start(self, port=0):
        port_file = os.path.join(self.workdir, self.name + ".port")
        if os.path.exists(port_file):
            os.unlink(port_file)
        self.stderr_path = os.path.join(self.workdir, self.name + ".stderr")
        with open(self.stderr_path, "a") as err:
            self.proc = subprocess.Popen(
                [os.path.join(g.BIN, "log-sink"), "--listen", f"127.0.0.1:{port}", "--metrics", "",
                 "-o", self.log_path, "--port-file", port_file, *self.args],
                stdout=err, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if os.path.exists(port_file):
                with open(port_file) as f:
                    self.port = int(f.read())
                return
            if self.proc.poll() is not None:
                with open(self.stderr_path) as f:
                    raise RuntimeError(f"log-sink exited with {self.proc.returncode}: " + f.read())
            time.sleep(0.02)
        raise RuntimeError("log-sink did not start")

    @property
    def target(self):
        return f"127.0.0.1:{self.port}"

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def segment_files(log_path):
    """The log's segment files, oldest first: the numbered ones, then the active one."""
    d, base = os.path.split(log_path)
    stem, ext = os.path.splitext(base)
    pat = re.compile(re.escape(stem) + r"\.(\d{6,})" + re.escape(ext) + "$")
    numbered = sorted((int(m.group(1)), os.path.join(d, f)) for f in os.listdir(d) for m in [pat.match(f)] if m)
    files = [p for _, p in numbered]
    if os.path.exists(log_path):
        files.append(log_path)
    return files


class LogReader:
    """Reads every line of a log, parsing each one; sealed segments, which
    never change, are read once and remembered."""

    def __init__(self, log_path):
        self.log_path = log_path
        self.sealed = {}  # path -> list of uids

    def uids(self):
        out = []
        for path in segment_files(self.log_path):
            if path != self.log_path and path in self.sealed:
                out.extend(self.sealed[path])
                continue
            uids = []
            with open(path, "rb") as f:
                data = f.read()
            if data and not data.endswith(b"\n"):
                raise AssertionError(f"{path} ends with a torn line")
            for n, line in enumerate(data.split(b"\n")[:-1] if data else []):
                try:
                    rec = json.loads(line)
                except ValueError as e:
                    raise AssertionError(f"{path} line {n + 1} does not parse: {e}: {line[:200]!r}")
                uids.append(rec["uid"])
            if path != self.log_path:
                self.sealed[path] = uids
            out.extend(uids)
        return out

    def lines(self):
        out = []
        for path in segment_files(self.log_path):
            with open(path) as f:
                out.extend(json.loads(l) for l in f)
        return out


def read_acked(path):
    """The uids in a sink-load --acked file (whole lines only)."""
    if not os.path.exists(path):
        return []
    with open(path) as f:
        data = f.read()
    return data.split("\n")[:-1] if data else []


def gourmetctl(*args, timeout=30):
    return subprocess.run([os.path.join(g.BIN, "gourmetctl"), *args], capture_output=True, text=True,
                          timeout=timeout)
