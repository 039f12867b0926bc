// Throughput of the TLS parser on the captured TLS connections (tls.pcap:
// TLS 1.2 with certificates, TLS 1.3), including JA3/JA3S/JA4. Bytes = both
// directions' payload (handshake and the encrypted records it skips).
#include <benchmark/benchmark.h>

#include "bench/bench_streams.h"
#include "plugins/tls/tls_parser.h"

static void BM_TlsParse(benchmark::State& state) {
  const auto conns = gourmet::bench::LoadStreams("tls");
  for (auto _ : state) {
    for (const auto& c : conns) {
      gourmet::tls::Result r = gourmet::tls::Parse(c.client, c.server);
      if (r.client_hello) {
        benchmark::DoNotOptimize(gourmet::tls::Md5Hex(gourmet::tls::Ja3String(*r.client_hello)));
        benchmark::DoNotOptimize(gourmet::tls::Ja4(*r.client_hello));
      }
      if (r.server_hello) {
        benchmark::DoNotOptimize(gourmet::tls::Md5Hex(gourmet::tls::Ja3sString(*r.server_hello)));
      }
    }
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * gourmet::bench::TotalBytes(conns)));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * conns.size()));
}
BENCHMARK(BM_TlsParse);
