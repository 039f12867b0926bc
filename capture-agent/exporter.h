// Exporter: collects finished connections into batches and delivers them to
// the analyzer pool with at-least-once semantics (see ReliableSender). Each
// batch carries its delivery attempt; a batch that keeps failing is resent
// alone, then one connection per batch, so that an analyzer's max_attempts
// sets aside only the connections that crash it.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "capture-agent/encoded_batch.h"
#include "capture-agent/flow_table.h"
#include "services/sender_pool.h"

namespace gourmet::capture {

struct ExporterConfig {
  std::string analyzer;  // gRPC target of the analyzer pool
  size_t batch_connections = 256;
  size_t batch_bytes = 1 << 20;
  absl::Duration max_delay = absl::Seconds(1);  // live capture: a partial batch waits at most this
  absl::Duration give_up_after = absl::Seconds(30);
  absl::Duration ack_timeout = absl::Seconds(120);
  // Few, small batches in flight: payload waiting here is memory, and acks
  // come back fast enough that more would not add throughput.
  size_t max_in_flight = 4;
  size_t max_queued = 8;
  // Streams to the analyzer pool: with round_robin over its addresses they
  // spread over the analyzers; batches go to the least loaded stream.
  int streams = 4;
  bool drop_oldest_when_full = false;  // batch.when_full: block (default) or drop_oldest
  std::shared_ptr<grpc::ChannelCredentials> creds;  // null: plaintext
  std::string server_name;                          // expected in the analyzers' certificates
};

class Exporter {
 public:
  explicit Exporter(ExporterConfig config);
  ~Exporter();

  // Adds one connection (encoded here, its payload referenced); sends a
  // batch when it is full. Blocks while the send queue is full. Fails once
  // the analyzer pool is unreachable.
  absl::Status Add(FinishedConnection&& conn);
  // Sends the open batch, if any, without waiting.
  absl::Status SendPartial();
  // Sends the open batch and waits until every batch is acknowledged.
  absl::Status Flush();

  uint64_t connections_acked() const { return connections_acked_.load(); }
  uint64_t connections_failed() const { return connections_failed_.load(); }
  uint64_t connections_dropped() const { return connections_dropped_.load(); }
  uint64_t batches_acked() const { return batches_acked_.load(); }
  uint64_t batches_sent() const { return batches_sent_; }
  uint64_t resent() { return sender_.resent(); }
  size_t pending() { return sender_.pending(); }
  uint64_t dropped_batches() { return sender_.dropped(); }
  uint64_t blocked_sends() { return sender_.blocked_sends(); }
  absl::Duration blocked_time() { return sender_.blocked_time(); }

 private:
  using Sender = SenderPool<EncodedAnalyzer, EncodedBatch, gourmet::v1::BatchAck>;

  ExporterConfig config_;
  Sender sender_;
  EncodedBatch batch_;
  uint64_t batches_sent_ = 0;
  std::atomic<uint64_t> connections_acked_{0};
  std::atomic<uint64_t> connections_failed_{0};
  std::atomic<uint64_t> connections_dropped_{0};
  std::atomic<uint64_t> batches_acked_{0};
};

}  // namespace gourmet::capture
