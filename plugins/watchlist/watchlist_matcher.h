// The watchlist matcher (no plugin code): its typed config, the domain names
// a connection's dns, http and tls results mention, and which watched
// domains they match, within optional time-of-day windows taken from the
// connection's own timestamp in a configured time zone (never the wall clock).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace gourmet::watchlist {

// Where a name was seen.
enum class Source { kDnsQuery, kDnsAnswer, kHttpHost, kTlsSni };
// "dns.query", "dns.answer", "http.host", "tls.sni".
const char* SourceName(Source s);

struct Sighting {
  std::string name;  // lower case, no trailing dot, no port
  Source source;
};

// The names in the JSON results of the dns, http and tls plugins (empty or
// malformed text gives nothing): DNS query names, answer owner names and the
// names answers point to (CNAME, DNAME, PTR, NS, MX, SRV), HTTP Host headers,
// TLS server names. Each (name, source) once, in the order first seen.
std::vector<Sighting> CollectSightings(std::string_view dns_json, std::string_view http_json,
                                       std::string_view tls_json);

// Lower case, trailing dot removed.
std::string NormaliseName(std::string_view name);

// "www.example.com" matches itself; "*.example.com" matches every name below
// example.com (not example.com itself).
struct Pattern {
  std::string text;    // as configured
  std::string domain;  // normalised; for a wildcard, the part after "*."
  bool wildcard = false;
};
bool ParsePattern(std::string_view text, Pattern* out, std::string* error);
bool Matches(const Pattern& p, std::string_view name);

// "[DAYS ]HH:MM-HH:MM", e.g. "22:00-06:30" or "mon-fri 09:00-17:00" or
// "sat,sun 00:00-24:00". A window whose end is before its start runs past
// midnight, and belongs to the day it starts on.
struct Window {
  std::string text;
  uint8_t days = 0x7f;  // bit d: absl::Weekday d (monday = 0) is in
  int start = 0;        // minutes since local midnight, inclusive
  int end = 24 * 60;    // exclusive
};
bool ParseWindow(std::string_view text, Window* out, std::string* error);
// Whether the local civil time `t` falls in `w`.
bool InWindow(const Window& w, const absl::CivilMinute& t);

struct Rule {
  std::string name;
  std::vector<Pattern> domains;
  std::vector<Window> windows;  // empty = always
};

struct WebhookConfig {
  std::string url;  // empty = no webhook
  double timeout_s = 2;
  double connect_timeout_s = 1;
  int pause_after_failures = 3;  // consecutive failures before pausing
  double pause_s = 30;           // no POST is tried for this long
};

struct Config {
  std::vector<Rule> rules;
  std::string time_zone_name = "UTC";
  absl::TimeZone time_zone = absl::UTCTimeZone();
  WebhookConfig webhook;
};

// Parses and validates the plugin's JSON config; on failure returns false
// with a message naming the key (e.g. "key 'rules[0].windows[1]': ...").
// An empty config ("{}") is valid and watches nothing.
bool ParseConfig(std::string_view json, Config* out, std::string* error);

struct Notice {
  std::string rule;
  std::string domain;   // the name seen
  std::string pattern;  // the watched pattern it matched
  std::vector<Source> seen_in;
};

// The notices for a connection that started at `ts_us` and mentioned
// `sightings`: one per (rule, name), in rule order.
std::vector<Notice> Match(const Config& config, const std::vector<Sighting>& sightings,
                          int64_t ts_us);

// `ts_us` in the configured time zone, e.g. "2026-12-04T22:13:44+01:00".
std::string LocalTime(const Config& config, int64_t ts_us);

// What the plugin records and posts.
struct ConnInfo {
  std::string_view uid, proto, orig_h, resp_h;
  uint16_t orig_p = 0, resp_p = 0;
  int64_t ts_us = 0;
};
// The JSON array of notices.
std::string NoticesJson(const std::vector<Notice>& notices);
// The webhook's POST body: the connection, its local time and the notices.
std::string WebhookBody(const ConnInfo& conn, const std::string& local_time,
                        const std::string& notices_json);
// `s` as a JSON string literal (invalid UTF-8 bytes replaced by U+FFFD).
std::string JsonString(std::string_view s);

}  // namespace gourmet::watchlist
