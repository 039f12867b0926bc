#include "log-sink/merger.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "services/log.h"

namespace gourmet::sink {

BatchTracker::BatchTracker(size_t records, std::function<void(const absl::Status&)> done)
    : remaining_(records), done_(std::move(done)) {}

void BatchTracker::RecordDone(const absl::Status& st) {
  absl::Status final_status;
  {
    absl::MutexLock l(&mu_);
    if (!st.ok() && status_.ok()) status_ = st;
    if (--remaining_ > 0) return;
    final_status = status_;
  }
  done_(final_status);
}

std::string PartName(const gourmet::v1::Record& r) {
  return r.part().empty() ? "analysis" : r.part();
}

Merger::Merger(MergeConfig config, std::function<bool(const std::string&)> written)
    : config_(std::move(config)), written_(std::move(written)) {}

bool Merger::Complete(const Pending& p) const {
  for (const std::string& want : config_.parts) {
    const bool have = std::any_of(p.parts.begin(), p.parts.end(),
                                  [&want](const auto& r) { return PartName(r) == want; });
    if (!have) return false;
  }
  return true;
}

Merger::Output Merger::Finish(Pending p, bool complete) {
  Output out;
  out.waiters = std::move(p.waiters);
  // Parts in the configured order, then any others in arrival order.
  std::vector<const gourmet::v1::Record*> order;
  for (const std::string& name : config_.parts) {
    for (const auto& r : p.parts) {
      if (PartName(r) == name) order.push_back(&r);
    }
  }
  for (const auto& r : p.parts) {
    if (std::find(config_.parts.begin(), config_.parts.end(), PartName(r)) == config_.parts.end())
      order.push_back(&r);
  }
  gourmet::v1::Record& m = out.record;
  *m.mutable_conn() = order.front()->conn();
  for (const gourmet::v1::Record* r : order) {
    for (const auto& [key, json] : r->results()) {
      if (!m.results().contains(key)) {
        (*m.mutable_results())[key] = json;
      } else if (m.results().at(key) != json) {
        (*m.mutable_errors())[key] =
            absl::StrCat("parts disagree on '", key, "'; kept the first in merge.parts order");
      }
    }
    for (const std::string& s : r->services()) {
      if (std::find(m.services().begin(), m.services().end(), s) == m.services().end())
        m.add_services(s);
    }
    for (const auto& [key, msg] : r->errors()) {
      if (!m.errors().contains(key)) (*m.mutable_errors())[key] = msg;
    }
  }
  if (!complete) {
    for (const std::string& want : config_.parts) {
      const bool have = std::any_of(p.parts.begin(), p.parts.end(),
                                    [&want](const auto& r) { return PartName(r) == want; });
      if (!have) out.missing.push_back(want);
    }
    ++incomplete_;
    if (recent_incomplete_.size() >= 100000) recent_incomplete_.clear();
    recent_incomplete_.insert(m.conn().uid());
  }
  return out;
}

void Merger::Add(gourmet::v1::Record part, std::shared_ptr<BatchTracker> waiter, absl::Time now,
                 std::vector<Output>* out) {
  const std::string uid = part.conn().uid();
  absl::MutexLock l(&mu_);
  const std::string name = PartName(part);
  if (std::find(config_.parts.begin(), config_.parts.end(), name) == config_.parts.end() &&
      unknown_parts_.insert(name).second) {
    LogWarning(
        "part '%s' is not one of the expected parts (merge.parts); it is merged but "
        "does not complete a connection",
        name);
  }
  auto it = pending_.find(uid);
  if (it == pending_.end()) {
    if (recent_incomplete_.contains(uid)) ++late_parts_;
    Pending p;
    p.parts.push_back(std::move(part));
    p.waiters.push_back(std::move(waiter));
    // Already written (a resend), or complete by itself: straight to the log,
    // which drops a uid it has.
    if (Complete(p) || written_(uid)) {
      out->push_back(Finish(std::move(p), true));
      return;
    }
    p.deadline = now + config_.window;
    deadlines_.emplace_back(p.deadline, uid);
    pending_.emplace(uid, std::move(p));
    ++pending_parts_;
    // The cap: the oldest waiting connection goes out with what it has.
    while (pending_.size() > config_.max_pending && !deadlines_.empty()) {
      auto [deadline, old] = std::move(deadlines_.front());
      deadlines_.pop_front();
      auto o = pending_.find(old);
      if (o == pending_.end()) continue;
      pending_parts_ -= o->second.parts.size();
      ++evicted_;
      out->push_back(Finish(std::move(o->second), false));
      pending_.erase(o);
    }
    return;
  }
  Pending& p = it->second;
  p.waiters.push_back(std::move(waiter));
  const bool resent = std::any_of(p.parts.begin(), p.parts.end(),
                                  [&name](const auto& r) { return PartName(r) == name; });
  if (resent) {
    ++duplicate_parts_;  // acknowledged with the record it belongs to
    return;
  }
  p.parts.push_back(std::move(part));
  ++pending_parts_;
  if (Complete(p)) {
    pending_parts_ -= p.parts.size();
    out->push_back(Finish(std::move(p), true));
    pending_.erase(it);
  }
}

void Merger::Expire(absl::Time now, std::vector<Output>* out) {
  absl::MutexLock l(&mu_);
  while (!deadlines_.empty() && deadlines_.front().first <= now) {
    const std::string uid = std::move(deadlines_.front().second);
    deadlines_.pop_front();
    auto it = pending_.find(uid);
    if (it == pending_.end()) continue;  // completed meanwhile
    pending_parts_ -= it->second.parts.size();
    out->push_back(Finish(std::move(it->second), false));
    pending_.erase(it);
  }
}

absl::Time Merger::NextDeadline() const {
  absl::MutexLock l(&mu_);
  return deadlines_.empty() ? absl::InfiniteFuture() : deadlines_.front().first;
}

void Merger::Clear() {
  absl::MutexLock l(&mu_);
  pending_.clear();
  deadlines_.clear();
  pending_parts_ = 0;
}

size_t Merger::pending_parts() const {
  absl::MutexLock l(&mu_);
  return pending_parts_;
}
uint64_t Merger::duplicate_parts() const {
  absl::MutexLock l(&mu_);
  return duplicate_parts_;
}
uint64_t Merger::incomplete() const {
  absl::MutexLock l(&mu_);
  return incomplete_;
}
uint64_t Merger::late_parts() const {
  absl::MutexLock l(&mu_);
  return late_parts_;
}
uint64_t Merger::evicted() const {
  absl::MutexLock l(&mu_);
  return evicted_;
}

}  // namespace gourmet::sink
