// gourmetctl: the command-line client of the log sink. `query` prints the
// records that match, `tail` follows the log, `stats` describes it; records
// print as JSON lines (as in the log) or as a table.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gourmet/v1/sink.grpc.pb.h"
#include "nlohmann/json.hpp"
#include "services/config.h"
#include "services/grpc_util.h"
#include "services/tls.h"

namespace gourmet::ctl {
namespace {

constexpr char kUsage[] = R"(usage: gourmetctl [-s HOST:PORT] COMMAND [options] [PREDICATE ...]

Queries a Gourmet log sink.

commands:
  query     print the records that match, then exit
  tail      follow the log: print matching records as they are written
  stats     print the number of records, bytes, segments and the time span

filters (query and tail; all given must hold):
  --from TIME, --to TIME   ts in [from, to); TIME is RFC 3339 (2026-01-02T03:04:05Z),
                           a date (2026-01-02), epoch seconds, now, or an age such as 15m or 2h
  --uid UID                --community-id ID
  --addr ADDR              either endpoint; an address or a CIDR prefix (10.0.0.0/8)
  --orig-h ADDR            --resp-h ADDR
  --port N                 either endpoint's port
  --orig-p N               --resp-p N
  --proto tcp|udp|icmp     --service NAME          --conn-state STATE (SF, S0, REJ, ...)
  -w, --where PREDICATE    a predicate on JSON fields (repeatable); extra arguments are
                           predicates too, e.g.  'http.host == "example.test"'
                           'dns.query contains netflix'  'orig_bytes > 1000000'
query:
  -n, --limit N            at most N records
  --order ts|desc|log      by time (default), newest first, or as written (fastest)
tail:
  -n, --backlog N          first print the last N matching records
  --count N                exit after N records
output:
  -o, --output json|table  JSON lines (default) or a table
  --no-header              no table header
general:
  -s, --sink HOST:PORT     the sink (default $GOURMET_SINK, else 127.0.0.1:50052)
  --token-file FILE        bearer token for Query and Tail (default $GOURMET_TOKEN_FILE)
  --ca FILE                CA of the sink's certificate: connect with TLS
  --cert FILE, --key FILE  client certificate and key (mutual TLS)
  --server-name NAME       the name expected in the sink's certificate
  --timeout DURATION       give up on query or stats after this long (default: none, 10s)
  -h, --help               this help

Exit status: 0 success, 1 the sink failed or is unreachable, 2 a bad command or query.
)";

std::string g_token;  // bearer token for Query and Tail, if any

// Every call carries the token when one was given.
void Authorize(grpc::ClientContext* ctx) {
  if (!g_token.empty()) ctx->AddMetadata("authorization", "Bearer " + g_token);
}

int Fail(int code, const std::string& msg) {
  std::fprintf(stderr, "gourmetctl: error: %s\n", msg.c_str());
  return code;
}

bool ParseTimeArg(const std::string& text, int64_t* us, std::string* err) {
  const absl::Time now = absl::Now();
  if (text == "now") {
    *us = absl::ToUnixMicros(now);
    return true;
  }
  double secs;
  if (absl::SimpleAtod(text, &secs)) {
    *us = static_cast<int64_t>(secs * 1e6 + (secs >= 0 ? 0.5 : -0.5));
    return true;
  }
  absl::Duration ago;
  if (absl::ParseDuration(text, &ago) && ago >= absl::ZeroDuration()) {
    *us = absl::ToUnixMicros(now - ago);
    return true;
  }
  absl::Time t;
  for (const char* fmt :
       {absl::RFC3339_full, "%Y-%m-%d %H:%M:%E*S", "%Y-%m-%dT%H:%M:%E*S", "%Y-%m-%d"}) {
    if (absl::ParseTime(fmt, text, absl::UTCTimeZone(), &t, err)) {
      *us = absl::ToUnixMicros(t);
      return true;
    }
  }
  *err = absl::StrCat("'", text,
                      "' is not a time (RFC 3339, a date, epoch seconds, now, or an age such as "
                      "15m)");
  return false;
}

std::string FormatTs(int64_t us) {
  return absl::FormatTime("%Y-%m-%d %H:%M:%E6S", absl::FromUnixMicros(us), absl::UTCTimeZone());
}

struct Options {
  std::string command;
  std::string sink;
  std::string token_file;
  TlsConfig tls;
  gourmet::v1::QueryRequest req;
  bool table = false;
  bool header = true;
  uint64_t count = 0;  // tail: exit after this many
  absl::Duration timeout = absl::ZeroDuration();
};

// Parses argv into *o; returns an error message, empty when fine.
std::string ParseCommandLine(int argc, char** argv, Options* o, bool* help) {
  const char* env = std::getenv("GOURMET_SINK");
  o->sink = env && *env ? env : "127.0.0.1:50052";
  const char* token_env = std::getenv("GOURMET_TOKEN_FILE");
  if (token_env) o->token_file = token_env;
  std::vector<std::string> args(argv + 1, argv + argc);
  for (size_t i = 0; i < args.size(); ++i) {
    std::string a = args[i];
    if (a == "-h" || a == "--help") {
      *help = true;
      return "";
    }
    std::string value;
    bool has_inline = false;
    if (a.rfind("--", 0) == 0) {
      const size_t eq = a.find('=');
      if (eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
        has_inline = true;
      }
    }
    auto next = [&](std::string* out) -> bool {
      if (has_inline) {
        *out = value;
        return true;
      }
      if (i + 1 >= args.size()) return false;
      *out = args[++i];
      return true;
    };
    auto uint_arg = [&](const std::string& flag, uint32_t max, uint32_t* out) -> std::string {
      std::string v;
      if (!next(&v)) return absl::StrCat("option '", flag, "' needs a value");
      uint32_t n;
      if (!absl::SimpleAtoi(v, &n) || n > max)
        return absl::StrCat("option '", flag, "': '", v, "' is not a number from 0 to ", max);
      *out = n;
      return "";
    };
    if (a.empty() || a[0] != '-' || a == "-") {
      if (o->command.empty()) {
        o->command = a;
      } else {
        o->req.add_where(a);
      }
      continue;
    }
    std::string v, err;
    uint32_t n = 0;
    if (a == "-s" || a == "--sink") {
      if (!next(&o->sink)) return "option '--sink' needs a value";
    } else if (a == "--token-file" || a == "--ca" || a == "--cert" || a == "--key" ||
               a == "--server-name") {
      std::string* dst = a == "--token-file" ? &o->token_file
                         : a == "--ca"       ? &o->tls.ca_file
                         : a == "--cert"     ? &o->tls.cert_file
                         : a == "--key"      ? &o->tls.key_file
                                             : &o->tls.server_name;
      if (!next(dst)) return absl::StrCat("option '", a, "' needs a value");
    } else if (a == "--from" || a == "--to") {
      if (!next(&v)) return absl::StrCat("option '", a, "' needs a value");
      int64_t us;
      if (!ParseTimeArg(v, &us, &err)) return absl::StrCat("option '", a, "': ", err);
      if (a == "--from") {
        o->req.set_from_us(us);
      } else {
        o->req.set_to_us(us);
      }
    } else if (a == "--uid") {
      if (!next(&v)) return "option '--uid' needs a value";
      o->req.set_uid(v);
    } else if (a == "--community-id") {
      if (!next(&v)) return "option '--community-id' needs a value";
      o->req.set_community_id(v);
    } else if (a == "--addr") {
      if (!next(&v)) return "option '--addr' needs a value";
      o->req.set_addr(v);
    } else if (a == "--orig-h") {
      if (!next(&v)) return "option '--orig-h' needs a value";
      o->req.set_orig_h(v);
    } else if (a == "--resp-h") {
      if (!next(&v)) return "option '--resp-h' needs a value";
      o->req.set_resp_h(v);
    } else if (a == "--port" || a == "--orig-p" || a == "--resp-p") {
      if (!(err = uint_arg(a, 65535, &n)).empty()) return err;
      if (a == "--port") o->req.set_port(n);
      if (a == "--orig-p") o->req.set_orig_p(n);
      if (a == "--resp-p") o->req.set_resp_p(n);
    } else if (a == "--proto") {
      if (!next(&v)) return "option '--proto' needs a value";
      o->req.set_proto(v);
    } else if (a == "--service") {
      if (!next(&v)) return "option '--service' needs a value";
      o->req.set_service(v);
    } else if (a == "--conn-state") {
      if (!next(&v)) return "option '--conn-state' needs a value";
      o->req.set_conn_state(v);
    } else if (a == "-w" || a == "--where") {
      if (!next(&v)) return "option '--where' needs a predicate";
      o->req.add_where(v);
    } else if (a == "-n" || a == "--limit" || a == "--backlog") {
      if (!(err = uint_arg(a, UINT32_MAX, &n)).empty()) return err;
      if (a == "--backlog" || (a == "-n" && o->command == "tail")) {
        o->req.set_tail_backlog(n);
      } else {
        o->req.set_limit(n);
      }
    } else if (a == "--count") {
      if (!(err = uint_arg(a, UINT32_MAX, &n)).empty()) return err;
      o->count = n;
    } else if (a == "--order") {
      if (!next(&v)) return "option '--order' needs a value";
      if (v == "ts" || v == "asc") {
        o->req.set_order(gourmet::v1::QueryRequest::TS);
      } else if (v == "desc" || v == "ts_desc") {
        o->req.set_order(gourmet::v1::QueryRequest::TS_DESC);
      } else if (v == "log") {
        o->req.set_order(gourmet::v1::QueryRequest::LOG);
      } else {
        return absl::StrCat("option '--order': '", v, "' is not ts, desc or log");
      }
    } else if (a == "-o" || a == "--output") {
      if (!next(&v)) return "option '--output' needs a value";
      if (v != "json" && v != "table")
        return absl::StrCat("option '--output': '", v, "' is not json or table");
      o->table = v == "table";
    } else if (a == "--no-header") {
      o->header = false;
    } else if (a == "--timeout") {
      if (!next(&v)) return "option '--timeout' needs a value";
      if (!ParseDurationText(v, &o->timeout))
        return absl::StrCat("option '--timeout': '", v, "' is not a duration such as 30s");
    } else {
      return absl::StrCat("unknown option '", a, "' (see gourmetctl --help)");
    }
  }
  if (o->command.empty()) return "no command (query, tail or stats; see gourmetctl --help)";
  if (o->command != "query" && o->command != "tail" && o->command != "stats")
    return absl::StrCat("unknown command '", o->command, "' (query, tail or stats)");
  return "";
}

// The table form of a record: the conn.log columns people look at first.
class Table {
 public:
  explicit Table(bool header) : header_(header) {}
  void Print(const std::string& line) {
    if (header_) {
      std::fputs(Row({"ts", "uid", "proto", "orig", "resp", "service", "state", "duration",
                      "orig_bytes", "resp_bytes"})
                     .c_str(),
                 stdout);
      header_ = false;
    }
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      std::fprintf(stdout, "%s\n", line.c_str());
      return;
    }
    auto str = [&j](const char* k) -> std::string {
      auto it = j.find(k);
      if (it == j.end() || it->is_null()) return "-";
      return it->is_string() ? it->get<std::string>() : it->dump();
    };
    auto endpoint = [&j](const char* h, const char* p) {
      const auto& id = j.value("id", nlohmann::json::object());
      std::string host = id.value(h, std::string("-"));
      if (host.find(':') != std::string::npos) host = "[" + host + "]";
      return absl::StrCat(host, ":", id.contains(p) ? id[p].dump() : "-");
    };
    std::string ts = "-";
    if (j.contains("ts") && j["ts"].is_number())
      ts = FormatTs(static_cast<int64_t>(j["ts"].get<double>() * 1e6 + 0.5));
    std::string service = "-";
    if (j.contains("service") && j["service"].is_array()) {
      std::vector<std::string> s;
      for (const auto& e : j["service"]) s.push_back(e.is_string() ? e.get<std::string>() : "");
      service = absl::StrJoin(s, ",");
    }
    std::fputs(Row({ts, str("uid"), str("proto"), endpoint("orig_h", "orig_p"),
                    endpoint("resp_h", "resp_p"), service, str("conn_state"), str("duration"),
                    str("orig_bytes"), str("resp_bytes")})
                   .c_str(),
               stdout);
  }

