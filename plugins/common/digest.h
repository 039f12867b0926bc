// Hex digests (MD5 for JA3/HASSH, SHA-256 for JA4 and certificate
// fingerprints) through OpenSSL's libcrypto; link OpenSSL::Crypto.
#pragma once

#include <openssl/evp.h>

#include <string>
#include <string_view>

namespace gourmet::plugins {

inline std::string HexDigest(const EVP_MD* md, std::string_view data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  if (EVP_Digest(data.data(), data.size(), out, &n, md, nullptr) != 1) return {};
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(n * 2);
  for (unsigned int i = 0; i < n; ++i) {
    hex.push_back(kHex[out[i] >> 4]);
    hex.push_back(kHex[out[i] & 15]);
  }
  return hex;
}

inline std::string Md5Hex(std::string_view data) { return HexDigest(EVP_md5(), data); }
inline std::string Sha256Hex(std::string_view data) { return HexDigest(EVP_sha256(), data); }

}  // namespace gourmet::plugins
