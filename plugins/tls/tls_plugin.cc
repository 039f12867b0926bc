// `tls` plugin: parses the TLS handshake of a connection and records one
// object with Zeek ssl.log field names, JA3/JA3S/JA4 and the server's
// certificate chain (when it is in clear, TLS 1.2 and below).
#include <gourmet/sdk.h>

#include <nlohmann/json.hpp>
#include <string>

#include "plugins/common/conn_streams.h"
#include "plugins/tls/tls_parser.h"

namespace {

using nlohmann::json;
namespace tls = gourmet::tls;

json CertJson(const tls::Certificate& c) {
  json j = {{"sha256", c.sha256}};
  if (!c.parsed) return j;
  j["subject"] = c.subject;
  j["issuer"] = c.issuer;
  j["serial"] = c.serial;
  j["not_valid_before"] = c.not_valid_before;
  j["not_valid_after"] = c.not_valid_after;
  j["key_type"] = c.key_type;
  j["key_length"] = c.key_length;
  j["sig_alg"] = c.sig_alg;
  if (!c.san_dns.empty()) j["san_dns"] = c.san_dns;
  if (!c.san_ip.empty()) j["san_ip"] = c.san_ip;
  if (!c.san_email.empty()) j["san_email"] = c.san_email;
  if (!c.san_uri.empty()) j["san_uri"] = c.san_uri;
  return j;
}

class TlsPlugin : public gourmet::Plugin {
 public:
  static std::unique_ptr<TlsPlugin> Create(const std::string& config, std::string* error) {
    json cfg = json::parse(config, nullptr, /*allow_exceptions=*/false);
    if (cfg.is_discarded() || !cfg.is_object()) {
      *error = "tls: config is not a JSON object";
      return nullptr;
    }
    return std::make_unique<TlsPlugin>();
  }

  // Content, not port: a handshake record carrying a hello starts a direction.
  bool Filter(const gourmet::Connection& conn) override {
    if (conn.proto() != "tcp") return false;
    return tls::LooksLikeTls(gourmet::plugins::FirstPayload(conn, GOURMET_DIR_ORIG)) ||
           tls::LooksLikeTls(gourmet::plugins::FirstPayload(conn, GOURMET_DIR_RESP));
  }

  gourmet::Result Analyze(const gourmet::Connection& conn) override {
    gourmet::plugins::ConnStreams s = gourmet::plugins::SplitStreams(conn);
    tls::Result r = tls::Parse(s.orig, s.resp, limits_);
    if (!r.client_hello && !r.server_hello) return gourmet::Result::None();
    json j = json::object();
    if (r.server_hello) {
      const tls::ServerHello& sh = *r.server_hello;
      j["version"] = tls::VersionName(r.version());
      j["cipher"] = tls::CipherName(sh.cipher);
      const uint16_t curve = sh.key_share_group ? sh.key_share_group : r.ske_curve;
      if (curve) j["curve"] = tls::GroupName(curve);
      if (!sh.alpn.empty()) j["next_protocol"] = sh.alpn;
      // Resumed: a TLS 1.2 server echoing the client's session id.
      j["resumed"] = r.version() != 0x0304 && r.client_hello &&
                     !r.client_hello->session_id.empty() &&
                     sh.session_id == r.client_hello->session_id;
      const std::string ja3s = tls::Ja3sString(sh);
      j["ja3s_string"] = ja3s;
      j["ja3s"] = tls::Md5Hex(ja3s);
    }
    // Established: both sides moved on to encrypted data after the hellos.
    j["established"] =
        r.server_hello.has_value() && (r.client_change_cipher_spec || r.client_app_data) &&
        (r.server_change_cipher_spec || r.server_app_data) && r.alert_description < 0;
    if (r.client_hello) {
      const tls::ClientHello& ch = *r.client_hello;
      if (ch.has_sni) j["server_name"] = ch.server_name;
      j["client_version"] = tls::VersionName(ch.version);
      if (!ch.supported_versions.empty()) {
        json v = json::array();
        for (uint16_t x : ch.supported_versions) {
          if (!tls::IsGrease(x)) v.push_back(tls::VersionName(x));
        }
        j["client_supported_versions"] = v;
      }
      if (!ch.alpn.empty()) j["client_alpn"] = ch.alpn;
      json curves = json::array();
      for (uint16_t g : ch.supported_groups) {
        if (!tls::IsGrease(g)) curves.push_back(tls::GroupName(g));
      }
      j["client_curves"] = curves;
      const std::string ja3 = tls::Ja3String(ch);
      j["ja3_string"] = ja3;
      j["ja3"] = tls::Md5Hex(ja3);
      j["ja4"] = tls::Ja4(ch);
      j["ja4_r"] = tls::Ja4Raw(ch);
    }
    if (!r.certificates.empty()) {
      json chain = json::array();
      for (const auto& c : r.certificates) chain.push_back(CertJson(c));
      if (r.certificates[0].parsed) {
        j["subject"] = r.certificates[0].subject;
        j["issuer"] = r.certificates[0].issuer;
      }
      j["cert_chain"] = chain;
    }
    if (r.alert_description >= 0) {
      j["last_alert"] = r.alert_description;
    }
    if (!r.anomalies.empty()) j["anomalies"] = r.anomalies;
    return gourmet::Result::Json(j.dump(-1, ' ', false, json::error_handler_t::replace));
  }

 private:
  tls::Limits limits_;
};

}  // namespace

GOURMET_PLUGIN(TlsPlugin, "tls", "1.0.0")
