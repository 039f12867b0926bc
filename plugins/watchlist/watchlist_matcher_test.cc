#include "plugins/watchlist/watchlist_matcher.h"

#include <gourmet/config.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gourmet::watchlist {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

// The sample pcap's first packet: Friday 2026-12-04 15:33:44.461639 UTC.
constexpr int64_t kFriday1533Utc = 1796398424461639;

// Shapes of the real dns, http and tls results (plugins/*/..._plugin.cc).
constexpr char kDns[] =
    R"([{"query":"WWW.Gourmet.Test.","qtype_name":"A","answers":[)"
    R"({"name":"www.gourmet.test","type":"CNAME","data":"edge.cdn.example","ttl":5},)"
    R"({"name":"edge.cdn.example","type":"A","data":"10.0.0.1","ttl":5}]},)"
    R"({"query":"other.test","answers":[]}])";
constexpr char kHttp[] =
    R"([{"method":"GET","host":"www.gourmet.test:8080","uri":"/"},{"host":"[fd00::1]:80"},)"
    R"({"host":"www.gourmet.test"}])";
constexpr char kTls[] = R"({"server_name":"api.gourmet.test","version":"TLSv13"})";

Config Parse(const std::string& json) {
  Config c;
  std::string error;
  EXPECT_TRUE(ParseConfig(json, &c, &error)) << json << ": " << error;
  return c;
}

std::string ConfigError(const std::string& json) {
  Config c;
  std::string error;
  EXPECT_FALSE(ParseConfig(json, &c, &error)) << json;
  return error;
}

std::vector<std::string> Names(const std::vector<Sighting>& s) {
  std::vector<std::string> out;
  for (const auto& x : s) out.push_back(std::string(SourceName(x.source)) + " " + x.name);
  return out;
}

TEST(CollectSightingsTest, NamesFromEachResult) {
  EXPECT_THAT(Names(CollectSightings(kDns, kHttp, kTls)),
              ElementsAre("dns.query www.gourmet.test", "dns.answer www.gourmet.test",
                          "dns.answer edge.cdn.example", "dns.query other.test",
                          "http.host www.gourmet.test", "tls.sni api.gourmet.test"));
}

TEST(CollectSightingsTest, MissingOrMalformedResultsGiveNothing) {
  EXPECT_TRUE(CollectSightings("", "", "").empty());
  EXPECT_TRUE(CollectSightings("{\"query\":\"x\"}", "[1,2]", "[\"x\"]").empty());
  EXPECT_TRUE(CollectSightings("[{\"query\":", "not json", "{\"server_name\":7}").empty());
  EXPECT_THAT(Names(CollectSightings("", R"([{"host":"10.0.0.1:80"},{"host":""}])", "")),
              ElementsAre("http.host 10.0.0.1"));
}

TEST(PatternTest, ExactAndSuffix) {
  Pattern exact, wild;
  std::string error;
  ASSERT_TRUE(ParsePattern("WWW.Example.com.", &exact, &error));
  ASSERT_TRUE(ParsePattern("*.example.com", &wild, &error));
  EXPECT_TRUE(Matches(exact, "www.example.com"));
  EXPECT_FALSE(Matches(exact, "a.www.example.com"));
  EXPECT_TRUE(Matches(wild, "a.example.com"));
  EXPECT_TRUE(Matches(wild, "b.a.example.com"));
  EXPECT_FALSE(Matches(wild, "example.com"));
  EXPECT_FALSE(Matches(wild, "badexample.com"));
  for (const char* bad :
       {"", "*", "*.", "a..b", "a b", "foo.*.com", "*example.com", ".x", "http://x.com"}) {
    EXPECT_FALSE(ParsePattern(bad, &exact, &error)) << bad;
  }
  EXPECT_THAT(error, HasSubstr("is not a domain name or a *.domain pattern"));
  EXPECT_FALSE(ParsePattern(std::string(64, 'a') + ".com", &exact, &error));
}

