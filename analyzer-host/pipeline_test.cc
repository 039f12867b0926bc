#include "analyzer-host/pipeline.h"

#include <csignal>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "prometheus/registry.h"

namespace gourmet::analyzer {
namespace {

using ::testing::HasSubstr;

PluginSpec Spec(const std::string& name, std::vector<std::string> deps = {}) {
  PluginSpec s;
  s.name = s.key = name;
  const bool shipped = name == "bytes";
  s.path = std::string(shipped ? GOURMET_PLUGIN_DIR : GOURMET_TEST_PLUGIN_DIR) + "/" + name + ".so";
  s.depends_on = std::move(deps);
  return s;
}

gourmet::v1::Connection Conn() {
  gourmet::v1::Connection c;
  c.set_uid("CTest");
  c.set_ip_proto(6);
  c.mutable_orig()->set_addr(std::string("\x0a\x00\x00\x01", 4));
  c.mutable_resp()->set_addr(std::string("\x0a\x00\x00\x02", 4));
  auto* ch = c.add_chunks();
  ch->set_dir(gourmet::v1::Chunk::ORIG);
  ch->set_data("hello");
  ch = c.add_chunks();
  ch->set_dir(gourmet::v1::Chunk::RESP);
  ch->set_data("hi");
  return c;
}

class PipelineTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::unique_ptr<Pipeline>> Make(std::vector<PluginSpec> specs,
                                                 size_t max_result = 1024) {
    return Pipeline::Create(std::move(specs), registry_, max_result);
  }
  prometheus::Registry registry_;
};

TEST_F(PipelineTest, RunsThePluginAndStripsPayload) {
  auto p = Make({Spec("bytes")});
  ASSERT_TRUE(p.ok()) << p.status();
  auto conn = Conn();
  gourmet::v1::Record rec;
  (*p)->Analyze(&conn, &rec);
  EXPECT_EQ(rec.conn().uid(), "CTest");
  EXPECT_EQ(rec.conn().chunks_size(), 0);
  ASSERT_TRUE(rec.results().count("bytes"));
  EXPECT_THAT(rec.results().at("bytes"), HasSubstr("\"orig\":5"));
  EXPECT_THAT(rec.results().at("bytes"), HasSubstr("\"resp\":2"));
}

TEST_F(PipelineTest, WrongAbiVersionIsRefusedNamingBothVersions) {
  auto p = Make({Spec("wrong_abi")});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("wrong_abi.so"));
  EXPECT_THAT(p.status().message(), HasSubstr("ABI version 2"));
  EXPECT_THAT(p.status().message(), HasSubstr("speaks version 1"));
}

TEST_F(PipelineTest, MissingEntryPointIsRefused) {
  auto p = Make({Spec("no_entry")});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("no entry point gourmet_plugin_entry"));
}

TEST_F(PipelineTest, MissingFileIsRefused) {
  auto p = Make({Spec("does_not_exist")});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("does_not_exist.so' cannot be loaded"));
}

TEST_F(PipelineTest, BadConfigIsRefusedNamingPluginAndKey) {
  auto p = Make({Spec("needs_config")});
  ASSERT_FALSE(p.ok());
  EXPECT_THAT(p.status().message(), HasSubstr("plugin 'needs_config'"));
  EXPECT_THAT(p.status().message(), HasSubstr("key 'threshold'"));
  PluginSpec ok = Spec("needs_config");
  ok.config_json = "{\"threshold\":3}";
  EXPECT_TRUE(Make({ok}).ok());
}

TEST_F(PipelineTest, FailuresAreRecordedAndOthersStillRun) {
  auto p = Make({Spec("throws"), Spec("bad_json"), Spec("oversized"), Spec("bytes")});
  ASSERT_TRUE(p.ok()) << p.status();
  auto conn = Conn();
  gourmet::v1::Record rec;
  (*p)->Analyze(&conn, &rec);
  EXPECT_THAT(rec.errors().at("throws"), HasSubstr("exception: boom"));
  EXPECT_THAT(rec.errors().at("bad_json"), HasSubstr("not valid JSON"));
  EXPECT_THAT(rec.errors().at("oversized"), HasSubstr("exceeds the limit"));
  EXPECT_TRUE(rec.results().count("bytes"));
  EXPECT_EQ(rec.results().size(), 1u);
}

