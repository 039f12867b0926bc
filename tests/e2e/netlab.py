"""Test hosts in network namespaces that the test creates itself: veth
links, processes started inside a namespace and stopped by PID, and a
cleanup that removes everything. Nothing here touches a real interface."""

import os
import signal
import subprocess
import tempfile
import time


class Lab:
    def __init__(self, prefix):
        self.prefix = prefix
        self.namespaces = []
        self.procs = []
        self.tmp = tempfile.mkdtemp(prefix=f"gourmet-{prefix}-")

    # -- topology -----------------------------------------------------------
    def ns(self, name):
        full = f"{self.prefix}-{name}"
        subprocess.run(["ip", "netns", "del", full], capture_output=True)
        subprocess.run(["ip", "netns", "add", full], check=True)
        self.namespaces.append(full)
        self.exec(full, ["ip", "link", "set", "lo", "up"])
        return full

    def veth(self, ns1, if1, ns2, if2, addrs1=(), addrs2=(), mtu=1500):
        subprocess.run(["ip", "link", "add", if1, "netns", ns1, "type", "veth", "peer", if2, "netns", ns2],
                       check=True)
        for ns, ifname, addrs in ((ns1, if1, addrs1), (ns2, if2, addrs2)):
            self.exec(ns, ["ip", "link", "set", ifname, "mtu", str(mtu)])
            # Offloads off: frames on the wire as a real NIC would carry them.
            self.exec(ns, ["ethtool", "-K", ifname, "tx", "off", "rx", "off", "gso", "off", "tso", "off",
                           "gro", "off"], check=False)
            self.exec(ns, ["sysctl", "-qw", f"net.ipv6.conf.{ifname}.accept_dad=0"], check=False)
            for a in addrs:
                self.exec(ns, ["ip", "addr", "add", a, "dev", ifname] + (["nodad"] if ":" in a else []))
            self.exec(ns, ["ip", "link", "set", ifname, "up"])

    # -- processes ----------------------------------------------------------
    def exec(self, ns, cmd, check=True, timeout=120, **kw):
        return subprocess.run(["ip", "netns", "exec", ns, *cmd], check=check, capture_output=True, text=True,
                              timeout=timeout, **kw)

    def start(self, ns, cmd, name):
        log = open(os.path.join(self.tmp, name + ".log"), "w")
        p = subprocess.Popen(["ip", "netns", "exec", ns, *cmd], stdout=log, stderr=subprocess.STDOUT)
        self.procs.append(p)
        return p

    def stop(self, p, sig=signal.SIGTERM, timeout=10):
        if p.poll() is None:
            p.send_signal(sig)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()

    def wait_listen(self, ns, proto, port, timeout=10):
        deadline = time.time() + timeout
        flag = "-ltn" if proto == "tcp" else "-lun"
        while time.time() < deadline:
            out = self.exec(ns, ["ss", "-H", flag, f"sport = :{port}"]).stdout
            if out.strip():
                return
            time.sleep(0.05)
        raise RuntimeError(f"nothing listens on {proto}/{port} in {ns}")

    def tcpdump(self, ns, ifname, path):
        p = self.start(ns, ["tcpdump", "-i", ifname, "-w", path, "-s", "0", "-B", "32768", "-U", "--immediate-mode", "-n", "-Z", "root"],
                       "tcpdump-" + ifname)
        log = os.path.join(self.tmp, "tcpdump-" + ifname + ".log")
        deadline = time.time() + 10
        while time.time() < deadline and "listening on" not in open(log).read():
            time.sleep(0.05)
        time.sleep(0.2)
        return p

    def stop_tcpdump(self, p):
        time.sleep(0.5)  # let the last frames arrive
        self.stop(p, signal.SIGINT)

    def nginx(self, ns, listen, files):
        """nginx serving `files` ({path: bytes}) on each address of `listen`."""
        root = os.path.join(self.tmp, "www")
        for path, data in files.items():
            full = os.path.join(root, path.lstrip("/"))
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(data)
        d = os.path.join(self.tmp, "nginx")
        os.makedirs(d, exist_ok=True)
        listens = "\n".join(f"listen {a};" for a in listen)
        conf = os.path.join(self.tmp, "nginx.conf")
        with open(conf, "w") as f:
            f.write(f"""daemon off; master_process off; worker_processes 1;
pid {d}/nginx.pid; error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{ access_log off; client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
  fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
  default_type application/octet-stream; keepalive_timeout 30s;
  server {{ {listens} root {root}; }} }}
""")
        p = self.start(ns, ["nginx", "-p", d, "-e", f"{d}/error.log", "-c", conf], "nginx")
        self.wait_listen(ns, "tcp", 80)
        return p

    def cleanup(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.kill()
                p.wait()
        for ns in self.namespaces:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
        if not os.environ.get("GOURMET_KEEP_TMP"):
            subprocess.run(["rm", "-rf", self.tmp])
