// Unit tests for the TLS parser: hellos, reassembly across records and
// segments, the JA3/JA4 reference vectors, certificates, hostile input.
#include "plugins/tls/tls_parser.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <string>
#include <vector>

namespace gourmet::tls {
namespace {

std::string U8(int v) { return std::string(1, static_cast<char>(v)); }
std::string U16(int v) { return U8(v >> 8) + U8(v & 0xff); }
std::string U24(size_t v) {
  return U8(static_cast<int>(v >> 16)) + U16(static_cast<int>(v & 0xffff));
}
std::string V8(const std::string& s) { return U8(static_cast<int>(s.size())) + s; }
std::string V16(const std::string& s) { return U16(static_cast<int>(s.size())) + s; }
std::string V24(const std::string& s) { return U24(s.size()) + s; }
std::string List16(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += U16(x);
  return s;
}
std::string Ext(int type, const std::string& data) { return U16(type) + V16(data); }
std::string Handshake(int type, const std::string& body) { return U8(type) + V24(body); }
std::string Record(int type, const std::string& body, int version = 0x0301) {
  return U8(type) + U16(version) + V16(body);
}
std::string ClientHelloBody(int version, const std::vector<int>& ciphers, const std::string& exts) {
  return U16(version) + std::string(32, 'r') + V8("") + V16(List16(ciphers)) + V8(U8(0)) +
         (exts.empty() ? "" : V16(exts));
}
plugins::HalfStream S(const std::string& s) {
  plugins::HalfStream h;
  h.Append(s, 1);
  return h;
}

// The JA3 reference: version 769, 12 ciphers, SNI + groups + point formats.
std::string Ja3Hello() {
  std::string exts = Ext(0, V16(U8(0) + V16("example.test"))) + Ext(10, V16(List16({23, 24, 25}))) +
                     Ext(11, V8(U8(0)));
  return ClientHelloBody(769, {47, 53, 5, 10, 49161, 49162, 49171, 49172, 50, 56, 19, 4}, exts);
}

TEST(TlsParser, Ja3ReferenceVector) {
  ClientHello ch;
  ASSERT_TRUE(ParseClientHello(Ja3Hello(), {}, &ch));
  EXPECT_EQ(Ja3String(ch), "769,47-53-5-10-49161-49162-49171-49172-50-56-19-4,0-10-11,23-24-25,0");
  EXPECT_EQ(Md5Hex(Ja3String(ch)), "ada70206e40642a3e4461f35503241d5");
  EXPECT_EQ(ch.server_name, "example.test");
}

// The JA4 specification's example ClientHello (a Chrome-like TLS 1.3 hello
// with GREASE, SNI and ALPN h2).
std::string Ja4Hello() {
  std::vector<int> ciphers = {0x0a0a, 0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030,
                              0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035};
  std::string exts;
  exts += Ext(0x1a1a, "");
  exts += Ext(0x0000, V16(U8(0) + V16("example.test")));
  exts += Ext(0x0017, "");
  exts += Ext(0xff01, U8(0));
  exts += Ext(0x000a, V16(List16({0x2a2a, 0x001d, 0x0017, 0x0018})));
  exts += Ext(0x000b, V8(U8(0)));
  exts += Ext(0x0023, "");
  exts += Ext(0x0010, V16(V8("h2") + V8("http/1.1")));
  exts += Ext(0x0005, U8(1) + U16(0) + U16(0));
  exts +=
      Ext(0x000d, V16(List16({0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601})));
  exts += Ext(0x0012, "");
  exts += Ext(0x0033, V16(U16(0x001d) + V16(std::string(32, 'k'))));
  exts += Ext(0x002d, V8(U8(1)));
  exts += Ext(0x002b, V8(List16({0x3a3a, 0x0304, 0x0303})));
  exts += Ext(0x001b, V8(U16(2)));
  exts += Ext(0x4469, V16(V8("h2")));
  exts += Ext(0x0015, std::string(20, '\0'));
  exts += Ext(0x4a4a, U8(0));
  return ClientHelloBody(0x0303, ciphers, exts);
}

TEST(TlsParser, Ja4SpecExample) {
  ClientHello ch;
  ASSERT_TRUE(ParseClientHello(Ja4Hello(), {}, &ch));
  EXPECT_EQ(Ja4(ch), "t13d1516h2_8daaf6152771_e5627efa2ab1");
  EXPECT_EQ(Ja4Raw(ch),
            "t13d1516h2_002f,0035,009c,009d,1301,1302,1303,c013,c014,c02b,c02c,c02f,c030,cca8,"
            "cca9_0005,000a,000b,000d,0012,0015,0017,001b,0023,002b,002d,0033,4469,ff01_0403,"
            "0804,0401,0503,0805,0501,0806,0601");
  EXPECT_EQ(ch.alpn, (std::vector<std::string>{"h2", "http/1.1"}));
  // GREASE stays out of JA3 too.
  EXPECT_EQ(Ja3String(ch).find("2570"), std::string::npos);
}

TEST(TlsParser, Ja4EdgeCases) {
  ClientHello ch;
  ASSERT_TRUE(ParseClientHello(ClientHelloBody(0x0303, {0x002f}, ""), {}, &ch));
  // No SNI, one cipher, no extensions, no ALPN; sha256("002f") = ba72b8082249...
  EXPECT_EQ(Ja4(ch), "t12i010000_ba72b8082249_000000000000");
  EXPECT_EQ(Ja4Raw(ch), "t12i010000_002f_");
  ClientHello odd;
  ASSERT_TRUE(ParseClientHello(
      ClientHelloBody(0x0301, {}, Ext(0x0010, V16(V8(std::string("\xab\x01", 2))))), {}, &odd));
  EXPECT_EQ(Ja4(odd).substr(0, 10), "t10i0001a1");
  EXPECT_EQ(Ja4(odd).substr(11, 12), "000000000000");
}

TEST(TlsParser, HandshakeSplitAcrossRecordsAndSegments) {
  const std::string hs = Handshake(1, Ja4Hello());
  // The ClientHello in three records, delivered in 7-byte pieces.
  std::string records =
      Record(22, hs.substr(0, 10)) + Record(22, hs.substr(10, 100)) + Record(22, hs.substr(110));
  plugins::HalfStream client;
  for (size_t i = 0; i < records.size(); i += 7) client.Append(records.substr(i, 7), 1);
  std::string sh_body = U16(0x0303) + std::string(32, 's') + V8("") + U16(0x1301) + U8(0) +
                        V16(Ext(0x002b, U16(0x0304)) + Ext(0x0033, U16(0x001d) + V16("k")));
  std::string server = Record(22, Handshake(2, sh_body), 0x0303) + Record(20, U8(1), 0x0303) +
                       Record(23, "encrypted", 0x0303);
  Result r = Parse(client, S(server));
  ASSERT_TRUE(r.client_hello);
  ASSERT_TRUE(r.server_hello);
  EXPECT_TRUE(r.anomalies.empty()) << r.anomalies[0];
  EXPECT_EQ(Ja4(*r.client_hello), "t13d1516h2_8daaf6152771_e5627efa2ab1");
  EXPECT_EQ(r.version(), 0x0304);
  EXPECT_EQ(VersionName(r.version()), "TLSv13");
  EXPECT_EQ(CipherName(r.server_hello->cipher), "TLS_AES_128_GCM_SHA256");
  EXPECT_EQ(GroupName(r.server_hello->key_share_group), "x25519");
  EXPECT_EQ(Ja3sString(*r.server_hello), "771,4865,43-51");
  EXPECT_TRUE(r.server_change_cipher_spec);
  EXPECT_TRUE(LooksLikeTls(records));
  EXPECT_TRUE(LooksLikeTls(server));
  EXPECT_FALSE(LooksLikeTls("GET / HTTP/1.1"));
}

std::string MakeCertDer() {
  EVP_PKEY* key = EVP_EC_gen("P-256");
  X509* x = X509_new();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), 0x1234);
  ASN1_TIME_set(X509_getm_notBefore(x), 1767225600);  // 2026-01-01
  ASN1_TIME_set(X509_getm_notAfter(x), 1798761600);   // 2027-01-01
  X509_NAME* name = X509_get_subject_name(x);
  X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("Gourmet"), -1, -1, 0);
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("www.gourmet.test"), -1, -1, 0);
  X509_set_issuer_name(x, name);
  X509_set_pubkey(x, key);
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, x, x, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, NID_subject_alt_name,
                                            "DNS:www.gourmet.test,DNS:gourmet.test,IP:10.77.0.2");
  X509_add_ext(x, ext, -1);
  X509_EXTENSION_free(ext);
  X509_sign(x, key, EVP_sha256());
  unsigned char* der = nullptr;
  int n = i2d_X509(x, &der);
  std::string out(reinterpret_cast<char*>(der), n);
  OPENSSL_free(der);
  X509_free(x);
  EVP_PKEY_free(key);
  return out;
}

