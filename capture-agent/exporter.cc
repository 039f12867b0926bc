#include "capture-agent/exporter.h"

#include <algorithm>
#include <vector>

#include "services/log.h"

namespace gourmet::capture {
namespace {

using Batch = EncodedBatch;

ReliableSenderOptions SenderOptions(const ExporterConfig& c) {
  ReliableSenderOptions o;
  o.target = c.analyzer;
  o.peer_name = "analyzer";
  o.give_up_after = c.give_up_after;
  o.ack_timeout = c.ack_timeout;
  o.max_in_flight = c.max_in_flight;
  o.max_queued = c.max_queued;
  o.creds = c.creds;
  o.drop_oldest_when_full = c.drop_oldest_when_full;
  o.server_name = c.server_name;
  // A batch that was in flight when an analyzer died is resent alone, so
  // that a batch that kills analyzers is told apart from its neighbours.
  o.isolate_resends = true;
  return o;
}

// Marks each resend, so that analyzers can give up on connections that keep
// crashing them (their max_attempts). A batch still unacknowledged after it
// was sent alone (attempt 2) holds a poison connection: its connections are
// resent one per batch, so that only the poison ones reach max_attempts.
void OnResend(Batch* batch, std::vector<Batch>* more) {
  batch->set_attempt(std::max<uint32_t>(batch->attempt(), 1) + 1);
  const int n = batch->connections_size();
  if (batch->attempt() < 3 || n <= 1) return;
  LogWarning(
      "a batch of %d connections was not acknowledged in %d attempts; resending its "
      "connections one per batch",
      n, batch->attempt() - 1);
  for (EncodedConnection& c : batch->SplitOff(1)) {
    Batch one;
    one.set_attempt(batch->attempt());
    one.Add(std::move(c));
    more->push_back(std::move(one));
  }
}

}  // namespace

Exporter::Exporter(ExporterConfig config)
    : config_(std::move(config)),
      sender_(config_.streams, SenderOptions(config_), &EncodedAnalyzer::StartAnalyze, &OnResend) {}

Exporter::~Exporter() { sender_.Shutdown(); }

absl::Status Exporter::Add(FinishedConnection&& conn) {
  batch_.Add(EncodedConnection::Encode(std::move(conn)));
  if (static_cast<size_t>(batch_.connections_size()) >= config_.batch_connections ||
      batch_.bytes() >= config_.batch_bytes) {
    return SendPartial();
  }
  return absl::OkStatus();
}

absl::Status Exporter::SendPartial() {
  if (batch_.connections_size() == 0) return sender_.status();
  const uint64_t n = batch_.connections_size();
  EncodedBatch out = std::move(batch_);
  batch_ = EncodedBatch();
  out.set_attempt(1);
  ++batches_sent_;
  return sender_.Send(std::move(out), [this, n](const absl::Status& st) {
    if (st.ok()) {
      connections_acked_ += n;
      ++batches_acked_;
    } else {
      // Dropped by the drop_oldest policy, or refused by the analyzer pool.
      (st.code() == absl::StatusCode::kResourceExhausted ? connections_dropped_
                                                         : connections_failed_) += n;
    }
  });
}

absl::Status Exporter::Flush() {
  absl::Status st = SendPartial();
  if (!st.ok()) return st;
  return sender_.Flush();
}

}  // namespace gourmet::capture
