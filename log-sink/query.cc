#include "log-sink/query.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cstring>
#include <new>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "log-sink/json_scan.h"
#include "services/json_writer.h"

namespace gourmet::sink {
namespace query_internal {

enum class Op { kEq, kNe, kLt, kLe, kGt, kGe, kContains, kStartsWith, kEndsWith, kExists, kIn };

struct Literal {
  enum class Type { kString, kNumber, kBool, kNull } type = Type::kString;
  std::string s;   // kString
  double d = 0;    // kNumber
  bool b = false;  // kBool
};

struct Node {
  enum class Type { kAnd, kOr, kNot, kPred } type = Type::kPred;
  std::vector<std::unique_ptr<Node>> kids;
  // kPred:
  std::vector<std::string> path;
  Op op = Op::kEq;
  std::vector<Literal> values;  // one, or the list of `in [...]`
  bool has_prefix = false;      // `in PREFIX` and address filters
  AddrPrefix prefix;
  bool micros = false;  // the field is ts: compare numbers as exact microseconds
  int64_t micros_value = 0;
};

namespace {

using json::Kind;
using json::Value;

bool LiteralEquals(const Node& n, const Literal& lit, const Value& v) {
  switch (lit.type) {
    case Literal::Type::kString: {
      if (v.kind != Kind::kString) return false;
      std::string scratch;
      return json::StringContent(v.text, &scratch) == lit.s;
    }
    case Literal::Type::kNumber: {
      if (v.kind != Kind::kNumber) return false;
      if (n.micros) {
        int64_t us;
        return json::ParseMicros(v.text, &us) && us == n.micros_value;
      }
      double d;
      return json::ParseNumber(v.text, &d) && d == lit.d;
    }
    case Literal::Type::kBool:
      return (v.kind == Kind::kTrue && lit.b) || (v.kind == Kind::kFalse && !lit.b);
    case Literal::Type::kNull:
      return v.kind == Kind::kNull;
  }
  return false;
}

bool Compare(const Node& n, const Value& v) {
  switch (n.op) {
    case Op::kExists:
      return true;
    case Op::kEq:
      return LiteralEquals(n, n.values[0], v);
    case Op::kNe:
      return !LiteralEquals(n, n.values[0], v);
    case Op::kLt:
    case Op::kLe:
    case Op::kGt:
    case Op::kGe: {
      if (v.kind != Kind::kNumber) return false;
      int c;
      if (n.micros) {
        int64_t us;
        if (!json::ParseMicros(v.text, &us)) return false;
        c = us < n.micros_value ? -1 : us > n.micros_value ? 1 : 0;
      } else {
        double d;
        if (!json::ParseNumber(v.text, &d)) return false;
        const double x = n.values[0].d;
        c = d < x ? -1 : d > x ? 1 : 0;
      }
      switch (n.op) {
        case Op::kLt:
          return c < 0;
        case Op::kLe:
          return c <= 0;
        case Op::kGt:
          return c > 0;
        default:
          return c >= 0;
      }
    }
    case Op::kContains:
    case Op::kStartsWith:
    case Op::kEndsWith: {
      if (v.kind != Kind::kString) return false;
      std::string scratch;
      const std::string_view s = json::StringContent(v.text, &scratch);
      const std::string& x = n.values[0].s;
      if (n.op == Op::kContains) return s.find(x) != std::string_view::npos;
      if (n.op == Op::kStartsWith) return s.size() >= x.size() && s.substr(0, x.size()) == x;
      return s.size() >= x.size() && s.substr(s.size() - x.size()) == x;
    }
    case Op::kIn: {
      if (n.has_prefix) {
        if (v.kind != Kind::kString) return false;
        std::string scratch;
        return n.prefix.Contains(json::StringContent(v.text, &scratch));
      }
      for (const Literal& lit : n.values) {
        if (LiteralEquals(n, lit, v)) return true;
      }
      return false;
    }
  }
  return false;
}

// The top-level members of one line, found by one walk that goes only as
// far as the predicates need and remembers what it passed, so that several
// predicates on one line do not walk it several times.
class LineMembers {
 public:
  explicit LineMembers(std::string_view line) : p_(line.data()), end_(line.data() + line.size()) {
    p_ = json::internal::SkipWs(p_, end_);
    if (p_ == end_ || *p_ != '{') {
      done_ = true;
      return;
    }
    p_ = json::internal::SkipWs(p_ + 1, end_);
    if (p_ < end_ && *p_ == '}') done_ = true;
  }

