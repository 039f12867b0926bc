"""Differential tests of the protocol analyzers (http, dns, tls, ssh)
against tshark, field by field, on real traffic captured in network
namespaces (tests/data/*.pcap): `gourmet run` over each pcap with the
plugins of the build tree, then every field tshark also dissects is
compared, connection by connection (keyed by the client's port, which the
capture scripts fix)."""

import calendar
import collections
import hashlib
import os
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gourmet_test_lib as g  # noqa: E402

DATA = os.path.join(g.ROOT, "tests", "data")
SAMPLE = os.path.join(DATA, "sample.pcap")
HTTP_EXTRA = os.path.join(DATA, "http-extra.pcap")
TLS = os.path.join(DATA, "tls.pcap")
SSH = os.path.join(DATA, "ssh.pcap")
AGG = "^"  # tshark's separator between occurrences of one field
# Non-standard ports tshark would not dissect by itself (our analyzers find
# them by content; tshark is told).
DECODE_AS = {TLS: ["-d", "tcp.port==8443,tls"], SSH: ["-d", "tcp.port==2222,ssh"]}


def run_gourmet(pcap):
    """Records of `gourmet run` over pcap, keyed by the client's port."""
    with g.temp_dir() as d:
        out = os.path.join(d, "out.log")
        r = g.run([os.path.join(g.BIN, "gourmet"), "run", "-r", pcap, "-o", out, "--seed", "1",
                   "--plugin-dir", g.PLUGINS, "--plugins", "http,dns,tls,ssh"], timeout=120)
        if r.returncode != 0:
            raise AssertionError(f"gourmet run failed: {r.stderr}")
        return {rec["id"]["orig_p"]: rec for rec in g.read_log(out) if rec["proto"] != "icmp"}


def tshark(pcap, display_filter, fields):
    """One dict per matching frame; each value a list of the field's occurrences."""
    cmd = ["tshark", "-r", pcap, "-Y", display_filter, "-T", "fields", "-E", "separator=\t",
           "-E", f"aggregator={AGG}", "-o", "tcp.desegment_tcp_streams:TRUE",
           *DECODE_AS.get(pcap, [])]
    for f in fields:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = []
    for line in out.splitlines():
        values = line.split("\t")
        rows.append({f: (v.split(AGG) if v else []) for f, v in zip(fields, values)})
    return rows


def expand(rows, count_field, key_field):
    """Frames that carry several messages (pipelined requests) as one row
    per message: occurrence i of every field that has one per message."""
    out = []
    for r in rows:
        n = len(r[count_field])
        if n <= 1:
            out.append(r)
            continue
        for i in range(n):
            out.append({f: ([v[i]] if len(v) == n else (v if f == key_field else []))
                        for f, v in r.items()})
    return out


def one(row, field):
    v = row[field]
    return v[0] if v else ""


def by_port(rows, field):
    d = collections.defaultdict(list)
    for r in rows:
        d[int(one(r, field))].append(r)
    return d