TEST(TlsParser, Tls12CertificateChain) {
  const std::string der = MakeCertDer();
  std::string sh_body = U16(0x0303) + std::string(32, 's') + V8("sid") + U16(0xc02f) + U8(0) +
                        V16(Ext(0xff01, U8(0)) + Ext(0x0010, V16(V8("http/1.1"))));
  std::string flight = Handshake(2, sh_body) + Handshake(11, V24(V24(der) + V24("garbage"))) +
                       Handshake(12, U8(3) + U16(29) + V8("pub")) + Handshake(14, "");
  // One record holding several messages, split in two records mid-message.
  std::string server =
      Record(22, flight.substr(0, 50), 0x0303) + Record(22, flight.substr(50), 0x0303);
  Result r = Parse(S(Record(22, Handshake(1, Ja3Hello()))), S(server));
  ASSERT_TRUE(r.server_hello);
  EXPECT_EQ(VersionName(r.version()), "TLSv12");
  EXPECT_EQ(CipherName(r.server_hello->cipher), "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256");
  EXPECT_EQ(r.server_hello->alpn, "http/1.1");
  EXPECT_EQ(GroupName(r.ske_curve), "x25519");
  ASSERT_EQ(r.certificates.size(), 2u);
  const Certificate& c = r.certificates[0];
  ASSERT_TRUE(c.parsed);
  EXPECT_EQ(c.subject, "CN=www.gourmet.test,O=Gourmet");
  EXPECT_EQ(c.issuer, "CN=www.gourmet.test,O=Gourmet");
  EXPECT_EQ(c.serial, "1234");
  EXPECT_EQ(c.not_valid_before, 1767225600);
  EXPECT_EQ(c.not_valid_after, 1798761600);
  EXPECT_EQ(c.san_dns, (std::vector<std::string>{"www.gourmet.test", "gourmet.test"}));
  EXPECT_EQ(c.san_ip, (std::vector<std::string>{"10.77.0.2"}));
  EXPECT_EQ(c.key_type, "ecdsa");
  EXPECT_EQ(c.key_length, 256);
  EXPECT_EQ(c.sha256.size(), 64u);
  EXPECT_FALSE(r.certificates[1].parsed);  // "garbage": an anomaly, not a failure
  EXPECT_EQ(r.anomalies, (std::vector<std::string>{"tls_bad_certificate"}));
}

