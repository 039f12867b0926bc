// Log sink benchmarks.
//
//   Ingest/<policy>       records/s appended to the durable log, one fsync
//                         policy each, 16 appends of 256 records in flight (as
//                         16 analyzer batches would be); rendering not included.
//   GrpcIngest/<policy>   the same through the LogSink.Ingest RPC in this
//                         process (render, merge, log, ack), one stream.
//   On a large log (bench/make_sink_log.sh writes one; set
//   GOURMET_SINK_BENCH_LOG to its path):
//   Open                  recovery: indexes loaded, active segment scanned
//   UidLookup, UidMiss, CommunityId, TimeRange1s   latency of one query
//   Scan/<filter>/<order> a query over the whole log; records/s is the size
//                         of the log divided by the time.
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <random>

#include "absl/synchronization/mutex.h"
#include "benchmark/benchmark.h"
#include "gourmet/v1/sink.grpc.pb.h"
#include "log-sink/durable_log.h"
#include "log-sink/log_query.h"
#include "log-sink/record_format.h"
#include "log-sink/sink_server.h"
#include "log-sink/test_records.h"
#include "services/grpc_util.h"
#include "services/log.h"

namespace gourmet::sink {
namespace {

const FsyncPolicy kPolicies[] = {FsyncPolicy::kAlways, FsyncPolicy::kGroup, FsyncPolicy::kInterval,
                                 FsyncPolicy::kNone};

std::string TempDir() {
  std::string tmpl =
      (std::getenv("TMPDIR") ? std::getenv("TMPDIR") : "/tmp") + std::string("/sink_bench_XXXXXX");
  if (mkdtemp(tmpl.data()) == nullptr) std::abort();
  return tmpl;
}

// 256 rendered records whose uid (17 characters at a known place) is
// overwritten with a counter, so that every appended record is new.
struct Templates {
  std::vector<LogEntry> entries;
  std::vector<size_t> uid_pos;
  Templates() {
    for (int i = 0; i < 256; ++i) {
      const std::string uid = "CBxxxxxxxxxxxxxxx";
      auto r = testing::TestRecord(i, uid);
      LogEntry e{uid, r.conn().community_id(), r.conn().ts_us(), RenderRecord(r)};
      uid_pos.push_back(e.json.find(uid));
      entries.push_back(std::move(e));
    }
  }
  std::vector<LogEntry> Next(uint64_t* counter) const {
    std::vector<LogEntry> out = entries;
    for (size_t k = 0; k < out.size(); ++k) {
      char buf[18];
      std::snprintf(buf, sizeof(buf), "CB%015llu", static_cast<unsigned long long>((*counter)++));
      out[k].uid.assign(buf, 17);
      out[k].json.replace(uid_pos[k], 17, buf, 17);
    }
    return out;
  }
};

void BM_Ingest(benchmark::State& state) {
  const FsyncPolicy policy = kPolicies[state.range(0)];
  state.SetLabel(FsyncPolicyName(policy));
  const std::string dir = TempDir();
  LogOptions o;
  o.path = dir + "/bench.log";
  o.fsync = policy;
  o.rotate_bytes = 64 << 20;
  o.retain_bytes = 512 << 20;
  auto log = DurableLog::Open(o);
  if (!log.ok()) {
    state.SkipWithError(std::string(log.status().message()).c_str());
    return;
  }
  static const Templates* templates = new Templates();
  uint64_t counter = 0;
  absl::Mutex mu;
  int outstanding = 0;
  for (auto _ : state) {
    std::vector<LogEntry> batch = templates->Next(&counter);
    {
      absl::MutexLock l(&mu);
      auto room = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return outstanding < 16; };
      mu.Await(absl::Condition(&room));
      ++outstanding;
    }
    (*log)->Append(std::move(batch), [&](const absl::Status&) {
      absl::MutexLock l(&mu);
      --outstanding;
    });
  }
  {
    absl::MutexLock l(&mu);
    auto idle = [&]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) { return outstanding == 0; };
    mu.Await(absl::Condition(&idle));
  }
  state.SetItemsProcessed(state.iterations() * 256);
  state.SetBytesProcessed(state.iterations() * 256 * templates->entries[0].json.size());
  log->reset();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_Ingest)->DenseRange(0, 3)->Unit(benchmark::kMicrosecond)->MinTime(2)->UseRealTime();

