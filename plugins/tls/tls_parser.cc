// TLS handshake parser and fingerprints. See tls_parser.h.
#include "plugins/tls/tls_parser.h"

#include <openssl/asn1.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdio>
#include <ctime>

#include "plugins/common/byte_reader.h"
#include "plugins/common/digest.h"

namespace gourmet::tls {
namespace {

using plugins::ByteReader;
using plugins::HalfStream;
constexpr size_t kMaxAnomalies = 16;
constexpr size_t kMaxRecord = (1 << 14) + 2048;
constexpr size_t kMaxName = 1024;

void Anomaly(std::vector<std::string>* a, const char* name) {
  if (a->size() >= kMaxAnomalies) return;
  if (std::find(a->begin(), a->end(), name) == a->end()) a->push_back(name);
}

std::string Hex4(uint16_t v) {
  char b[8];
  std::snprintf(b, sizeof(b), "%04x", v);
  return b;
}

template <typename T>
void PushCapped(std::vector<T>* v, T x, const Limits& l) {
  if (v->size() < l.max_list) v->push_back(x);
}

bool ReadU16List(ByteReader r, std::vector<uint16_t>* out, const Limits& l) {
  uint16_t v;
  while (r.remaining() >= 2) {
    r.U16(&v);
    PushCapped(out, v, l);
  }
  return r.empty();
}

// Parses the extensions block shared by both hellos; calls `on(type, data)`.
template <typename F>
bool ForEachExtension(ByteReader* r, std::vector<uint16_t>* types, const Limits& l, F on) {
  if (r->empty()) return true;  // no extensions at all
  ByteReader exts;
  if (!r->Vec16(&exts)) return false;
  while (!exts.empty()) {
    uint16_t type;
    ByteReader data;
    if (!exts.U16(&type) || !exts.Vec16(&data)) return false;
    PushCapped(types, type, l);
    if (!on(type, data)) return false;
  }
  return true;
}

void Asn1Time(const ASN1_TIME* t, int64_t* epoch) {
  struct tm tm = {};
  if (t && ASN1_TIME_to_tm(t, &tm) == 1) *epoch = timegm(&tm);
}

std::string NameString(X509_NAME* name) {
  if (!name) return {};
  BIO* bio = BIO_new(BIO_s_mem());
  if (!bio) return {};
  X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long n = BIO_get_mem_data(bio, &data);
  std::string s(data, n > 0 ? static_cast<size_t>(n) : 0);
  BIO_free(bio);
  return s.substr(0, kMaxName);
}

std::string Asn1String(const ASN1_STRING* s) {
  if (!s) return {};
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<size_t>(ASN1_STRING_length(s)))
      .substr(0, kMaxName);
}

// Handshake reassembly for one direction: the type-22 record payloads of
// that direction, in order, parsed into messages as they complete.
struct DirectionState {
  std::string buffer;  // unparsed handshake bytes
  bool encrypted = false;
};

class Parser {
 public:
  Parser(const Limits& limits, Result* res) : limits_(limits), res_(res) {}

