// Unit tests for the SSH parser: version exchange, KEXINIT, HASSH, the host
// key, negotiation, and hostile input.
#include "plugins/ssh/ssh_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace gourmet::ssh {
namespace {

std::string U32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}
std::string Str(const std::string& s) { return U32(static_cast<uint32_t>(s.size())) + s; }
std::string Packet(const std::string& payload) {
  // Padding to a multiple of 8, at least 4 bytes, as RFC 4253 requires.
  size_t pad = 8 - (payload.size() + 5) % 8;
  if (pad < 4) pad += 8;
  return U32(static_cast<uint32_t>(payload.size() + pad + 1)) + static_cast<char>(pad) + payload +
         std::string(pad, '\0');
}
std::string KexInitPayload(const std::string lists[10]) {
  std::string p = "\x14" + std::string(16, 'c');
  for (int i = 0; i < 10; ++i) p += Str(lists[i]);
  return p + '\0' + U32(0);
}
plugins::HalfStream S(const std::string& s) {
  plugins::HalfStream h;
  h.Append(s, 1);
  return h;
}

const std::string kClientLists[10] = {
    "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ext-info-c",
    "ssh-ed25519,rsa-sha2-512",
    "chacha20-poly1305@openssh.com,aes128-ctr",
    "chacha20-poly1305@openssh.com,aes128-ctr",
    "umac-64-etm@openssh.com,hmac-sha2-256",
    "umac-64-etm@openssh.com,hmac-sha2-256",
    "none,zlib@openssh.com",
    "none,zlib@openssh.com",
    "",
    ""};
const std::string kServerLists[10] = {
    "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org",
    "rsa-sha2-512,ssh-ed25519",
    "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com",
    "hmac-sha2-256,umac-64-etm@openssh.com",
    "hmac-sha2-512",
    "none",
    "none,zlib@openssh.com",
    "",
    ""};

TEST(SshParser, FullKeyExchange) {
  std::string host_key = Str("ssh-ed25519") + Str(std::string(32, 'K'));
  std::string client = "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6\r\n" +
                       Packet(KexInitPayload(kClientLists)) + Packet("\x1e" + Str("Q")) +
                       Packet("\x15") + "encrypted...";
  std::string server =
      "Welcome\r\nSSH-2.0-OpenSSH_9.2p1\r\n" + Packet(KexInitPayload(kServerLists)) +
      Packet("\x1f" + Str(host_key) + Str("f") + Str("sig")) + Packet("\x15") + "encrypted";
  // Delivered byte by byte on the client side: reassembly does not matter.
  plugins::HalfStream c;
  for (char ch : client) c.Append(std::string(1, ch), 1);
  Result r = Parse(c, S(server));
  EXPECT_TRUE(r.anomalies.empty()) << r.anomalies[0];
  EXPECT_EQ(r.client.version, "SSH-2.0-OpenSSH_9.2p1 Debian-2+deb12u6");
  EXPECT_EQ(r.server.version, "SSH-2.0-OpenSSH_9.2p1");
  EXPECT_EQ(r.server.banner, std::vector<std::string>{"Welcome"});
  ASSERT_TRUE(r.client.kexinit);
  ASSERT_TRUE(r.server.kexinit);
  const std::string hassh_algs =
      "curve25519-sha256,curve25519-sha256@libssh.org,ecdh-sha2-nistp256,ext-info-c;"
      "chacha20-poly1305@openssh.com,aes128-ctr;umac-64-etm@openssh.com,hmac-sha2-256;"
      "none,zlib@openssh.com";
  EXPECT_EQ(HasshAlgorithms(*r.client.kexinit, true), hassh_algs);
  EXPECT_EQ(Md5Hex(hassh_algs).size(), 32u);
  EXPECT_EQ(HasshAlgorithms(*r.server.kexinit, false),
            "sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org;"
            "aes256-gcm@openssh.com,chacha20-poly1305@openssh.com;hmac-sha2-512;"
            "none,zlib@openssh.com");
  EXPECT_EQ(Negotiate(kClientLists[kKex], kServerLists[kKex]), "curve25519-sha256");
  EXPECT_EQ(Negotiate(kClientLists[kHostKey], kServerLists[kHostKey]), "ssh-ed25519");
  EXPECT_EQ(Negotiate(kClientLists[kEncC2S], kServerLists[kEncC2S]),
            "chacha20-poly1305@openssh.com");
  EXPECT_EQ(Negotiate("a,b", "c"), "");
  EXPECT_EQ(r.host_key, host_key);
  EXPECT_EQ(r.host_key_type, "ssh-ed25519");
  EXPECT_EQ(Sha256Fingerprint(host_key).substr(0, 7), "SHA256:");
  EXPECT_EQ(Md5Fingerprint(host_key).size(), 47u);
  EXPECT_TRUE(r.client.newkeys);
  EXPECT_TRUE(r.server.newkeys);
}

TEST(SshParser, HostileInput) {
  std::string client = "SSH-2.0-x\r\n" + Packet(KexInitPayload(kClientLists));
  for (size_t i = 0; i < client.size(); ++i) {
    Result r = Parse(S(client.substr(0, i)), S(""));
    EXPECT_FALSE(r.client.kexinit) << i;
  }
  // A packet length beyond the cap, a line that never ends, a lying list length.
  Result big = Parse(S("SSH-2.0-x\r\n" + U32(1 << 30) + "\x04\x14"), S(""));
  EXPECT_EQ(big.client.version, "SSH-2.0-x");
  EXPECT_EQ(big.anomalies[0], "ssh_bad_packet_length");
  Limits l;
  l.max_line = 16;
  Result line = Parse(S(std::string(100, 'a')), S(""), l);
  EXPECT_EQ(line.anomalies[0], "ssh_version_line_too_long");
  std::string bad = KexInitPayload(kClientLists);
  bad[17 + 3] = '\x7f';  // first name-list length
  Result lie = Parse(S("SSH-2.0-x\r\n" + Packet(bad)), S(""));
  ASSERT_TRUE(lie.client.kexinit);
  EXPECT_EQ(lie.anomalies[0], "ssh_bad_kexinit");
  // A server that talks forever before its version line.
  std::string chatty;
  for (int i = 0; i < 100; ++i) chatty += "hello\r\n";
  Result c = Parse(S(""), S(chatty + "SSH-2.0-x\r\n"));
  EXPECT_TRUE(c.server.version.empty());
  EXPECT_EQ(c.anomalies[0], "ssh_too_many_banner_lines");
}

TEST(SshParser, Detection) {
  EXPECT_TRUE(LooksLikeSsh("SSH-2.0-OpenSSH_9.2p1\r\n"));
  EXPECT_TRUE(LooksLikeSsh("SSH-1.99-Cisco-1.25\r\n"));
  EXPECT_FALSE(LooksLikeSsh("GET / HTTP/1.1\r\n"));
  EXPECT_FALSE(LooksLikeSsh("SSH-9.9-x"));
}

}  // namespace
}  // namespace gourmet::ssh
