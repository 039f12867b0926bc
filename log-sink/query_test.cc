// The JSON scanner, the predicate parser and the evaluator: every filter of
// QueryRequest, every operator, and the messages of bad queries.
#include "log-sink/query.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "log-sink/json_scan.h"
#include "log-sink/record_format.h"
#include "log-sink/test_records.h"

namespace gourmet::sink {
namespace {

using gourmet::v1::QueryRequest;

// A record as the sink writes it: http results in an array, services, IPv6.
const char kHttp[] =
    R"({"ts":1796397424.947038,"uid":"CWx3Fz1dGm4kS2mA8","community_id":"1:abc=",)"
    R"("id":{"orig_h":"10.0.0.1","orig_p":51234,"resp_h":"10.0.0.2","resp_p":80},)"
    R"("proto":"tcp","service":["http","tls"],"duration":0.042100,"orig_bytes":412,)"
    R"("resp_bytes":1500000,"conn_state":"SF","history":"ShADadfF","sensor":"node-1",)"
    R"("http":[{"method":"GET","host":"example.test","uri":"/a\"b","status_code":200},)"
    R"({"method":"POST","host":"api.example.test","status_code":404}],)"
    R"("flag":true,"nothing":null,"esc":"caf\u00e9 \\ done"})";
const char kDns[] =
    R"({"ts":1796397425.000001,"uid":"CDns","community_id":"1:dns=",)"
    R"("id":{"orig_h":"2001:db8::5","orig_p":5353,"resp_h":"2001:db8::53","resp_p":53},)"
    R"("proto":"udp","service":["dns"],"duration":0.001,"orig_bytes":40,"resp_bytes":80,)"
    R"("conn_state":"SF","history":"Dd","sensor":"node-2",)"
    R"("dns":{"query":"www.netflix.com","qtype_name":"AAAA","answers":["a","b"]}})";

bool Where(const std::string& expr, const std::string& line) {
  auto f = Filter::FromWhere(expr);
  EXPECT_TRUE(f.ok()) << expr << ": " << f.status();
  return f.ok() && f->Matches(line);
}

std::string BadWhere(const std::string& expr) {
  auto f = Filter::FromWhere(expr);
  EXPECT_FALSE(f.ok()) << expr;
  EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(f.status().message());
}

bool Req(const QueryRequest& r, const std::string& line) {
  auto f = Filter::Compile(r);
  EXPECT_TRUE(f.ok()) << f.status();
  return f.ok() && f->Matches(line);
}

TEST(JsonScanTest, ValidatesStrictly) {
  EXPECT_TRUE(json::IsObject(kHttp));
  EXPECT_TRUE(json::IsObject(kDns));
  EXPECT_TRUE(json::IsObject(R"( {"a":[1,-2.5e3,{"b":[]},{}],"c":"\u00e9"} )"));
  for (const char* bad :
       {"", "{", "{}x", R"({"a":})", R"({"a":01})", R"({"a":"x)", R"({"a":tru})", R"([1,2])",
        R"({"a":1,})", R"({"a":"\q"})", "{\"a\":\"\x01\"}", R"({"a" 1})", R"({"a":[1 2]})"}) {
    EXPECT_FALSE(json::IsObject(bad)) << bad;
  }
  // Deep nesting is scanned without recursion.
  std::string deep = "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}";
  EXPECT_TRUE(json::IsObject(deep));
}

TEST(JsonScanTest, ReadsLineKeys) {
  json::LineKeys k;
  ASSERT_TRUE(json::ReadLineKeys(kHttp, &k));
  EXPECT_EQ(k.ts_us, 1796397424947038);
  EXPECT_EQ(k.uid, "CWx3Fz1dGm4kS2mA8");
  EXPECT_EQ(k.community_id, "1:abc=");
  EXPECT_FALSE(json::ReadLineKeys(R"({"ts":1.0})", &k));  // no uid
  EXPECT_FALSE(json::ReadLineKeys(R"({"uid":"C1"} trailing)", &k));
}

TEST(JsonScanTest, ParsesMicrosExactly) {
  int64_t us;
  ASSERT_TRUE(json::ParseMicros("1796397424.947038", &us));
  EXPECT_EQ(us, 1796397424947038);
  ASSERT_TRUE(json::ParseMicros("12", &us));
  EXPECT_EQ(us, 12000000);
  ASSERT_TRUE(json::ParseMicros("0.5", &us));
  EXPECT_EQ(us, 500000);
  ASSERT_TRUE(json::ParseMicros("1.5e3", &us));
  EXPECT_EQ(us, 1500000000);
  EXPECT_FALSE(json::ParseMicros("abc", &us));
}

