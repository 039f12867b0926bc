"""The log sink with a client that is not ours: Python grpcio, stubs
generated from proto/ when the test starts. Ingest (with parts merged from
two pools), every Query filter, order and limit, bad queries, Tail, Stats,
and the standard health and reflection services."""

import json
import os
import sys
import tempfile
import threading
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sink_lib  # noqa: E402

sink_lib.ensure_grpc()
import grpc  # noqa: E402

STUBS = tempfile.TemporaryDirectory(prefix="gourmet-stubs-")
pb, pb_grpc, conn_pb = sink_lib.generate_stubs(STUBS.name)

BASE_US = 1796397424000000
N = 40  # connections; i % 4 == 0 are dns over udp, the rest http over tcp


def uid(i):
    return f"CPy{i:015d}"


def record(i, part):
    """Part `part` ("analysis" or "dns") of connection i."""
    udp = i % 4 == 0
    c = conn_pb.Connection(
        uid=uid(i), community_id=f"1:py{i % 10}=", ip_proto=17 if udp else 6,
        ts_us=BASE_US + i * 1000000, last_ts_us=BASE_US + i * 1000000 + 2500,
        orig=conn_pb.Endpoint(addr=bytes([10, 1, 0, i]), port=40000 + i),
        resp=conn_pb.Endpoint(addr=bytes([10, 2, 0, 53 if udp else 80]), port=53 if udp else 80),
        conn_state="SF" if i % 5 else "REJ", history="ShADadFf", sensor="py")
    c.orig_stats.bytes = 2000000 + i if i % 10 == 3 else 100 + i
    c.resp_stats.bytes = 1000
    r = pb.Record(conn=c, part=part)
    if part == "dns" and udp:
        r.results["dns"] = json.dumps({"query": f"n{i}.netflix.com" if i % 8 == 0 else f"n{i}.example.org"})
        r.services.append("dns")
    if part == "analysis" and not udp:
        r.results["http"] = json.dumps([{"method": "GET", "host": f"h{i % 3}.example.test", "status_code": 200}])
        r.services.append("http")
    return r


class SinkGrpcTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory(prefix="gourmet-sink-grpc-")
        cls.sink = sink_lib.Sink(cls.dir.name, os.path.join(cls.dir.name, "g.log"),
                                 ["--merge-parts", "analysis,dns", "--merge-window", "400ms"])
        cls.channel = grpc.insecure_channel(cls.sink.target)
        cls.stub = pb_grpc.LogSinkStub(cls.channel)
        # The dns pool sees the udp connections, the analysis pool all of
        # them; the dns part of connection 36 never comes.
        analysis = [record(i, "analysis") for i in range(N)]
        dns = [record(i, "dns") for i in range(N) if i % 4 == 0 and i != 36]
        acks = {}

        def send(batches, key):
            reqs = [pb.IngestBatch(batch_id=k + 1, records=b) for k, b in enumerate(batches)]
            acks[key] = list(cls.stub.Ingest(iter(reqs), timeout=30))

        t = threading.Thread(target=send, args=([dns], "dns"))
        t.start()
        send([analysis[:20], analysis[20:]], "analysis")
        t.join()
        cls.acks = acks

    @classmethod
    def tearDownClass(cls):
        cls.channel.close()
        cls.sink.stop()
        cls.dir.cleanup()

    def query(self, **kw):
        where = kw.pop("where", [])
        req = pb.QueryRequest(**kw)
        req.where.extend(where)
        return [json.loads(r.json) for r in self.stub.Query(req, timeout=10)]

    def uids(self, **kw):
        return [r["uid"] for r in self.query(**kw)]

    def test_ingest_acks_every_batch_once_merged(self):
        self.assertEqual(sorted(a.batch_id for a in self.acks["analysis"]), [1, 2])
        self.assertEqual([a.error for a in self.acks["analysis"] + self.acks["dns"]], [""] * 3)
        recs = {r["uid"]: r for r in self.query()}
        self.assertEqual(len(recs), N)
        merged = recs[uid(8)]
        self.assertEqual(merged["service"], ["dns"])
        self.assertIn("netflix", merged["dns"]["query"])
        self.assertNotIn("_missing", merged)
        self.assertEqual(recs[uid(36)]["_missing"], ["dns"])  # waited 400ms, then written
        self.assertEqual(recs[uid(1)]["http"][0]["host"], "h1.example.test")

    def test_resent_batch_is_dropped(self):
        before = self.stub.Stats(pb.StatsRequest(), timeout=5)
        acks = list(self.stub.Ingest(iter([pb.IngestBatch(batch_id=7, records=[record(1, "analysis"),
                                                                                 record(4, "dns")])]), timeout=10))
        self.assertEqual([(a.batch_id, a.error) for a in acks], [(7, "")])
        after = self.stub.Stats(pb.StatsRequest(), timeout=5)
        self.assertEqual(after.records, before.records)
        self.assertEqual(after.duplicates_dropped, before.duplicates_dropped + 2)

    def test_each_filter(self):
        self.assertEqual(self.uids(uid=uid(5)), [uid(5)])
        self.assertEqual(set(self.uids(community_id="1:py3=")), {uid(3), uid(13), uid(23), uid(33)})
        self.assertEqual(self.uids(from_us=BASE_US + 10 * 1000000, to_us=BASE_US + 13 * 1000000),
                         [uid(10), uid(11), uid(12)])
        self.assertEqual(self.uids(addr="10.1.0.7"), [uid(7)])          # orig side
        self.assertEqual(len(self.uids(addr="10.2.0.53")), 10)           # resp side
        self.assertEqual(len(self.uids(addr="10.1.0.0/28")), 16)         # prefix
        self.assertEqual(self.uids(orig_h="10.1.0.9"), [uid(9)])
        self.assertEqual(self.uids(resp_h="10.1.0.9"), [])
        self.assertEqual(len(self.uids(resp_h="10.2.0.80")), 30)
        self.assertEqual(self.uids(port=40002), [uid(2)])
        self.assertEqual(len(self.uids(port=53)), 10)
        self.assertEqual(self.uids(orig_p=40003), [uid(3)])
        self.assertEqual(len(self.uids(resp_p=80)), 30)
        self.assertEqual(len(self.uids(proto="udp")), 10)
        self.assertEqual(len(self.uids(proto="tcp")), 30)
        self.assertEqual(len(self.uids(service="dns")), 9)
        self.assertEqual(len(self.uids(service="http")), 30)
        self.assertEqual(len(self.uids(conn_state="REJ")), 8)
        self.assertEqual(self.uids(where=['http.host == "h2.example.test"', "orig_bytes < 110"]),
                         [uid(2), uid(5)])
        self.assertEqual(set(self.uids(where=['dns.query contains "netflix"'])),
                         {uid(0), uid(8), uid(16), uid(24), uid(32)})
        self.assertEqual(set(self.uids(where=["orig_bytes > 1000000"])), {uid(3), uid(13), uid(23), uid(33)})
        self.assertEqual(self.uids(proto="tcp", resp_p=80, conn_state="SF", where=["orig_bytes > 1000000"]),
                         [uid(3), uid(13), uid(23), uid(33)])

    def test_limit_and_order(self):
        self.assertEqual(self.uids(limit=3), [uid(0), uid(1), uid(2)])
        self.assertEqual(self.uids(limit=3, order=pb.QueryRequest.TS_DESC), [uid(39), uid(38), uid(37)])
        self.assertEqual(len(self.uids(order=pb.QueryRequest.LOG)), N)
        ts = [r["ts"] for r in self.query(order=pb.QueryRequest.TS)]
        self.assertEqual(ts, sorted(ts))

    def test_bad_queries_are_invalid_argument_with_a_message(self):
        cases = [
            (dict(where=["orig_bytes > lots"]), "'>' compares numbers"),
            (dict(where=['http.host == "x" and']), "expected a field name"),
            (dict(proto="tcpp"), "proto 'tcpp' is not one of"),
            (dict(addr="10.0.0.256"), "addr '10.0.0.256' is not an IP address"),
            (dict(port=70000), "port 70000 is out of range"),
            (dict(conn_state="XX"), "conn_state 'XX'"),
            (dict(from_us=5, to_us=4), "the time range is empty"),
        ]
        for kw, message in cases:
            with self.assertRaises(grpc.RpcError) as cm:
                self.query(**kw)
            self.assertEqual(cm.exception.code(), grpc.StatusCode.INVALID_ARGUMENT, kw)
            self.assertIn(message, cm.exception.details(), kw)

    def test_tail_follows_new_records(self):
        req = pb.QueryRequest(proto="udp", limit=3, tail_backlog=1)
        got = []
        call = self.stub.Tail(req, timeout=20)
        first = next(call)  # the backlog: the newest udp record already there
        got.append(json.loads(first.json)["uid"])
        new = [record(i, "analysis") for i in range(100, 112)]  # 100, 104, 108 are udp
        for i in (100, 104, 108):
            new.append(record(i, "dns"))
        list(self.stub.Ingest(iter([pb.IngestBatch(batch_id=1, records=new)]), timeout=10))
        got.extend(json.loads(r.json)["uid"] for r in call)
        self.assertEqual(got, [uid(36), uid(100), uid(104)])

    def test_stats(self):
        s = self.stub.Stats(pb.StatsRequest(), timeout=5)
        self.assertGreaterEqual(s.records, N)
        self.assertEqual(s.segments, 1)
        self.assertEqual(s.oldest_us, BASE_US)
        self.assertGreater(s.bytes, N * 200)
        self.assertEqual(s.incomplete, 31)  # the tcp ones never get a dns part; nor does 36
        self.assertEqual(s.pending_parts, 0)
        self.assertTrue(s.active_segment.endswith("g.log"))

    def test_health_and_reflection(self):
        # grpc.health.v1.Health/Check with an empty request: status SERVING (1).
        check = self.channel.unary_unary("/grpc.health.v1.Health/Check",
                                         request_serializer=lambda b: b, response_deserializer=lambda b: b)
        self.assertEqual(check(b"", timeout=5), b"\x08\x01")
        # grpc.reflection.v1alpha list_services (field 7): names our service.
        info = self.channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                          request_serializer=lambda b: b, response_deserializer=lambda b: b)
        replies = list(info(iter([b"\x3a\x00"]), timeout=5))
        self.assertIn(b"gourmet.v1.LogSink", replies[0])


if __name__ == "__main__":
    unittest.main(verbosity=2)
