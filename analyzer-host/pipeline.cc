#include "analyzer-host/pipeline.h"

#include <arpa/inet.h>

#include <chrono>
#include <map>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"
#include "prometheus/counter.h"
#include "prometheus/histogram.h"

namespace gourmet::analyzer {
namespace {

std::string AddrToString(const std::string& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.size() == 4)
    inet_ntop(AF_INET, a.data(), buf, sizeof(buf));
  else if (a.size() == 16)
    inet_ntop(AF_INET6, a.data(), buf, sizeof(buf));
  return buf;
}

gourmet_str Str(const std::string& s) { return {s.data(), s.size()}; }

struct Output {
  std::string result;
  std::string error;
  bool has_result = false;
  bool has_error = false;
};

void SetResult(void* host, const char* json, size_t len) {
  auto* o = static_cast<Output*>(host);
  o->result.assign(json, len);
  o->has_result = true;
}
void SetError(void* host, const char* msg, size_t len) {
  auto* o = static_cast<Output*>(host);
  o->error.assign(msg, len);
  o->has_error = true;
}

}  // namespace

struct Pipeline::Stage {
  PluginSpec spec;
  std::unique_ptr<LoadedPlugin> plugin;
  prometheus::Counter* calls;
  prometheus::Counter* passes;
  prometheus::Counter* errors;
  prometheus::Histogram* seconds;
};

absl::StatusOr<std::vector<PluginSpec>> OrderByDependencies(std::vector<PluginSpec> specs) {
  std::map<std::string, size_t> by_key;
  for (size_t i = 0; i < specs.size(); ++i) {
    if (!by_key.emplace(specs[i].key, i).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("two plugins store their result under '", specs[i].key, "'"));
    }
  }
  for (const PluginSpec& s : specs) {
    for (const std::string& d : s.depends_on) {
      if (!by_key.count(d)) {
        return absl::InvalidArgumentError(
            absl::StrCat("plugin '", s.key, "' depends on '", d, "', which is not configured"));
      }
    }
  }
  // Depth-first topological sort; a grey node met again is a cycle.
  std::vector<int> color(specs.size(), 0);
  std::vector<PluginSpec> out;
  std::vector<std::string> path;
  std::function<absl::Status(size_t)> visit = [&](size_t i) -> absl::Status {
    if (color[i] == 2) return absl::OkStatus();
    path.push_back(specs[i].key);
    if (color[i] == 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("plugin dependency cycle: ", absl::StrJoin(path, " -> ")));
    }
    color[i] = 1;
    for (const std::string& d : specs[i].depends_on) {
      absl::Status st = visit(by_key[d]);
      if (!st.ok()) return st;
    }
    color[i] = 2;
    path.pop_back();
    out.push_back(specs[i]);
    return absl::OkStatus();
  };
  for (size_t i = 0; i < specs.size(); ++i) {
    absl::Status st = visit(i);
    if (!st.ok()) return st;
  }
  return out;
}

absl::StatusOr<std::unique_ptr<Pipeline>> Pipeline::Create(std::vector<PluginSpec> specs,
                                                           prometheus::Registry& registry,
                                                           size_t max_result_bytes) {
  absl::StatusOr<std::vector<PluginSpec>> ordered = OrderByDependencies(std::move(specs));
  if (!ordered.ok()) return ordered.status();
  std::unique_ptr<Pipeline> p(new Pipeline());
  p->max_result_bytes_ = max_result_bytes;
  auto& calls = prometheus::BuildCounter()
                    .Name("gourmet_plugin_calls_total")
                    .Help("Connections offered to a plugin's filter")
                    .Register(registry);
  auto& passes = prometheus::BuildCounter()
                     .Name("gourmet_plugin_filter_passes_total")
                     .Help("Connections a plugin's filter accepted")
                     .Register(registry);
  auto& errors = prometheus::BuildCounter()
                     .Name("gourmet_plugin_errors_total")
                     .Help("Plugin failures: errors, exceptions, invalid or oversized results")
                     .Register(registry);
  auto& seconds = prometheus::BuildHistogram()
                      .Name("gourmet_plugin_analyze_seconds")
                      .Help("Time spent in a plugin's analyze")
                      .Register(registry);
  for (PluginSpec& spec : *ordered) {
    absl::StatusOr<std::unique_ptr<LoadedPlugin>> plugin =
        LoadedPlugin::Load(spec.path, spec.config_json);
    if (!plugin.ok()) return plugin.status();
    auto stage = std::make_unique<Stage>();
    const prometheus::Labels labels{{"plugin", spec.key}};
    stage->calls = &calls.Add(labels);
    stage->passes = &passes.Add(labels);
    stage->errors = &errors.Add(labels);
    stage->seconds = &seconds.Add(
        labels, prometheus::Histogram::BucketBoundaries{1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 0.1, 1});
    stage->spec = std::move(spec);
    stage->plugin = std::move(*plugin);
    p->stages_.push_back(std::move(stage));
  }
  return p;
}