  void Direction(const HalfStream& s, bool from_client) {
    DirectionState st;
    const std::string_view d = s.view();
    size_t pos = 0;
    const HalfStream::Piece* first_gap = s.NextGap(1);
    const size_t usable = first_gap ? first_gap->offset : d.size();
    if (!d.empty() && !s.pieces.empty() && s.pieces.front().gap_before) {
      Anomaly(&res_->anomalies, "tls_stream_mid_message");
      return;
    }
    // Record headers are followed to the end (CCS, alerts, application data
    // are noted); handshake bytes are parsed until they become encrypted.
    while (pos < usable) {
      if (usable - pos < 5) {
        Anomaly(&res_->anomalies, first_gap ? "tls_gap" : "tls_truncated_record");
        return;
      }
      const uint8_t type = static_cast<uint8_t>(d[pos]);
      const uint8_t major = static_cast<uint8_t>(d[pos + 1]);
      const size_t len = static_cast<uint8_t>(d[pos + 3]) << 8 | static_cast<uint8_t>(d[pos + 4]);
      if (pos == 0 && (type & 0x80) && from_client) {
        Anomaly(&res_->anomalies, "tls_sslv2_hello");
        return;
      }
      if (type < 20 || type > 24 || major != 3 || len > kMaxRecord) {
        Anomaly(&res_->anomalies, "tls_bad_record");
        return;
      }
      if (pos + 5 + len > usable) {
        Anomaly(&res_->anomalies, first_gap ? "tls_gap" : "tls_truncated_record");
        return;
      }
      std::string_view body = d.substr(pos + 5, len);
      pos += 5 + len;
      switch (type) {
        case 20:  // change_cipher_spec: what follows from this side is encrypted
          (from_client ? res_->client_change_cipher_spec : res_->server_change_cipher_spec) = true;
          // TLS 1.3 sends a compatibility CCS; its handshake is encrypted
          // from the ServerHello on anyway.
          st.encrypted = true;
          break;
        case 21:  // alert, in clear only before CCS
          if (!st.encrypted && body.size() >= 2 && res_->alert_description < 0) {
            res_->alert_level = static_cast<uint8_t>(body[0]);
            res_->alert_description = static_cast<uint8_t>(body[1]);
          }
          break;
        case 22:
          if (st.encrypted) break;
          if (st.buffer.size() + body.size() > limits_.max_handshake_bytes) {
            Anomaly(&res_->anomalies, "tls_handshake_too_long");
            return;
          }
          st.buffer.append(body);
          Messages(&st, from_client);
          break;
        case 23:  // application data (or TLS 1.3 encrypted handshake)
          (from_client ? res_->client_app_data : res_->server_app_data) = true;
          st.encrypted = true;
          break;
        default:
          break;  // heartbeat
      }
    }
  }

 private:
  void Messages(DirectionState* st, bool from_client) {
    size_t pos = 0;
    while (st->buffer.size() - pos >= 4) {
      const uint8_t type = static_cast<uint8_t>(st->buffer[pos]);
      const size_t len = static_cast<uint8_t>(st->buffer[pos + 1]) << 16 |
                         static_cast<uint8_t>(st->buffer[pos + 2]) << 8 |
                         static_cast<uint8_t>(st->buffer[pos + 3]);
      if (len > limits_.max_handshake_bytes) {
        Anomaly(&res_->anomalies, "tls_handshake_too_long");
        st->encrypted = true;  // stop this direction
        return;
      }
      if (st->buffer.size() - pos - 4 < len) break;  // wait for more records
      std::string_view body(st->buffer.data() + pos + 4, len);
      pos += 4 + len;
      Message(type, body, from_client, st);
      if (st->encrypted) return;
    }
    st->buffer.erase(0, pos);
  }

  void Message(uint8_t type, std::string_view body, bool from_client, DirectionState* st) {
    if (from_client) {
      if (type == 1 && !res_->client_hello) {
        ClientHello ch;
        if (!ParseClientHello(body, limits_, &ch))
          Anomaly(&res_->anomalies, "tls_bad_client_hello");
        res_->client_hello = std::move(ch);
      }
      return;
    }
    switch (type) {
      case 2: {
        if (res_->server_hello && !res_->server_hello->hello_retry_request) break;
        ServerHello sh;
        if (!ParseServerHello(body, limits_, &sh))
          Anomaly(&res_->anomalies, "tls_bad_server_hello");
        res_->server_hello = std::move(sh);
        // TLS 1.3: everything after the ServerHello is encrypted.
        if (res_->server_hello->selected_version == 0x0304 &&
            !res_->server_hello->hello_retry_request) {
          st->encrypted = true;
        }
        break;
      }
      case 11:
        if (res_->certificates.empty()) Certificates(body);
        break;
      case 12: {  // ServerKeyExchange: ECDHE params start with named_curve
        if (body.size() >= 3 && static_cast<uint8_t>(body[0]) == 3) {
          res_->ske_curve = static_cast<uint16_t>(static_cast<uint8_t>(body[1]) << 8 |
                                                  static_cast<uint8_t>(body[2]));
        }
        break;
      }
      default:
        break;
    }
  }

