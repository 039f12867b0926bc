// libFuzzer target for the TLS parser. The input is split into the two
// directions at the first "\xff\xfe" (client bytes, then server bytes); the
// client bytes also go through the hello parser and the fingerprints alone.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "plugins/tls/tls_parser.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace tls = gourmet::tls;
  std::string_view in(reinterpret_cast<const char*>(data), size);
  size_t cut = in.find("\xff\xfe");
  std::string_view client = in.substr(0, cut);
  std::string_view server = cut == std::string_view::npos ? std::string_view() : in.substr(cut + 2);
  gourmet::plugins::HalfStream c, s;
  // Deliver in uneven pieces so reassembly across segments is exercised.
  for (size_t i = 0, step = 1; i < client.size(); i += step, step = step * 2 + 1) {
    c.Append(client.substr(i, step), 1);
  }
  s.Append(server, 2);
  tls::Limits limits;
  limits.max_handshake_bytes = 64 * 1024;
  tls::Result r = tls::Parse(c, s, limits);
  if (r.client_hello) {
    tls::Ja3String(*r.client_hello);
    tls::Ja4(*r.client_hello);
    tls::Ja4Raw(*r.client_hello);
  }
  if (r.server_hello) tls::Ja3sString(*r.server_hello);
  tls::ClientHello ch;
  tls::ParseClientHello(client, limits, &ch);
  tls::Ja4(ch);
  tls::ServerHello sh;
  tls::ParseServerHello(server, limits, &sh);
  tls::LooksLikeTls(in);
  return 0;
}