 private:
  static std::string Row(const std::vector<std::string>& cells) {
    static const int kWidths[] = {26, 18, 5, 21, 21, 10, 6, 10, 10, 10};
    std::string out;
    for (size_t i = 0; i < cells.size(); ++i) {
      std::string c = cells[i];
      if (i + 1 < cells.size() && c.size() < static_cast<size_t>(kWidths[i]))
        c.resize(kWidths[i], ' ');
      absl::StrAppend(&out, i ? "  " : "", c);
    }
    out += "\n";
    return out;
  }
  bool header_;
};

int RunStats(gourmet::v1::LogSink::Stub& stub, const Options& o) {
  grpc::ClientContext ctx;
  Authorize(&ctx);
  ctx.set_deadline(absl::ToChronoTime(
      absl::Now() + (o.timeout > absl::ZeroDuration() ? o.timeout : absl::Seconds(10))));
  gourmet::v1::StatsReply r;
  grpc::Status st = stub.Stats(&ctx, gourmet::v1::StatsRequest(), &r);
  if (!st.ok()) return Fail(1, absl::StrCat("stats from ", o.sink, ": ", st.error_message()));
  auto when = [](int64_t us) { return us == 0 ? std::string("-") : FormatTs(us); };
  if (o.table) {
    const std::vector<std::pair<std::string, std::string>> rows = {
        {"records", absl::StrCat(r.records())},
        {"bytes", absl::StrCat(r.bytes())},
        {"segments", absl::StrCat(r.segments())},
        {"index_bytes", absl::StrCat(r.index_bytes())},
        {"oldest", when(r.oldest_us())},
        {"newest", when(r.newest_us())},
        {"pending_parts", absl::StrCat(r.pending_parts())},
        {"duplicates_dropped", absl::StrCat(r.duplicates_dropped())},
        {"incomplete", absl::StrCat(r.incomplete())},
        {"active_segment", r.active_segment()}};
    for (const auto& [k, v] : rows) std::printf("%-20s %s\n", k.c_str(), v.c_str());
    return 0;
  }
  nlohmann::json j = {{"records", r.records()},
                      {"bytes", r.bytes()},
                      {"segments", r.segments()},
                      {"index_bytes", r.index_bytes()},
                      {"oldest_us", r.oldest_us()},
                      {"newest_us", r.newest_us()},
                      {"pending_parts", r.pending_parts()},
                      {"duplicates_dropped", r.duplicates_dropped()},
                      {"incomplete", r.incomplete()},
                      {"active_segment", r.active_segment()}};
  std::printf("%s\n", j.dump().c_str());
  return 0;
}