absl::CivilMinute At(int y, int mo, int d, int h, int mi) {
  return absl::CivilMinute(y, mo, d, h, mi);
}

TEST(WindowTest, ParsesAndMatches) {
  Window w;
  std::string error;
  ASSERT_TRUE(ParseWindow("09:00-17:30", &w, &error)) << error;
  EXPECT_TRUE(InWindow(w, At(2026, 12, 4, 9, 0)));
  EXPECT_TRUE(InWindow(w, At(2026, 12, 4, 17, 29)));
  EXPECT_FALSE(InWindow(w, At(2026, 12, 4, 17, 30)));
  EXPECT_FALSE(InWindow(w, At(2026, 12, 4, 8, 59)));

  // Past midnight: belongs to the day it starts on.
  ASSERT_TRUE(ParseWindow("fri 22:00-06:00", &w, &error)) << error;
  EXPECT_TRUE(InWindow(w, At(2026, 12, 4, 23, 0)));   // Friday night
  EXPECT_TRUE(InWindow(w, At(2026, 12, 5, 5, 59)));   // Saturday early morning
  EXPECT_FALSE(InWindow(w, At(2026, 12, 4, 5, 0)));   // Friday early = Thursday night
  EXPECT_FALSE(InWindow(w, At(2026, 12, 5, 23, 0)));  // Saturday night

  ASSERT_TRUE(ParseWindow("sat,sun 00:00-24:00", &w, &error)) << error;
  EXPECT_TRUE(InWindow(w, At(2026, 12, 5, 12, 0)));
  EXPECT_TRUE(InWindow(w, At(2026, 12, 6, 23, 59)));
  EXPECT_FALSE(InWindow(w, At(2026, 12, 7, 0, 0)));

  ASSERT_TRUE(ParseWindow("Friday-Monday 10:00-11:00", &w, &error)) << error;
  EXPECT_EQ(w.days, 0b1110001);
  ASSERT_TRUE(ParseWindow("mon-fri 08:00-18:00", &w, &error)) << error;
  EXPECT_EQ(w.days, 0b0011111);

  for (const char* bad : {"", "9:00-17:00", "09:00", "09:00-25:00", "24:00-01:00", "10:60-11:00",
                          "xyz 09:00-10:00", "mon- 09:00-10:00", "09:00-09:00", "09:00 - 10:00"}) {
    EXPECT_FALSE(ParseWindow(bad, &w, &error)) << bad;
  }
}

TEST(ConfigTest, ShorthandAndRules) {
  Config c = Parse(R"({"domains":["www.gourmet.test","*.cdn.example"],"time_zone":"Europe/Paris",
      "rules":[{"name":"bedtime","domains":"*.game.example","windows":["21:00-07:00"]}],
      "webhook":{"url":"http://127.0.0.1:9/hook","timeout":"500ms","pause":"1m"}})");
  ASSERT_EQ(c.rules.size(), 2u);
  EXPECT_EQ(c.rules[0].name, "watchlist");
  EXPECT_EQ(c.rules[0].domains.size(), 2u);
  EXPECT_TRUE(c.rules[0].windows.empty());
  EXPECT_EQ(c.rules[1].name, "bedtime");
  EXPECT_EQ(c.rules[1].windows.size(), 1u);
  EXPECT_EQ(c.time_zone_name, "Europe/Paris");
  EXPECT_EQ(c.webhook.url, "http://127.0.0.1:9/hook");
  EXPECT_DOUBLE_EQ(c.webhook.timeout_s, 0.5);
  EXPECT_DOUBLE_EQ(c.webhook.pause_s, 60);
  EXPECT_EQ(c.webhook.pause_after_failures, 3);
  EXPECT_TRUE(Parse(R"({"domains":"x.test"})").webhook.url.empty());
}

