// Micro-benchmarks of the capture packet path: decoding, flow lookup,
// TCP reassembly, and the memory one idle flow costs.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cstdio>
#include <random>

#include "capture-agent/decoder.h"
#include "capture-agent/flow_table.h"
#include "capture-agent/test_packets.h"
#include "services/memory.h"

namespace gourmet::capture {
namespace {

using testing::BuildFrame;
using testing::PacketSpec;

// The allocator as the capture agent tunes it (services/memory.h).
const bool kAllocatorTuned = (TuneAllocatorForPayload(), true);

RawPacket Raw(const std::vector<uint8_t>& f, int64_t ts = 1) {
  return RawPacket{ts, f.data(), static_cast<uint32_t>(f.size()), static_cast<uint32_t>(f.size())};
}

void BM_DecodeTcp(benchmark::State& state) {
  PacketSpec s;
  s.flags = kAck;
  s.payload = std::string(1448, 'x');
  const auto f = BuildFrame(s);
  DecodedPacket p;
  const char* weird;
  for (auto _ : state) {
    benchmark::DoNotOptimize(Decode(kLinkEthernet, Raw(f), &p, &weird));
    benchmark::DoNotOptimize(p.payload);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeTcp);

void BM_DecodeIpv6VlanUdp(benchmark::State& state) {
  PacketSpec s;
  s.src = "fd00::1";
  s.dst = "fd00::2";
  s.proto = 17;
  s.vlans = {10};
  s.payload = std::string(100, 'x');
  const auto f = BuildFrame(s);
  DecodedPacket p;
  const char* weird;
  for (auto _ : state) benchmark::DoNotOptimize(Decode(kLinkEthernet, Raw(f), &p, &weird));
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_DecodeIpv6VlanUdp);

// One ACK packet into a table of state.range(0) established flows, picked at random.
void BM_FlowLookup(benchmark::State& state) {
  const int flows = state.range(0);
  FlowTableConfig cfg;
  cfg.max_flows = flows + 16;
  FlowTable table(cfg, [](FinishedConnection&&) {});
  std::vector<DecodedPacket> pkts(flows);
  for (int i = 0; i < flows; ++i) {
    DecodedPacket& p = pkts[i];
    p.ip_version = 4;
    p.ip_proto = 6;
    p.src[0] = 10;
    p.src[1] = i >> 16;
    p.src[2] = i >> 8;
    p.src[3] = i;
    p.dst[0] = 172;
    p.dst[3] = 1;
    p.sport = 1024 + i % 50000;
    p.dport = 80;
    p.tcp_flags = kAck;
    p.ip_len = 40;
    p.ts_us = 1;
    table.Process(p);
  }
  std::mt19937 rng(1);
  std::vector<uint32_t> order(1 << 16);
  for (auto& o : order) o = rng() % flows;
  size_t i = 0;
  for (auto _ : state) {
    DecodedPacket& p = pkts[order[i++ & 0xffff]];
    table.Process(p);
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_FlowLookup)->Arg(1000)->Arg(100000)->Arg(1000000);

// 1024 data segments of 1448 bytes through reassembly into the payload
// buffer (the depth keeps everything); `swap_pairs` swaps each pair, so every
// other segment waits in the out-of-order buffer.
void Reassemble(benchmark::State& state, bool swap_pairs) {
  FlowTableConfig cfg;
  cfg.payload_depth = uint64_t{1} << 40;
  uint64_t segments = 0;
  std::string payload(1448, 'x');
  for (auto _ : state) {
    state.PauseTiming();
    FlowTable table(cfg, [](FinishedConnection&&) {});
    DecodedPacket p{};
    p.ip_version = 4;
    p.ip_proto = 6;
    p.src[0] = 10;
    p.dst[0] = 11;
    p.sport = 1000;
    p.dport = 80;
    p.tcp_flags = kSyn;
    p.seq = 1000;
    table.Process(p);
    p.tcp_flags = kAck;
    p.payload = reinterpret_cast<const uint8_t*>(payload.data());
    p.payload_len = p.payload_wire_len = payload.size();
    state.ResumeTiming();
    for (int i = 0; i < 1024; ++i) {
      p.seq = 1001 + (swap_pairs ? i ^ 1 : i) * 1448;
      table.Process(p);
    }
    segments += 1024;
    state.PauseTiming();
    table.FlushAll();
    state.ResumeTiming();
  }
  state.SetItemsProcessed(segments);
  state.SetBytesProcessed(segments * 1448);
}

void BM_ReassembleInOrder(benchmark::State& state) { Reassemble(state, false); }
BENCHMARK(BM_ReassembleInOrder);

void BM_ReassembleSwappedPairs(benchmark::State& state) { Reassemble(state, true); }
BENCHMARK(BM_ReassembleSwappedPairs);

size_t RssBytes() {
  long pages = 0, resident = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<size_t>(resident) * sysconf(_SC_PAGESIZE);
}

// Memory per idle tracked flow: a million TCP flows after their SYN, the
// table's resident size divided by the flow count (payload excluded).
void BM_IdleFlowMemory(benchmark::State& state) {
  const int flows = 1'000'000;
  for (auto _ : state) {
    const size_t before = RssBytes();
    FlowTableConfig cfg;
    cfg.max_flows = flows + 16;
    auto table = std::make_unique<FlowTable>(cfg, [](FinishedConnection&&) {});
    DecodedPacket p{};
    p.ip_version = 4;
    p.ip_proto = 6;
    p.tcp_flags = kSyn;
    p.ts_us = 1;
    for (int i = 0; i < flows; ++i) {
      p.src[0] = 10;
      p.src[1] = i >> 16;
      p.src[2] = i >> 8;
      p.src[3] = i;
      p.sport = 1024 + i % 50000;
      table->Process(p);
    }
    state.counters["bytes_per_flow"] = static_cast<double>(RssBytes() - before) / flows;
    state.counters["flow_struct_bytes"] = sizeof(FlowTable::Flow);
  }
}
BENCHMARK(BM_IdleFlowMemory)->Iterations(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace gourmet::capture