TEST(TlsParser, HostileInputGivesPartialResults) {
  const std::string hello = Record(22, Handshake(1, Ja4Hello()));
  for (size_t i = 0; i < hello.size(); ++i) {
    Result r = Parse(S(hello.substr(0, i)), S(""));
    EXPECT_FALSE(r.client_hello) << i;  // incomplete: no hello, no crash
  }
  // A ClientHello whose extensions block lies about its length.
  std::string body = Ja3Hello();
  body[63] = '\x7f';  // the extensions block's length
  ASSERT_EQ(body[64], static_cast<char>(Ja3Hello().size() - 65));
  Result bad = Parse(S(Record(22, Handshake(1, body))), S(""));
  ASSERT_TRUE(bad.client_hello);
  EXPECT_EQ(bad.client_hello->ciphers.size(), 12u);  // read before the damage
  EXPECT_EQ(bad.anomalies, (std::vector<std::string>{"tls_bad_client_hello"}));
  // A handshake length beyond the cap stops the direction.
  Limits small;
  small.max_handshake_bytes = 64;
  Result big = Parse(S(Record(22, Handshake(1, Ja4Hello()))), S(""), small);
  EXPECT_FALSE(big.client_hello);
  EXPECT_EQ(big.anomalies[0], "tls_handshake_too_long");
  // Not TLS at all.
  Result none = Parse(S("SSH-2.0-OpenSSH_9.2\r\n"), S(""));
  EXPECT_FALSE(none.client_hello);
  EXPECT_EQ(none.anomalies[0], "tls_bad_record");
}

TEST(TlsParser, Names) {
  EXPECT_EQ(VersionName(0x0303), "TLSv12");
  EXPECT_EQ(CipherName(0xcca8), "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256");
  EXPECT_EQ(CipherName(0x1234), "unknown-4660");
  EXPECT_EQ(GroupName(23), "secp256r1");
  EXPECT_TRUE(IsGrease(0x0a0a));
  EXPECT_TRUE(IsGrease(0xfafa));
  EXPECT_FALSE(IsGrease(0x0a1a));
}

}  // namespace
}  // namespace gourmet::tls
