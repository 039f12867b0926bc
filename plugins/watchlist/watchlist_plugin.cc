// `watchlist` plugin: Gourmet's bedtime analyzer, generalised. Reads the
// results of the dns, http and tls plugins (so it must run after them:
// depends_on: [dns, http, tls]), notices watched domains, optionally only
// within time-of-day windows of the connection's own time, records the
// notices and can POST them to a webhook.
#include <gourmet/sdk.h>

#include <memory>
#include <string>

#include "plugins/watchlist/watchlist_matcher.h"
#include "plugins/watchlist/webhook.h"

namespace {

namespace wl = gourmet::watchlist;

class WatchlistPlugin : public gourmet::Plugin {
 public:
  static std::unique_ptr<WatchlistPlugin> Create(const std::string& json, std::string* error) {
    wl::Config config;
    if (!wl::ParseConfig(json, &config, error)) return nullptr;
    return std::make_unique<WatchlistPlugin>(std::move(config));
  }

  explicit WatchlistPlugin(wl::Config config) : config_(std::move(config)) {
    if (!config_.webhook.url.empty()) webhook_ = std::make_unique<wl::Webhook>(config_.webhook);
  }

  bool Filter(const gourmet::Connection& conn) override {
    if (config_.rules.empty()) return false;  // configured to watch nothing
    return !conn.result("dns").empty() || !conn.result("http").empty() ||
           !conn.result("tls").empty();
  }

  gourmet::Result Analyze(const gourmet::Connection& conn) override {
    const std::vector<wl::Notice> notices = wl::Match(
        config_, wl::CollectSightings(conn.result("dns"), conn.result("http"), conn.result("tls")),
        conn.ts_us());
    if (notices.empty()) return gourmet::Result::None();
    const std::string notices_json = wl::NoticesJson(notices);
    const std::string local_time = wl::LocalTime(config_, conn.ts_us());
    std::string json =
        "{\"notices\":" + notices_json + ",\"local_time\":" + wl::JsonString(local_time);
    if (webhook_) {
      wl::ConnInfo info;
      info.uid = conn.uid();
      info.proto = conn.proto();
      info.orig_h = conn.orig_h();
      info.resp_h = conn.resp_h();
      info.orig_p = conn.orig_p();
      info.resp_p = conn.resp_p();
      info.ts_us = conn.ts_us();
      const wl::Webhook::Outcome o =
          webhook_->Post(wl::WebhookBody(info, local_time, notices_json));
      json += ",\"webhook\":" + wl::JsonString(o.status) +
              ",\"webhook_failures\":" + std::to_string(o.failures_total);
    }
    json += "}";
    // A notice is not a protocol: never listed in `service`.
    return gourmet::Result::Json(std::move(json), /*recognised=*/false);
  }

 private:
  const wl::Config config_;
  std::unique_ptr<wl::Webhook> webhook_;
};

}  // namespace

GOURMET_PLUGIN(WatchlistPlugin, "watchlist", "1.0.0")