TEST_F(PipelineTest, ResultsAreCompactedToOneLine) {
  auto p = Make({Spec("pretty_json")});
  ASSERT_TRUE(p.ok());
  auto conn = Conn();
  gourmet::v1::Record rec;
  (*p)->Analyze(&conn, &rec);
  EXPECT_EQ(rec.results().at("pretty_json"), "{\"pretty\":[1,2]}");
}

TEST_F(PipelineTest, DependantRunsAfterAndSeesTheResult) {
  // Listed first, but depends on bytes: must run second.
  auto p = Make({Spec("reads_bytes", {"bytes"}), Spec("bytes")});
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ((*p)->keys(), (std::vector<std::string>{"bytes", "reads_bytes"}));
  auto conn = Conn();
  gourmet::v1::Record rec;
  (*p)->Analyze(&conn, &rec);
  EXPECT_THAT(rec.results().at("reads_bytes"), HasSubstr("\"saw\":{\"orig\":5"));
}

TEST_F(PipelineTest, SegfaultKillsTheProcessOnlyOnPoisonConnections) {
  // The host cannot survive a plugin's segfault; the agent's resends and
  // max_attempts contain it (tests/e2e/crash_containment_test.py). Here: the
  // test plugin crashes exactly where told to.
  PluginSpec spec = Spec("segfaults");
  spec.config_json = "{\"crash_on_orig_ports\":[40003]}";
  auto p = Make({Spec("bytes"), spec});
  ASSERT_TRUE(p.ok()) << p.status();
  auto conn = Conn();
  conn.mutable_orig()->set_port(40001);
  gourmet::v1::Record rec;
  (*p)->Analyze(&conn, &rec);
  EXPECT_EQ(rec.results().at("segfaults"), "{\"survived\":true}");
  EXPECT_EXIT(
      {
        auto poison = Conn();
        poison.mutable_orig()->set_port(40003);
        gourmet::v1::Record r;
        (*p)->Analyze(&poison, &r);
      },
      ::testing::KilledBySignal(SIGSEGV), "");
  spec.config_json = "{\"crash_on_orig_ports\":[\"x\"]}";
  auto bad = Make({spec});
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(bad.status().message(), HasSubstr("key 'crash_on_orig_ports[0]'"));
}

TEST(PassThroughTest, RecordsTheConnectionWithTheReasonAndNoResults) {
  auto conn = Conn();
  gourmet::v1::Record rec;
  Pipeline::PassThrough(&conn, &rec, "analyzer", "skipped");
  EXPECT_EQ(rec.conn().uid(), "CTest");
  EXPECT_EQ(rec.conn().chunks_size(), 0);
  EXPECT_TRUE(rec.results().empty());
  EXPECT_TRUE(rec.services().empty());
  EXPECT_EQ(rec.errors().at("analyzer"), "skipped");
}

TEST(OrderTest, CyclesAndUnknownNamesAreRefused) {
  PluginSpec a, b;
  a.key = "a";
  b.key = "b";
  a.depends_on = {"b"};
  b.depends_on = {"a"};
  auto cyc = OrderByDependencies({a, b});
  ASSERT_FALSE(cyc.ok());
  EXPECT_THAT(cyc.status().message(), HasSubstr("cycle: a -> b -> a"));
  a.depends_on = {"zzz"};
  auto unknown = OrderByDependencies({a});
  ASSERT_FALSE(unknown.ok());
  EXPECT_THAT(unknown.status().message(), HasSubstr("depends on 'zzz'"));
  b.key = "a";
  b.depends_on = {};
  a.depends_on = {};
  EXPECT_FALSE(OrderByDependencies({a, b}).ok());  // two results under one key
}

}  // namespace
}  // namespace gourmet::analyzer