  void Certificates(std::string_view body) {
    ByteReader r(body);
    ByteReader list;
    if (!r.Vec24(&list)) {
      Anomaly(&res_->anomalies, "tls_bad_certificate_message");
      return;
    }
    while (!list.empty()) {
      ByteReader cert;
      if (!list.Vec24(&cert)) {
        Anomaly(&res_->anomalies, "tls_bad_certificate_message");
        return;
      }
      if (res_->certificates.size() >= limits_.max_certificates) {
        Anomaly(&res_->anomalies, "tls_too_many_certificates");
        return;
      }
      std::string_view der(reinterpret_cast<const char*>(cert.data()), cert.size());
      res_->certificates.push_back(ParseCertificate(der));
      if (!res_->certificates.back().parsed) Anomaly(&res_->anomalies, "tls_bad_certificate");
    }
  }

  const Limits& limits_;
  Result* res_;
};

}  // namespace

bool IsGrease(uint16_t v) { return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff); }

std::string Md5Hex(std::string_view s) { return plugins::Md5Hex(s); }

uint16_t Result::version() const {
  if (!server_hello) return 0;
  return server_hello->selected_version ? server_hello->selected_version : server_hello->version;
}

bool LooksLikeTls(std::string_view s) {
  if (s.size() < 3) return false;
  const uint8_t t = static_cast<uint8_t>(s[0]), major = static_cast<uint8_t>(s[1]),
                minor = static_cast<uint8_t>(s[2]);
  if (t != 22 || major != 3 || minor > 4) return false;
  if (s.size() >= 5) {
    const size_t len = static_cast<uint8_t>(s[3]) << 8 | static_cast<uint8_t>(s[4]);
    if (len < 4 || len > kMaxRecord) return false;
  }
  // ClientHello or ServerHello.
  return s.size() < 6 || s[5] == 1 || s[5] == 2;
}

bool ParseClientHello(std::string_view body, const Limits& l, ClientHello* ch) {
  ByteReader r(body);
  ByteReader sid, ciphers, comp;
  std::string_view sid_bytes;
  if (!r.U16(&ch->version) || !r.Skip(32) || !r.Vec8(&sid)) return false;
  sid.Bytes(sid.remaining(), &sid_bytes);
  ch->session_id = std::string(sid_bytes);
  if (!r.Vec16(&ciphers) || !ReadU16List(ciphers, &ch->ciphers, l)) return false;
  if (!r.Vec8(&comp)) return false;
  return ForEachExtension(&r, &ch->extensions, l, [&](uint16_t type, ByteReader d) {
    switch (type) {
      case 0: {  // server_name
        ch->has_sni = true;
        ByteReader list;
        if (!d.Vec16(&list)) return false;
        while (!list.empty()) {
          uint8_t name_type;
          ByteReader name;
          if (!list.U8(&name_type) || !list.Vec16(&name)) return false;
          std::string_view n;
          name.Bytes(name.remaining(), &n);
          if (name_type == 0 && ch->server_name.empty()) ch->server_name = n.substr(0, kMaxName);
        }
        return true;
      }
      case 10: {  // supported_groups
        ByteReader list;
        return d.Vec16(&list) && ReadU16List(list, &ch->supported_groups, l);
      }
      case 11: {  // ec_point_formats
        ByteReader list;
        if (!d.Vec8(&list)) return false;
        uint8_t f;
        while (list.U8(&f)) PushCapped(&ch->ec_point_formats, f, l);
        return true;
      }
      case 13: {  // signature_algorithms
        ByteReader list;
        return d.Vec16(&list) && ReadU16List(list, &ch->signature_algorithms, l);
      }
      case 16: {  // ALPN
        ByteReader list;
        if (!d.Vec16(&list)) return false;
        while (!list.empty()) {
          ByteReader p;
          std::string_view proto;
          if (!list.Vec8(&p)) return false;
          p.Bytes(p.remaining(), &proto);
          if (ch->alpn.size() < 64) ch->alpn.emplace_back(proto);
        }
        return true;
      }
      case 43: {  // supported_versions
        ByteReader list;
        return d.Vec8(&list) && ReadU16List(list, &ch->supported_versions, l);
      }
      default:
        return true;
    }
  });
}

