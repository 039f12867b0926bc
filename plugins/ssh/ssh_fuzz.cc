// libFuzzer target for the SSH parser. The input is split into the two
// directions at the first "\xff\xfe" (client, then server); the first
// direction also goes through the KEXINIT parser alone.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "plugins/ssh/ssh_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace ssh = gourmet::ssh;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t cut = in.find("\xff\xfe");
  std::string_view client = in.substr(0, cut);
  std::string_view server = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 2);
  gourmet::plugins::HalfStream c, s;
  c.Append(client, 1);
  s.Append(server.substr(0, server.size() / 2), 2);
  s.Append(server.substr(server.size() / 2), 3);
  ssh::Limits limits;
  limits.max_packet = 64 * 1024;
  ssh::Result r = ssh::Parse(c, s, limits);
  if (r.client.kexinit && r.server.kexinit) {
    ssh::Negotiate(r.client.kexinit->lists[ssh::kKex], r.server.kexinit->lists[ssh::kKex]);
    ssh::HasshAlgorithms(*r.client.kexinit, true);
  }
  if (!r.host_key.empty()) ssh::Sha256Fingerprint(r.host_key);
  ssh::KexInit k;
  ssh::ParseKexInit(client, limits, &k);
  ssh::LooksLikeSsh(in);
  return 0;
}
