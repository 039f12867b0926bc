#include "capture-agent/agent.h"

#include <unistd.h>

#include <random>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "capture-agent/decoder.h"
#include "capture-agent/packet_ring.h"
#include "capture-agent/pcap_source.h"
#include "capture-agent/worker.h"
#include "services/log.h"
#include "services/metrics.h"

namespace gourmet::capture {

std::vector<FlagSpec> AgentFlags() {
  return {
      {"read", 'r', "read_file", "FILE", "read packets from a pcap or pcapng file"},
      {"interface", 'i', "interface", "IFACE", "capture live on an interface"},
      {"filter", 'f', "bpf", "EXPR", "BPF filter expression, e.g. 'tcp port 80'"},
      {"analyzer", 'a', "analyzer", "HOST:PORT", "analyzer pool to send connections to"},
      {"sensor", 0, "sensor", "NAME", "sensor name written in each record (default: host name)"},
      {"metrics", 0, "metrics_listen", "HOST:PORT", "serve Prometheus /metrics here ('' = off)"},
      {"connect-timeout", 0, "connect_timeout", "DURATION",
       "give up when the analyzer is unreachable this long"},
      {"seed", 0, "uid_seed", "N", "seed for connection uids (same pcap + seed = same uids)"},
      {"workers", 'w', "workers", "N", "worker threads, each with its own flow table"},
      {"payload-depth", 0, "flows.payload_depth", "BYTES", "payload bytes kept per direction"},
      {"max-flows", 0, "flows.max_flows", "N",
       "flow table cap; the oldest flow is evicted beyond it"},
  };
}

absl::StatusOr<AgentConfig> AgentConfigFromYaml(const YAML::Node& root, ConfigReader* r) {
  AgentConfig c;
  c.read_file = r->String("read_file", "");
  c.interface = r->String("interface", "");
  c.bpf = r->String("bpf", "");
  c.metrics_listen = r->String("metrics_listen", "0.0.0.0:9101");
  char host[256] = "unknown";
  gethostname(host, sizeof(host) - 1);
  c.flows.sensor = r->String("sensor", host);
  c.exporter.analyzer = r->String("analyzer", "127.0.0.1:50051");
  c.exporter.give_up_after = r->Duration("connect_timeout", absl::Seconds(30));
  c.exporter.ack_timeout = r->Duration("ack_timeout", absl::Seconds(120));
  c.exporter.batch_connections = r->Int("batch.connections", 256, 1, 100000);
  c.exporter.batch_bytes = r->Int("batch.bytes", 4 << 20, 1024, 128 << 20);
  c.exporter.max_in_flight = r->Int("batch.max_in_flight", 8, 1, 1024);
  c.exporter.max_queued = r->Int("batch.max_queued", 32, 1, 100000);
  const int64_t seed = r->Int("uid_seed", -1, -1, INT64_MAX);
  c.flows.uid_seed =
      seed >= 0 ? static_cast<uint64_t>(seed) : std::random_device{}() * 0x100000001ULL;
  c.flows.community_id_seed = r->Int("community_id_seed", 0, 0, 65535);
  c.flows.tcp_timeout = r->Duration("flows.tcp_timeout", absl::Minutes(5));
  c.flows.udp_timeout = r->Duration("flows.udp_timeout", absl::Minutes(1));
  c.flows.icmp_timeout = r->Duration("flows.icmp_timeout", absl::Minutes(1));
  c.flows.other_timeout = r->Duration("flows.other_timeout", absl::Minutes(1));
  c.flows.active_timeout = r->Duration("flows.active_timeout", absl::Hours(1));
  c.flows.max_flows = r->Int("flows.max_flows", 1 << 20, 16, int64_t{1} << 32);
  c.flows.payload_depth = r->Int("flows.payload_depth", 1 << 20, 0, int64_t{1} << 30);
  c.flows.max_ooo_bytes = r->Int("flows.max_ooo_bytes", 1 << 20, 0, int64_t{1} << 30);
  c.workers = r->Int("workers", 1, 1, 64);
  c.flows.check_checksums = r->Bool("flows.check_checksums", false);
  c.defrag.max_bytes = r->Int("defrag.max_bytes", 32 << 20, 0, int64_t{1} << 34);
  c.defrag.timeout = r->Duration("defrag.timeout", absl::Seconds(30));
  if (c.read_file.empty() && c.interface.empty()) {
    r->Fail("read_file", "no input: give a pcap file (-r FILE) or an interface (-i IFACE)");
  } else if (!c.read_file.empty() && !c.interface.empty()) {
    r->Fail("interface", "give either a file (-r) or an interface (-i), not both");
  }
  if (c.exporter.analyzer.empty()) r->Fail("analyzer", "must not be empty");
  return c;
}

struct Agent::Metrics {
  explicit Metrics(prometheus::Registry& r)
      : registry(r),
        packets(NewCounter(r, "gourmet_agent_packets_total", "Packets read from the source")),
        bytes(
            NewCounter(r, "gourmet_agent_bytes_total", "Bytes read from the source (wire length)")),
        non_ip(NewCounter(r, "gourmet_agent_non_ip_packets_total",
                          "Packets that carry no IP (ARP, LLDP, ...)")),
        connections(NewCounter(r, "gourmet_agent_connections_total", "Connections exported")),
        connections_acked(NewCounter(r, "gourmet_agent_connections_acked_total",
                                     "Connections acknowledged end to end")),
        connections_failed(NewCounter(r, "gourmet_agent_connections_failed_total",
                                      "Connections that could not be delivered")),
        batches(NewCounter(r, "gourmet_agent_batches_total", "Batches sent to the analyzer pool")),
        evicted(NewCounter(r, "gourmet_agent_flows_evicted_total",
                           "Flows evicted because the flow table was full")),
        truncated(NewCounter(r, "gourmet_agent_payload_truncated_bytes_total",
                             "Payload bytes beyond the payload depth")),
        ooo_dropped(NewCounter(r, "gourmet_agent_ooo_dropped_bytes_total",
                               "Out-of-order bytes beyond the reassembly buffer cap")),
        fragments(NewCounter(r, "gourmet_agent_fragments_total", "IP fragments seen")),
        reassembled(NewCounter(r, "gourmet_agent_datagrams_reassembled_total",
                               "IP datagrams rebuilt from fragments")),
        frag_dropped(NewCounter(r, "gourmet_agent_fragments_dropped_datagrams_total",
                                "Incomplete datagrams dropped (timeout or memory cap)")),
        active_family(prometheus::BuildGauge()
                          .Name("gourmet_agent_active_flows")
                          .Help("Flows being tracked, per worker")
                          .Register(r)),
        pending_batches(
            NewGauge(r, "gourmet_agent_pending_batches", "Batches not yet acknowledged")),
        weird_family(prometheus::BuildCounter()
                         .Name("gourmet_agent_weirds_total")
                         .Help("Anomalies seen, by name")
                         .Register(r)) {}