TEST(ConfigTest, BadValuesNameTheKey) {
  EXPECT_TRUE(Parse("{}").rules.empty());  // watches nothing
  EXPECT_THAT(ConfigError(R"({"time_zone":"UTC"})"), HasSubstr("key 'domains': required"));
  EXPECT_THAT(ConfigError(R"({"rules":[]})"), HasSubstr("key 'domains': required"));
  EXPECT_THAT(ConfigError(R"({"domains":[]})"), HasSubstr("key 'domains': required"));
  EXPECT_THAT(ConfigError(R"({"domains":["ok.test","bad domain"]})"),
              HasSubstr("key 'domains[1]': \"bad domain\" is not a domain name"));
  EXPECT_THAT(ConfigError(R"({"domains":"a.test","windows":["late"]})"),
              HasSubstr("key 'windows[0]': \"late\" is not a time window"));
  EXPECT_THAT(ConfigError(R"({"domains":"a.test","time_zone":"Mars/Olympus"})"),
              HasSubstr("key 'time_zone': unknown time zone \"Mars/Olympus\""));
  EXPECT_THAT(ConfigError(R"({"rules":[{"name":"r","domains":["a.test"],"windows":"9-5"}]})"),
              HasSubstr("key 'rules[0].windows[0]'"));
  EXPECT_THAT(ConfigError(R"({"rules":[{"name":"r"}]})"),
              HasSubstr("key 'rules[0].domains': required"));
  EXPECT_THAT(ConfigError(R"({"rules":[{"domains":"a.test","window":"x"}]})"),
              HasSubstr("key 'rules[0].window': unknown key"));
  EXPECT_THAT(ConfigError(R"({"domains":"a.test","webhook":{"url":"ftp://x"}})"),
              HasSubstr("key 'webhook.url': expected an http:// or https:// URL"));
  EXPECT_THAT(ConfigError(R"({"domains":"a.test","webhook":{"url":"http://x","timeout":"1d"}})"),
              HasSubstr("key 'webhook.timeout': expected a duration"));
  EXPECT_THAT(ConfigError(R"({"domains":"a.test","webhook":{"url":"http://x","retries":1}})"),
              HasSubstr("key 'webhook.retries': unknown key"));
  EXPECT_THAT(ConfigError(R"({"domain":"a.test"})"), HasSubstr("key 'domain': unknown key"));
}

TEST(MatchTest, NoticesSayWhereTheNameWasSeen) {
  Config c = Parse(R"({"domains":["www.gourmet.test","*.gourmet.test","*.cdn.example"]})");
  const auto notices = Match(c, CollectSightings(kDns, kHttp, kTls), kFriday1533Utc);
  ASSERT_EQ(notices.size(), 3u);
  EXPECT_EQ(notices[0].domain, "www.gourmet.test");
  EXPECT_EQ(notices[0].pattern, "www.gourmet.test");  // the first pattern that matches
  EXPECT_EQ(notices[0].seen_in,
            (std::vector<Source>{Source::kDnsQuery, Source::kDnsAnswer, Source::kHttpHost}));
  EXPECT_EQ(notices[1].domain, "edge.cdn.example");
  EXPECT_EQ(notices[1].seen_in, (std::vector<Source>{Source::kDnsAnswer}));
  EXPECT_EQ(notices[2].domain, "api.gourmet.test");
  EXPECT_EQ(notices[2].pattern, "*.gourmet.test");
  EXPECT_EQ(notices[2].seen_in, (std::vector<Source>{Source::kTlsSni}));
  EXPECT_EQ(NoticesJson({notices[2]}),
            R"([{"rule":"watchlist","domain":"api.gourmet.test","pattern":"*.gourmet.test",)"
            R"("seen_in":["tls.sni"]}])");
  EXPECT_TRUE(Match(c, CollectSightings("", "", R"({"server_name":"x.test"})"), 0).empty());
}

TEST(MatchTest, WindowsUseTheConnectionTimeInTheConfiguredZone) {
  const auto sightings = CollectSightings("", kHttp, "");
  // 15:33 UTC on a Friday is 16:33 in Paris and 10:33 in New York.
  auto matches = [&](const std::string& zone, const std::string& window) {
    Config c = Parse(R"({"domains":"www.gourmet.test","time_zone":")" + zone + R"(","windows":[")" +
                     window + "\"]}");
    return !Match(c, sightings, kFriday1533Utc).empty();
  };
  EXPECT_TRUE(matches("UTC", "15:00-16:00"));
  EXPECT_FALSE(matches("UTC", "16:00-17:00"));
  EXPECT_TRUE(matches("Europe/Paris", "16:00-17:00"));
  EXPECT_FALSE(matches("Europe/Paris", "15:00-16:00"));
  EXPECT_TRUE(matches("America/New_York", "fri 10:00-11:00"));
  EXPECT_FALSE(matches("America/New_York", "sat,sun 00:00-24:00"));
  EXPECT_TRUE(matches("Asia/Tokyo", "sat 00:00-01:00"));  // 00:33 on Saturday in Tokyo
  Config paris = Parse(R"({"domains":"x.test","time_zone":"Europe/Paris"})");
  EXPECT_EQ(LocalTime(paris, kFriday1533Utc), "2026-12-04T16:33:44+01:00");
  EXPECT_EQ(LocalTime(Parse(R"({"domains":"x.test"})"), kFriday1533Utc),
            "2026-12-04T15:33:44+00:00");
}

TEST(MatchTest, RulesAreIndependent) {
  Config c = Parse(R"({"rules":[
      {"name":"always","domains":["*.gourmet.test"]},
      {"name":"night","domains":["www.gourmet.test"],"windows":["22:00-06:00"]},
      {"name":"afternoon","domains":["www.gourmet.test"],"windows":["mon-fri 12:00-18:00"]}]})");
  const auto notices = Match(c, CollectSightings("", kHttp, kTls), kFriday1533Utc);
  ASSERT_EQ(notices.size(), 3u);
  EXPECT_EQ(notices[0].rule, "always");
  EXPECT_EQ(notices[0].domain, "www.gourmet.test");
  EXPECT_EQ(notices[1].rule, "always");
  EXPECT_EQ(notices[1].domain, "api.gourmet.test");
  EXPECT_EQ(notices[2].rule, "afternoon");
}