bool ParseServerHello(std::string_view body, const Limits& l, ServerHello* sh) {
  static const uint8_t kHrrRandom[32] = {0xCF, 0x21, 0xAD, 0x74, 0xE5, 0x9A, 0x61, 0x11,
                                         0xBE, 0x1D, 0x8C, 0x02, 0x1E, 0x65, 0xB8, 0x91,
                                         0xC2, 0xA2, 0x11, 0x16, 0x7A, 0xBB, 0x8C, 0x5E,
                                         0x07, 0x9E, 0x09, 0xE2, 0xC8, 0xA8, 0x33, 0x9C};
  ByteReader r(body);
  std::string_view random;
  ByteReader sid;
  if (!r.U16(&sh->version) || !r.Bytes(32, &random) || !r.Vec8(&sid)) return false;
  sh->hello_retry_request =
      std::equal(random.begin(), random.end(), kHrrRandom,
                 [](char a, uint8_t b) { return static_cast<uint8_t>(a) == b; });
  std::string_view sid_bytes;
  sid.Bytes(sid.remaining(), &sid_bytes);
  sh->session_id = std::string(sid_bytes);
  if (!r.U16(&sh->cipher) || !r.U8(&sh->compression)) return false;
  return ForEachExtension(&r, &sh->extensions, l, [&](uint16_t type, ByteReader d) {
    switch (type) {
      case 43:  // supported_versions: the selected one
        return d.U16(&sh->selected_version);
      case 51:  // key_share: the server's group
        return d.U16(&sh->key_share_group);
      case 16: {  // ALPN: exactly one protocol
        ByteReader list, p;
        std::string_view proto;
        if (!d.Vec16(&list) || !list.Vec8(&p)) return false;
        p.Bytes(p.remaining(), &proto);
        sh->alpn = std::string(proto);
        return true;
      }
      default:
        return true;
    }
  });
}

Certificate ParseCertificate(std::string_view der) {
  Certificate c;
  c.sha256 = plugins::Sha256Hex(der);
  const unsigned char* p = reinterpret_cast<const unsigned char*>(der.data());
  X509* x = d2i_X509(nullptr, &p, static_cast<long>(der.size()));
  if (!x) return c;
  c.parsed = true;
  c.subject = NameString(X509_get_subject_name(x));
  c.issuer = NameString(X509_get_issuer_name(x));
  if (const ASN1_INTEGER* serial = X509_get0_serialNumber(x)) {
    if (BIGNUM* bn = ASN1_INTEGER_to_BN(serial, nullptr)) {
      if (char* hex = BN_bn2hex(bn)) {
        c.serial = hex;
        OPENSSL_free(hex);
      }
      BN_free(bn);
    }
  }
  Asn1Time(X509_get0_notBefore(x), &c.not_valid_before);
  Asn1Time(X509_get0_notAfter(x), &c.not_valid_after);
  if (EVP_PKEY* key = X509_get0_pubkey(x)) {
    switch (EVP_PKEY_base_id(key)) {
      case EVP_PKEY_RSA:
        c.key_type = "rsa";
        break;
      case EVP_PKEY_EC:
        c.key_type = "ecdsa";
        break;
      case EVP_PKEY_DSA:
        c.key_type = "dsa";
        break;
      case EVP_PKEY_ED25519:
        c.key_type = "ed25519";
        break;
      case EVP_PKEY_ED448:
        c.key_type = "ed448";
        break;
      default:
        c.key_type = "unknown";
        break;
    }
    c.key_length = EVP_PKEY_bits(key);
  }
  const int sig_nid = X509_get_signature_nid(x);
  if (sig_nid != NID_undef) c.sig_alg = OBJ_nid2ln(sig_nid);
  auto* names =
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(x, NID_subject_alt_name, nullptr, nullptr));
  if (names) {
    const int n = std::min(sk_GENERAL_NAME_num(names), 256);
    for (int i = 0; i < n; ++i) {
      const GENERAL_NAME* g = sk_GENERAL_NAME_value(names, i);
      switch (g->type) {
        case GEN_DNS:
          c.san_dns.push_back(Asn1String(g->d.dNSName));
          break;
        case GEN_EMAIL:
          c.san_email.push_back(Asn1String(g->d.rfc822Name));
          break;
        case GEN_URI:
          c.san_uri.push_back(Asn1String(g->d.uniformResourceIdentifier));
          break;
        case GEN_IPADD: {
          const ASN1_OCTET_STRING* ip = g->d.iPAddress;
          char buf[64] = {};
          const int len = ASN1_STRING_length(ip);
          const unsigned char* b = ASN1_STRING_get0_data(ip);
          if (len == 4) {
            std::snprintf(buf, sizeof(buf), "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
            c.san_ip.push_back(buf);
          } else if (len == 16) {
            std::string s;
            for (int k = 0; k < 16; k += 2) {
              std::snprintf(buf, sizeof(buf), "%s%x", k ? ":" : "", b[k] << 8 | b[k + 1]);
              s += buf;
            }
            c.san_ip.push_back(s);
          }
          break;
        }
        default:
          break;
      }
    }
    GENERAL_NAMES_free(names);
  }
  X509_free(x);
  return c;
}