  // The value of member `name`; false when the line has none.
  bool Find(const std::string& name, Value* out) {
    const Member* m = members();
    for (int i = 0; i < n_; ++i) {
      if (json::KeyEquals(m[i].key, name)) {
        *out = m[i].value;
        return true;
      }
    }
    while (!done_) {
      std::string_view key;
      Value v;
      if (!Next(&key, &v)) {
        done_ = true;
        return false;
      }
      if (n_ < kMax) new (&members()[n_++]) Member{key, v};
      if (json::KeyEquals(key, name)) {
        *out = v;
        return true;
      }
    }
    return false;
  }

 private:
  static constexpr int kMax = 48;
  struct Member {
    std::string_view key;
    Value value;
  };
  bool Next(std::string_view* key, Value* v) {
    if (p_ == end_ || *p_ != '"') return false;
    const char* key_end = json::internal::SkipStringFast(p_, end_);
    if (key_end == nullptr) return false;
    *key = std::string_view(p_ + 1, key_end - p_ - 2);
    const char* q = json::internal::SkipWs(key_end, end_);
    if (q == end_ || *q != ':') return false;
    q = json::ScanValueFast(q + 1, end_, v);
    if (q == nullptr) return false;
    q = json::internal::SkipWs(q, end_);
    if (q < end_ && *q == ',') {
      p_ = json::internal::SkipWs(q + 1, end_);
    } else {
      done_ = true;  // '}' or damage: this member is the last
    }
    return true;
  }

  // Raw storage: nothing to initialise per line (the members are trivial).
  Member* members() { return reinterpret_cast<Member*>(storage_); }

  const char* p_;
  const char* end_;
  bool done_ = false;
  int n_ = 0;
  alignas(Member) unsigned char storage_[kMax * sizeof(Member)];
};

bool Eval(const Node& n, LineMembers& line) {
  switch (n.type) {
    case Node::Type::kAnd:
      for (const auto& k : n.kids) {
        if (!Eval(*k, line)) return false;
      }
      return true;
    case Node::Type::kOr:
      for (const auto& k : n.kids) {
        if (Eval(*k, line)) return true;
      }
      return false;
    case Node::Type::kNot:
      return !Eval(*n.kids[0], line);
    case Node::Type::kPred: {
      Value member;
      if (!line.Find(n.path[0], &member)) return false;
      return json::VisitPath(member, n.path.data() + 1, n.path.size() - 1, n.op != Op::kExists,
                             [&n](const Value& v) { return Compare(n, v); });
    }
  }
  return false;
}

// ---- the `where` parser ----

struct Token {
  enum class Type { kEnd, kLParen, kRParen, kLBracket, kRBracket, kComma, kOp, kString, kWord };
  Type type = Type::kEnd;
  std::string text;  // operator text, decoded string, or word
  size_t pos = 0;    // 0-based column
};

bool IsWordChar(char c) {
  return !absl::ascii_isspace(static_cast<unsigned char>(c)) &&
         std::strchr("()[],\"=!<>&|", c) == nullptr;
}

absl::Status Tokenize(std::string_view s, std::vector<Token>* out) {
  size_t i = 0;
  auto err = [&](size_t pos, const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrCat("at column ", pos + 1, ": ", msg));
  };
  while (i < s.size()) {
    const char c = s[i];
    if (absl::ascii_isspace(static_cast<unsigned char>(c))) {
      ++i;
      continue;
    }
    Token t;
    t.pos = i;
    auto two = [&](const char* op) { return s.substr(i, 2) == op; };
    if (c == '(' || c == ')' || c == '[' || c == ']' || c == ',') {
      t.type = c == '('   ? Token::Type::kLParen
               : c == ')' ? Token::Type::kRParen
               : c == '[' ? Token::Type::kLBracket
               : c == ']' ? Token::Type::kRBracket
                          : Token::Type::kComma;
      t.text = std::string(1, c);
      ++i;
    } else if (two("==") || two("!=") || two("<=") || two(">=") || two("&&") || two("||")) {
      t.type = Token::Type::kOp;
      t.text = std::string(s.substr(i, 2));
      i += 2;
    } else if (c == '=' || c == '<' || c == '>' || c == '!') {
      t.type = Token::Type::kOp;
      t.text = std::string(1, c);
      ++i;
    } else if (c == '&' || c == '|') {
      return err(i, absl::StrCat("'", std::string(1, c), "' is not an operator (use ",
                                 c == '&' ? "&& or and" : "|| or or", ")"));
    } else if (c == '"') {
      size_t j = i + 1;
      while (j < s.size() && s[j] != '"') j += s[j] == '\\' ? 2 : 1;
      if (j >= s.size()) return err(i, "a string is not closed (missing \")");
      if (!json::DecodeString(s.substr(i, j - i + 1), &t.text))
        return err(i, "a string has a bad escape (JSON escapes: \\\" \\\\ \\n \\t \\uXXXX ...)");
      t.type = Token::Type::kString;
      i = j + 1;
    } else {
      size_t j = i;
      while (j < s.size() && IsWordChar(s[j])) ++j;
      t.type = Token::Type::kWord;
      t.text = std::string(s.substr(i, j - i));
      i = j;
    }
    out->push_back(std::move(t));
  }
  Token end;
  end.pos = s.size();
  out->push_back(end);
  return absl::OkStatus();
}

bool KeywordIs(const Token& t, const char* kw) {
  return t.type == Token::Type::kWord && absl::EqualsIgnoreCase(t.text, kw);
}

std::string Describe(const Token& t) {
  switch (t.type) {
    case Token::Type::kEnd:
      return "the end";
    case Token::Type::kString:
      return absl::StrCat("\"", t.text, "\"");
    default:
      return absl::StrCat("'", t.text, "'");
  }
}

bool ValidKey(std::string_view k) {
  if (k.empty()) return false;
  for (char c : k) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-' && c != '@' &&
        c != '$')
      return false;
  }
  return true;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : t_(std::move(tokens)) {}