  prometheus::Counter& Weird(const char* name) {
    auto it = weirds.find(name);
    if (it == weirds.end()) it = weirds.emplace(name, &weird_family.Add({{"name", name}})).first;
    return *it->second;
  }

  prometheus::Registry& registry;
  prometheus::Counter& packets;
  prometheus::Counter& bytes;
  prometheus::Counter& non_ip;
  prometheus::Counter& connections;
  prometheus::Counter& connections_acked;
  prometheus::Counter& connections_failed;
  prometheus::Counter& batches;
  prometheus::Counter& evicted;
  prometheus::Counter& truncated;
  prometheus::Counter& ooo_dropped;
  prometheus::Counter& fragments;
  prometheus::Counter& reassembled;
  prometheus::Counter& frag_dropped;
  prometheus::Family<prometheus::Gauge>& active_family;
  prometheus::Gauge& pending_batches;
  prometheus::Family<prometheus::Counter>& weird_family;
  absl::flat_hash_map<const char*, prometheus::Counter*> weirds;
};

Agent::Agent(AgentConfig config, std::shared_ptr<prometheus::Registry> registry)
    : config_(std::move(config)),
      registry_(std::move(registry)),
      metrics_(std::make_unique<Metrics>(*registry_)) {}

Agent::~Agent() = default;

namespace {

// Symmetric hash of the outer addresses: both directions of a flow, and all
// fragments of a datagram, go to the same worker.
uint32_t DispatchHash(const DecodedPacket& p) {
  const int alen = p.ip_version == 4 ? 4 : 16;
  uint64_t a = 0, b = 0;
  for (int i = 0; i < alen; ++i) {
    a = a * 131 + p.src[i];
    b = b * 131 + p.dst[i];
  }
  const uint64_t lo = std::min(a, b), hi = std::max(a, b);
  uint64_t h = lo * 0x9e3779b97f4a7c15ULL ^ (hi + 0x632be59bd9b4e019ULL);
  h ^= h >> 29;
  return static_cast<uint32_t>(h * 0xbf58476d1ce4e5b9ULL >> 32);
}

}  // namespace

// Publishes one worker's plain counters into the shared Prometheus series.
class Agent::Publisher {
 public:
  Publisher(Metrics& m, int worker)
      : m_(m), active_(m.active_family.Add({{"worker", std::to_string(worker)}})) {}

