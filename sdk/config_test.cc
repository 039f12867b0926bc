// Tests of the SDK's dependency-free JSON reader and typed plugin config.
#include "gourmet/config.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace gourmet {
namespace {

using ::testing::HasSubstr;

JsonValue ParseOk(const std::string& text) {
  JsonValue v;
  std::string error;
  EXPECT_TRUE(JsonValue::Parse(text, &v, &error)) << text << ": " << error;
  return v;
}

std::string ParseError(const std::string& text) {
  JsonValue v;
  std::string error;
  EXPECT_FALSE(JsonValue::Parse(text, &v, &error)) << text;
  return error;
}

TEST(JsonValueTest, ParsesEveryKindOfValue) {
  JsonValue v = ParseOk(
      R"( {"s":"a\"b\\c\/\n\u00e9\ud83d\ude00","i":-42,"d":2.5e1,"big":12345678901234567890,)"
      R"("t":true,"f":false,"n":null,"a":[1,[2,{}],"x"],"o":{"k":{}}} )");
  ASSERT_TRUE(v.is_object());
  EXPECT_EQ(v.keys(), (std::vector<std::string>{"s", "i", "d", "big", "t", "f", "n", "a", "o"}));
  EXPECT_EQ(v.Find("s")->as_string(), "a\"b\\c/\n\xc3\xa9\xf0\x9f\x98\x80");
  EXPECT_TRUE(v.Find("i")->is_integer());
  EXPECT_EQ(v.Find("i")->as_int(), -42);
  EXPECT_DOUBLE_EQ(v.Find("d")->as_double(), 25);
  EXPECT_TRUE(v.Find("d")->is_integer());  // 2.5e1 is the integer 25
  EXPECT_FALSE(v.Find("big")->is_integer());
  EXPECT_DOUBLE_EQ(v.Find("big")->as_double(), 12345678901234567890.0);
  EXPECT_TRUE(v.Find("t")->as_bool());
  EXPECT_FALSE(v.Find("f")->as_bool());
  EXPECT_TRUE(v.Find("n")->is_null());
  const JsonValue& a = *v.Find("a");
  ASSERT_EQ(a.size(), 3u);
  EXPECT_EQ(a[1][0].as_int(), 2);
  EXPECT_TRUE(a[1][1].is_object());
  EXPECT_EQ(a[2].as_string(), "x");
  EXPECT_EQ(v.Find("nope"), nullptr);
  EXPECT_EQ(ParseOk("0").as_int(), 0);
  EXPECT_EQ(ParseOk("-0.5").as_double(), -0.5);
  EXPECT_EQ(ParseOk("9223372036854775807").as_double(), 9223372036854775807.0);
}

TEST(JsonValueTest, RefusesWhatIsNotJson) {
  EXPECT_THAT(ParseError(""), HasSubstr("unexpected end"));
  EXPECT_THAT(ParseError("{\"a\":1,}"), HasSubstr("member name"));
  EXPECT_THAT(ParseError("[1 2]"), HasSubstr("expected ',' or ']'"));
  EXPECT_THAT(ParseError("{\"a\":1} x"), HasSubstr("after the JSON value at offset 8"));
  EXPECT_THAT(ParseError("\"abc"), HasSubstr("unterminated"));
  EXPECT_THAT(ParseError("\"a\tb\""), HasSubstr("control character"));
  EXPECT_THAT(ParseError("\"\\x\""), HasSubstr("bad escape"));
  EXPECT_THAT(ParseError("\"\\ud800\""), HasSubstr("lone surrogate"));
  EXPECT_THAT(ParseError("\"\\u12\""), HasSubstr("\\u escape"));
  EXPECT_THAT(ParseError("01"), HasSubstr("after the JSON value"));
  EXPECT_THAT(ParseError("1."), HasSubstr("bad number"));
  EXPECT_THAT(ParseError("-"), HasSubstr("bad number"));
  EXPECT_THAT(ParseError("1e"), HasSubstr("bad number"));
  EXPECT_THAT(ParseError("tru"), HasSubstr("invalid literal"));
  EXPECT_THAT(ParseError("{\"a\":1,\"a\":2}"), HasSubstr("duplicate member \"a\""));
  EXPECT_THAT(ParseError(std::string(100, '[') + std::string(100, ']')), HasSubstr("64 levels"));
  EXPECT_TRUE(ParseOk(std::string(60, '[') + std::string(60, ']')).is_array());
}

