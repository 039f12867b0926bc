// Throughput of the DNS parser on the captured DNS messages (sample.pcap:
// A, AAAA, MX with additionals, TXT, NXDOMAIN, one over TCP), parsed and
// matched query to response.
#include <benchmark/benchmark.h>

#include "bench/bench_streams.h"
#include "plugins/dns/dns_parser.h"

static void BM_DnsParseAndMatch(benchmark::State& state) {
  const auto conns = gourmet::bench::LoadStreams("dns");
  std::vector<std::vector<gourmet::dns::WireMessage>> wire;
  size_t messages = 0;
  for (const auto& c : conns) {
    wire.emplace_back();
    for (const auto& m : c.messages) wire.back().push_back({0, m});
    messages += c.messages.size();
  }
  for (auto _ : state) {
    for (const auto& w : wire) benchmark::DoNotOptimize(gourmet::dns::Match(w));
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * gourmet::bench::TotalBytes(conns)));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * messages));
}
BENCHMARK(BM_DnsParseAndMatch);
