// Query filters: the fields of a QueryRequest and its `where` predicates
// compiled into one matcher over raw log lines, plus what the executor uses
// to read less: the uid, the community_id, the time range, and a literal
// that every matching line contains.
//
// Predicate syntax (one `where` entry; several entries must all hold):
//   expr  := term { (or | "||") term }
//   term  := unary { (and | "&&") unary }
//   unary := (not | "!") unary | "(" expr ")" | PATH op
//   op    := (== | = | != | < | <= | > | >=) VALUE
//          | contains VALUE | startswith VALUE | endswith VALUE
//          | exists | in "[" VALUE {"," VALUE} "]" | in PREFIX
// PATH is dotted keys (http.host); arrays on the way are searched element by
// element, so a predicate holds when it holds for any element. VALUE is a
// JSON string ("a b"), a number, true, false, null, or a bare word (taken as
// a string). PREFIX is an address or CIDR prefix (10.0.0.0/8, 2001:db8::/32).
// A predicate on a field the record does not have is false (`!=` too).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "gourmet/v1/sink.pb.h"

namespace gourmet::sink {

namespace query_internal {
struct Node;
}

class Filter {
 public:
  // Compiles `req`. A bad field or predicate gives INVALID_ARGUMENT with a
  // message that names it and says what is wrong.
  static absl::StatusOr<Filter> Compile(const gourmet::v1::QueryRequest& req);
  // Compiles one `where` expression alone.
  static absl::StatusOr<Filter> FromWhere(std::string_view expr);

  // True when the log line (without its newline) satisfies every filter.
  bool Matches(std::string_view line) const;

  const std::string& uid() const { return uid_; }
  const std::string& community_id() const { return community_id_; }
  int64_t from_us() const { return from_us_; }  // INT64_MIN when unbounded
  int64_t to_us() const { return to_us_; }      // exclusive; INT64_MAX when unbounded
  // Bytes that every matching line contains; empty when none is known.
  const std::string& needle() const { return needle_; }

 private:
  std::shared_ptr<const query_internal::Node> root_;
  std::string uid_, community_id_, needle_;
  int64_t from_us_ = INT64_MIN;
  int64_t to_us_ = INT64_MAX;
};

// Parses an address or CIDR prefix; false when it is neither. `canonical`
// gets the address as the sink writes it (inet_ntop) when there is no prefix
// length or it covers the whole address.
struct AddrPrefix {
  int family = 0;  // AF_INET or AF_INET6
  unsigned char bytes[16] = {};
  int bits = 0;
  std::string canonical;
  bool Contains(std::string_view text_addr) const;
};
bool ParseAddrPrefix(std::string_view text, AddrPrefix* out);

}  // namespace gourmet::sink
