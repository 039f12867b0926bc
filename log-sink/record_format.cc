#include "log-sink/record_format.h"

#include <arpa/inet.h>

#include <map>

#include "services/json_writer.h"

namespace gourmet::sink {

std::string AddrToString(const std::string& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (a.size() == 4)
    inet_ntop(AF_INET, a.data(), buf, sizeof(buf));
  else if (a.size() == 16)
    inet_ntop(AF_INET6, a.data(), buf, sizeof(buf));
  return buf;
}

const char* ProtoName(uint32_t p) {
  switch (p) {
    case 6:
      return "tcp";
    case 17:
      return "udp";
    case 1:
    case 58:
      return "icmp";
  }
  return "unknown_transport";
}

std::string RenderRecord(const gourmet::v1::Record& r, const std::vector<std::string>& missing) {
  const gourmet::v1::Connection& c = r.conn();
  std::string out;
  out.reserve(512);
  JsonWriter w(&out);
  w.BeginObject();
  w.Key("ts");
  w.Micros(c.ts_us());
  w.Key("uid");
  w.String(c.uid());
  w.Key("community_id");
  w.String(c.community_id());
  w.Key("id");
  w.BeginObject();
  w.Key("orig_h");
  w.String(AddrToString(c.orig().addr()));
  w.Key("orig_p");
  w.Uint(c.orig().port());
  w.Key("resp_h");
  w.String(AddrToString(c.resp().addr()));
  w.Key("resp_p");
  w.Uint(c.resp().port());
  w.EndObject();
  w.Key("proto");
  w.String(ProtoName(c.ip_proto()));
  if (r.services_size() > 0) {
    w.Key("service");
    w.BeginArray();
    for (const auto& s : r.services()) w.String(s);
    w.EndArray();
  }
  w.Key("duration");
  w.Micros(c.last_ts_us() - c.ts_us());
  w.Key("orig_bytes");
  w.Uint(c.orig_stats().bytes());
  w.Key("resp_bytes");
  w.Uint(c.resp_stats().bytes());
  w.Key("orig_pkts");
  w.Uint(c.orig_stats().pkts());
  w.Key("resp_pkts");
  w.Uint(c.resp_stats().pkts());
  w.Key("orig_ip_bytes");
  w.Uint(c.orig_stats().ip_bytes());
  w.Key("resp_ip_bytes");
  w.Uint(c.resp_stats().ip_bytes());
  w.Key("missed_bytes");
  w.Uint(c.orig_stats().missed_bytes() + c.resp_stats().missed_bytes());
  w.Key("conn_state");
  w.String(c.conn_state());
  w.Key("history");
  w.String(c.history());
  if (c.vlan_size() > 0) {
    w.Key("vlan");
    w.Uint(c.vlan(0));
    if (c.vlan_size() > 1) {
      w.Key("inner_vlan");
      w.Uint(c.vlan(1));
    }
  }
  if (c.tunnel_parents_size() > 0) {
    w.Key("tunnel_parents");
    w.BeginArray();
    for (const auto& t : c.tunnel_parents()) w.String(t);
    w.EndArray();
  }
  if (c.weirds_size() > 0) {
    w.Key("weirds");
    w.BeginArray();
    for (const auto& t : c.weirds()) w.String(t);
    w.EndArray();
  }
  if (c.orig_stats().truncated_bytes() + c.resp_stats().truncated_bytes() > 0) {
    w.Key("orig_truncated_bytes");
    w.Uint(c.orig_stats().truncated_bytes());
    w.Key("resp_truncated_bytes");
    w.Uint(c.resp_stats().truncated_bytes());
  }
  w.Key("sensor");
  w.String(c.sensor());
  // Results in key order, so identical input gives identical lines.
  const std::map<std::string, std::string> results(r.results().begin(), r.results().end());
  for (const auto& [key, json] : results) {
    w.Key(key);
    w.Raw(json);
  }
  if (!missing.empty()) {
    w.Key("_missing");
    w.BeginArray();
    for (const auto& m : missing) w.String(m);
    w.EndArray();
  }
  if (!r.errors().empty()) {
    const std::map<std::string, std::string> errors(r.errors().begin(), r.errors().end());
    w.Key("_errors");
    w.BeginObject();
    for (const auto& [key, msg] : errors) {
      w.Key(key);
      w.String(msg);
    }
    w.EndObject();
  }
  w.EndObject();
  return out;
}

}  // namespace gourmet::sink
