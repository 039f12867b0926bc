// Throughput of the SSH parser on the captured SSH connections (ssh.pcap:
// three key exchanges with OpenSSH), including HASSH/HASSHServer.
#include <benchmark/benchmark.h>

#include "bench/bench_streams.h"
#include "plugins/ssh/ssh_parser.h"

static void BM_SshParse(benchmark::State& state) {
  const auto conns = gourmet::bench::LoadStreams("ssh");
  for (auto _ : state) {
    for (const auto& c : conns) {
      gourmet::ssh::Result r = gourmet::ssh::Parse(c.client, c.server);
      if (r.client.kexinit) {
        benchmark::DoNotOptimize(
            gourmet::ssh::Md5Hex(gourmet::ssh::HasshAlgorithms(*r.client.kexinit, true)));
      }
      if (r.server.kexinit) {
        benchmark::DoNotOptimize(
            gourmet::ssh::Md5Hex(gourmet::ssh::HasshAlgorithms(*r.server.kexinit, false)));
      }
    }
  }
  state.SetBytesProcessed(
      static_cast<int64_t>(state.iterations() * gourmet::bench::TotalBytes(conns)));
  state.SetItemsProcessed(static_cast<int64_t>(state.iterations() * conns.size()));
}
BENCHMARK(BM_SshParse);
