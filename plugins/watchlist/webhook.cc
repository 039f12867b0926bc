#include "plugins/watchlist/webhook.h"

#include <curl/curl.h>

#include <memory>

namespace gourmet::watchlist {
namespace {

size_t Discard(char*, size_t size, size_t n, void*) { return size * n; }

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// Empty on success, else why it failed.
std::string PostOnce(const WebhookConfig& config, const std::string& json) {
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (!curl) return "curl_easy_init failed";
  std::unique_ptr<curl_slist, SlistDeleter> headers(
      curl_slist_append(nullptr, "Content-Type: application/json"));
  char error[CURL_ERROR_SIZE] = {};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, config.url.c_str());
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, json.data());
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(json.size()));
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(config.timeout_s * 1000));
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(config.connect_timeout_s * 1000));
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);  // timeouts without SIGALRM: we are not alone
  curl_easy_setopt(c, CURLOPT_USERAGENT, "gourmet-watchlist/1.0");
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, &Discard);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);
  const CURLcode rc = curl_easy_perform(c);
  if (rc != CURLE_OK) return error[0] ? error : curl_easy_strerror(rc);
  long status = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  if (status < 200 || status > 299) return "HTTP status " + std::to_string(status);
  return "";
}

}  // namespace

Webhook::Webhook(WebhookConfig config) : config_(std::move(config)) {
  // Not thread-safe in every libcurl; plugins are created before any analysis.
  static const CURLcode init = curl_global_init(CURL_GLOBAL_DEFAULT);
  (void)init;
}

Webhook::Outcome Webhook::Post(const std::string& json) {
  Outcome out;
  {
    std::lock_guard<std::mutex> l(mu_);
    const Clock::time_point now = Clock::now();
    if (now < paused_until_) {
      ++failures_total_;
      const auto left = std::chrono::ceil<std::chrono::seconds>(paused_until_ - now).count();
      out.status = "paused: " + std::to_string(consecutive_failures_) +
                   " consecutive failures; next try in " + std::to_string(left) + " s";
      out.failures_total = failures_total_;
      return out;
    }
  }
  const std::string error = PostOnce(config_, json);
  std::lock_guard<std::mutex> l(mu_);
  if (error.empty()) {
    consecutive_failures_ = 0;
    out.sent = true;
    out.status = "sent";
  } else {
    ++failures_total_;
    if (++consecutive_failures_ >= config_.pause_after_failures) {
      paused_until_ = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                         std::chrono::duration<double>(config_.pause_s));
    }
    out.status = "failed: " + error;
  }
  out.failures_total = failures_total_;
  return out;
}

}  // namespace gourmet::watchlist
