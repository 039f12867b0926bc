#include "plugins/watchlist/watchlist_matcher.h"

#include <gourmet/config.h>

#include <algorithm>
#include <cstdio>

namespace gourmet::watchlist {
namespace {

// Enough for any real connection; bounds the work on a hostile one.
constexpr size_t kMaxSightings = 1024;

bool IsNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

// A DNS name as configured: labels of [a-z0-9-_], 1..63 bytes, 253 in all.
bool ValidDomain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
    } else if (IsNameChar(c)) {
      if (++label > 63) return false;
    } else {
      return false;
    }
  }
  return label > 0;
}

// HTTP Host header value -> host name: port removed, IP literals dropped.
std::string HostName(std::string_view host) {
  if (host.empty() || host[0] == '[') return "";
  const size_t colon = host.rfind(':');
  if (colon != std::string_view::npos && std::all_of(host.begin() + colon + 1, host.end(),
                                                     [](char c) { return c >= '0' && c <= '9'; })) {
    host = host.substr(0, colon);
  }
  return NormaliseName(host);
}

bool PointsToName(const std::string& type) {
  return type == "CNAME" || type == "DNAME" || type == "PTR" || type == "NS" || type == "MX" ||
         type == "SRV";
}

const gourmet::JsonValue* StringMember(const gourmet::JsonValue& o, std::string_view key) {
  const gourmet::JsonValue* v = o.Find(key);
  return v && v->is_string() ? v : nullptr;
}

void Add(std::vector<Sighting>* out, std::string name, Source source) {
  if (name.empty() || out->size() >= kMaxSightings) return;
  for (const Sighting& s : *out) {
    if (s.source == source && s.name == name) return;
  }
  out->push_back({std::move(name), source});
}

int DayIndex(std::string_view name) {
  static const char* const kDays[] = {"monday", "tuesday",  "wednesday", "thursday",
                                      "friday", "saturday", "sunday"};
  std::string lower = NormaliseName(name);
  for (int i = 0; i < 7; ++i) {
    const std::string_view full = kDays[i];
    if (lower == full || (lower.size() == 3 && full.substr(0, 3) == lower)) return i;
  }
  return -1;
}

// "HH:MM" -> minutes; 24:00 only when `end`.
bool ParseClock(std::string_view t, bool end, int* minutes) {
  if (t.size() != 5 || t[2] != ':') return false;
  for (size_t i : {0, 1, 3, 4}) {
    if (t[i] < '0' || t[i] > '9') return false;
  }
  const int h = (t[0] - '0') * 10 + (t[1] - '0');
  const int m = (t[3] - '0') * 10 + (t[4] - '0');
  if (m > 59 || h > 24 || (h == 24 && (m != 0 || !end))) return false;
  *minutes = h * 60 + m;
  return true;
}

bool ParseDays(std::string_view text, uint8_t* days) {
  *days = 0;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
    const size_t dash = item.find('-');
    const int from = DayIndex(item.substr(0, dash));
    const int to = dash == std::string_view::npos ? from : DayIndex(item.substr(dash + 1));
    if (from < 0 || to < 0) return false;
    for (int d = from;; d = (d + 1) % 7) {  // "fri-mon" wraps over the weekend
      *days |= 1 << d;
      if (d == to) break;
    }
  }
  return *days != 0;
}

void ParseRuleBody(gourmet::PluginConfig& cfg, Rule* rule) {
  const std::vector<std::string> domains = cfg.StringList("domains");
  std::string error;
  for (size_t i = 0; i < domains.size(); ++i) {
    Pattern p;
    if (!ParsePattern(domains[i], &p, &error)) {
      cfg.Fail("domains[" + std::to_string(i) + "]", error);
    }
    rule->domains.push_back(std::move(p));
  }
  if (domains.empty() && cfg.ok()) cfg.Fail("domains", "required: at least one domain to watch");
  const std::vector<std::string> windows = cfg.StringList("windows");
  for (size_t i = 0; i < windows.size(); ++i) {
    Window w;
    if (!ParseWindow(windows[i], &w, &error)) {
      cfg.Fail("windows[" + std::to_string(i) + "]", error);
    }
    rule->windows.push_back(std::move(w));
  }
}

void AppendJsonTs(std::string* out, int64_t ts_us) {
  int64_t sec = ts_us / 1000000, us = ts_us % 1000000;
  if (us < 0) {
    us += 1000000;
    sec -= 1;
  }
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%lld.%06lld", static_cast<long long>(sec),
                static_cast<long long>(us));
  *out += buf;
}

// Length of the valid UTF-8 sequence at s[i], or 0.
size_t Utf8Length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = b(i);
  size_t n;
  uint32_t cp;
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
    cp = c & 0x1F;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    cp = c & 0x0F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((b(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b(i + k) & 0x3F);
  }
  if ((n == 3 && (cp < 0x800 || (cp >= 0xD800 && cp <= 0xDFFF))) || (n == 4 && cp < 0x10000) ||
      cp > 0x10FFFF) {
    return 0;
  }
  return n;
}

}  // namespace