TEST(JsonScanTest, DecodesStrings) {
  std::string s;
  ASSERT_TRUE(json::DecodeString(R"("a\"b\\c\n\u00e9\ud83d\ude00")", &s));
  EXPECT_EQ(s, "a\"b\\c\n\xc3\xa9\xf0\x9f\x98\x80");
}

TEST(FilterTest, Equality) {
  EXPECT_TRUE(Where(R"(http.host == "example.test")", kHttp));
  EXPECT_TRUE(Where(R"(http.host = api.example.test)", kHttp));  // any element, bare word
  EXPECT_FALSE(Where(R"(http.host == "other.test")", kHttp));
  EXPECT_TRUE(Where(R"(http.uri == "/a\"b")", kHttp));
  EXPECT_TRUE(Where(R"(esc == "café \\ done")", kHttp));
  EXPECT_TRUE(Where("http.status_code == 404", kHttp));
  EXPECT_TRUE(Where("flag == true", kHttp));
  EXPECT_TRUE(Where("nothing == null", kHttp));
  EXPECT_FALSE(Where("flag == false", kHttp));
  EXPECT_TRUE(Where("service == tls", kHttp));
  EXPECT_TRUE(Where("dns.answers == b", kDns));
  EXPECT_TRUE(Where("conn_state != S0", kHttp));
  EXPECT_FALSE(Where("missing.field != x", kHttp));  // absent fields match nothing
  EXPECT_TRUE(Where(R"(id.resp_p == "80" or id.resp_p == 80)", kHttp));
  EXPECT_FALSE(Where(R"(id.resp_p == "80")", kHttp));  // a string is not a number
}

TEST(FilterTest, Comparisons) {
  EXPECT_TRUE(Where("orig_bytes > 100", kHttp));
  EXPECT_FALSE(Where("orig_bytes > 1000000", kHttp));
  EXPECT_TRUE(Where("resp_bytes > 1000000", kHttp));
  EXPECT_TRUE(Where("resp_bytes >= 1.5e6", kHttp));
  EXPECT_TRUE(Where("duration < 0.05", kHttp));
  EXPECT_TRUE(Where("duration <= 0.0421", kHttp));
  EXPECT_TRUE(Where("http.status_code >= 400", kHttp));  // the second element
  EXPECT_FALSE(Where("http.host > 3", kHttp));           // strings are not ordered
  EXPECT_TRUE(Where("ts >= 1796397424.947038", kHttp));  // exact at the microsecond
  EXPECT_FALSE(Where("ts > 1796397424.947038", kHttp));
}

TEST(FilterTest, TextOperators) {
  EXPECT_TRUE(Where(R"(dns.query contains "netflix")", kDns));
  EXPECT_TRUE(Where("dns.query contains netflix", kDns));
  EXPECT_FALSE(Where("dns.query contains amazon", kDns));
  EXPECT_TRUE(Where("dns.query startswith www.", kDns));
  EXPECT_TRUE(Where("dns.query endswith .com", kDns));
  EXPECT_FALSE(Where("dns.query endswith .org", kDns));
  EXPECT_TRUE(Where("esc contains é", kHttp));  // decoded escapes
}

TEST(FilterTest, ExistsInAndLogic) {
  EXPECT_TRUE(Where("dns exists", kDns));
  EXPECT_FALSE(Where("dns exists", kHttp));
  EXPECT_TRUE(Where("service in [dns, http]", kHttp));
  EXPECT_TRUE(Where(R"(proto in ["icmp", "udp"])", kDns));
  EXPECT_FALSE(Where("proto in [icmp, tcp]", kDns));
  EXPECT_TRUE(Where("id.orig_h in 10.0.0.0/8", kHttp));
  EXPECT_FALSE(Where("id.orig_h in 10.0.1.0/24", kHttp));
  EXPECT_TRUE(Where("id.resp_h in 2001:db8::/32", kDns));
  EXPECT_TRUE(Where("not dns exists and (proto == tcp || proto == udp)", kHttp));
  EXPECT_FALSE(Where("!(proto == tcp)", kHttp));
  EXPECT_TRUE(Where("proto == udp OR orig_bytes > 100 AND conn_state == SF", kHttp));
  EXPECT_FALSE(Where("(proto == udp or orig_bytes > 100) and conn_state == S0", kHttp));
}

TEST(FilterTest, RequestFields) {
  QueryRequest r;
  r.set_from_us(1796397424947038);
  EXPECT_TRUE(Req(r, kHttp));
  r.set_from_us(1796397424947039);
  EXPECT_FALSE(Req(r, kHttp));
  r.Clear();
  r.set_to_us(1796397424947038);  // exclusive
  EXPECT_FALSE(Req(r, kHttp));
  r.set_to_us(1796397424947039);
  EXPECT_TRUE(Req(r, kHttp));

  r.Clear();
  r.set_uid("CWx3Fz1dGm4kS2mA8");
  EXPECT_TRUE(Req(r, kHttp));
  EXPECT_FALSE(Req(r, kDns));
  r.Clear();
  r.set_community_id("1:dns=");
  EXPECT_TRUE(Req(r, kDns));
  EXPECT_FALSE(Req(r, kHttp));

  r.Clear();
  r.set_addr("10.0.0.2");  // either side
  EXPECT_TRUE(Req(r, kHttp));
  r.set_addr("10.0.0.1");
  EXPECT_TRUE(Req(r, kHttp));
  r.set_addr("2001:db8:0::53");  // any spelling of the address
  EXPECT_TRUE(Req(r, kDns));
  r.set_addr("10.0.0.0/30");
  EXPECT_TRUE(Req(r, kHttp));
  EXPECT_FALSE(Req(r, kDns));
  r.Clear();
  r.set_orig_h("10.0.0.1");
  EXPECT_TRUE(Req(r, kHttp));
  r.set_orig_h("10.0.0.2");
  EXPECT_FALSE(Req(r, kHttp));
  r.Clear();
  r.set_resp_h("10.0.0.2");
  EXPECT_TRUE(Req(r, kHttp));
  r.set_resp_h("10.0.0.1");
  EXPECT_FALSE(Req(r, kHttp));

  r.Clear();
  r.set_port(51234);
  EXPECT_TRUE(Req(r, kHttp));
  r.set_port(80);
  EXPECT_TRUE(Req(r, kHttp));
  EXPECT_FALSE(Req(r, kDns));
  r.Clear();
  r.set_orig_p(80);
  EXPECT_FALSE(Req(r, kHttp));
  r.Clear();
  r.set_resp_p(80);
  EXPECT_TRUE(Req(r, kHttp));

  r.Clear();
  r.set_proto("UDP");
  EXPECT_TRUE(Req(r, kDns));
  EXPECT_FALSE(Req(r, kHttp));
  r.Clear();
  r.set_service("tls");
  EXPECT_TRUE(Req(r, kHttp));
  EXPECT_FALSE(Req(r, kDns));
  r.Clear();
  r.set_conn_state("sf");
  EXPECT_TRUE(Req(r, kHttp));
  r.set_conn_state("REJ");
  EXPECT_FALSE(Req(r, kHttp));

  // All together.
  r.Clear();
  r.set_proto("tcp");
  r.set_resp_p(80);
  r.set_service("http");
  r.add_where(R"(http.host == "example.test")");
  r.add_where("orig_bytes > 400");
  EXPECT_TRUE(Req(r, kHttp));
  r.add_where("orig_bytes > 500");
  EXPECT_FALSE(Req(r, kHttp));
}

TEST(FilterTest, WorksOnRenderedRecords) {
  const std::string line = RenderRecord(testing::TestRecord(6, "CAbc"));  // dns, udp
  EXPECT_TRUE(Where("dns.query contains netflix", line));
  QueryRequest r;
  r.set_resp_h("192.168.0.6");
  r.set_service("dns");
  r.set_proto("udp");
  r.set_port(53);
  EXPECT_TRUE(Req(r, line));
}

TEST(FilterTest, NeedlesAreImpliedByTheFilter) {
  QueryRequest r;
  r.set_proto("udp");
  r.add_where(R"(http.host == "example.test")");
  auto f = Filter::Compile(r);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->needle(), "\"example.test\"");  // the longest
  r.Clear();
  r.set_conn_state("REJ");
  EXPECT_EQ(Filter::Compile(r)->needle(), "\"conn_state\":\"REJ\"");
  r.Clear();
  r.add_where("dns.query contains netflix or proto == tcp");  // no single literal
  EXPECT_EQ(Filter::Compile(r)->needle(), "");
  r.Clear();
  r.add_where("orig_bytes > 5");
  EXPECT_EQ(Filter::Compile(r)->needle(), "");
  r.Clear();
  r.set_addr("2001:db8:0::53");
  EXPECT_EQ(Filter::Compile(r)->needle(), "\"2001:db8::53\"");
}

TEST(FilterTest, BadPredicatesSayWhatIsWrong) {
  EXPECT_THAT(BadWhere(""), ::testing::HasSubstr("the predicate is empty"));
  EXPECT_THAT(BadWhere("http.host"),
              ::testing::HasSubstr("expected an operator after 'http.host'"));
  EXPECT_THAT(BadWhere("http.host is x"), ::testing::HasSubstr("found 'is'"));
  EXPECT_THAT(BadWhere("orig_bytes >"), ::testing::HasSubstr("expected a value after '>'"));
  EXPECT_THAT(BadWhere("orig_bytes > lots"),
              ::testing::HasSubstr("'>' compares numbers, and 'lots' is not a number"));
  EXPECT_THAT(BadWhere(R"(http.host == "open)"), ::testing::HasSubstr("not closed"));
  EXPECT_THAT(BadWhere("(proto == tcp"), ::testing::HasSubstr("expected ')'"));
  EXPECT_THAT(BadWhere("proto == tcp udp"), ::testing::HasSubstr("unexpected 'udp'"));
  EXPECT_THAT(BadWhere("a..b == 1"), ::testing::HasSubstr("is not a field name"));
  EXPECT_THAT(BadWhere("id.orig_h in 10.0.0.0/40"), ::testing::HasSubstr("address prefix"));
  EXPECT_THAT(BadWhere("proto in [tcp udp]"), ::testing::HasSubstr("expected ',' or ']'"));
  EXPECT_THAT(BadWhere("a == 1 & b == 2"), ::testing::HasSubstr("'&' is not an operator"));
  EXPECT_THAT(BadWhere("x contains \"\""), ::testing::HasSubstr("needs a non-empty text"));
  // The message names the predicate and the column.
  EXPECT_THAT(BadWhere("orig_bytes > lots"),
              ::testing::HasSubstr("where[0] `orig_bytes > lots`: at column 14"));
}

TEST(FilterTest, BadFieldsSayWhatIsWrong) {
  auto bad = [](QueryRequest r) {
    auto f = Filter::Compile(r);
    EXPECT_FALSE(f.ok());
    EXPECT_EQ(f.status().code(), absl::StatusCode::kInvalidArgument);
    return std::string(f.status().message());
  };
  QueryRequest r;
  r.set_addr("10.0.0.300");
  EXPECT_THAT(bad(r), ::testing::HasSubstr("addr '10.0.0.300' is not an IP address or CIDR"));
  r.Clear();
  r.set_resp_h("example.test");
  EXPECT_THAT(bad(r), ::testing::HasSubstr("resp_h 'example.test'"));
  r.Clear();
  r.set_port(70000);
  EXPECT_THAT(bad(r), ::testing::HasSubstr("port 70000 is out of range"));
  r.Clear();
  r.set_proto("sctp");
  EXPECT_THAT(bad(r), ::testing::HasSubstr("proto 'sctp' is not one of tcp, udp, icmp"));
  r.Clear();
  r.set_conn_state("XX");
  EXPECT_THAT(bad(r), ::testing::HasSubstr("conn_state 'XX' is not one of S0, S1, SF"));
  r.Clear();
  r.set_from_us(20);
  r.set_to_us(10);
  EXPECT_THAT(bad(r), ::testing::HasSubstr("the time range is empty"));
  r.Clear();
  r.add_where("proto == tcp");
  r.add_where("proto ==");
  EXPECT_THAT(bad(r), ::testing::HasSubstr("where[1]"));
  r.Clear();
  r.set_order(static_cast<QueryRequest::Order>(7));
  EXPECT_THAT(bad(r), ::testing::HasSubstr("order 7 is not one of"));
}

}  // namespace
}  // namespace gourmet::sink
