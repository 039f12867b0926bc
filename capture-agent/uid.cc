#include "capture-agent/uid.h"

namespace gourmet::capture {
namespace {

uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

void AppendBase62(uint64_t v, int digits, std::string* out) {
  static const char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  for (int i = 0; i < digits; ++i) {
    out->push_back(kDigits[v % 62]);
    v /= 62;
  }
}

}  // namespace

std::string MakeUid(uint64_t seed, uint32_t worker, uint64_t serial) {
  const uint64_t a = SplitMix64(seed ^ SplitMix64((static_cast<uint64_t>(worker) << 48) ^ serial));
  const uint64_t b = SplitMix64(a ^ seed);
  // 96 random bits, as Zeek: 11 base62 digits from one word, 6 from the next.
  std::string uid = "C";
  uid.reserve(18);
  AppendBase62(a, 11, &uid);
  AppendBase62(b >> 32, 6, &uid);
  return uid;
}

}  // namespace gourmet::capture
