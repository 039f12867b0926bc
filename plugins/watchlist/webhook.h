// Posts watchlist notices as JSON to a webhook URL with libcurl. Never
// blocks an analysis thread longer than the configured timeout, and after
// `pause_after_failures` consecutive failures stops trying for `pause`, so a
// dead receiver costs analysis almost nothing. Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

#include "plugins/watchlist/watchlist_matcher.h"

namespace gourmet::watchlist {

class Webhook {
 public:
  explicit Webhook(WebhookConfig config);

  struct Outcome {
    bool sent = false;
    std::string status;           // "sent", "failed: ...", "paused: ..."
    uint64_t failures_total = 0;  // failed or skipped POSTs since start
  };
  // POSTs `json` (Content-Type: application/json); a 2xx answer is success.
  Outcome Post(const std::string& json);

 private:
  using Clock = std::chrono::steady_clock;
  const WebhookConfig config_;
  std::mutex mu_;
  int consecutive_failures_ = 0;      // guarded by mu_
  Clock::time_point paused_until_{};  // guarded by mu_
  uint64_t failures_total_ = 0;       // guarded by mu_
};

}  // namespace gourmet::watchlist