const char* SourceName(Source s) {
  switch (s) {
    case Source::kDnsQuery:
      return "dns.query";
    case Source::kDnsAnswer:
      return "dns.answer";
    case Source::kHttpHost:
      return "http.host";
    case Source::kTlsSni:
      return "tls.sni";
  }
  return "?";
}

std::string NormaliseName(std::string_view name) {
  std::string out(name);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  while (!out.empty() && out.back() == '.') out.pop_back();
  return out;
}

std::vector<Sighting> CollectSightings(std::string_view dns_json, std::string_view http_json,
                                       std::string_view tls_json) {
  std::vector<Sighting> out;
  gourmet::JsonValue v;
  if (!dns_json.empty() && gourmet::JsonValue::Parse(dns_json, &v, nullptr) && v.is_array()) {
    for (const gourmet::JsonValue& tx : v.items()) {
      if (const auto* q = StringMember(tx, "query")) {
        Add(&out, NormaliseName(q->as_string()), Source::kDnsQuery);
      }
      const gourmet::JsonValue* answers = tx.Find("answers");
      if (!answers || !answers->is_array()) continue;
      for (const gourmet::JsonValue& rr : answers->items()) {
        if (const auto* name = StringMember(rr, "name")) {
          Add(&out, NormaliseName(name->as_string()), Source::kDnsAnswer);
        }
        const auto* type = StringMember(rr, "type");
        const auto* data = StringMember(rr, "data");
        if (type && data && PointsToName(type->as_string())) {
          Add(&out, NormaliseName(data->as_string()), Source::kDnsAnswer);
        }
      }
    }
  }
  if (!http_json.empty() && gourmet::JsonValue::Parse(http_json, &v, nullptr) && v.is_array()) {
    for (const gourmet::JsonValue& tx : v.items()) {
      if (const auto* host = StringMember(tx, "host")) {
        Add(&out, HostName(host->as_string()), Source::kHttpHost);
      }
    }
  }
  if (!tls_json.empty() && gourmet::JsonValue::Parse(tls_json, &v, nullptr) && v.is_object()) {
    if (const auto* sni = StringMember(v, "server_name")) {
      Add(&out, NormaliseName(sni->as_string()), Source::kTlsSni);
    }
  }
  return out;
}

bool ParsePattern(std::string_view text, Pattern* out, std::string* error) {
  Pattern p;
  p.text = std::string(text);
  std::string d = NormaliseName(text);
  if (d.size() > 2 && d[0] == '*' && d[1] == '.') {
    p.wildcard = true;
    d = d.substr(2);
  }
  if (!ValidDomain(d)) {
    *error = "\"" + p.text + "\" is not a domain name or a *.domain pattern";
    return false;
  }
  p.domain = std::move(d);
  *out = std::move(p);
  return true;
}

bool Matches(const Pattern& p, std::string_view name) {
  if (!p.wildcard) return name == p.domain;
  return name.size() > p.domain.size() + 1 &&
         name.substr(name.size() - p.domain.size()) == p.domain &&
         name[name.size() - p.domain.size() - 1] == '.';
}

bool ParseWindow(std::string_view text, Window* out, std::string* error) {
  Window w;
  w.text = std::string(text);
  std::string_view rest = text;
  const size_t space = rest.find(' ');
  bool ok = true;
  if (space != std::string_view::npos) {
    ok = ParseDays(rest.substr(0, space), &w.days);
    rest = rest.substr(space + 1);
  }
  const size_t dash = rest.find('-');
  ok = ok && dash != std::string_view::npos && ParseClock(rest.substr(0, dash), false, &w.start) &&
       ParseClock(rest.substr(dash + 1), true, &w.end);
  if (!ok) {
    *error = "\"" + w.text +
             "\" is not a time window such as \"22:00-06:30\" or \"mon-fri 09:00-17:00\"";
    return false;
  }
  if (w.start == w.end) {
    *error = "\"" + w.text + "\" is an empty window (for all day, say 00:00-24:00)";
    return false;
  }
  *out = std::move(w);
  return true;
}

bool InWindow(const Window& w, const absl::CivilMinute& t) {
  const int minute = t.hour() * 60 + t.minute();
  const int day = static_cast<int>(absl::GetWeekday(absl::CivilDay(t)));
  const int previous = (day + 6) % 7;
  const auto in = [&](int d) { return (w.days >> d) & 1; };
  if (w.start < w.end) return in(day) && minute >= w.start && minute < w.end;
  return (in(day) && minute >= w.start) || (in(previous) && minute < w.end);
}