void BM_GrpcIngest(benchmark::State& state) {
  const FsyncPolicy policy = kPolicies[state.range(0)];
  state.SetLabel(FsyncPolicyName(policy));
  const std::string dir = TempDir();
  SinkConfig c;
  c.listen = "127.0.0.1:0";
  c.metrics_listen = "";
  c.log_path = dir + "/bench.log";
  c.fsync = policy;
  c.rotate_bytes = 64 << 20;
  c.retain_bytes = 512 << 20;
  auto server = SinkServer::Start(c, std::make_shared<prometheus::Registry>());
  if (!server.ok()) {
    state.SkipWithError(std::string(server.status().message()).c_str());
    return;
  }
  auto stub =
      gourmet::v1::LogSink::NewStub(MakeChannel(absl::StrCat("127.0.0.1:", (*server)->port())));
  grpc::ClientContext ctx;
  auto stream = stub->Ingest(&ctx);
  std::atomic<uint64_t> acked{0};
  std::thread reader([&] {
    gourmet::v1::IngestAck ack;
    while (stream->Read(&ack)) acked.fetch_add(1);
  });
  uint64_t sent = 0, next = 0;
  for (auto _ : state) {
    gourmet::v1::IngestBatch b;
    b.set_batch_id(++sent);
    for (int k = 0; k < 256; ++k, ++next)
      *b.add_records() = testing::TestRecord(next, testing::TestUid("G", next));
    while (sent - acked.load() > 16) std::this_thread::yield();
    stream->Write(b);
  }
  while (acked.load() < sent) std::this_thread::yield();
  stream->WritesDone();
  reader.join();
  stream->Finish().IgnoreError();
  state.SetItemsProcessed(state.iterations() * 256);
  (*server)->Shutdown();
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_GrpcIngest)
    ->DenseRange(0, 3)
    ->Unit(benchmark::kMicrosecond)
    ->MinTime(2)
    ->UseRealTime();

// ---- queries on a large log ----

DurableLog* BigLog(benchmark::State& state) {
  static DurableLog* log = nullptr;
  static double open_seconds = 0;
  const char* path = std::getenv("GOURMET_SINK_BENCH_LOG");
  if (path == nullptr) {
    state.SkipWithError("set GOURMET_SINK_BENCH_LOG to a log made by bench/make_sink_log.sh");
    return nullptr;
  }
  if (log == nullptr) {
    LogOptions o;
    o.path = path;
    o.rotate_age = absl::ZeroDuration();  // a benchmark must not change the log
    const absl::Time t0 = absl::Now();
    auto l = DurableLog::Open(o);
    if (!l.ok()) {
      state.SkipWithError(std::string(l.status().message()).c_str());
      return nullptr;
    }
    open_seconds = absl::ToDoubleSeconds(absl::Now() - t0);
    log = l->release();
  }
  state.counters["open_s"] = open_seconds;
  return log;
}

void BM_Open(benchmark::State& state) {
  for (auto _ : state) {
    DurableLog* log = BigLog(state);
    if (log == nullptr) return;
    const LogStats s = log->stats();
    state.counters["records"] = s.records;
    state.counters["segments"] = s.segments;
    state.counters["GB"] = s.bytes / 1e9;
  }
}
BENCHMARK(BM_Open)->Iterations(1)->Unit(benchmark::kMillisecond);

void RunOne(benchmark::State& state, DurableLog* log, const gourmet::v1::QueryRequest& req,
            uint64_t* matched) {
  auto f = Filter::Compile(req);
  QueryOptions o;
  o.order = req.order();
  o.limit = req.limit();
  uint64_t n = 0;
  absl::Status st = RunQuery(log->snapshot(), *f, o, [&n](std::string_view) {
    ++n;
    return true;
  });
  if (!st.ok()) state.SkipWithError(std::string(st.message()).c_str());
  *matched += n;
}

void BM_UidLookup(benchmark::State& state) {
  DurableLog* log = BigLog(state);
  if (log == nullptr) return;
  const uint64_t n = log->records();
  std::mt19937_64 rng(42);
  uint64_t matched = 0;
  for (auto _ : state) {
    gourmet::v1::QueryRequest req;
    req.set_uid(testing::TestUid("B", rng() % n));
    RunOne(state, log, req, &matched);
  }
  state.counters["found"] = static_cast<double>(matched) / state.iterations();
}
BENCHMARK(BM_UidLookup)->Unit(benchmark::kMicrosecond);