class HttpTest(unittest.TestCase):

    def check_pcap(self, pcap, server_port):
        recs = run_gourmet(pcap)
        reqs = by_port(expand(tshark(pcap, "http.request", [
            "tcp.srcport", "http.request.method", "http.host", "http.request.uri",
            "http.request.version", "http.user_agent", "http.referer", "http.content_type",
            "http.content_length"]), "http.request.method", "tcp.srcport"), "tcp.srcport")
        resps = by_port(expand(tshark(pcap, "http.response", [
            "tcp.dstport", "http.response.code", "http.response.phrase", "http.response.version",
            "http.content_type", "http.content_length", "http.transfer_encoding",
            "http.chunk_size"]), "http.response.code", "tcp.dstport"), "tcp.dstport")
        self.assertTrue(reqs)
        for port in set(reqs) | set(resps):
            rec = recs[port]
            self.assertEqual(rec["service"], ["http"], port)
            self.assertEqual(rec["id"]["resp_p"], server_port)
            txs = rec["http"]
            # tshark lists interim (1xx) responses as responses of their own.
            finals = [r for r in resps[port] if not one(r, "http.response.code").startswith("1")]
            interim = [r for r in resps[port] if one(r, "http.response.code").startswith("1")]
            self.assertEqual(len(txs), len(reqs[port]), port)
            self.assertEqual(len(txs), len(finals), port)
            for i, (tx, q, a) in enumerate(zip(txs, reqs[port], finals)):
                where = f"{os.path.basename(pcap)} port {port} transaction {i + 1}"
                self.assertEqual(tx["trans_depth"], i + 1, where)
                self.assertEqual(tx["method"], one(q, "http.request.method"), where)
                self.assertEqual(tx.get("host", ""), one(q, "http.host"), where)
                self.assertEqual(tx["uri"], one(q, "http.request.uri"), where)
                self.assertEqual("HTTP/" + tx["version"], one(q, "http.request.version"), where)
                self.assertEqual(tx.get("user_agent", ""), one(q, "http.user_agent"), where)
                self.assertEqual(tx.get("referrer", ""), one(q, "http.referer"), where)
                self.assertEqual(tx.get("request_content_type", ""), one(q, "http.content_type"),
                                 where)
                self.assertEqual(tx["request_body_len"], int(one(q, "http.content_length") or 0),
                                 where)
                self.assertEqual(tx["status_code"], int(one(a, "http.response.code")), where)
                self.assertEqual(tx["status_msg"], one(a, "http.response.phrase"), where)
                self.assertEqual(tx.get("response_content_type", ""), one(a, "http.content_type"),
                                 where)
                if one(a, "http.transfer_encoding") == "chunked":
                    # Body length = the sum of the chunk sizes tshark decoded.
                    expected = sum(int(x, 16) if not x.isdigit() else int(x)
                                   for x in a["http.chunk_size"])
                    self.assertTrue(tx.get("response_chunked"), where)
                elif tx["method"] == "HEAD" or tx["status_code"] in (204, 304):
                    expected = 0  # Content-Length describes a body that is not sent
                else:
                    expected = int(one(a, "http.content_length") or 0)
                self.assertEqual(tx["response_body_len"], expected, where)
            if interim:
                self.assertEqual(txs[0].get("info_code"),
                                 int(one(interim[-1], "http.response.code")), port)
            self.assertNotIn("anomalies", txs[0], port)
        return recs

    def test_sample_keep_alive_post_404_download_ipv6(self):
        recs = self.check_pcap(SAMPLE, 80)
        self.assertEqual(len(recs[40001]["http"]), 3)  # keep-alive
        self.assertEqual(recs[40004]["http"][0]["response_body_len"], 204800)
        self.assertEqual(recs[40005]["id"]["resp_h"], "fd77::2")

    def test_chunked_pipelined_head_100_continue_on_8080(self):
        recs = self.check_pcap(HTTP_EXTRA, 8080)
        self.assertEqual(len(recs[40302]["http"]), 3)  # pipelined
        self.assertTrue(recs[40301]["http"][0]["response_chunked"])
        self.assertEqual(recs[40304]["http"][0]["info_code"], 100)


