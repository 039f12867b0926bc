// The capture agent's offline read on its own: every packet of a large pcap
// through PcapFileSource, mmap path against libpcap path, in one run on the
// same file. Each iteration opens the file and reads it to the end, touching
// each packet's first byte (as the decoder would) or, with all:1, every cache
// line of it (as reassembly copying payload would). The ratio of the mmap:0
// and mmap:1 rows' times is the mmap path's speedup.
//
//   cat /tmp/gourmet-bench-1g.pcap >/dev/null   # read from the page cache
//   build/bench/pcap_read_bench [--benchmark_repetitions=5]
//
// GOURMET_BENCH_PCAP overrides the file (bench/make_big_pcap.py writes one).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "capture-agent/pcap_source.h"

namespace gourmet::capture {
namespace {

std::string BenchPcap() {
  const char* env = std::getenv("GOURMET_BENCH_PCAP");
  return env ? env : "/tmp/gourmet-bench-1g.pcap";
}

// state.range(0): 1 reads through mmap, 0 through libpcap; state.range(1): 1
// touches every cache line of each packet, 0 its first byte.
void BM_ReadPcap(benchmark::State& state) {
  PcapFileOptions options;
  options.mmap = state.range(0) != 0;
  const uint32_t stride = state.range(1) ? 64 : UINT32_MAX;
  uint64_t packets = 0, bytes = 0;
  for (auto _ : state) {
    auto src = PcapFileSource::Open(BenchPcap(), "", options);
    if (!src.ok()) {
      state.SkipWithError(std::string(src.status().message()).c_str());
      return;
    }
    if ((*src)->mapped() != options.mmap) {
      state.SkipWithError("not a classic pcap: the mmap path does not apply");
      return;
    }
    RawPacket raw;
    uint64_t sum = 0;
    while ((*src)->Read(&raw) == PacketSource::Next::kPacket) {
      for (uint32_t i = 0; i < raw.caplen; i += stride) sum += raw.data[i];
      ++packets;
      bytes += raw.caplen;
    }
    benchmark::DoNotOptimize(sum);
  }
  state.SetItemsProcessed(packets);
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_ReadPcap)
    ->ArgNames({"mmap", "all"})
    ->ArgsProduct({{0, 1}, {0, 1}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
}  // namespace gourmet::capture
