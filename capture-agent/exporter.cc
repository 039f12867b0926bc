#include "capture-agent/exporter.h"

namespace gourmet::capture {
namespace {

ReliableSenderOptions SenderOptions(const ExporterConfig& c) {
  ReliableSenderOptions o;
  o.target = c.analyzer;
  o.peer_name = "analyzer";
  o.give_up_after = c.give_up_after;
  o.ack_timeout = c.ack_timeout;
  o.max_in_flight = c.max_in_flight;
  o.max_queued = c.max_queued;
  return o;
}

}  // namespace

Exporter::Exporter(ExporterConfig config)
    : config_(std::move(config)),
      sender_(SenderOptions(config_),
              [](gourmet::v1::Analyzer::Stub* stub, grpc::ClientContext* ctx, Sender::Reactor* r) {
                stub->async()->Analyze(ctx, r);
              }) {}

Exporter::~Exporter() { sender_.Shutdown(); }

absl::Status Exporter::Add(gourmet::v1::Connection&& conn) {
  batch_bytes_ += conn.ByteSizeLong();
  *batch_.add_connections() = std::move(conn);
  if (static_cast<size_t>(batch_.connections_size()) >= config_.batch_connections ||
      batch_bytes_ >= config_.batch_bytes) {
    return SendPartial();
  }
  return absl::OkStatus();
}

absl::Status Exporter::SendPartial() {
  if (batch_.connections_size() == 0) return sender_.status();
  const uint64_t n = batch_.connections_size();
  gourmet::v1::ConnectionBatch out;
  out.Swap(&batch_);
  batch_bytes_ = 0;
  ++batches_sent_;
  return sender_.Send(std::move(out), [this, n](const absl::Status& st) {
    if (st.ok()) {
      connections_acked_ += n;
      ++batches_acked_;
    } else {
      connections_failed_ += n;
    }
  });
}

absl::Status Exporter::Flush() {
  absl::Status st = SendPartial();
  if (!st.ok()) return st;
  return sender_.Flush();
}

}  // namespace gourmet::capture