bool ParseConfig(std::string_view json, Config* out, std::string* error) {
  gourmet::PluginConfig cfg(json);
  Config c;
  c.time_zone_name = cfg.String("time_zone", "UTC");
  if (!absl::LoadTimeZone(c.time_zone_name, &c.time_zone)) {
    cfg.Fail("time_zone", "unknown time zone \"" + c.time_zone_name +
                              "\" (an IANA name such as \"Europe/Paris\", or \"UTC\")");
  }
  // Shorthand for one rule: top-level domains (and windows).
  if (cfg.Has("domains") || cfg.Has("windows")) {
    Rule rule;
    rule.name = "watchlist";
    ParseRuleBody(cfg, &rule);
    c.rules.push_back(std::move(rule));
  }
  std::vector<gourmet::PluginConfig> rules = cfg.ObjectList("rules");
  for (size_t i = 0; i < rules.size(); ++i) {
    Rule rule;
    rule.name = rules[i].String("name", "rule" + std::to_string(i));
    ParseRuleBody(rules[i], &rule);
    cfg.Merge(rules[i]);
    c.rules.push_back(std::move(rule));
  }
  // No config at all is a watchlist that watches nothing (so that loading
  // every plugin of a directory works); anything else needs domains. An
  // unknown key ("domain") says more than "domains: required".
  const bool configured = cfg.Has("rules") || cfg.Has("time_zone") || cfg.Has("webhook");
  std::string unknown;
  if (c.rules.empty() && configured && cfg.Finish(&unknown)) {
    cfg.Fail("domains", "required: the domains to watch (or rules, each with its domains)");
  }
  if (cfg.Has("webhook")) {
    WebhookConfig& h = c.webhook;
    h.url = cfg.String("webhook.url", "");
    if (h.url.rfind("http://", 0) != 0 && h.url.rfind("https://", 0) != 0) {
      cfg.Fail("webhook.url", "expected an http:// or https:// URL, got \"" + h.url + "\"");
    }
    h.timeout_s = cfg.Seconds("webhook.timeout", h.timeout_s, 0.01, 60);
    h.connect_timeout_s = cfg.Seconds("webhook.connect_timeout", h.connect_timeout_s, 0.01, 60);
    h.pause_after_failures =
        cfg.Int("webhook.pause_after_failures", h.pause_after_failures, 1, 1000000);
    h.pause_s = cfg.Seconds("webhook.pause", h.pause_s, 0, 24 * 3600);
  }
  if (!cfg.Finish(error)) return false;
  *out = std::move(c);
  return true;
}

std::vector<Notice> Match(const Config& config, const std::vector<Sighting>& sightings,
                          int64_t ts_us) {
  std::vector<Notice> out;
  if (sightings.empty()) return out;
  const absl::CivilMinute local =
      absl::ToCivilMinute(absl::FromUnixMicros(ts_us), config.time_zone);
  for (const Rule& rule : config.rules) {
    if (!rule.windows.empty() &&
        std::none_of(rule.windows.begin(), rule.windows.end(),
                     [&](const Window& w) { return InWindow(w, local); })) {
      continue;
    }
    const size_t first = out.size();
    for (const Sighting& s : sightings) {
      const auto p = std::find_if(rule.domains.begin(), rule.domains.end(),
                                  [&](const Pattern& p) { return Matches(p, s.name); });
      if (p == rule.domains.end()) continue;
      auto n = std::find_if(out.begin() + first, out.end(),
                            [&](const Notice& n) { return n.domain == s.name; });
      if (n == out.end()) {
        out.push_back({rule.name, s.name, p->text, {}});
        n = out.end() - 1;
      }
      if (std::find(n->seen_in.begin(), n->seen_in.end(), s.source) == n->seen_in.end()) {
        n->seen_in.push_back(s.source);
      }
    }
  }
  return out;
}

std::string LocalTime(const Config& config, int64_t ts_us) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%S%Ez", absl::FromUnixMicros(ts_us), config.time_zone);
}

std::string JsonString(std::string_view s) {
  std::string out = "\"";
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c >= 0x80) {
      const size_t n = Utf8Length(s, i);
      if (n == 0) {
        out += "\\ufffd";
        ++i;
      } else {
        out.append(s.substr(i, n));
        i += n;
      }
      continue;
    }
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c < 0x20 || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\u%04x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
    ++i;
  }
  out.push_back('"');
  return out;
}

std::string NoticesJson(const std::vector<Notice>& notices) {
  std::string out = "[";
  for (const Notice& n : notices) {
    if (out.size() > 1) out.push_back(',');
    out += "{\"rule\":" + JsonString(n.rule) + ",\"domain\":" + JsonString(n.domain) +
           ",\"pattern\":" + JsonString(n.pattern) + ",\"seen_in\":[";
    for (size_t i = 0; i < n.seen_in.size(); ++i) {
      if (i) out.push_back(',');
      out += std::string("\"") + SourceName(n.seen_in[i]) + "\"";
    }
    out += "]}";
  }
  out.push_back(']');
  return out;
}

std::string WebhookBody(const ConnInfo& conn, const std::string& local_time,
                        const std::string& notices_json) {
  std::string out = "{\"uid\":" + JsonString(conn.uid) + ",\"ts\":";
  AppendJsonTs(&out, conn.ts_us);
  out += ",\"local_time\":" + JsonString(local_time) +
         ",\"id\":{\"orig_h\":" + JsonString(conn.orig_h) +
         ",\"orig_p\":" + std::to_string(conn.orig_p) + ",\"resp_h\":" + JsonString(conn.resp_h) +
         ",\"resp_p\":" + std::to_string(conn.resp_p) + "},\"proto\":" + JsonString(conn.proto) +
         ",\"notices\":" + notices_json + "}";
  return out;
}

}  // namespace gourmet::watchlist