TEST(PluginConfigTest, TypedReadsWithDefaults) {
  PluginConfig c(R"({"name":"x","n":7,"ratio":0.5,"on":true,"t1":"250ms","t2":3,"t3":"2m",
                     "list":["a","b"],"one":"c","ports":[53,80],"web":{"url":"http://h/","retries":2}})");
  EXPECT_EQ(c.String("name", "d"), "x");
  EXPECT_EQ(c.String("missing", "d"), "d");
  EXPECT_EQ(c.Int("n", 0, 0, 10), 7);
  EXPECT_DOUBLE_EQ(c.Number("ratio", 0, 0, 1), 0.5);
  EXPECT_TRUE(c.Bool("on", false));
  EXPECT_DOUBLE_EQ(c.Seconds("t1", 0, 0, 60), 0.25);
  EXPECT_DOUBLE_EQ(c.Seconds("t2", 0, 0, 60), 3);
  EXPECT_DOUBLE_EQ(c.Seconds("t3", 0, 0, 600), 120);
  EXPECT_EQ(c.StringList("list"), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.StringList("one"), (std::vector<std::string>{"c"}));
  EXPECT_EQ(c.IntList("ports", 1, 65535), (std::vector<int64_t>{53, 80}));
  EXPECT_EQ(c.String("web.url", ""), "http://h/");
  EXPECT_EQ(c.Int("web.retries", 0, 0, 5), 2);
  EXPECT_TRUE(c.Has("web"));
  EXPECT_FALSE(c.Has("web.nope"));
  std::string error;
  EXPECT_TRUE(c.Finish(&error)) << error;
}

std::string FinishError(PluginConfig& c) {
  std::string error;
  EXPECT_FALSE(c.Finish(&error));
  return error;
}

TEST(PluginConfigTest, BadValuesNameTheKey) {
  {
    PluginConfig c(R"({"n":"seven"})");
    EXPECT_EQ(c.Int("n", 1, 0, 10), 1);
    EXPECT_EQ(FinishError(c), "key 'n': expected an integer between 0 and 10, got \"seven\"");
  }
  {
    PluginConfig c(R"({"n":11})");
    c.Int("n", 1, 0, 10);
    EXPECT_THAT(FinishError(c), HasSubstr("key 'n': expected an integer between 0 and 10, got 11"));
  }
  {
    PluginConfig c(R"({"web":{"timeout":"soon"}})");
    c.Seconds("web.timeout", 1, 0.001, 60);
    EXPECT_THAT(FinishError(c), HasSubstr("key 'web.timeout': expected a duration"));
  }
  {
    PluginConfig c(R"({"list":["a",3]})");
    c.StringList("list");
    EXPECT_THAT(FinishError(c), HasSubstr("key 'list[1]': expected a string, got 3"));
  }
  {
    PluginConfig c(R"({"ports":[53,70000]})");
    c.IntList("ports", 1, 65535);
    EXPECT_THAT(FinishError(c), HasSubstr("key 'ports[1]'"));
  }
  {
    PluginConfig c(R"({"on":"yes"})");
    c.Bool("on", false);
    EXPECT_THAT(FinishError(c), HasSubstr("key 'on': expected true or false, got \"yes\""));
  }
  {
    PluginConfig c(R"({"rules":[1]})");
    const JsonValue* rules = c.Get("rules");
    ASSERT_NE(rules, nullptr);
    c.Fail("rules[0]", "expected an object");
    EXPECT_EQ(FinishError(c), "key 'rules[0]': expected an object");
  }
}