Pipeline::~Pipeline() = default;

void Pipeline::PassThrough(gourmet::v1::Connection* conn, gourmet::v1::Record* out,
                           const std::string& error_key, const std::string& message) {
  (*out->mutable_errors())[error_key] = message;
  conn->clear_chunks();
  out->mutable_conn()->Swap(conn);
}

std::vector<std::string> Pipeline::keys() const {
  std::vector<std::string> out;
  for (const auto& s : stages_) out.push_back(s->spec.key);
  return out;
}

void Pipeline::Analyze(gourmet::v1::Connection* conn, gourmet::v1::Record* out) {
  // The read-only C view of the connection; strings live on this frame.
  const std::string uid = conn->uid();
  const std::string orig_h = AddrToString(conn->orig().addr());
  const std::string resp_h = AddrToString(conn->resp().addr());
  std::string proto;
  switch (conn->ip_proto()) {
    case 6:
      proto = "tcp";
      break;
    case 17:
      proto = "udp";
      break;
    case 1:
    case 58:
      proto = "icmp";
      break;
    default:
      proto = "unknown_transport";
  }
  std::vector<gourmet_chunk> chunks;
  chunks.reserve(conn->chunks_size());
  for (const auto& c : conn->chunks()) {
    chunks.push_back({c.dir() == gourmet::v1::Chunk::RESP ? GOURMET_DIR_RESP : GOURMET_DIR_ORIG,
                      c.ts_us(), reinterpret_cast<const uint8_t*>(c.data().data()), c.data().size(),
                      c.gap_before()});
  }
  // Keys and results of plugins that already ran, visible to dependants.
  std::vector<std::string> result_keys, result_json;
  result_keys.reserve(stages_.size());
  result_json.reserve(stages_.size());
  std::vector<gourmet_result> results;
  results.reserve(stages_.size());

  gourmet_connection view{};
  view.uid = Str(uid);
  view.proto = Str(proto);
  view.orig = {Str(orig_h), static_cast<uint16_t>(conn->orig().port())};
  view.resp = {Str(resp_h), static_cast<uint16_t>(conn->resp().port())};
  view.ts_us = conn->ts_us();
  view.duration_us = conn->last_ts_us() - conn->ts_us();
  view.orig_pkts = conn->orig_stats().pkts();
  view.resp_pkts = conn->resp_stats().pkts();
  view.orig_bytes = conn->orig_stats().bytes();
  view.resp_bytes = conn->resp_stats().bytes();
  view.missed_bytes = conn->orig_stats().missed_bytes() + conn->resp_stats().missed_bytes();
  view.conn_state = Str(conn->conn_state());
  view.history = Str(conn->history());
  view.chunks = chunks.data();
  view.n_chunks = chunks.size();

  for (const auto& stage : stages_) {
    const gourmet_plugin_api& api = stage->plugin->api();
    view.results = results.data();
    view.n_results = results.size();
    stage->calls->Increment();
    if (!api.filter(stage->plugin->instance(), &view)) continue;
    stage->passes->Increment();
    Output o;
    gourmet_output host{&o, &SetResult, &SetError};
    const auto t0 = std::chrono::steady_clock::now();
    const int recognised = api.analyze(stage->plugin->instance(), &view, &host);
    stage->seconds->Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    const std::string& key = stage->spec.key;
    if (o.has_error) {
      stage->errors->Increment();
      (*out->mutable_errors())[key] = o.error;
      continue;
    }
    if (!o.has_result) continue;
    if (o.result.size() > max_result_bytes_) {
      stage->errors->Increment();
      (*out->mutable_errors())[key] = absl::StrCat(
          "result of ", o.result.size(), " bytes exceeds the limit of ", max_result_bytes_);
      continue;
    }
    // Re-serialised compactly: a result with newlines would break JSON lines.
    nlohmann::json parsed = nlohmann::json::parse(o.result, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded()) {
      stage->errors->Increment();
      (*out->mutable_errors())[key] = "result is not valid JSON";
      continue;
    }
    o.result = parsed.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    if (recognised) out->add_services(key);
    result_keys.push_back(key);
    result_json.push_back(o.result);
    (*out->mutable_results())[key] = std::move(o.result);
    results.push_back({Str(result_keys.back()), Str(result_json.back())});
  }
  conn->clear_chunks();
  out->mutable_conn()->Swap(conn);
}

}  // namespace gourmet::analyzer
