// Throughput of the HTTP parser on the captured HTTP connections
// (sample.pcap and http-extra.pcap: keep-alive, POST, 404, 200 KB download,
// chunked, pipelined). Bytes = both directions' payload.
#include <benchmark/benchmark.h>

#include "bench/bench_streams.h"
#include "plugins/http/http_parser.h"

static void BM_HttpParse(benchmark::State& state) {
  const auto conns = gourmet::bench::LoadStreams("http");
  for (auto _ : state) {
    for (const auto& c : conns) {
      benchmark::DoNotOptimize(gourmet::http::Parse(c.client, c.server));
    }
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * gourmet::bench::TotalBytes(conns)));
}
BENCHMARK(BM_HttpParse);

// Headers only: the connections without the 200 KB download, whose body the
// parser skips in O(1); this is the per-message cost.
static void BM_HttpParseSmallMessages(benchmark::State& state) {
  auto conns = gourmet::bench::LoadStreams("http");
  std::vector<gourmet::bench::Conn> small;
  for (auto& c : conns) {
    if (c.bytes < 32 * 1024) small.push_back(std::move(c));
  }
  for (auto _ : state) {
    for (const auto& c : small) {
      benchmark::DoNotOptimize(gourmet::http::Parse(c.client, c.server));
    }
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * gourmet::bench::TotalBytes(small)));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * small.size()));
}
BENCHMARK(BM_HttpParseSmallMessages);
