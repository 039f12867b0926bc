#include "capture-agent/worker.h"

#include "capture-agent/decoder.h"

namespace gourmet::capture {

void Worker::Handle(int dlt, const RawPacket& raw) {
  DecodedPacket pkt;
  const char* weird = nullptr;
  const DecodeResult r = Decode(dlt, raw, &pkt, &weird);
  pkt.shared = raw.shared;
  HandleDecoded(r, pkt, weird, FlowTable::kNoFlow, 0);
}

void Worker::HandleDecoded(DecodeResult r, DecodedPacket& pkt, const char* weird, uint64_t parent,
                           int depth) {
  switch (r) {
    case DecodeResult::kNotIp:
      ++non_ip_;
      return;
    case DecodeResult::kWeird:
      CountWeird(weird);
      return;
    case DecodeResult::kFragment: {
      std::string_view datagram;
      const char* frag_weird = nullptr;
      const Defragmenter::Result fr = defrag_.Add(pkt, &datagram, &frag_weird);
      if (frag_weird) CountWeird(frag_weird);
      if (fr != Defragmenter::Result::kComplete) return;
      const char* w = nullptr;
      pkt.shared = nullptr;  // the datagram lives in the defragmenter, briefly
      const DecodeResult r2 = DecodeIp(reinterpret_cast<const uint8_t*>(datagram.data()),
                                       static_cast<uint32_t>(datagram.size()), &pkt, &w);
      // A reassembled datagram is never a fragment again; guard anyway.
      if (r2 == DecodeResult::kFragment) return;
      const char* datagram_weird = defrag_.completed_weird();
      HandleDecoded(r2, pkt, w, parent, depth);
      if (datagram_weird && r2 == DecodeResult::kOk) flows_.AddWeird(pkt, datagram_weird);
      return;
    }
    case DecodeResult::kOk:
      break;
  }
  if (check_checksums_) {
    if (const char* bad = VerifyChecksums(pkt)) {
      CountWeird(bad);
      flows_.BadChecksum(pkt);
      return;
    }
  }
  const uint64_t serial = flows_.Process(pkt, parent);
  if (pkt.soft_weird) {
    CountWeird(pkt.soft_weird);
    flows_.AddWeird(pkt, pkt.soft_weird);
  }
  if (pkt.encap == DecodedPacket::Encap::kNone) return;
  if (depth >= kMaxTunnelDepth) {
    CountWeird("tunnel_too_deep");
    return;
  }
  // The tunnel's payload is a packet of its own, analysed like any other,
  // with the tunnel connection as its parent.
  DecodedPacket inner;
  inner.ts_us = pkt.ts_us;
  inner.vlan_count = 0;
  inner.shared = pkt.shared;
  const char* w = nullptr;
  const DecodeResult ri = pkt.encap == DecodedPacket::Encap::kEthernet
                              ? DecodeEthernet(pkt.inner, pkt.inner_len, &inner, &w)
                              : DecodeIp(pkt.inner, pkt.inner_len, &inner, &w);
  HandleDecoded(ri, inner, w, serial, depth + 1);
}

}  // namespace gourmet::capture
