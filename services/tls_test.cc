#include "services/tls.h"

#include <cstdlib>
#include <string>

#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/grpc_util.h"

namespace gourmet {
namespace {

using ::testing::HasSubstr;

// A CA, a server and a client certificate signed by it, and a stray key,
// made with the openssl command line.
class TlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(::testing::TempDir() + "/tls_test_" + std::to_string(getpid()));
    const std::string d = *dir_;
    const std::string cmd =
        "set -e; mkdir -p " + d + "; cd " + d +
        "; openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "
        "/CN=gourmet-test-ca"
        " 2>/dev/null"
        "; for n in server client; do"
        "   openssl req -newkey rsa:2048 -nodes -keyout $n.key -out $n.csr -subj /CN=gourmet-$n "
        "2>/dev/null;"
        "   printf 'subjectAltName=DNS:gourmet-%s\\n' $n > $n.ext;"
        "   openssl x509 -req -in $n.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out $n.pem "
        "-days 2"
        "     -extfile $n.ext 2>/dev/null;"
        " done"
        "; openssl genrsa -out stray.key 2048 2>/dev/null; echo not a pem > junk.pem";
    ASSERT_EQ(std::system(cmd.c_str()), 0);
  }
  static std::string F(const char* name) { return *dir_ + "/" + name; }
  static std::string* dir_;
};
std::string* TlsTest::dir_ = nullptr;

TEST_F(TlsTest, MissingAndWrongFilesAreClearErrors) {
  TlsConfig t{F("nope.pem"), F("server.key"), "", ""};
  EXPECT_THAT(std::string(MakeServerCredentials(t).status().message()),
              HasSubstr("tls.cert '" + F("nope.pem")));
  t = {F("junk.pem"), F("server.key"), "", ""};
  EXPECT_THAT(std::string(MakeServerCredentials(t).status().message()),
              HasSubstr("not a PEM file"));
  t = {F("server.pem"), F("stray.key"), "", ""};
  EXPECT_THAT(std::string(MakeServerCredentials(t).status().message()),
              HasSubstr("does not match"));
  t = {F("server.pem"), "", "", ""};
  EXPECT_THAT(std::string(MakeServerCredentials(t).status().message()), HasSubstr("go together"));
  t = {"", "", F("ca.pem"), ""};
  EXPECT_THAT(std::string(MakeServerCredentials(t).status().message()),
              HasSubstr("needs tls.cert"));
}

bool Connects(int port, const TlsConfig& client) {
  auto creds = MakeChannelCredentials(client);
  EXPECT_TRUE(creds.ok()) << creds.status();
  auto ch = MakeChannel("127.0.0.1:" + std::to_string(port), *creds, client.server_name);
  return ch->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(3)));
}

TEST_F(TlsTest, MutualTlsAcceptsOnlyClientsWithACertificateFromTheCa) {
  auto creds = MakeServerCredentials({F("server.pem"), F("server.key"), F("ca.pem"), ""});
  ASSERT_TRUE(creds.ok()) << creds.status();
  auto server = StartGrpcServer("127.0.0.1:0", {}, *creds);
  ASSERT_TRUE(server.ok()) << server.status();
  const int port = server->port;
  EXPECT_TRUE(Connects(port, {F("client.pem"), F("client.key"), F("ca.pem"), "gourmet-server"}));
  EXPECT_FALSE(Connects(port, {"", "", F("ca.pem"), "gourmet-server"}));  // no client certificate
  EXPECT_FALSE(
      Connects(port, {F("client.pem"), F("client.key"), F("ca.pem"), "elsewhere"}));  // wrong name
  auto plain = MakeChannel("127.0.0.1:" + std::to_string(port));
  EXPECT_FALSE(plain->WaitForConnected(absl::ToChronoTime(absl::Now() + absl::Seconds(2))));
  server->server->Shutdown();
}

}  // namespace
}  // namespace gourmet