int RunStream(gourmet::v1::LogSink::Stub& stub, const Options& o) {
  grpc::ClientContext ctx;
  Authorize(&ctx);
  const bool tail = o.command == "tail";
  if (!tail && o.timeout > absl::ZeroDuration())
    ctx.set_deadline(absl::ToChronoTime(absl::Now() + o.timeout));
  std::unique_ptr<grpc::ClientReader<gourmet::v1::QueryResult>> reader =
      tail ? stub.Tail(&ctx, o.req) : stub.Query(&ctx, o.req);
  Table table(o.header);
  gourmet::v1::QueryResult r;
  uint64_t n = 0;
  while (reader->Read(&r)) {
    if (o.table) {
      table.Print(r.json());
    } else {
      std::fwrite(r.json().data(), 1, r.json().size(), stdout);
      std::fputc('\n', stdout);
    }
    if (tail) std::fflush(stdout);
    if (tail && o.count > 0 && ++n >= o.count) {
      ctx.TryCancel();
      reader->Finish().IgnoreError();
      return 0;
    }
  }
  std::fflush(stdout);
  grpc::Status st = reader->Finish();
  if (st.ok()) return 0;
  if (st.error_code() == grpc::StatusCode::INVALID_ARGUMENT)
    return Fail(2, absl::StrCat("bad query: ", st.error_message()));
  return Fail(1, absl::StrCat(o.command, " from ", o.sink, ": ", st.error_message()));
}

int Main(int argc, char** argv) {
  Options o;
  bool help = false;
  const std::string err = ParseCommandLine(argc, argv, &o, &help);
  if (help) {
    std::fputs(kUsage, stdout);
    return 0;
  }
  if (!err.empty()) return Fail(2, err);
  if (!o.token_file.empty()) {
    std::ifstream in(o.token_file);
    if (!in || !std::getline(in, g_token) || g_token.empty()) {
      return Fail(2, absl::StrCat("cannot read a token from '", o.token_file, "'"));
    }
  }
  auto creds = MakeChannelCredentials(o.tls);
  if (!creds.ok()) return Fail(2, std::string(creds.status().message()));
  auto stub = gourmet::v1::LogSink::NewStub(MakeChannel(o.sink, *creds, o.tls.server_name));
  if (o.command == "stats") return RunStats(*stub, o);
  return RunStream(*stub, o);
}

}  // namespace
}  // namespace gourmet::ctl

int main(int argc, char** argv) { return gourmet::ctl::Main(argc, argv); }
