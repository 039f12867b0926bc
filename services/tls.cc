#include "services/tls.h"

#include <openssl/pem.h>
#include <openssl/x509.h>

#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"

namespace gourmet {
namespace {

absl::StatusOr<std::string> ReadPem(const std::string& key, const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(key, " '", path, "': cannot read the file"));
  std::stringstream ss;
  ss << in.rdbuf();
  if (ss.str().find("-----BEGIN ") == std::string::npos) {
    return absl::InvalidArgumentError(absl::StrCat(key, " '", path, "': not a PEM file"));
  }
  return ss.str();
}

// Parses the certificate and key and checks that they belong together.
absl::Status CheckPair(const TlsConfig& tls, const std::string& cert, const std::string& key) {
  BIO* cb = BIO_new_mem_buf(cert.data(), static_cast<int>(cert.size()));
  X509* x = PEM_read_bio_X509(cb, nullptr, nullptr, nullptr);
  BIO_free(cb);
  if (!x)
    return absl::InvalidArgumentError(
        absl::StrCat("tls.cert '", tls.cert_file, "': no certificate in it"));
  BIO* kb = BIO_new_mem_buf(key.data(), static_cast<int>(key.size()));
  EVP_PKEY* k = PEM_read_bio_PrivateKey(kb, nullptr, nullptr, nullptr);
  BIO_free(kb);
  absl::Status st;
  if (!k) {
    st = absl::InvalidArgumentError(
        absl::StrCat("tls.key '", tls.key_file, "': no private key in it"));
  } else if (X509_check_private_key(x, k) != 1) {
    st = absl::InvalidArgumentError(absl::StrCat("tls.key '", tls.key_file,
                                                 "' does not match the certificate in tls.cert '",
                                                 tls.cert_file, "'"));
  }
  EVP_PKEY_free(k);
  X509_free(x);
  return st;
}

struct Loaded {
  std::string cert, key, ca;
};

absl::StatusOr<Loaded> Load(const TlsConfig& tls, bool need_pair) {
  Loaded l;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    return absl::InvalidArgumentError("tls.cert and tls.key go together: give both or neither");
  }
  if (need_pair && tls.cert_file.empty()) {
    return absl::InvalidArgumentError("a TLS server needs tls.cert and tls.key");
  }
  if (!tls.cert_file.empty()) {
    auto cert = ReadPem("tls.cert", tls.cert_file);
    if (!cert.ok()) return cert.status();
    auto key = ReadPem("tls.key", tls.key_file);
    if (!key.ok()) return key.status();
    absl::Status st = CheckPair(tls, *cert, *key);
    if (!st.ok()) return st;
    l.cert = std::move(*cert);
    l.key = std::move(*key);
  }
  if (!tls.ca_file.empty()) {
    auto ca = ReadPem("tls.ca", tls.ca_file);
    if (!ca.ok()) return ca.status();
    l.ca = std::move(*ca);
  }
  return l;
}

}  // namespace

TlsConfig TlsConfigFromYaml(ConfigReader* r, absl::string_view prefix) {
  TlsConfig t;
  t.cert_file = r->String(absl::StrCat(prefix, ".cert"), "");
  t.key_file = r->String(absl::StrCat(prefix, ".key"), "");
  t.ca_file = r->String(absl::StrCat(prefix, ".ca"), "");
  t.server_name = r->String(absl::StrCat(prefix, ".server_name"), "");
  return t;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> MakeServerCredentials(
    const TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureServerCredentials();
  auto l = Load(tls, /*need_pair=*/true);
  if (!l.ok()) return l.status();
  grpc::SslServerCredentialsOptions opts(
      l->ca.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                    : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
  opts.pem_root_certs = l->ca;
  opts.pem_key_cert_pairs.push_back({l->key, l->cert});
  return grpc::SslServerCredentials(opts);
}

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> MakeChannelCredentials(
    const TlsConfig& tls) {
  if (!tls.enabled()) return grpc::InsecureChannelCredentials();
  auto l = Load(tls, /*need_pair=*/false);
  if (!l.ok()) return l.status();
  grpc::SslCredentialsOptions opts;
  opts.pem_root_certs = l->ca;
  opts.pem_private_key = l->key;
  opts.pem_cert_chain = l->cert;
  return grpc::SslCredentials(opts);
}

}  // namespace gourmet
