// HTTP/1.x parser: turns the two directions of a connection into the list of
// request/response transactions (keep-alive, pipelining, 1xx, chunked,
// Content-Length and until-close bodies). Pure functions over byte buffers;
// tolerant of gaps, partial streams and garbage: it never throws, resyncs on
// the next message start, and records what it could not parse as anomalies.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "plugins/common/half_stream.h"

namespace gourmet::http {

struct Limits {
  size_t max_transactions = 1000;       // per connection
  size_t max_header_bytes = 64 * 1024;  // one message's start line + headers
  size_t max_headers = 256;             // header lines per message
  size_t max_value_bytes = 8 * 1024;    // a recorded field (uri, user agent...) is cut here
};

struct Request {
  int64_t ts_us = 0;
  std::string method, uri, version;  // version as "1.1"
  std::string host, user_agent, referrer, origin, content_type;
  uint64_t body_len = 0;
  bool chunked = false;
};

struct Response {
  int64_t ts_us = 0;
  std::string version;
  int status_code = 0;
  std::string status_msg;
  std::string content_type;
  uint64_t body_len = 0;
  bool chunked = false;
  bool until_close = false;  // body delimited by the end of the connection
};

struct Transaction {
  int trans_depth = 0;  // 1-based position in the connection, as in Zeek
  std::optional<Request> request;
  std::optional<Response> response;
  // The last interim (1xx) response before the final one, if any.
  int info_code = 0;
  std::string info_msg;
};

struct Result {
  std::vector<Transaction> transactions;
  std::vector<std::string> anomalies;  // named, deduplicated, in order seen
};

// Whether `s` starts like an HTTP/1.x request ("GET /x HTTP/1.1...").
bool LooksLikeRequest(std::string_view s);
// Whether `s` starts like an HTTP/1.x response ("HTTP/1.1 200").
bool LooksLikeResponse(std::string_view s);

// Every request of the client direction, in order.
std::vector<Request> ParseRequests(const plugins::HalfStream& orig, const Limits& limits,
                                   std::vector<std::string>* anomalies);
// Every response of the server direction; `requests` tells which had no body
// (HEAD) and where a tunnel starts (CONNECT).
std::vector<Response> ParseResponses(const plugins::HalfStream& resp,
                                     const std::vector<Request>& requests, const Limits& limits,
                                     std::vector<std::string>* anomalies);

// Both directions, paired in order into transactions.
Result Parse(const plugins::HalfStream& orig, const plugins::HalfStream& resp,
             const Limits& limits = {});

}  // namespace gourmet::http