void BM_UidMiss(benchmark::State& state) {
  DurableLog* log = BigLog(state);
  if (log == nullptr) return;
  uint64_t matched = 0, i = 0;
  for (auto _ : state) {
    gourmet::v1::QueryRequest req;
    req.set_uid(testing::TestUid("Nope", i++));
    RunOne(state, log, req, &matched);
  }
}
BENCHMARK(BM_UidMiss)->Unit(benchmark::kMicrosecond);

void BM_CommunityId(benchmark::State& state) {
  DurableLog* log = BigLog(state);
  if (log == nullptr) return;
  const uint64_t n = log->records();
  std::mt19937_64 rng(7);
  uint64_t matched = 0;
  for (auto _ : state) {
    gourmet::v1::QueryRequest req;
    req.set_community_id(testing::TestRecord(rng() % n, "x").conn().community_id());
    RunOne(state, log, req, &matched);
  }
  state.counters["found"] = static_cast<double>(matched) / state.iterations();
}
BENCHMARK(BM_CommunityId)->Unit(benchmark::kMillisecond);

void BM_TimeRange1s(benchmark::State& state) {
  DurableLog* log = BigLog(state);
  if (log == nullptr) return;
  const LogStats s = log->stats();
  std::mt19937_64 rng(9);
  uint64_t matched = 0;
  for (auto _ : state) {
    gourmet::v1::QueryRequest req;
    const int64_t from = s.oldest_us + rng() % std::max<int64_t>(1, s.newest_us - s.oldest_us);
    req.set_from_us(from);
    req.set_to_us(from + 1000000);
    RunOne(state, log, req, &matched);
  }
  state.counters["found"] = static_cast<double>(matched) / state.iterations();
}
BENCHMARK(BM_TimeRange1s)->Unit(benchmark::kMillisecond);

struct ScanCase {
  const char* name;
  std::function<void(gourmet::v1::QueryRequest*)> set;
};
const ScanCase kScans[] = {
    {"all", [](gourmet::v1::QueryRequest*) {}},
    {"service=dns", [](gourmet::v1::QueryRequest* r) { r->set_service("dns"); }},
    {"dns.query~netflix",
     [](gourmet::v1::QueryRequest* r) { r->add_where("dns.query contains netflix"); }},
    {"orig_bytes>1e6", [](gourmet::v1::QueryRequest* r) { r->add_where("orig_bytes > 1000000"); }},
    {"http.host==",
     [](gourmet::v1::QueryRequest* r) { r->add_where(R"(http.host == "host12.example.test")"); }},
    {"udp+port53",
     [](gourmet::v1::QueryRequest* r) {
       r->set_proto("udp");
       r->set_port(53);
     }},
    {"addr", [](gourmet::v1::QueryRequest* r) { r->set_addr("10.0.0.17"); }},
    {"conn_state=REJ", [](gourmet::v1::QueryRequest* r) { r->set_conn_state("REJ"); }},
};

void BM_Scan(benchmark::State& state) {
  DurableLog* log = BigLog(state);
  if (log == nullptr) return;
  const ScanCase& c = kScans[state.range(0)];
  gourmet::v1::QueryRequest req;
  c.set(&req);
  req.set_order(state.range(1) ? gourmet::v1::QueryRequest::TS : gourmet::v1::QueryRequest::LOG);
  state.SetLabel(absl::StrCat(c.name, state.range(1) ? " order=ts" : " order=log"));
  const uint64_t n = log->records();
  uint64_t matched = 0;
  for (auto _ : state) RunOne(state, log, req, &matched);
  state.counters["matched"] = static_cast<double>(matched) / state.iterations();
  state.counters["records/s"] =
      benchmark::Counter(static_cast<double>(n) * state.iterations(), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Scan)
    ->ArgsProduct({benchmark::CreateDenseRange(0, 7, 1), {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->Iterations(2)
    ->UseRealTime();

}  // namespace
}  // namespace gourmet::sink

int main(int argc, char** argv) {
  gourmet::SetLogLevel(gourmet::LogLevel::kWarning);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
