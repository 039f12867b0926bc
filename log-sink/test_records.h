// Synthetic connection records for the sink's tests, its load generator and
// its benchmark: deterministic in the index, varied like real traffic (tcp,
// udp and icmp; http and dns results on some; a few large transfers).
#pragma once

#include <cstdint>
#include <string>

#include "absl/strings/str_cat.h"
#include "gourmet/v1/sink.pb.h"

namespace gourmet::sink::testing {

inline constexpr int64_t kBaseTsUs = 1796397424000000;  // 2026-12-04T...Z

// A Zeek-shaped uid for record `i` of a run named `prefix` (letters/digits).
inline std::string TestUid(const std::string& prefix, uint64_t i) {
  static const char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  std::string s = "C" + prefix;
  std::string tail;
  uint64_t v = i * 0x9E3779B97F4A7C15ULL + 12345;
  for (int k = 0; k < 10; ++k) {
    tail.push_back(kDigits[v % 62]);
    v /= 62;
  }
  return absl::StrCat(s, tail, i);
}

inline std::string Addr4(uint32_t a) {
  return std::string{static_cast<char>(a >> 24), static_cast<char>(a >> 16),
                     static_cast<char>(a >> 8), static_cast<char>(a)};
}

// Record `i` with the given uid; `part` names the analyzer pool.
inline gourmet::v1::Record TestRecord(uint64_t i, const std::string& uid,
                                      const std::string& part = "analysis") {
  gourmet::v1::Record r;
  r.set_part(part);
  auto* c = r.mutable_conn();
  c->set_uid(uid);
  c->set_community_id(absl::StrCat("1:", (i * 2654435761u) % 1000003, "cid", i % 97, "="));
  const int64_t ts = kBaseTsUs + static_cast<int64_t>(i) * 1000 + static_cast<int64_t>(i % 7) * 137;
  c->set_ts_us(ts);
  c->set_last_ts_us(ts + static_cast<int64_t>(i % 1000) * 311);
  const uint32_t kind = i % 10;  // 0-5 tcp, 6-8 udp, 9 icmp
  c->set_ip_proto(kind < 6 ? 6 : kind < 9 ? 17 : 1);
  c->mutable_orig()->set_addr(Addr4(0x0A000000u | static_cast<uint32_t>(i % 65536)));
  c->mutable_orig()->set_port(kind == 9 ? 8 : 20000 + i % 40000);
  c->mutable_resp()->set_addr(Addr4(0xC0A80000u | static_cast<uint32_t>(i % 251)));
  const uint32_t resp_port = kind < 3 ? 80 : kind < 6 ? 443 : kind < 9 ? 53 : 0;
  c->mutable_resp()->set_port(resp_port);
  const uint64_t big = (i % 1000 == 0) ? 5000000 + i : 0;
  c->mutable_orig_stats()->set_pkts(3 + i % 20);
  c->mutable_orig_stats()->set_bytes(big + (i * 37) % 5000);
  c->mutable_orig_stats()->set_ip_bytes(big + (i * 37) % 5000 + 400);
  c->mutable_resp_stats()->set_pkts(2 + i % 30);
  c->mutable_resp_stats()->set_bytes((i * 101) % 90000);
  c->mutable_resp_stats()->set_ip_bytes((i * 101) % 90000 + 300);
  static const char* const kStates[] = {"SF", "SF", "SF", "S0", "REJ", "SF", "RSTO", "SF", "SH"};
  c->set_conn_state(kind >= 6 ? "SF" : kStates[i % 9]);
  c->set_history(kind >= 6 ? "Dd" : "ShADadFf");
  c->set_sensor("bench");
  if (kind < 3) {
    r.add_services("http");
    (*r.mutable_results())["http"] = absl::StrCat(
        R"([{"method":"GET","host":"host)", i % 1000, R"(.example.test","uri":"/path/)", i,
        R"(","status_code":)", (i % 50 == 0) ? 404 : 200, R"(,"user_agent":"curl/7.88.1"}])");
  } else if (kind >= 6 && kind < 9) {
    r.add_services("dns");
    const char* domain = (i % 40 == 6) ? "netflix.com" : "example.org";
    (*r.mutable_results())["dns"] = absl::StrCat(R"({"query":"name)", i % 5000, ".", domain,
                                                 R"(","qtype_name":"A","rcode_name":"NOERROR"})");
  }
  (*r.mutable_results())["bytes"] =
      absl::StrCat(R"({"orig":)", c->orig_stats().bytes(), R"(,"resp":)", c->resp_stats().bytes(),
                   R"(,"orig_chunks":3,"resp_chunks":3})");
  return r;
}

}  // namespace gourmet::sink::testing