  void Publish(const Worker& w) {
    const FlowTableStats& s = w.flows().stats();
    m_.evicted.Increment(s.flows_evicted - last_.flows_evicted);
    m_.truncated.Increment(s.payload_truncated - last_.payload_truncated);
    m_.ooo_dropped.Increment(s.ooo_dropped - last_.ooo_dropped);
    last_ = s;
    m_.non_ip.Increment(w.non_ip() - last_non_ip_);
    last_non_ip_ = w.non_ip();
    const DefragStats& d = w.defrag().stats();
    m_.fragments.Increment(d.fragments - last_defrag_.fragments);
    m_.reassembled.Increment(d.datagrams - last_defrag_.datagrams);
    m_.frag_dropped.Increment(d.timed_out + d.evicted - last_defrag_.timed_out -
                              last_defrag_.evicted);
    last_defrag_ = d;
    for (const auto* weirds : {&w.weirds(), &w.flows().weirds()}) {
      for (const auto& [name, n] : *weirds) {
        uint64_t& last = last_weirds_[name];
        m_.Weird(name).Increment(n - last);
        last = n;
      }
    }
    active_.Set(w.flows().size());
    active_flows.store(w.flows().size(), std::memory_order_relaxed);
  }

  std::atomic<uint64_t> active_flows{0};

