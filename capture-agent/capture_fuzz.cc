// libFuzzer target: whole packets through decoding, defragmentation, tunnels,
// flows and TCP reassembly. Input: one byte choosing the link type (low 7
// bits) and whether packets come from a mapped file, so that payload is kept
// by reference instead of copied (high bit); then records of [2-byte
// length][frame bytes], each a packet 1 ms after the last.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "capture-agent/decoder.h"
#include "capture-agent/worker.h"

namespace {
constexpr int kLinkTypes[] = {gourmet::capture::kLinkEthernet, gourmet::capture::kLinkLinuxSll,
                              gourmet::capture::kLinkLinuxSll2, gourmet::capture::kLinkRaw,
                              gourmet::capture::kLinkNull};
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace gourmet::capture;
  if (size < 1) return 0;
  const int dlt = kLinkTypes[(data[0] & 0x7f) % (sizeof(kLinkTypes) / sizeof(kLinkTypes[0]))];
  const bool mapped = data[0] & 0x80;
  // Stands for the mapping: frames stay alive until the end, as a mapped
  // file's packets do.
  const SharedBytesRef file(new SharedBytes{data, size});
  std::vector<std::unique_ptr<uint8_t[]>> kept;
  FlowTableConfig fc;
  fc.max_flows = 64;
  fc.payload_depth = 4096;
  fc.max_ooo_bytes = 4096;
  DefragConfig dc;
  dc.max_bytes = 1 << 20;
  uint64_t exported = 0;
  Worker w(fc, dc, [&exported](FinishedConnection&& c) {
    exported += ToProto(std::move(c)).ByteSizeLong() > 0;
  });
  size_t pos = 1;
  int64_t ts = 1'000'000'000'000;
  while (pos + 2 <= size) {
    const size_t len = data[pos] << 8 | data[pos + 1];
    pos += 2;
    const size_t n = len < size - pos ? len : size - pos;
    // A copy of exactly n bytes, so ASan sees any read past the capture.
    std::unique_ptr<uint8_t[]> frame(new uint8_t[n ? n : 1]);
    std::memcpy(frame.get(), data + pos, n);
    w.Handle(dlt, RawPacket{ts, frame.get(), static_cast<uint32_t>(n), static_cast<uint32_t>(len),
                            mapped ? &file : nullptr});
    if (mapped) kept.push_back(std::move(frame));
    pos += n;
    ts += 1000;
  }
  w.FlushAll();
  return 0;
}
