// Connection uids in Zeek's style: "C" followed by base62 digits. Derived
// from a seed and a per-worker serial number, so one pcap and one seed always
// give the same uids, while different seeds (sensors, runs) do not collide.
#pragma once

#include <cstdint>
#include <string>

namespace gourmet::capture {

std::string MakeUid(uint64_t seed, uint32_t worker, uint64_t serial);

}  // namespace gourmet::capture