 private:
  Metrics& m_;
  prometheus::Gauge& active_;
  FlowTableStats last_;
  DefragStats last_defrag_;
  uint64_t last_non_ip_ = 0;
  absl::flat_hash_map<const char*, uint64_t> last_weirds_;
};

absl::Status Agent::Run(const std::function<void(const AgentProgress&)>& progress) {
  if (!config_.interface.empty()) {
    return absl::UnimplementedError(
        absl::StrCat("live capture (-i ", config_.interface,
                     ") is not available in this release; read a file with -r"));
  }
  absl::StatusOr<std::unique_ptr<PcapFileSource>> opened =
      PcapFileSource::Open(config_.read_file, config_.bpf);
  if (!opened.ok()) return opened.status();
  PcapFileSource& source = **opened;
  const int dlt = source.datalink();

  Exporter exporter(config_.exporter);
  absl::Mutex export_mu;
  absl::Status export_status;
  std::atomic<uint64_t> exported{0};
  std::atomic<bool> export_failed{false};
  auto on_export = [&](gourmet::v1::Connection&& c) {
    exported.fetch_add(1, std::memory_order_relaxed);
    absl::MutexLock l(&export_mu);
    if (!export_status.ok()) return;
    export_status = exporter.Add(std::move(c));
    if (!export_status.ok()) export_failed = true;
  };

  const int n = config_.workers;
  std::vector<std::unique_ptr<Worker>> workers;
  std::vector<std::unique_ptr<Publisher>> publishers;
  for (int i = 0; i < n; ++i) {
    FlowTableConfig fc = config_.flows;
    fc.worker = i;
    workers.push_back(std::make_unique<Worker>(fc, config_.defrag, on_export));
    publishers.push_back(std::make_unique<Publisher>(*metrics_, i));
  }

  const absl::Time start = absl::Now();
  AgentProgress p;
  uint64_t published_acked = 0, published_failed = 0, published_batches = 0, published_exported = 0;
  uint64_t published_packets = 0, published_bytes = 0;
  auto report = [&](bool final_report) {
    metrics_->packets.Increment(p.packets - published_packets);
    metrics_->bytes.Increment(p.bytes - published_bytes);
    published_packets = p.packets;
    published_bytes = p.bytes;
    const uint64_t e = exported.load();
    metrics_->connections.Increment(e - published_exported);
    published_exported = e;
    const uint64_t acked = exporter.connections_acked(), failed = exporter.connections_failed();
    metrics_->connections_acked.Increment(acked - published_acked);
    metrics_->connections_failed.Increment(failed - published_failed);
    metrics_->batches.Increment(exporter.batches_sent() - published_batches);
    published_acked = acked;
    published_failed = failed;
    published_batches = exporter.batches_sent();
    metrics_->pending_batches.Set(exporter.pending());
    p.fraction = final_report ? 1.0 : source.progress();
    p.connections = e;
    p.active_flows = 0;
    for (const auto& pub : publishers)
      p.active_flows += pub->active_flows.load(std::memory_order_relaxed);
    p.seconds = absl::ToDoubleSeconds(absl::Now() - start);
    if (progress) progress(p);
  };

  // With several workers, the reader copies each packet into its worker's
  // ring; with one, the worker runs inline on libpcap's buffer (no copy).
  std::vector<std::unique_ptr<PacketRing>> rings;
  std::vector<std::thread> threads;
  if (n > 1) {
    for (int i = 0; i < n; ++i) {
      rings.push_back(std::make_unique<PacketRing>(8 << 20));
      threads.emplace_back([&, i] {
        Worker& w = *workers[i];
        PacketRing& ring = *rings[i];
        RawPacket raw;
        uint64_t count = 0;
        for (;;) {
          if (ring.Peek(&raw)) {
            w.Handle(dlt, raw);
            ring.Pop();
            if ((++count & 4095) == 0) publishers[i]->Publish(w);
          } else if (ring.closed()) {
            if (!ring.Peek(&raw)) break;
          } else {
            PacketRing::Wait();
          }
        }
        w.FlushAll();
        publishers[i]->Publish(w);
      });
    }
  }

  RawPacket raw;
  DecodedPacket pkt;
  absl::Status read_status;
  absl::Time next_report = start;
  uint64_t since_check = 0;
  while (!stop_.load(std::memory_order_relaxed) && !export_failed.load(std::memory_order_relaxed)) {
    const PcapFileSource::Next next = source.Read(&raw);
    if (next == PcapFileSource::Next::kEnd) break;
    if (next == PcapFileSource::Next::kError) {
      read_status = absl::DataLossError(
          absl::StrCat(source.error(), " (", p.packets, " packets read before it)"));
      break;
    }
    ++p.packets;
    p.bytes += raw.wirelen;
    if (n == 1) {
      workers[0]->Handle(dlt, raw);
    } else {
      const char* weird = nullptr;
      const DecodeResult r = Decode(dlt, raw, &pkt, &weird);
      const uint32_t w =
          (r == DecodeResult::kOk || r == DecodeResult::kFragment) ? DispatchHash(pkt) % n : 0;
      rings[w]->Push(raw);
    }
    if (++since_check >= 1024) {
      since_check = 0;
      if (n == 1) publishers[0]->Publish(*workers[0]);
      const absl::Time now = absl::Now();
      if (now >= next_report) {
        report(false);
        next_report = now + absl::Milliseconds(200);
      }
    }
  }
  if (n == 1) {
    workers[0]->FlushAll();
    publishers[0]->Publish(*workers[0]);
  } else {
    for (auto& r : rings) r->Close();
    for (auto& t : threads) t.join();
  }
  {
    absl::MutexLock l(&export_mu);
    if (export_status.ok()) export_status = exporter.Flush();
  }
  report(true);
  summary_ = p;
  if (!export_status.ok()) return export_status;
  if (exporter.connections_failed() > 0) {
    return absl::InternalError(absl::StrCat(exporter.connections_failed(),
                                            " connections were refused by the analyzer pool"));
  }
  return read_status;
}

}  // namespace gourmet::capture
