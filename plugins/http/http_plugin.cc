// `http` plugin: runs the HTTP/1.x parser over a connection and records one
// JSON object per transaction, with Zeek http.log field names.
#include <gourmet/sdk.h>

#include <nlohmann/json.hpp>
#include <string>

#include "plugins/common/conn_streams.h"
#include "plugins/http/http_parser.h"

namespace {

using nlohmann::json;

void PutIf(json& j, const char* key, const std::string& v) {
  if (!v.empty()) j[key] = v;
}

class HttpPlugin : public gourmet::Plugin {
 public:
  static std::unique_ptr<HttpPlugin> Create(const std::string& config, std::string* error) {
    auto p = std::make_unique<HttpPlugin>();
    json cfg = json::parse(config, nullptr, /*allow_exceptions=*/false);
    if (cfg.is_discarded() || !cfg.is_object()) {
      *error = "http: config is not a JSON object";
      return nullptr;
    }
    if (cfg.contains("max_transactions")) {
      if (!cfg["max_transactions"].is_number_unsigned() || cfg["max_transactions"] == 0) {
        *error = "http: max_transactions must be a positive integer";
        return nullptr;
      }
      p->limits_.max_transactions = cfg["max_transactions"].get<size_t>();
    }
    return p;
  }

  // Content, not port: the first client bytes look like a request line, or
  // the first server bytes like a status line.
  bool Filter(const gourmet::Connection& conn) override {
    if (conn.proto() != "tcp") return false;
    return gourmet::http::LooksLikeRequest(
               gourmet::plugins::FirstPayload(conn, GOURMET_DIR_ORIG)) ||
           gourmet::http::LooksLikeResponse(gourmet::plugins::FirstPayload(conn, GOURMET_DIR_RESP));
  }

  gourmet::Result Analyze(const gourmet::Connection& conn) override {
    gourmet::plugins::ConnStreams s = gourmet::plugins::SplitStreams(conn);
    gourmet::http::Result r = gourmet::http::Parse(s.orig, s.resp, limits_);
    if (r.transactions.empty()) return gourmet::Result::None();
    json out = json::array();
    for (const gourmet::http::Transaction& t : r.transactions) {
      json j = json::object();
      const int64_t ts = t.request ? t.request->ts_us : t.response->ts_us;
      j["ts"] = static_cast<double>(ts) / 1e6;
      j["trans_depth"] = t.trans_depth;
      if (t.request) {
        const auto& q = *t.request;
        j["method"] = q.method;
        PutIf(j, "host", q.host);
        j["uri"] = q.uri;
        j["version"] = q.version;
        PutIf(j, "user_agent", q.user_agent);
        PutIf(j, "referrer", q.referrer);
        PutIf(j, "origin", q.origin);
        j["request_body_len"] = q.body_len;
        PutIf(j, "request_content_type", q.content_type);
      }
      if (t.response) {
        const auto& a = *t.response;
        if (!t.request) j["version"] = a.version;
        j["status_code"] = a.status_code;
        j["status_msg"] = a.status_msg;
        j["response_body_len"] = a.body_len;
        PutIf(j, "response_content_type", a.content_type);
        if (a.chunked) j["response_chunked"] = true;
        if (t.response->ts_us && t.request) {
          j["rtt"] = static_cast<double>(a.ts_us - t.request->ts_us) / 1e6;
        }
      }
      if (t.info_code) {
        j["info_code"] = t.info_code;
        j["info_msg"] = t.info_msg;
      }
      out.push_back(std::move(j));
    }
    // Connection-level anomalies go on the first transaction (Zeek's weirds).
    if (!r.anomalies.empty()) out[0]["anomalies"] = r.anomalies;
    return gourmet::Result::Json(out.dump(-1, ' ', false, json::error_handler_t::replace));
  }

 private:
  gourmet::http::Limits limits_;
};

}  // namespace

GOURMET_PLUGIN(HttpPlugin, "http", "1.0.0")