class DnsTest(unittest.TestCase):

    def test_sample_udp_and_tcp(self):
        recs = run_gourmet(SAMPLE)
        fields = ["udp.srcport", "udp.dstport", "tcp.srcport", "tcp.dstport", "dns.id",
                  "dns.flags.response", "dns.qry.name", "dns.qry.type", "dns.qry.class",
                  "dns.flags.rcode", "dns.flags.authoritative", "dns.flags.truncated",
                  "dns.flags.recdesired", "dns.flags.recavail", "dns.count.answers",
                  "dns.resp.name", "dns.resp.type", "dns.resp.ttl", "dns.a", "dns.aaaa",
                  "dns.mx.mail_exchange", "dns.mx.preference", "dns.txt", "dns.time"]
        rows = tshark(SAMPLE, "dns", fields)
        self.assertEqual(len(rows), 12)
        checked = 0
        for row in rows:
            if one(row, "dns.flags.response") not in ("1", "True"):
                continue
            port = int(one(row, "udp.dstport") or one(row, "tcp.dstport"))
            rec = recs[port]
            where = f"port {port}"
            self.assertEqual(rec["service"], ["dns"], where)
            self.assertEqual(len(rec["dns"]), 1, where)
            tx = rec["dns"][0]
            self.assertEqual(tx["proto"], "tcp" if one(row, "tcp.dstport") else "udp", where)
            self.assertEqual(tx["trans_id"], int(one(row, "dns.id"), 16), where)
            self.assertEqual(tx["query"], one(row, "dns.qry.name"), where)
            self.assertEqual(tx["qtype"], int(one(row, "dns.qry.type")), where)
            self.assertEqual(tx["qclass"], int(one(row, "dns.qry.class"), 16), where)
            self.assertEqual(tx["rcode"], int(one(row, "dns.flags.rcode")), where)
            for flag, field in (("AA", "authoritative"), ("TC", "truncated"),
                                ("RD", "recdesired"), ("RA", "recavail")):
                self.assertEqual(tx[flag], one(row, "dns.flags." + field) in ("1", "True"),
                                 f"{where} {flag}")
            self.assertAlmostEqual(tx["rtt"], float(one(row, "dns.time")), places=6, msg=where)
            answers = tx["answers"]
            self.assertEqual(len(answers), int(one(row, "dns.count.answers")), where)
            # Every section, in wire order, minus EDNS's OPT (tshark lists it too).
            rrs = answers + tx.get("authority", []) + tx.get("additional", [])
            names = [n for n, t in zip(row["dns.resp.name"], row["dns.resp.type"]) if t != "41"]
            types = [int(t) for t in row["dns.resp.type"] if t != "41"]
            self.assertEqual([r["name"] for r in rrs], names, where)
            self.assertEqual([r["type"] for r in rrs],
                             [{1: "A", 28: "AAAA", 15: "MX", 16: "TXT"}[t] for t in types], where)
            self.assertEqual([r["ttl"] for r in rrs], [int(t) for t in row["dns.resp.ttl"]], where)
            self.assertEqual([r["data"] for r in rrs if r["type"] == "A"], row["dns.a"], where)
            self.assertEqual([r["data"] for r in rrs if r["type"] == "AAAA"], row["dns.aaaa"],
                             where)
            self.assertEqual([r["data"] for r in rrs if r["type"] == "MX"],
                             row["dns.mx.mail_exchange"], where)
            self.assertEqual([r["preference"] for r in rrs if r["type"] == "MX"],
                             [int(x) for x in row["dns.mx.preference"]], where)
            self.assertEqual([s for r in rrs if r["type"] == "TXT" for s in r["txt"]],
                             row["dns.txt"], where)
            self.assertIn("edns", tx, where)
            self.assertNotIn("anomalies", tx, where)
            checked += 1
        self.assertEqual(checked, 6)
        self.assertEqual(recs[50005]["dns"][0]["rcode_name"], "NXDOMAIN")


def ja4_from_tshark(row):
    """An independent JA4 computation from tshark's dissection of a ClientHello."""
    def grease(v):
        return (v & 0x0f0f) == 0x0a0a and (v >> 8) == (v & 0xff)
    ciphers = [int(c, 16) if c.startswith("0x") else int(c) for c in row["tls.handshake.ciphersuite"]]
    exts = [int(e) for e in row["tls.handshake.extension.type"]]
    sigs = [int(s, 16) for s in row["tls.handshake.sig_hash_alg"]]
    versions = [int(v, 16) for v in row["tls.handshake.extensions.supported_version"]]
    versions = [v for v in versions if not grease(v)]
    v = max(versions) if versions else int(one(row, "tls.handshake.version"), 16)
    ver = {0x0304: "13", 0x0303: "12", 0x0302: "11", 0x0301: "10", 0x0300: "s3"}.get(v, "00")
    ciphers = [c for c in ciphers if not grease(c)]
    exts = [e for e in exts if not grease(e)]
    alpn = row["tls.handshake.extensions_alpn_str"]
    a = alpn[0][0] + alpn[0][-1] if alpn else "00"
    sni = "d" if 0 in exts else "i"
    part_a = f"t{ver}{sni}{min(len(ciphers), 99):02d}{min(len(exts), 99):02d}{a}"
    c_str = ",".join(f"{c:04x}" for c in sorted(ciphers))
    e_str = ",".join(f"{e:04x}" for e in sorted(e for e in exts if e not in (0, 16)))
    if sigs:
        e_str += "_" + ",".join(f"{s:04x}" for s in sigs)
    h = lambda s: hashlib.sha256(s.encode()).hexdigest()[:12] if s else "000000000000"  # noqa
    return f"{part_a}_{h(c_str)}_{h(e_str)}"


