// Unit tests for the HTTP/1.x parser: framing, pairing, 1xx, gaps, caps.
#include "plugins/http/http_parser.h"

#include <gtest/gtest.h>

#include <string>

namespace gourmet::http {
namespace {

using plugins::HalfStream;

HalfStream S(std::string_view s) {
  HalfStream h;
  h.Append(s, 1000000);
  return h;
}

bool Has(const Result& r, const std::string& a) {
  for (const auto& x : r.anomalies) {
    if (x == a) return true;
  }
  return false;
}

TEST(HttpParser, KeepAliveThreeRequests) {
  HalfStream q =
      S("GET / HTTP/1.1\r\nHost: www.gourmet.test\r\nUser-Agent: curl/7.88.1\r\nAccept: */*\r\n\r\n"
        "GET /small.txt HTTP/1.1\r\nHost: www.gourmet.test\r\nReferer: http://x/\r\n\r\n"
        "GET /data.json HTTP/1.1\r\nHost: www.gourmet.test\r\n\r\n");
  HalfStream a =
      S("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 5\r\n\r\nhello"
        "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc"
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}");
  Result r = Parse(q, a);
  ASSERT_EQ(r.transactions.size(), 3u);
  EXPECT_TRUE(r.anomalies.empty());
  const Transaction& t0 = r.transactions[0];
  EXPECT_EQ(t0.trans_depth, 1);
  EXPECT_EQ(t0.request->method, "GET");
  EXPECT_EQ(t0.request->uri, "/");
  EXPECT_EQ(t0.request->version, "1.1");
  EXPECT_EQ(t0.request->host, "www.gourmet.test");
  EXPECT_EQ(t0.request->user_agent, "curl/7.88.1");
  EXPECT_EQ(t0.response->status_code, 200);
  EXPECT_EQ(t0.response->status_msg, "OK");
  EXPECT_EQ(t0.response->content_type, "text/html");
  EXPECT_EQ(t0.response->body_len, 5u);
  EXPECT_EQ(r.transactions[1].request->referrer, "http://x/");
  EXPECT_EQ(r.transactions[2].response->content_type, "application/json");
  EXPECT_EQ(r.transactions[2].trans_depth, 3);
}

TEST(HttpParser, PostBodyAndPipelining) {
  HalfStream q =
      S("POST /api HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
        "{\"a\":1}GET /b HTTP/1.1\r\n\r\n");
  HalfStream a =
      S("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\nHTTP/1.1 404 Not Found\r\n"
        "Content-Length: 4\r\n\r\nnope");
  Result r = Parse(q, a);
  ASSERT_EQ(r.transactions.size(), 2u);
  EXPECT_EQ(r.transactions[0].request->body_len, 7u);
  EXPECT_EQ(r.transactions[0].request->content_type, "application/json");
  EXPECT_EQ(r.transactions[0].response->status_code, 201);
  EXPECT_EQ(r.transactions[1].request->uri, "/b");
  EXPECT_EQ(r.transactions[1].response->status_code, 404);
  EXPECT_EQ(r.transactions[1].response->status_msg, "Not Found");
  EXPECT_EQ(r.transactions[1].response->body_len, 4u);
}

TEST(HttpParser, ChunkedWithTrailerAndExtensions) {
  HalfStream q = S("GET /c HTTP/1.1\r\n\r\n");
  HalfStream a =
      S("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;ext=1\r\nhello\r\nA\r\n0123456789\r\n0\r\nX-Trailer: y\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nz");
  Result r = Parse(q, a);
  ASSERT_EQ(r.transactions.size(), 2u);
  EXPECT_TRUE(r.transactions[0].response->chunked);
  EXPECT_EQ(r.transactions[0].response->body_len, 15u);
  EXPECT_EQ(r.transactions[1].response->body_len, 1u);
  EXPECT_TRUE(Has(r, "response_without_request"));
}

TEST(HttpParser, InterimResponsesAndHead) {
  HalfStream q =
      S("PUT /u HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nokHEAD / "
        "HTTP/1.1\r\n\r\n");
  HalfStream a =
      S("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"
        "HTTP/1.1 200 OK\r\nContent-Length: 999\r\n\r\n");
  Result r = Parse(q, a);
  ASSERT_EQ(r.transactions.size(), 2u);
  EXPECT_EQ(r.transactions[0].info_code, 100);
  EXPECT_EQ(r.transactions[0].info_msg, "Continue");
  EXPECT_EQ(r.transactions[0].response->status_code, 204);
  EXPECT_EQ(r.transactions[1].response->body_len, 0u);  // HEAD: no body
  EXPECT_TRUE(r.anomalies.empty());
}

TEST(HttpParser, UntilCloseBody) {
  Result r = Parse(S("GET / HTTP/1.0\r\n\r\n"), S("HTTP/1.0 200 OK\r\n\r\nall of this"));
  ASSERT_EQ(r.transactions.size(), 1u);
  EXPECT_TRUE(r.transactions[0].response->until_close);
  EXPECT_EQ(r.transactions[0].response->body_len, 11u);
  EXPECT_EQ(r.transactions[0].response->version, "1.0");
}

TEST(HttpParser, ResponseFirstAndOnlyResponses) {
  // Server speaks first (or the client side was not captured).
  Result r = Parse(S(""), S("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_EQ(r.transactions.size(), 1u);
  EXPECT_FALSE(r.transactions[0].request);
  EXPECT_EQ(r.transactions[0].response->status_code, 200);
}

TEST(HttpParser, ResponseBytesAreNeverRequests) {
  // A response body that contains a request line stays body.
  std::string body = "GET /evil HTTP/1.1\r\n\r\n";
  Result r = Parse(
      S("GET / HTTP/1.1\r\n\r\n"),
      S("HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(body.size()) + "\r\n\r\n" + body));
  ASSERT_EQ(r.transactions.size(), 1u);
  EXPECT_EQ(r.transactions[0].request->uri, "/");
}

TEST(HttpParser, MidStreamPickupResyncs) {
  Result r = Parse(S("tail of an earlier body\r\nGET /next HTTP/1.1\r\n\r\n"),
                   S("ody bytes\r\nHTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"));
  ASSERT_EQ(r.transactions.size(), 1u);
  EXPECT_EQ(r.transactions[0].request->uri, "/next");
  EXPECT_EQ(r.transactions[0].response->status_code, 200);
  EXPECT_TRUE(Has(r, "request_stream_mid_message"));
}

TEST(HttpParser, GapInsideBodyIsCounted) {
  HalfStream a;
  a.Append("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", 1, 0);
  a.Append("ghij", 2, /*gap_before=*/3);
  a.Append("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n", 3, 0);
  Result r = Parse(S("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"), a);
  ASSERT_EQ(r.transactions.size(), 2u);
  EXPECT_EQ(r.transactions[0].response->body_len, 10u);
  EXPECT_EQ(r.transactions[1].response->status_code, 404);
  EXPECT_TRUE(Has(r, "content_gap"));
}

TEST(HttpParser, GapInHeadersResyncsAtNextMessage) {
  HalfStream q;
  q.Append("GET /a HTTP/1.1\r\nHo", 1, 0);
  q.Append("GET /b HTTP/1.1\r\n\r\n", 2, /*gap_before=*/100);
  Result r = Parse(q, S(""));
  ASSERT_EQ(r.transactions.size(), 1u);
  EXPECT_EQ(r.transactions[0].request->uri, "/b");
  EXPECT_TRUE(Has(r, "gap_in_request_headers"));
}

TEST(HttpParser, GapPastBodyEndResyncs) {
  HalfStream a;
  a.Append("HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nab", 1, 0);
  a.Append("xxHTTP/1.1 500 Oops\r\n\r\n", 2, /*gap_before=*/50);
  Result r = Parse(S("GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"), a);
  ASSERT_EQ(r.transactions.size(), 2u);
  EXPECT_EQ(r.transactions[0].response->body_len, 4u);
  EXPECT_EQ(r.transactions[1].response->status_code, 500);
}

TEST(HttpParser, CapsAreEnforced) {
  std::string many;
  for (int i = 0; i < 50; ++i) many += "GET /x HTTP/1.1\r\n\r\n";
  Limits l;
  l.max_transactions = 10;
  Result r = Parse(S(many), S(""), l);
  EXPECT_EQ(r.transactions.size(), 10u);
  EXPECT_TRUE(Has(r, "too_many_transactions"));

  Limits small;
  small.max_header_bytes = 64;
  Result r2 = Parse(S("GET / HTTP/1.1\r\nX: " + std::string(200, 'a') + "\r\n\r\n"), S(""), small);
  ASSERT_EQ(r2.transactions.size(), 1u);  // partial result: the request line
  EXPECT_EQ(r2.transactions[0].request->uri, "/");
  EXPECT_TRUE(Has(r2, "request_header_too_long"));
}

TEST(HttpParser, Detection) {
  EXPECT_TRUE(LooksLikeRequest("GET / HTTP/1.1\r\n"));
  EXPECT_TRUE(LooksLikeRequest("POST /x"));
  EXPECT_TRUE(LooksLikeRequest("BREW /pot HTTP/1.1\r\n"));
  EXPECT_FALSE(LooksLikeRequest("BREW /pot\r\n"));
  EXPECT_FALSE(LooksLikeRequest("\x16\x03\x01\x02\x00"));
  EXPECT_FALSE(LooksLikeRequest("SSH-2.0-OpenSSH_9.2"));
  EXPECT_TRUE(LooksLikeResponse("HTTP/1.1 200 OK\r\n"));
  EXPECT_TRUE(LooksLikeResponse("HTTP/1.0 404\r\n"));
  EXPECT_FALSE(LooksLikeResponse("HTTP/1.1 abc OK\r\n"));
  EXPECT_FALSE(LooksLikeResponse("HTTP/"));
}

TEST(HttpParser, EveryPrefixIsSafe) {
  const std::string q =
      "POST /p HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
  const std::string a = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n";
  for (size_t i = 0; i <= q.size(); ++i) {
    Result r = Parse(S(q.substr(0, i)), S(a.substr(0, std::min(i, a.size()))));
    EXPECT_LE(r.transactions.size(), 1u);
  }
  Result full = Parse(S(q), S(a));
  ASSERT_EQ(full.transactions.size(), 1u);
  EXPECT_EQ(full.transactions[0].request->body_len, 3u);
  EXPECT_EQ(full.transactions[0].response->body_len, 2u);
}

}  // namespace
}  // namespace gourmet::http