TEST(PluginConfigTest, UnknownKeysAreTypos) {
  {
    PluginConfig c(R"({"greeting":"hi","gretting":"ho"})");
    c.String("greeting", "");
    EXPECT_EQ(FinishError(c), "key 'gretting': unknown key");
  }
  {
    PluginConfig c(R"({"web":{"url":"u","timout":1}})");
    c.String("web.url", "");
    c.Seconds("web.timeout", 1, 0, 10);
    EXPECT_EQ(FinishError(c), "key 'web.timout': unknown key");
  }
  {
    PluginConfig c(R"({"web":{"url":"u"}})");
    EXPECT_EQ(FinishError(c), "key 'web': unknown key");
  }
  {
    // A subtree read whole with Get() is the caller's to check.
    PluginConfig c(R"({"rules":[{"x":1}],"null_is_absent":null})");
    c.Get("rules");
    c.String("null_is_absent", "d");
    std::string error;
    EXPECT_TRUE(c.Finish(&error)) << error;
  }
}

TEST(PluginConfigTest, ListsOfObjectsNameTheirElements) {
  {
    PluginConfig c(R"({"rules":[{"name":"a","n":1},{"name":"b","n":"x"}]})");
    std::vector<PluginConfig> rules = c.ObjectList("rules");
    ASSERT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules[0].String("name", ""), "a");
    EXPECT_EQ(rules[0].Int("n", 0, 0, 9), 1);
    c.Merge(rules[0]);
    EXPECT_TRUE(c.ok());
    EXPECT_EQ(rules[1].Int("n", 0, 0, 9), 0);
    rules[1].String("name", "");
    c.Merge(rules[1]);
    EXPECT_EQ(FinishError(c), "key 'rules[1].n': expected an integer between 0 and 9, got \"x\"");
  }
  {
    PluginConfig c(R"({"rules":[{"name":"a","typo":1}]})");
    std::vector<PluginConfig> rules = c.ObjectList("rules");
    rules[0].String("name", "");
    rules[0].Fail("", "checked by the caller");
    PluginConfig copy = rules[0];
    c.Merge(rules[0]);
    EXPECT_EQ(FinishError(c), "key 'rules[0]': checked by the caller");
  }
  {
    PluginConfig c(R"({"rules":[{"name":"a","typo":1}]})");
    std::vector<PluginConfig> rules = c.ObjectList("rules");
    rules[0].String("name", "");
    c.Merge(rules[0]);
    EXPECT_EQ(FinishError(c), "key 'rules[0].typo': unknown key");
  }
  {
    PluginConfig c(R"({"rules":[{},3]})");
    EXPECT_TRUE(c.ObjectList("rules").empty());
    EXPECT_EQ(FinishError(c), "key 'rules[1]': expected an object, got 3");
  }
}

TEST(PluginConfigTest, ConfigMustBeAnObject) {
  {
    PluginConfig c("[1]");
    EXPECT_THAT(FinishError(c), HasSubstr("config must be a JSON object, got a list"));
  }
  {
    PluginConfig c("{\"a\":");
    EXPECT_THAT(FinishError(c), HasSubstr("config is not valid JSON"));
  }
  PluginConfig empty("");
  std::string error;
  EXPECT_TRUE(empty.Finish(&error));
}

TEST(PluginConfigTest, Durations) {
  EXPECT_DOUBLE_EQ(PluginConfig::ParseDuration("1.5s"), 1.5);
  EXPECT_DOUBLE_EQ(PluginConfig::ParseDuration("1h"), 3600);
  EXPECT_DOUBLE_EQ(PluginConfig::ParseDuration("10"), 10);
  EXPECT_LT(PluginConfig::ParseDuration("s"), 0);
  EXPECT_LT(PluginConfig::ParseDuration("1.2.3s"), 0);
  EXPECT_LT(PluginConfig::ParseDuration("5 days"), 0);
  EXPECT_LT(PluginConfig::ParseDuration("-1s"), 0);
}

}  // namespace
}  // namespace gourmet