class TlsTest(unittest.TestCase):

    def test_tls12_tls13_sni_alpn_certs_fingerprints(self):
        recs = run_gourmet(TLS)
        hellos = by_port(tshark(TLS, "tls.handshake.type == 1", [
            "tcp.srcport", "tls.handshake.version", "tls.handshake.extensions_server_name",
            "tls.handshake.extensions_alpn_str", "tls.handshake.ja3", "tls.handshake.ja3_full",
            "tls.handshake.ciphersuite", "tls.handshake.extension.type",
            "tls.handshake.sig_hash_alg", "tls.handshake.extensions.supported_version",
            "tls.handshake.extensions_supported_group"]), "tcp.srcport")
        servers = by_port(tshark(TLS, "tls.handshake.type == 2", [
            "tcp.dstport", "tls.handshake.version", "tls.handshake.ciphersuite",
            "tls.handshake.ja3s", "tls.handshake.ja3s_full",
            "tls.handshake.extensions.supported_version", "tls.handshake.extensions_alpn_str"]),
            "tcp.dstport")
        certs = by_port(tshark(TLS, "tls.handshake.type == 11", [
            "tcp.dstport", "x509sat.printableString", "x509sat.uTF8String", "x509ce.dNSName",
            "x509ce.IPAddress.ipv4", "x509ce.IPAddress.ipv6", "x509af.utcTime", "x509af.serialNumber"]), "tcp.dstport")
        self.assertEqual(len(hellos), 5)
        versions = set()
        for port, (ch,) in hellos.items():
            where = f"port {port}"
            rec = recs[port]
            self.assertEqual(rec["service"], ["tls"], where)
            t = rec["tls"]
            self.assertEqual(t.get("server_name", ""), one(ch, "tls.handshake.extensions_server_name"),
                             where)
            self.assertEqual(t.get("client_alpn", []), ch["tls.handshake.extensions_alpn_str"],
                             where)
            self.assertEqual(t["ja3_string"], one(ch, "tls.handshake.ja3_full"), where)
            self.assertEqual(t["ja3"], one(ch, "tls.handshake.ja3"), where)
            self.assertEqual(t["ja4"], ja4_from_tshark(ch), where)
            (sh,) = servers[port]
            self.assertEqual(t["ja3s_string"], one(sh, "tls.handshake.ja3s_full"), where)
            self.assertEqual(t["ja3s"], one(sh, "tls.handshake.ja3s"), where)
            chosen = int(one(sh, "tls.handshake.ciphersuite"), 16)
            selected = sh["tls.handshake.extensions.supported_version"]
            v = int(selected[0], 16) if selected else int(one(sh, "tls.handshake.version"), 16)
            expected_version = {0x0303: "TLSv12", 0x0304: "TLSv13"}[v]
            self.assertEqual(t["version"], expected_version, where)
            versions.add(t["version"])
            self.assertEqual(t["cipher"], {0x1301: "TLS_AES_128_GCM_SHA256",
                                           0x1302: "TLS_AES_256_GCM_SHA384",
                                           0x1303: "TLS_CHACHA20_POLY1305_SHA256",
                                           0xc030: "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
                                           0xc02f: "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"}[chosen],
                             where)
            self.assertEqual(t.get("next_protocol", ""),
                             one(sh, "tls.handshake.extensions_alpn_str"), where)
            self.assertTrue(t["established"], where)
            if expected_version == "TLSv12":
                (c,) = certs[port]
                leaf = t["cert_chain"][0]
                self.assertEqual(leaf["san_dns"], c["x509ce.dNSName"], where)
                self.assertEqual(leaf.get("san_ip", []),
                                 c["x509ce.IPAddress.ipv4"] + c["x509ce.IPAddress.ipv6"], where)
                self.assertEqual(leaf["serial"].lower(), one(c, "x509af.serialNumber").replace(
                    ":", "").lower(), where)
                for value in c["x509sat.printableString"] + c["x509sat.uTF8String"]:
                    self.assertIn(value, leaf["subject"] + leaf["issuer"], where)
                stamps = [calendar.timegm(time.strptime(s.replace(" (UTC)", ""),
                                                        "%Y-%m-%d %H:%M:%S"))
                          for s in c["x509af.utcTime"]]
                self.assertEqual([leaf["not_valid_before"], leaf["not_valid_after"]], stamps,
                                 where)
                self.assertEqual(t["subject"], leaf["subject"], where)
            else:
                self.assertNotIn("cert_chain", t, where)  # encrypted in TLS 1.3
        self.assertEqual(versions, {"TLSv12", "TLSv13"})
        self.assertEqual(recs[40103]["id"]["resp_p"], 8443)  # found by content, not port
        self.assertNotIn("server_name", recs[40105]["tls"])  # by IP: no SNI, JA4 "i"
        self.assertEqual(recs[40105]["tls"]["ja4"][3], "i")


