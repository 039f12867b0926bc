#include "services/config.h"

#include <cstdio>
#include <fstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "services/json_writer.h"

namespace gourmet {
namespace {

using ::testing::HasSubstr;

std::vector<FlagSpec> Flags() {
  return {{"read", 'r', "read_file", "FILE", "input"},
          {"depth", 0, "flows.payload_depth", "BYTES", "depth"},
          {"quiet", 'q', "quiet", "", "no progress"}};
}

absl::StatusOr<ParsedArgs> Parse(std::vector<std::string> args) {
  std::vector<char*> argv{const_cast<char*>("prog")};
  for (auto& a : args) argv.push_back(a.data());
  return ParseArgs(argv.size(), argv.data(), 1, Flags());
}

TEST(ConfigTest, FlagsOverrideTheFile) {
  const std::string path = ::testing::TempDir() + "/cfg.yaml";
  std::ofstream(path) << "read_file: from_file.pcap\nflows:\n  payload_depth: 100\n";
  auto a = Parse({"-c", path, "--depth=200", "-q"});
  ASSERT_TRUE(a.ok()) << a.status();
  ConfigReader r(a->config);
  EXPECT_EQ(r.String("read_file", ""), "from_file.pcap");
  EXPECT_EQ(r.Int("flows.payload_depth", 0, 0, 1000), 200);
  EXPECT_TRUE(r.Bool("quiet", false));
  EXPECT_TRUE(r.Finish().ok());
}

TEST(ConfigTest, ErrorsNameTheKey) {
  auto a = Parse({"--depth", "lots"});
  ASSERT_TRUE(a.ok());
  ConfigReader r(a->config);
  r.Int("flows.payload_depth", 0, 0, 1000);
  EXPECT_THAT(std::string(r.Finish().message()),
              HasSubstr("'flows.payload_depth': expected an integer, got 'lots'"));
}

TEST(ConfigTest, OutOfRangeAndBadDuration) {
  YAML::Node n = YAML::Load("a: 5000\nb: soon\n");
  ConfigReader r(n);
  r.Int("a", 0, 0, 1000);
  EXPECT_THAT(std::string(r.Finish().message()), HasSubstr("out of range"));
  ConfigReader r2(n);
  r2.Int("a", 0, 0, 10000);
  r2.Duration("b", absl::Seconds(1));
  EXPECT_THAT(std::string(r2.Finish().message()), HasSubstr("'b': expected a duration"));
}

TEST(ConfigTest, UnknownKeysAreTypos) {
  YAML::Node n = YAML::Load("read_file: x\nflows:\n  payload_dept: 3\n");
  ConfigReader r(n);
  r.String("read_file", "");
  r.Int("flows.payload_depth", 0, 0, 10);
  EXPECT_THAT(std::string(r.Finish().message()),
              HasSubstr("unknown config key 'flows.payload_dept'"));
}

TEST(ConfigTest, UnknownOptionAndMissingValue) {
  EXPECT_THAT(std::string(Parse({"--nope"}).status().message()),
              HasSubstr("unknown option '--nope'"));
  EXPECT_THAT(std::string(Parse({"-r"}).status().message()), HasSubstr("needs a value"));
  EXPECT_FALSE(Parse({"-c", "/nonexistent.yaml"}).ok());
}

TEST(ConfigTest, Durations) {
  absl::Duration d;
  ASSERT_TRUE(ParseDurationText("250ms", &d));
  EXPECT_EQ(d, absl::Milliseconds(250));
  ASSERT_TRUE(ParseDurationText("1.5", &d));
  EXPECT_EQ(d, absl::Milliseconds(1500));
  EXPECT_FALSE(ParseDurationText("-3s", &d));
  EXPECT_FALSE(ParseDurationText("soon", &d));
}

TEST(JsonWriterTest, EscapesAndFormatsMicros) {
  std::string out;
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("ts");
  w.Micros(1796397424947038);
  w.Key("s");
  w.String("a\"b\\c\n\x01");
  w.Key("l");
  w.BeginArray();
  w.Uint(1);
  w.Uint(2);
  w.EndArray();
  w.EndObject();
  EXPECT_EQ(out, "{\"ts\":1796397424.947038,\"s\":\"a\\\"b\\\\c\\n\\u0001\",\"l\":[1,2]}");
}

}  // namespace
}  // namespace gourmet