  absl::StatusOr<std::unique_ptr<Node>> ParseAll() {
    if (Peek().type == Token::Type::kEnd) return Error(Peek(), "the predicate is empty");
    auto n = ParseOr();
    if (!n.ok()) return n;
    if (Peek().type != Token::Type::kEnd)
      return Error(Peek(), absl::StrCat("unexpected ", Describe(Peek()),
                                        " after a complete predicate (join predicates with "
                                        "and / or)"));
    return n;
  }

 private:
  const Token& Peek() const { return t_[i_]; }
  const Token& Next() { return t_[i_ < t_.size() - 1 ? i_++ : i_]; }
  absl::Status Error(const Token& at, const std::string& msg) {
    return absl::InvalidArgumentError(absl::StrCat("at column ", at.pos + 1, ": ", msg));
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseOr() {
    auto left = ParseAnd();
    if (!left.ok()) return left;
    std::unique_ptr<Node> n = std::move(*left);
    while (KeywordIs(Peek(), "or") || (Peek().type == Token::Type::kOp && Peek().text == "||")) {
      Next();
      auto right = ParseAnd();
      if (!right.ok()) return right;
      if (n->type != Node::Type::kOr) {
        auto o = std::make_unique<Node>();
        o->type = Node::Type::kOr;
        o->kids.push_back(std::move(n));
        n = std::move(o);
      }
      n->kids.push_back(std::move(*right));
    }
    return n;
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseAnd() {
    auto left = ParseUnary();
    if (!left.ok()) return left;
    std::unique_ptr<Node> n = std::move(*left);
    while (KeywordIs(Peek(), "and") || (Peek().type == Token::Type::kOp && Peek().text == "&&")) {
      Next();
      auto right = ParseUnary();
      if (!right.ok()) return right;
      if (n->type != Node::Type::kAnd) {
        auto a = std::make_unique<Node>();
        a->type = Node::Type::kAnd;
        a->kids.push_back(std::move(n));
        n = std::move(a);
      }
      n->kids.push_back(std::move(*right));
    }
    return n;
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseUnary() {
    const Token& t = Peek();
    if (KeywordIs(t, "not") || (t.type == Token::Type::kOp && t.text == "!")) {
      Next();
      auto k = ParseUnary();
      if (!k.ok()) return k;
      auto n = std::make_unique<Node>();
      n->type = Node::Type::kNot;
      n->kids.push_back(std::move(*k));
      return n;
    }
    if (t.type == Token::Type::kLParen) {
      Next();
      auto n = ParseOr();
      if (!n.ok()) return n;
      if (Peek().type != Token::Type::kRParen)
        return Error(Peek(), absl::StrCat("expected ')', found ", Describe(Peek())));
      Next();
      return n;
    }
    return ParsePredicate();
  }

  absl::StatusOr<std::unique_ptr<Node>> ParsePredicate() {
    const Token path_tok = Next();
    if (path_tok.type != Token::Type::kWord)
      return Error(path_tok, absl::StrCat("expected a field name such as http.host, found ",
                                          Describe(path_tok)));
    auto n = std::make_unique<Node>();
    for (absl::string_view part : absl::StrSplit(path_tok.text, '.')) {
      if (!ValidKey(std::string_view(part.data(), part.size())))
        return Error(path_tok, absl::StrCat("'", path_tok.text,
                                            "' is not a field name (keys of letters, digits, "
                                            "_ and -, joined by dots)"));
      n->path.emplace_back(part);
    }
    n->micros = n->path.size() == 1 && n->path[0] == "ts";
    const Token op = Next();
    const std::string after = absl::StrCat(" after '", path_tok.text, "'");
    if (op.type == Token::Type::kOp) {
      if (op.text == "==" || op.text == "=") {
        n->op = Op::kEq;
      } else if (op.text == "!=") {
        n->op = Op::kNe;
      } else if (op.text == "<") {
        n->op = Op::kLt;
      } else if (op.text == "<=") {
        n->op = Op::kLe;
      } else if (op.text == ">") {
        n->op = Op::kGt;
      } else if (op.text == ">=") {
        n->op = Op::kGe;
      } else {
        return Error(op, absl::StrCat("expected a comparison", after, ", found '", op.text, "'"));
      }
    } else if (KeywordIs(op, "contains")) {
      n->op = Op::kContains;
    } else if (KeywordIs(op, "startswith")) {
      n->op = Op::kStartsWith;
    } else if (KeywordIs(op, "endswith")) {
      n->op = Op::kEndsWith;
    } else if (KeywordIs(op, "exists")) {
      n->op = Op::kExists;
      return n;
    } else if (KeywordIs(op, "in")) {
      n->op = Op::kIn;
      return ParseIn(std::move(n));
    } else {
      return Error(op, absl::StrCat("expected an operator", after,
                                    " (==, !=, <, <=, >, >=, contains, startswith, endswith, "
                                    "in, exists), found ",
                                    Describe(op)));
    }
    const Token v = Next();
    auto lit = ToLiteral(v, op.text);
    if (!lit.ok()) return lit.status();
    switch (n->op) {
      case Op::kLt:
      case Op::kLe:
      case Op::kGt:
      case Op::kGe:
        if (lit->type != Literal::Type::kNumber)
          return Error(v, absl::StrCat("'", op.text, "' compares numbers, and ", Describe(v),
                                       " is not a number"));
        break;
      case Op::kContains:
      case Op::kStartsWith:
      case Op::kEndsWith:
        if (lit->type != Literal::Type::kString) {
          lit->type = Literal::Type::kString;
          lit->s = v.text;
        }
        if (lit->s.empty()) return Error(v, absl::StrCat("'", op.text, "' needs a non-empty text"));
        break;
      default:
        break;
    }
    if (n->micros && lit->type == Literal::Type::kNumber &&
        !json::ParseMicros(v.text, &n->micros_value))
      n->micros = false;
    n->values.push_back(std::move(*lit));
    return n;
  }

  absl::StatusOr<std::unique_ptr<Node>> ParseIn(std::unique_ptr<Node> n) {
    const Token t = Next();
    if (t.type == Token::Type::kLBracket) {
      for (;;) {
        const Token v = Next();
        auto lit = ToLiteral(v, "in [");
        if (!lit.ok()) return lit.status();
        n->values.push_back(std::move(*lit));
        const Token sep = Next();
        if (sep.type == Token::Type::kRBracket) break;
        if (sep.type != Token::Type::kComma)
          return Error(sep, absl::StrCat("expected ',' or ']' in the list, found ", Describe(sep)));
      }
      return n;
    }
    if ((t.type == Token::Type::kWord || t.type == Token::Type::kString) &&
        ParseAddrPrefix(t.text, &n->prefix)) {
      n->has_prefix = true;
      return n;
    }
    return Error(t, absl::StrCat("'in' needs a list such as [\"a\", \"b\"] or an address prefix "
                                 "such as 10.0.0.0/8, found ",
                                 Describe(t)));
  }

  absl::StatusOr<Literal> ToLiteral(const Token& v, const std::string& op) {
    Literal lit;
    if (v.type == Token::Type::kString) {
      lit.s = v.text;
      return lit;
    }
    if (v.type != Token::Type::kWord || KeywordIs(v, "and") || KeywordIs(v, "or"))
      return Error(v, absl::StrCat("expected a value after '", op, "', found ", Describe(v)));
    if (json::ParseNumber(v.text, &lit.d)) {
      lit.type = Literal::Type::kNumber;
    } else if (v.text == "true" || v.text == "false") {
      lit.type = Literal::Type::kBool;
      lit.b = v.text == "true";
    } else if (v.text == "null") {
      lit.type = Literal::Type::kNull;
    } else {
      lit.s = v.text;
    }
    return lit;
  }

  std::vector<Token> t_;
  size_t i_ = 0;
};

std::unique_ptr<Node> Pred(std::vector<std::string> path, Op op, Literal lit) {
  auto n = std::make_unique<Node>();
  n->path = std::move(path);
  n->op = op;
  n->values.push_back(std::move(lit));
  return n;
}

Literal Str(std::string s) {
  Literal l;
  l.s = std::move(s);
  return l;
}

Literal Num(double d) {
  Literal l;
  l.type = Literal::Type::kNumber;
  l.d = d;
  return l;
}

std::unique_ptr<Node> Or(std::unique_ptr<Node> a, std::unique_ptr<Node> b) {
  auto n = std::make_unique<Node>();
  n->type = Node::Type::kOr;
  n->kids.push_back(std::move(a));
  n->kids.push_back(std::move(b));
  return n;
}

std::unique_ptr<Node> AddrPred(const char* field, const AddrPrefix& p) {
  auto n = std::make_unique<Node>();
  n->path = {"id", field};
  n->op = Op::kIn;
  n->has_prefix = true;
  n->prefix = p;
  return n;
}

std::unique_ptr<Node> TsPred(Op op, int64_t us) {
  auto n = Pred({"ts"}, op, Num(static_cast<double>(us) / 1e6));
  n->micros = true;
  n->micros_value = us;
  return n;
}

// Printable ASCII other than the quote and backslash is written as itself by
// both JSON writers that produce log lines (the sink's and nlohmann's).
bool NeedleSafe(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') return false;
  }
  return true;
}

// Top-level string fields the sink writes itself, always as `"key":"value"`.
bool FixedScalarField(const std::vector<std::string>& path) {
  static const char* const kFields[] = {"uid",     "community_id", "proto",
                                        "history", "conn_state",   "sensor"};
  if (path.size() != 1) return false;
  for (const char* f : kFields) {
    if (path[0] == f) return true;
  }
  return false;
}

std::string NeedleOf(const Node& n) {
  // Alternatives imply a literal when they all imply the same one (addr: either side).
  if (n.type == Node::Type::kOr) {
    std::string common;
    for (size_t i = 0; i < n.kids.size(); ++i) {
      std::string s = NeedleOf(*n.kids[i]);
      if (s.empty() || (i > 0 && s != common)) return "";
      common = std::move(s);
    }
    return common;
  }
  if (n.type != Node::Type::kPred) return "";
  if (n.op == Op::kIn && n.has_prefix && !n.prefix.canonical.empty())
    return absl::StrCat("\"", n.prefix.canonical, "\"");
  if (n.values.size() != 1 || n.values[0].type != Literal::Type::kString) return "";
  const std::string& s = n.values[0].s;
  if (s.empty() || !NeedleSafe(s)) return "";
  switch (n.op) {
    case Op::kEq:
      if (FixedScalarField(n.path)) return absl::StrCat("\"", n.path[0], "\":\"", s, "\"");
      return absl::StrCat("\"", s, "\"");
    case Op::kContains:
      return s;
    case Op::kStartsWith:
      return absl::StrCat("\"", s);
    case Op::kEndsWith:
      return absl::StrCat(s, "\"");
    default:
      return "";
  }
}

void CollectNeedles(const Node& n, std::vector<std::string>* out) {
  if (n.type == Node::Type::kAnd) {
    for (const auto& k : n.kids) CollectNeedles(*k, out);
    return;
  }
  std::string s = NeedleOf(n);
  if (!s.empty()) out->push_back(std::move(s));
}

}  // namespace
}  // namespace query_internal