std::string Ja3String(const ClientHello& ch) {
  std::string s = std::to_string(ch.version) + ",";
  auto join = [&s](const auto& list) {
    bool first = true;
    for (auto v : list) {
      if (IsGrease(static_cast<uint16_t>(v))) continue;
      if (!first) s.push_back('-');
      s += std::to_string(v);
      first = false;
    }
  };
  join(ch.ciphers);
  s.push_back(',');
  join(ch.extensions);
  s.push_back(',');
  join(ch.supported_groups);
  s.push_back(',');
  bool first = true;
  for (uint8_t f : ch.ec_point_formats) {  // one byte each: never GREASE
    if (!first) s.push_back('-');
    s += std::to_string(f);
    first = false;
  }
  return s;
}

std::string Ja3sString(const ServerHello& sh) {
  std::string s = std::to_string(sh.version) + "," + std::to_string(sh.cipher) + ",";
  bool first = true;
  for (uint16_t e : sh.extensions) {
    if (!first) s.push_back('-');
    s += std::to_string(e);
    first = false;
  }
  return s;
}

namespace {

struct Ja4Parts {
  std::string a, ciphers, extensions;  // b and c before hashing
};

Ja4Parts Ja4Build(const ClientHello& ch, char transport) {
  Ja4Parts p;
  // The highest version offered (DTLS numbers count down), else the
  // hello's own version.
  uint16_t v = 0;
  for (uint16_t sv : ch.supported_versions) {
    if (IsGrease(sv)) continue;
    if (transport == 'd' ? (sv >= 0xfe00 && (v == 0 || sv < v)) : (sv < 0xfe00 && sv > v)) v = sv;
  }
  if (v == 0) v = ch.version;
  std::string ver;
  switch (v) {
    case 0x0304:
      ver = "13";
      break;
    case 0x0303:
      ver = "12";
      break;
    case 0x0302:
      ver = "11";
      break;
    case 0x0301:
      ver = "10";
      break;
    case 0x0300:
      ver = "s3";
      break;
    case 0x0002:
      ver = "s2";
      break;
    case 0xfeff:
      ver = "d1";
      break;
    case 0xfefd:
      ver = "d2";
      break;
    case 0xfefc:
      ver = "d3";
      break;
    default:
      ver = "00";
      break;
  }
  std::vector<uint16_t> ciphers, exts;
  for (uint16_t c : ch.ciphers) {
    if (!IsGrease(c)) ciphers.push_back(c);
  }
  size_t ext_count = 0;
  for (uint16_t e : ch.extensions) {
    if (IsGrease(e)) continue;
    ++ext_count;
    if (e != 0x0000 && e != 0x0010) exts.push_back(e);
  }
  std::string alpn = "00";
  if (!ch.alpn.empty() && !ch.alpn[0].empty()) {
    const std::string& a = ch.alpn[0];
    auto alnum = [](unsigned char c) {
      return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    };
    const unsigned char f = static_cast<unsigned char>(a.front());
    const unsigned char l = static_cast<unsigned char>(a.back());
    if (alnum(f) && alnum(l)) {
      alpn = {static_cast<char>(f), static_cast<char>(l)};
    } else {
      static const char kHex[] = "0123456789abcdef";
      alpn = {kHex[f >> 4], kHex[l & 15]};
    }
  }
  char counts[8];
  std::snprintf(counts, sizeof(counts), "%02zu%02zu", std::min<size_t>(ciphers.size(), 99),
                std::min<size_t>(ext_count, 99));
  p.a = std::string(1, transport) + ver + (ch.has_sni ? "d" : "i") + counts + alpn;
  std::sort(ciphers.begin(), ciphers.end());
  std::sort(exts.begin(), exts.end());
  for (size_t i = 0; i < ciphers.size(); ++i) p.ciphers += (i ? "," : "") + Hex4(ciphers[i]);
  for (size_t i = 0; i < exts.size(); ++i) p.extensions += (i ? "," : "") + Hex4(exts[i]);
  std::string sigs;
  for (uint16_t s : ch.signature_algorithms) {
    if (IsGrease(s)) continue;
    sigs += (sigs.empty() ? "" : ",") + Hex4(s);
  }
  if (!sigs.empty()) p.extensions += "_" + sigs;
  return p;
}

std::string Trunc12(const std::string& s) {
  if (s.empty()) return "000000000000";
  return plugins::Sha256Hex(s).substr(0, 12);
}

}  // namespace

