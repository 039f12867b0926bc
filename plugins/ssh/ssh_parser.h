// SSH parser (RFC 4253): the version exchange and the clear-text binary
// packets of both directions up to NEWKEYS: KEXINIT (for HASSH and
// HASSHServer and the negotiated algorithms) and the server's host key from
// its key-exchange reply. Pure functions over bytes; bounded lines,
// packets and lists; malformed input gives partial results and anomalies.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/common/half_stream.h"

namespace gourmet::ssh {

struct Limits {
  size_t max_line = 1024;           // version and banner lines
  size_t max_banner_lines = 32;     // lines a server may send before its version
  size_t max_packet = 256 * 1024;   // one clear-text binary packet
  size_t max_packets = 64;          // clear-text packets examined per direction
  size_t max_name_list = 8 * 1024;  // one KEXINIT name-list, in bytes
};

// The ten name-lists of a KEXINIT, in wire order.
enum KexList {
  kKex = 0,
  kHostKey,
  kEncC2S,
  kEncS2C,
  kMacC2S,
  kMacS2C,
  kCompC2S,
  kCompS2C,
  kLangC2S,
  kLangS2C,
  kNumKexLists
};

struct KexInit {
  std::array<std::string, kNumKexLists> lists;  // comma-separated, as sent
  bool first_kex_packet_follows = false;
};

struct Side {
  std::string version;              // the whole identification line, without CR LF
  std::vector<std::string> banner;  // lines before it (server only)
  std::optional<KexInit> kexinit;
  bool newkeys = false;
};

struct Result {
  Side client, server;
  std::string host_key;       // the server's public host key blob (K_S)
  std::string host_key_type;  // its algorithm name, e.g. "ssh-ed25519"
  std::vector<std::string> anomalies;
};

// The first bytes of a direction: an SSH identification string.
bool LooksLikeSsh(std::string_view first_bytes);

// Both directions of a connection.
Result Parse(const plugins::HalfStream& client, const plugins::HalfStream& server,
             const Limits& limits = {});

// One KEXINIT payload (starting with the message number 20).
bool ParseKexInit(std::string_view payload, const Limits& limits, KexInit* out);

// HASSH input: "kex;enc;mac;comp" in the client->server (client) or
// server->client (server) direction; hash it with Md5Hex.
std::string HasshAlgorithms(const KexInit& k, bool client);
std::string Md5Hex(std::string_view s);
// RFC 4253 7.1: the first client algorithm the server also lists, or "".
std::string Negotiate(std::string_view client_list, std::string_view server_list);
// Fingerprints of a host key blob: "SHA256:base64" (OpenSSH) and colon hex MD5 (Zeek).
std::string Sha256Fingerprint(std::string_view blob);
std::string Md5Fingerprint(std::string_view blob);

}  // namespace gourmet::ssh