using query_internal::Literal;
using query_internal::Node;
using query_internal::Op;

bool AddrPrefix::Contains(std::string_view text) const {
  char buf[INET6_ADDRSTRLEN + 1];
  if (text.size() >= sizeof(buf)) return false;
  std::memcpy(buf, text.data(), text.size());
  buf[text.size()] = '\0';
  unsigned char a[16];
  if (inet_pton(family, buf, a) != 1) return false;
  const int full = bits / 8;
  if (std::memcmp(a, bytes, full) != 0) return false;
  const int rest = bits % 8;
  if (rest == 0) return true;
  const unsigned char mask = static_cast<unsigned char>(0xFF << (8 - rest));
  return (a[full] & mask) == (bytes[full] & mask);
}

bool ParseAddrPrefix(std::string_view text, AddrPrefix* out) {
  *out = AddrPrefix();
  std::string addr(text);
  int bits = -1;
  const size_t slash = addr.find('/');
  if (slash != std::string::npos) {
    const std::string len = addr.substr(slash + 1);
    addr.resize(slash);
    if (len.empty() || len.size() > 3 || !std::all_of(len.begin(), len.end(), absl::ascii_isdigit))
      return false;
    bits = std::stoi(len);
  }
  if (inet_pton(AF_INET, addr.c_str(), out->bytes) == 1) {
    out->family = AF_INET;
  } else if (inet_pton(AF_INET6, addr.c_str(), out->bytes) == 1) {
    out->family = AF_INET6;
  } else {
    return false;
  }
  const int full = out->family == AF_INET ? 32 : 128;
  if (bits > full) return false;
  out->bits = bits < 0 ? full : bits;
  if (out->bits == full) {
    char buf[INET6_ADDRSTRLEN] = {};
    inet_ntop(out->family, out->bytes, buf, sizeof(buf));
    out->canonical = buf;
  }
  return true;
}

