// libFuzzer target for the watchlist matcher. The input is up to four parts
// separated by NUL bytes: the dns, http and tls results (JSON text, as the
// plugins that run before watchlist produce them) and a watchlist config.
// Whatever the input, the notices and the webhook body must be valid JSON.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gourmet/config.h"
#include "plugins/watchlist/watchlist_matcher.h"

namespace wl = gourmet::watchlist;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> parts;
  for (int i = 0; i < 3; ++i) {
    const size_t nul = in.find('\0');
    parts.push_back(in.substr(0, nul));
    in = nul == std::string_view::npos ? std::string_view() : in.substr(nul + 1);
  }
  parts.push_back(in);
  static const wl::Config fixed = [] {
    wl::Config c;
    std::string error;
    wl::ParseConfig(R"({"rules":[{"name":"all","domains":["*.test","*.example","example"]},
        {"name":"night","domains":["*.test"],"windows":["fri-mon 22:00-06:00","12:00-12:01"]}]})",
                    &c, &error);
    return c;
  }();
  wl::Config config;
  std::string error;
  // Time zone names are file names: keep the fuzzer away from the file system.
  const bool own = parts[3].find("time_zone") == std::string_view::npos &&
                   wl::ParseConfig(parts[3], &config, &error);
  const wl::Config& c = own ? config : fixed;
  std::vector<wl::Sighting> sightings = wl::CollectSightings(parts[0], parts[1], parts[2]);
  int64_t ts = 0;
  for (size_t i = 0; i < 8 && i < size; ++i) ts = (ts << 8) | data[i];
  ts %= int64_t{4102444800} * 1000000;  // before 2100
  std::vector<wl::Notice> notices = wl::Match(c, sightings, ts);
  const std::string notices_json = wl::NoticesJson(notices);
  wl::ConnInfo info;
  info.uid = parts[0].substr(0, 20);
  info.ts_us = ts;
  const std::string body = wl::WebhookBody(info, wl::LocalTime(c, ts), notices_json);
  gourmet::JsonValue v;
  if (!gourmet::JsonValue::Parse(body, &v, &error)) __builtin_trap();
  if (notices.size() > sightings.size() * c.rules.size()) __builtin_trap();
  return 0;
}