class SshTest(unittest.TestCase):

    def test_versions_hassh_and_negotiation(self):
        recs = run_gourmet(SSH)
        idents = tshark(SSH, "ssh.protocol", ["tcp.srcport", "tcp.dstport", "ssh.protocol"])
        kex = tshark(SSH, "ssh.kex.hassh || ssh.kex.hasshserver", [
            "tcp.srcport", "tcp.dstport", "ssh.kex.hassh", "ssh.kex.hassh_algorithms",
            "ssh.kex.hasshserver", "ssh.kex.hasshserver_algorithms"])
        keys = tshark(SSH, "ssh.host_key.type", ["tcp.dstport", "ssh.host_key.type"])
        self.assertEqual(len(recs), 3)
        for port, rec in recs.items():
            where = f"port {port}"
            self.assertEqual(rec["service"], ["ssh"], where)
            s = rec["ssh"]
            for r in idents:
                if int(one(r, "tcp.srcport")) == port:
                    self.assertEqual(s["client"], one(r, "ssh.protocol"), where)
                elif int(one(r, "tcp.dstport")) == port:
                    self.assertEqual(s["server"], one(r, "ssh.protocol"), where)
            for r in kex:
                if one(r, "ssh.kex.hassh") and int(one(r, "tcp.srcport")) == port:
                    self.assertEqual(s["hassh"], one(r, "ssh.kex.hassh"), where)
                    self.assertEqual(s["hasshAlgorithms"], one(r, "ssh.kex.hassh_algorithms"),
                                     where)
                if one(r, "ssh.kex.hasshserver") and int(one(r, "tcp.dstport")) == port:
                    self.assertEqual(s["hasshServer"], one(r, "ssh.kex.hasshserver"), where)
                    self.assertEqual(s["hasshServerAlgorithms"],
                                     one(r, "ssh.kex.hasshserver_algorithms"), where)
            types = [one(r, "ssh.host_key.type") for r in keys if int(one(r, "tcp.dstport")) == port]
            self.assertEqual([s["host_key_type"]], types, where)
            self.assertEqual(s["version"], 2)
            self.assertTrue(s["newkeys"], where)
            self.assertNotIn("anomalies", s, where)
        self.assertEqual(recs[40202]["id"]["resp_p"], 2222)  # found by content, not port
        self.assertEqual(recs[40202]["ssh"]["kex_alg"], "ecdh-sha2-nistp256")
        self.assertEqual(recs[40202]["ssh"]["cipher_alg"], "aes128-ctr")
        self.assertEqual(recs[40202]["ssh"]["mac_alg"], "hmac-sha2-256")
        self.assertEqual(recs[40203]["ssh"]["kex_alg"], "diffie-hellman-group-exchange-sha256")
        self.assertEqual(recs[40203]["ssh"]["host_key_alg"], "rsa-sha2-512")


class DetectionTest(unittest.TestCase):

    def test_each_connection_gets_exactly_its_protocol(self):
        expected = {SAMPLE: None, HTTP_EXTRA: "http", TLS: "tls", SSH: "ssh"}
        for pcap, proto in expected.items():
            for port, rec in run_gourmet(pcap).items():
                if proto is None:  # sample: http on tcp/80, dns on 53
                    want = "http" if rec["id"]["resp_p"] == 80 else "dns"
                else:
                    want = proto
                self.assertEqual(rec.get("service"), [want], f"{pcap} {port}")
                self.assertNotIn("_errors", rec, f"{pcap} {port}")


if __name__ == "__main__":
    unittest.main(verbosity=2)