std::string Ja4(const ClientHello& ch, char transport) {
  Ja4Parts p = Ja4Build(ch, transport);
  // No extensions at all (besides SNI/ALPN) hashes to zeros, as no ciphers.
  const bool no_ext = p.extensions.empty() || p.extensions[0] == '_';
  return p.a + "_" + Trunc12(p.ciphers) + "_" + (no_ext ? "000000000000" : Trunc12(p.extensions));
}

std::string Ja4Raw(const ClientHello& ch, char transport) {
  Ja4Parts p = Ja4Build(ch, transport);
  return p.a + "_" + p.ciphers + "_" + p.extensions;
}

Result Parse(const HalfStream& client, const HalfStream& server, const Limits& limits) {
  Result res;
  Parser p(limits, &res);
  p.Direction(client, /*from_client=*/true);
  p.Direction(server, /*from_client=*/false);
  return res;
}

std::string VersionName(uint16_t v) {
  switch (v) {
    case 0x0002:
      return "SSLv2";
    case 0x0300:
      return "SSLv3";
    case 0x0301:
      return "TLSv10";
    case 0x0302:
      return "TLSv11";
    case 0x0303:
      return "TLSv12";
    case 0x0304:
      return "TLSv13";
    case 0xfeff:
      return "DTLSv10";
    case 0xfefd:
      return "DTLSv12";
    case 0xfefc:
      return "DTLSv13";
    default:
      return "unknown-" + std::to_string(v);
  }
}

std::string GroupName(uint16_t g) {
  switch (g) {
    case 21:
      return "secp224r1";
    case 23:
      return "secp256r1";
    case 24:
      return "secp384r1";
    case 25:
      return "secp521r1";
    case 26:
      return "brainpoolP256r1";
    case 27:
      return "brainpoolP384r1";
    case 28:
      return "brainpoolP512r1";
    case 29:
      return "x25519";
    case 30:
      return "x448";
    case 256:
      return "ffdhe2048";
    case 257:
      return "ffdhe3072";
    case 258:
      return "ffdhe4096";
    case 259:
      return "ffdhe6144";
    case 260:
      return "ffdhe8192";
    case 4588:
      return "X25519MLKEM768";
    case 25497:
      return "X25519Kyber768Draft00";
    default:
      return IsGrease(g) ? "grease" : "unknown-" + std::to_string(g);
  }
}