TEST(JsonTest, StringsAndBodyAreValidJson) {
  EXPECT_EQ(JsonString("a\"b\\c\n\x01\x7f"), R"("a\"b\\c\n\u0001\u007f")");
  EXPECT_EQ(JsonString("caf\xc3\xa9"), "\"caf\xc3\xa9\"");
  EXPECT_EQ(JsonString("bad\xff\xc3"), R"("bad\ufffd\ufffd")");
  EXPECT_EQ(JsonString("\xed\xa0\x80"), R"("\ufffd\ufffd\ufffd")");  // a surrogate
  ConnInfo info;
  info.uid = "CAbc";
  info.proto = "tcp";
  info.orig_h = "10.0.0.1";
  info.resp_h = "10.0.0.2";
  info.orig_p = 40001;
  info.resp_p = 80;
  info.ts_us = kFriday1533Utc;
  const std::string body = WebhookBody(info, "2026-12-04T15:33:44+00:00", "[]");
  EXPECT_EQ(body,
            R"({"uid":"CAbc","ts":1796398424.461639,"local_time":"2026-12-04T15:33:44+00:00",)"
            R"("id":{"orig_h":"10.0.0.1","orig_p":40001,"resp_h":"10.0.0.2","resp_p":80},)"
            R"("proto":"tcp","notices":[]})");
  gourmet::JsonValue v;
  std::string error;
  EXPECT_TRUE(gourmet::JsonValue::Parse(body, &v, &error)) << error;
}

}  // namespace
}  // namespace gourmet::watchlist
