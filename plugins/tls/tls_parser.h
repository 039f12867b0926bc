// TLS handshake parser: the record layer of both directions, handshake
// messages reassembled across records and TCP segments, ClientHello,
// ServerHello, the server's Certificate (TLS 1.2 and below, where it is in
// clear) and ServerKeyExchange curve; plus JA3, JA3S and JA4 fingerprints.
// Pure functions over bytes (certificates are decoded with OpenSSL's
// libcrypto); bounded buffers and lists; malformed input gives partial
// results and named anomalies, never an exception.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/common/half_stream.h"

namespace gourmet::tls {

struct Limits {
  size_t max_handshake_bytes = 256 * 1024;  // buffered handshake data per direction
  size_t max_certificates = 10;             // decoded per chain
  size_t max_list = 1024;                   // entries kept per cipher/extension/... list
};

struct ClientHello {
  uint16_t record_version = 0;
  uint16_t version = 0;  // legacy_version
  std::string session_id;
  std::vector<uint16_t> ciphers;     // as sent, GREASE included
  std::vector<uint16_t> extensions;  // types in order, GREASE included
  std::vector<uint16_t> supported_groups;
  std::vector<uint8_t> ec_point_formats;
  std::vector<uint16_t> signature_algorithms;
  std::vector<uint16_t> supported_versions;
  std::string server_name;  // SNI host_name
  bool has_sni = false;
  std::vector<std::string> alpn;
};

struct ServerHello {
  uint16_t version = 0;           // legacy_version
  uint16_t selected_version = 0;  // supported_versions extension (TLS 1.3), or 0
  uint16_t cipher = 0;
  uint8_t compression = 0;
  std::string session_id;
  std::vector<uint16_t> extensions;
  std::string alpn;              // the server's choice, when sent in clear
  uint16_t key_share_group = 0;  // TLS 1.3
  bool hello_retry_request = false;
};

struct Certificate {
  std::string subject, issuer, serial;
  int64_t not_valid_before = 0, not_valid_after = 0;  // epoch seconds
  std::vector<std::string> san_dns, san_ip, san_email, san_uri;
  std::string sha256;  // of the DER encoding
  std::string key_type;
  int key_length = 0;
  std::string sig_alg;
  bool parsed = false;  // false: the DER did not decode (only sha256 is set)
};

struct Result {
  std::optional<ClientHello> client_hello;
  std::optional<ServerHello> server_hello;
  std::vector<Certificate> certificates;  // the server's chain, leaf first
  uint16_t ske_curve = 0;                 // ServerKeyExchange named curve (ECDHE)
  bool client_change_cipher_spec = false, server_change_cipher_spec = false;
  bool client_app_data = false, server_app_data = false;
  int alert_level = 0, alert_description = -1;  // the first alert in clear, if any
  std::vector<std::string> anomalies;
  // TLS version negotiated: the server's supported_versions, else its hello.
  uint16_t version() const;
};

// First bytes of a direction: a TLS handshake record (or SSLv2 hello).
bool LooksLikeTls(std::string_view first_bytes);

// Both directions of a connection.
Result Parse(const plugins::HalfStream& client, const plugins::HalfStream& server,
             const Limits& limits = {});

// Message bodies (after the 4-byte handshake header). false: malformed; the
// struct holds what was read before the damage.
bool ParseClientHello(std::string_view body, const Limits& limits, ClientHello* out);
bool ParseServerHello(std::string_view body, const Limits& limits, ServerHello* out);
// One DER certificate.
Certificate ParseCertificate(std::string_view der);

bool IsGrease(uint16_t v);
// JA3: "version,ciphers,extensions,groups,point_formats", GREASE removed.
std::string Ja3String(const ClientHello& ch);
// JA3S: "version,cipher,extensions".
std::string Ja3sString(const ServerHello& sh);
// JA4 ("t13d1516h2_8daaf6152771_e5627efa2ab1") and its raw form (JA4_r).
// `transport`: 't' TCP, 'q' QUIC, 'd' DTLS.
std::string Ja4(const ClientHello& ch, char transport = 't');
std::string Ja4Raw(const ClientHello& ch, char transport = 't');
std::string Md5Hex(std::string_view s);

// Names as Zeek prints them: "TLSv12", "TLS_AES_128_GCM_SHA256", "x25519".
std::string VersionName(uint16_t v);
std::string CipherName(uint16_t c);
std::string GroupName(uint16_t g);

}  // namespace gourmet::tls