std::string CipherName(uint16_t c) {
  struct Entry {
    uint16_t id;
    const char* name;
  };
  static const Entry kCiphers[] = {
      {0x0000, "TLS_NULL_WITH_NULL_NULL"},
      {0x0001, "TLS_RSA_WITH_NULL_MD5"},
      {0x0002, "TLS_RSA_WITH_NULL_SHA"},
      {0x0004, "TLS_RSA_WITH_RC4_128_MD5"},
      {0x0005, "TLS_RSA_WITH_RC4_128_SHA"},
      {0x000A, "TLS_RSA_WITH_3DES_EDE_CBC_SHA"},
      {0x0013, "TLS_DHE_DSS_WITH_3DES_EDE_CBC_SHA"},
      {0x0016, "TLS_DHE_RSA_WITH_3DES_EDE_CBC_SHA"},
      {0x002F, "TLS_RSA_WITH_AES_128_CBC_SHA"},
      {0x0032, "TLS_DHE_DSS_WITH_AES_128_CBC_SHA"},
      {0x0033, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA"},
      {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
      {0x0038, "TLS_DHE_DSS_WITH_AES_256_CBC_SHA"},
      {0x0039, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA"},
      {0x003C, "TLS_RSA_WITH_AES_128_CBC_SHA256"},
      {0x003D, "TLS_RSA_WITH_AES_256_CBC_SHA256"},
      {0x0067, "TLS_DHE_RSA_WITH_AES_128_CBC_SHA256"},
      {0x006B, "TLS_DHE_RSA_WITH_AES_256_CBC_SHA256"},
      {0x008C, "TLS_PSK_WITH_AES_128_CBC_SHA"},
      {0x008D, "TLS_PSK_WITH_AES_256_CBC_SHA"},
      {0x009C, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
      {0x009D, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
      {0x009E, "TLS_DHE_RSA_WITH_AES_128_GCM_SHA256"},
      {0x009F, "TLS_DHE_RSA_WITH_AES_256_GCM_SHA384"},
      {0x00A8, "TLS_PSK_WITH_AES_128_GCM_SHA256"},
      {0x00A9, "TLS_PSK_WITH_AES_256_GCM_SHA384"},
      {0x00FF, "TLS_EMPTY_RENEGOTIATION_INFO_SCSV"},
      {0x1301, "TLS_AES_128_GCM_SHA256"},
      {0x1302, "TLS_AES_256_GCM_SHA384"},
      {0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
      {0x1304, "TLS_AES_128_CCM_SHA256"},
      {0x1305, "TLS_AES_128_CCM_8_SHA256"},
      {0x5600, "TLS_FALLBACK_SCSV"},
      {0xC002, "TLS_ECDH_ECDSA_WITH_RC4_128_SHA"},
      {0xC007, "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA"},
      {0xC008, "TLS_ECDHE_ECDSA_WITH_3DES_EDE_CBC_SHA"},
      {0xC009, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA"},
      {0xC00A, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA"},
      {0xC011, "TLS_ECDHE_RSA_WITH_RC4_128_SHA"},
      {0xC012, "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA"},
      {0xC013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
      {0xC014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
      {0xC023, "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256"},
      {0xC024, "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384"},
      {0xC027, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"},
      {0xC028, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384"},
      {0xC02B, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
      {0xC02C, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
      {0xC02F, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
      {0xC030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
      {0xC09C, "TLS_RSA_WITH_AES_128_CCM"},
      {0xC09D, "TLS_RSA_WITH_AES_256_CCM"},
      {0xC09E, "TLS_DHE_RSA_WITH_AES_128_CCM"},
      {0xC09F, "TLS_DHE_RSA_WITH_AES_256_CCM"},
      {0xC0AC, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM"},
      {0xC0AD, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM"},
      {0xC0AE, "TLS_ECDHE_ECDSA_WITH_AES_128_CCM_8"},
      {0xC0AF, "TLS_ECDHE_ECDSA_WITH_AES_256_CCM_8"},
      {0xCCA8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
      {0xCCA9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
      {0xCCAA, "TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
      {0xCCAB, "TLS_PSK_WITH_CHACHA20_POLY1305_SHA256"},
      {0xCCAC, "TLS_ECDHE_PSK_WITH_CHACHA20_POLY1305_SHA256"},
      {0xCCAD, "TLS_DHE_PSK_WITH_CHACHA20_POLY1305_SHA256"},
  };
  for (const Entry& e : kCiphers) {
    if (e.id == c) return e.name;
  }
  return IsGrease(c) ? "grease" : "unknown-" + std::to_string(c);
}

}  // namespace gourmet::tls
