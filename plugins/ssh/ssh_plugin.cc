// `ssh` plugin: the version strings, HASSH/HASSHServer, the negotiated
// algorithms and the server's host key, with Zeek ssh.log field names.
#include <gourmet/sdk.h>

#include <nlohmann/json.hpp>
#include <string>

#include "plugins/common/conn_streams.h"
#include "plugins/ssh/ssh_parser.h"

namespace {

using nlohmann::json;
namespace ssh = gourmet::ssh;

class SshPlugin : public gourmet::Plugin {
 public:
  static std::unique_ptr<SshPlugin> Create(const std::string& config, std::string* error) {
    json cfg = json::parse(config, nullptr, /*allow_exceptions=*/false);
    if (cfg.is_discarded() || !cfg.is_object()) {
      *error = "ssh: config is not a JSON object";
      return nullptr;
    }
    return std::make_unique<SshPlugin>();
  }

  // Content, not port: either side starts with an SSH identification string.
  bool Filter(const gourmet::Connection& conn) override {
    if (conn.proto() != "tcp") return false;
    return ssh::LooksLikeSsh(gourmet::plugins::FirstPayload(conn, GOURMET_DIR_ORIG)) ||
           ssh::LooksLikeSsh(gourmet::plugins::FirstPayload(conn, GOURMET_DIR_RESP));
  }

  gourmet::Result Analyze(const gourmet::Connection& conn) override {
    gourmet::plugins::ConnStreams s = gourmet::plugins::SplitStreams(conn);
    ssh::Result r = ssh::Parse(s.orig, s.resp, limits_);
    if (r.client.version.empty() && r.server.version.empty()) return gourmet::Result::None();
    json j = json::object();
    const std::string& any = r.server.version.empty() ? r.client.version : r.server.version;
    j["version"] = any.rfind("SSH-1.99-", 0) == 0 || any.rfind("SSH-2.0-", 0) == 0 ? 2 : 1;
    if (!r.client.version.empty()) j["client"] = r.client.version;
    if (!r.server.version.empty()) j["server"] = r.server.version;
    if (!r.server.banner.empty()) j["server_banner"] = r.server.banner;
    j["hasshVersion"] = "1.1";
    if (r.client.kexinit) {
      const std::string algs = ssh::HasshAlgorithms(*r.client.kexinit, /*client=*/true);
      j["hassh"] = ssh::Md5Hex(algs);
      j["hasshAlgorithms"] = algs;
      j["cshka"] = r.client.kexinit->lists[ssh::kHostKey];
    }
    if (r.server.kexinit) {
      const std::string algs = ssh::HasshAlgorithms(*r.server.kexinit, /*client=*/false);
      j["hasshServer"] = ssh::Md5Hex(algs);
      j["hasshServerAlgorithms"] = algs;
      j["sshka"] = r.server.kexinit->lists[ssh::kHostKey];
    }
    if (r.client.kexinit && r.server.kexinit) {
      const auto& c = r.client.kexinit->lists;
      const auto& v = r.server.kexinit->lists;
      auto put = [&j](const char* key, std::string value) {
        if (!value.empty()) j[key] = std::move(value);
      };
      put("kex_alg", ssh::Negotiate(c[ssh::kKex], v[ssh::kKex]));
      put("host_key_alg", ssh::Negotiate(c[ssh::kHostKey], v[ssh::kHostKey]));
      put("cipher_alg", ssh::Negotiate(c[ssh::kEncC2S], v[ssh::kEncC2S]));
      put("mac_alg", ssh::Negotiate(c[ssh::kMacC2S], v[ssh::kMacC2S]));
      put("compression_alg", ssh::Negotiate(c[ssh::kCompC2S], v[ssh::kCompC2S]));
    }
    if (!r.host_key.empty()) {
      j["host_key"] = ssh::Md5Fingerprint(r.host_key);
      j["host_key_sha256"] = ssh::Sha256Fingerprint(r.host_key);
      j["host_key_type"] = r.host_key_type;
    }
    j["newkeys"] = r.client.newkeys && r.server.newkeys;
    if (!r.anomalies.empty()) j["anomalies"] = r.anomalies;
    return gourmet::Result::Json(j.dump(-1, ' ', false, json::error_handler_t::replace));
  }

 private:
  ssh::Limits limits_;
};

}  // namespace

GOURMET_PLUGIN(SshPlugin, "ssh", "1.0.0")
