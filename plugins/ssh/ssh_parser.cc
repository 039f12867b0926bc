// SSH version exchange and key-exchange parser. See ssh_parser.h.
#include "plugins/ssh/ssh_parser.h"

#include <openssl/evp.h>

#include <algorithm>

#include "plugins/common/byte_reader.h"
#include "plugins/common/digest.h"

namespace gourmet::ssh {
namespace {

using plugins::ByteReader;
using plugins::HalfStream;
constexpr size_t kMaxAnomalies = 16;

void Anomaly(std::vector<std::string>* a, const char* name) {
  if (a->size() >= kMaxAnomalies) return;
  if (std::find(a->begin(), a->end(), name) == a->end()) a->push_back(name);
}

bool ReadString(ByteReader* r, size_t cap, std::string_view* out) {
  uint32_t n;
  if (!r->U32(&n) || n > cap) return false;
  return r->Bytes(n, out);
}

// Reads identification lines from the start of `d`; returns where binary
// packets start, or npos if the version line never came.
size_t VersionExchange(std::string_view d, bool server, const Limits& l, Side* side,
                       std::vector<std::string>* an) {
  size_t pos = 0;
  for (size_t lines = 0; pos < d.size(); ++lines) {
    size_t nl = d.find('\n', pos);
    if (nl == std::string_view::npos || nl - pos > l.max_line) {
      Anomaly(an, nl == std::string_view::npos && d.size() - pos <= l.max_line
                      ? "ssh_truncated_version"
                      : "ssh_version_line_too_long");
      return std::string_view::npos;
    }
    std::string_view line = d.substr(pos, nl - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    pos = nl + 1;
    if (line.substr(0, 4) == "SSH-") {
      side->version = std::string(line);
      return pos;
    }
    if (!server) Anomaly(an, "ssh_client_banner");
    if (lines >= l.max_banner_lines) {
      Anomaly(an, "ssh_too_many_banner_lines");
      return std::string_view::npos;
    }
    side->banner.emplace_back(line);
  }
  return std::string_view::npos;
}

void Packets(std::string_view d, size_t pos, size_t usable, bool server, const Limits& l,
             Result* res, Side* side) {
  for (size_t n = 0; pos < usable && n < l.max_packets && !side->newkeys; ++n) {
    if (usable - pos < 5) {
      Anomaly(&res->anomalies, "ssh_truncated_packet");
      return;
    }
    ByteReader r(d.substr(pos, usable - pos));
    uint32_t packet_length = 0;
    uint8_t padding = 0;
    r.U32(&packet_length);
    r.U8(&padding);
    if (packet_length < 5 || packet_length > l.max_packet || padding >= packet_length) {
      Anomaly(&res->anomalies, "ssh_bad_packet_length");
      return;
    }
    std::string_view payload;
    if (!r.Bytes(packet_length - padding - 1, &payload) || !r.Skip(padding)) {
      Anomaly(&res->anomalies, "ssh_truncated_packet");
      return;
    }
    pos += 4 + packet_length;
    if (payload.empty()) continue;
    const uint8_t msg = static_cast<uint8_t>(payload[0]);
    if (msg == 20 && !side->kexinit) {
      KexInit k;
      if (!ParseKexInit(payload, l, &k)) Anomaly(&res->anomalies, "ssh_bad_kexinit");
      side->kexinit = std::move(k);
    } else if (msg == 21) {
      side->newkeys = true;
    } else if (server && (msg == 31 || msg == 33) && res->host_key.empty()) {
      // KEXDH_REPLY / KEX_ECDH_REPLY (31) and KEX_DH_GEX_REPLY (33) start
      // with K_S; with group exchange, 31 is KEX_DH_GEX_GROUP instead.
      const bool gex = res->client.kexinit && side->kexinit &&
                       Negotiate(res->client.kexinit->lists[kKex], side->kexinit->lists[kKex])
                               .rfind("diffie-hellman-group-exchange", 0) == 0;
      if ((msg == 33) != gex) continue;
      ByteReader p(payload.substr(1));
      std::string_view blob, type;
      if (!ReadString(&p, l.max_packet, &blob)) {
        Anomaly(&res->anomalies, "ssh_bad_kex_reply");
        continue;
      }
      ByteReader b(blob);
      res->host_key = std::string(blob);
      if (ReadString(&b, 256, &type)) res->host_key_type = std::string(type);
    }
  }
}

void Direction(const HalfStream& s, bool server, const Limits& l, Result* res) {
  Side* side = server ? &res->server : &res->client;
  const std::string_view d = s.view();
  if (d.empty()) return;
  if (!s.pieces.empty() && s.pieces.front().gap_before) {
    Anomaly(&res->anomalies, "ssh_stream_mid_message");
    return;
  }
  const HalfStream::Piece* gap = s.NextGap(1);
  const size_t usable = gap ? gap->offset : d.size();
  size_t pos = VersionExchange(d.substr(0, usable), server, l, side, &res->anomalies);
  if (pos == std::string_view::npos) return;
  Packets(d, pos, usable, server, l, res, side);
  if (gap && !side->newkeys) Anomaly(&res->anomalies, "ssh_gap");
}

}  // namespace

bool LooksLikeSsh(std::string_view s) {
  if (s.size() < 4) return false;
  if (s.substr(0, 4) == "SSH-")
    return s.size() < 8 || s.substr(4, 4) == "2.0-" || s.substr(4, 5) == "1.99-" ||
           s.substr(4, 2) == "1.";
  return false;
}

bool ParseKexInit(std::string_view payload, const Limits& l, KexInit* k) {
  ByteReader r(payload);
  uint8_t msg, follows;
  if (!r.U8(&msg) || msg != 20 || !r.Skip(16)) return false;
  for (int i = 0; i < kNumKexLists; ++i) {
    std::string_view list;
    if (!ReadString(&r, l.max_name_list, &list)) return false;
    k->lists[i] = std::string(list);
  }
  if (!r.U8(&follows)) return false;
  k->first_kex_packet_follows = follows != 0;
  uint32_t reserved;
  return r.U32(&reserved);
}

std::string HasshAlgorithms(const KexInit& k, bool client) {
  return k.lists[kKex] + ";" + k.lists[client ? kEncC2S : kEncS2C] + ";" +
         k.lists[client ? kMacC2S : kMacS2C] + ";" + k.lists[client ? kCompC2S : kCompS2C];
}

std::string Md5Hex(std::string_view s) { return plugins::Md5Hex(s); }

std::string Negotiate(std::string_view client_list, std::string_view server_list) {
  auto contains = [server_list](std::string_view name) {
    size_t pos = 0;
    while (pos <= server_list.size()) {
      size_t comma = server_list.find(',', pos);
      if (comma == std::string_view::npos) comma = server_list.size();
      if (server_list.substr(pos, comma - pos) == name) return true;
      pos = comma + 1;
    }
    return false;
  };
  size_t pos = 0;
  while (pos < client_list.size()) {
    size_t comma = client_list.find(',', pos);
    if (comma == std::string_view::npos) comma = client_list.size();
    std::string_view name = client_list.substr(pos, comma - pos);
    if (!name.empty() && contains(name)) return std::string(name);
    pos = comma + 1;
  }
  return {};
}

std::string Sha256Fingerprint(std::string_view blob) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(blob.data(), blob.size(), md, &n, EVP_sha256(), nullptr) != 1) return {};
  unsigned char b64[64] = {};
  int len = EVP_EncodeBlock(b64, md, static_cast<int>(n));
  std::string s(reinterpret_cast<char*>(b64), static_cast<size_t>(len));
  while (!s.empty() && s.back() == '=') s.pop_back();  // OpenSSH drops the padding
  return "SHA256:" + s;
}

std::string Md5Fingerprint(std::string_view blob) {
  std::string hex = plugins::Md5Hex(blob);
  std::string out;
  for (size_t i = 0; i < hex.size(); i += 2) {
    if (i) out.push_back(':');
    out += hex.substr(i, 2);
  }
  return out;
}

Result Parse(const HalfStream& client, const HalfStream& server, const Limits& limits) {
  Result res;
  Direction(client, /*server=*/false, limits, &res);
  Direction(server, /*server=*/true, limits, &res);
  return res;
}

}  // namespace gourmet::ssh