absl::StatusOr<Filter> Filter::FromWhere(std::string_view expr) {
  gourmet::v1::QueryRequest req;
  req.add_where(std::string(expr));
  return Compile(req);
}

absl::StatusOr<Filter> Filter::Compile(const gourmet::v1::QueryRequest& req) {
  using query_internal::AddrPred;
  using query_internal::Or;
  using query_internal::Pred;
  using query_internal::Str;
  using query_internal::TsPred;
  auto bad = [](const std::string& msg) { return absl::InvalidArgumentError(msg); };
  Filter f;
  auto root = std::make_unique<Node>();
  root->type = Node::Type::kAnd;
  if (req.from_us() != 0 && req.to_us() != 0 && req.from_us() >= req.to_us())
    return bad(absl::StrCat("the time range is empty: from_us (", req.from_us(),
                            ") must be before to_us (", req.to_us(), ")"));
  if (req.from_us() != 0) {
    f.from_us_ = req.from_us();
    root->kids.push_back(TsPred(Op::kGe, req.from_us()));
  }
  if (req.to_us() != 0) {
    f.to_us_ = req.to_us();
    root->kids.push_back(TsPred(Op::kLt, req.to_us()));
  }
  if (!req.uid().empty()) {
    f.uid_ = req.uid();
    root->kids.push_back(Pred({"uid"}, Op::kEq, Str(req.uid())));
  }
  if (!req.community_id().empty()) {
    f.community_id_ = req.community_id();
    root->kids.push_back(Pred({"community_id"}, Op::kEq, Str(req.community_id())));
  }
  struct AddrField {
    const std::string& value;
    const char* name;
  };
  for (const AddrField& a : {AddrField{req.addr(), "addr"}, AddrField{req.orig_h(), "orig_h"},
                             AddrField{req.resp_h(), "resp_h"}}) {
    if (a.value.empty()) continue;
    AddrPrefix p;
    if (!ParseAddrPrefix(a.value, &p))
      return bad(absl::StrCat(a.name, " '", a.value,
                              "' is not an IP address or CIDR prefix (such as 10.0.0.1, "
                              "10.0.0.0/8 or 2001:db8::/32)"));
    if (std::string(a.name) == "addr") {
      root->kids.push_back(Or(AddrPred("orig_h", p), AddrPred("resp_h", p)));
    } else {
      root->kids.push_back(AddrPred(a.name, p));
    }
  }
  struct PortField {
    uint32_t value;
    const char* name;
  };
  for (const PortField& p : {PortField{req.port(), "port"}, PortField{req.orig_p(), "orig_p"},
                             PortField{req.resp_p(), "resp_p"}}) {
    if (p.value == 0) continue;
    if (p.value > 65535)
      return bad(absl::StrCat(p.name, " ", p.value, " is out of range (1-65535)"));
    auto num = query_internal::Num(p.value);
    if (std::string(p.name) == "port") {
      root->kids.push_back(
          Or(Pred({"id", "orig_p"}, Op::kEq, num), Pred({"id", "resp_p"}, Op::kEq, num)));
    } else {
      root->kids.push_back(Pred({"id", p.name}, Op::kEq, num));
    }
  }
  if (!req.proto().empty()) {
    const std::string p = absl::AsciiStrToLower(req.proto());
    if (p != "tcp" && p != "udp" && p != "icmp" && p != "unknown_transport")
      return bad(absl::StrCat("proto '", req.proto(),
                              "' is not one of tcp, udp, icmp, unknown_transport"));
    root->kids.push_back(Pred({"proto"}, Op::kEq, Str(p)));
  }
  if (!req.service().empty()) {
    root->kids.push_back(Pred({"service"}, Op::kEq, Str(req.service())));
  }
  if (!req.conn_state().empty()) {
    static const char* const kStates[] = {"S0",   "S1",     "SF",    "REJ", "S2",  "S3", "RSTO",
                                          "RSTR", "RSTOS0", "RSTRH", "SH",  "SHR", "OTH"};
    const std::string s = absl::AsciiStrToUpper(req.conn_state());
    if (std::find_if(std::begin(kStates), std::end(kStates),
                     [&s](const char* k) { return s == k; }) == std::end(kStates))
      return bad(absl::StrCat("conn_state '", req.conn_state(), "' is not one of ",
                              absl::StrJoin(kStates, ", ")));
    root->kids.push_back(Pred({"conn_state"}, Op::kEq, Str(s)));
  }
  for (int i = 0; i < req.where_size(); ++i) {
    std::vector<query_internal::Token> tokens;
    absl::Status st = query_internal::Tokenize(req.where(i), &tokens);
    absl::StatusOr<std::unique_ptr<Node>> n =
        st.ok() ? query_internal::Parser(std::move(tokens)).ParseAll()
                : absl::StatusOr<std::unique_ptr<Node>>(st);
    if (!n.ok())
      return bad(absl::StrCat("where[", i, "] `", req.where(i), "`: ", n.status().message()));
    root->kids.push_back(std::move(*n));
  }
  if (!gourmet::v1::QueryRequest::Order_IsValid(req.order()))
    return bad(
        absl::StrCat("order ", static_cast<int>(req.order()), " is not one of TS, TS_DESC, LOG"));
  std::vector<std::string> needles;
  query_internal::CollectNeedles(*root, &needles);
  for (std::string& n : needles) {
    if (n.size() > f.needle_.size()) f.needle_ = std::move(n);
  }
  f.root_ = std::move(root);
  return f;
}

bool Filter::Matches(std::string_view line) const {
  query_internal::LineMembers members(line);
  return query_internal::Eval(*root_, members);
}

}  // namespace gourmet::sink
