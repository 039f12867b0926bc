// libFuzzer target for the DNS parser: the input is one message; it is also
// run through TCP framing and query/response matching.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "plugins/dns/dns_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  gourmet::dns::Message m = gourmet::dns::ParseMessage(data, size);
  if (m.answers.size() > 256 || m.questions.size() > 256) __builtin_trap();
  gourmet::dns::LooksLikeDns(in, false);
  gourmet::dns::LooksLikeDns(in, true);
  gourmet::plugins::HalfStream s;
  s.Append(in, 1);
  std::vector<std::string> an;
  std::vector<gourmet::dns::WireMessage> wire;
  for (const auto& t : gourmet::dns::SplitTcp(s, {}, &an)) wire.push_back({t.ts_us, t.data});
  wire.push_back({2, in});
  gourmet::dns::Match(wire);
  return 0;
}
