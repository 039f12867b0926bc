#include "services/config.h"

#include <fstream>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace gourmet {
namespace {

// yaml-cpp's non-const operator[] rebinds nodes on assignment, so walk with
// fresh handles and set through the parent.
void SetPath(YAML::Node root, absl::string_view key, const std::string& value) {
  std::vector<std::string> parts = absl::StrSplit(key, '.');
  YAML::Node node = root;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    if (!node[parts[i]] || !node[parts[i]].IsMap())
      node[parts[i]] = YAML::Node(YAML::NodeType::Map);
    node.reset(node[parts[i]]);
  }
  node[parts.back()] = value;
}

void CollectLeaves(const YAML::Node& node, const std::string& prefix,
                   std::vector<std::string>* out) {
  if (node.IsMap()) {
    for (const auto& kv : node) {
      const std::string k = kv.first.as<std::string>();
      CollectLeaves(kv.second, prefix.empty() ? k : prefix + "." + k, out);
    }
  } else if (!prefix.empty()) {
    out->push_back(prefix);
  }
}

}  // namespace

absl::StatusOr<ParsedArgs> ParseArgs(int argc, char** argv, int first,
                                     const std::vector<FlagSpec>& flags) {
  ParsedArgs out;
  out.config = YAML::Node(YAML::NodeType::Map);
  std::vector<std::pair<const FlagSpec*, std::string>> sets;
  std::string config_file;
  for (int i = first; i < argc; ++i) {
    absl::string_view arg = argv[i];
    if (arg == "-h" || arg == "--help") {
      out.help = true;
      continue;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      out.positional.emplace_back(arg);
      continue;
    }
    absl::string_view name;
    std::optional<std::string> inline_value;
    const FlagSpec* spec = nullptr;
    bool is_config = false;
    if (absl::ConsumePrefix(&arg, "--")) {
      size_t eq = arg.find('=');
      name = arg.substr(0, eq);
      if (eq != absl::string_view::npos) inline_value = std::string(arg.substr(eq + 1));
      if (name == "config") is_config = true;
      for (const FlagSpec& f : flags) {
        if (f.name == name) spec = &f;
      }
    } else {
      arg.remove_prefix(1);
      if (arg.size() != 1)
        return absl::InvalidArgumentError(
            absl::StrCat("unknown option '", argv[i], "' (long options take two dashes)"));
      name = arg;
      if (arg[0] == 'c') is_config = true;
      for (const FlagSpec& f : flags) {
        if (f.short_name == arg[0]) spec = &f;
      }
    }
    if (!spec && !is_config)
      return absl::InvalidArgumentError(
          absl::StrCat("unknown option '", argv[i], "' (see --help)"));
    const bool takes_value = is_config || !spec->value_name.empty();
    std::string value;
    if (!takes_value) {
      value = inline_value.value_or("true");
    } else if (inline_value) {
      value = *inline_value;
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return absl::InvalidArgumentError(absl::StrCat("option '", argv[i], "' needs a value"));
    }
    if (is_config) {
      config_file = value;
    } else {
      sets.emplace_back(spec, value);
    }
  }
  if (!config_file.empty()) {
    std::ifstream in(config_file);
    if (!in)
      return absl::NotFoundError(absl::StrCat("cannot open config file '", config_file, "'"));
    try {
      YAML::Node loaded = YAML::Load(in);
      if (loaded.IsNull()) loaded = YAML::Node(YAML::NodeType::Map);
      if (!loaded.IsMap())
        return absl::InvalidArgumentError(
            absl::StrCat("config file '", config_file, "': the top level must be a mapping"));
      out.config = loaded;
    } catch (const YAML::Exception& e) {
      return absl::InvalidArgumentError(
          absl::StrCat("config file '", config_file, "': ", e.what()));
    }
  }
  for (const auto& [spec, value] : sets) SetPath(out.config, spec->key, value);
  return out;
}

std::string Usage(absl::string_view synopsis, absl::string_view description,
                  const std::vector<FlagSpec>& flags) {
  std::string out = absl::StrCat("usage: ", synopsis, "\n\n", description, "\n\noptions:\n");
  auto line = [&out](std::string left, absl::string_view help, absl::string_view key) {
    if (left.size() < 30)
      left.resize(30, ' ');
    else
      left += "\n" + std::string(30, ' ');
    absl::StrAppend(&out, left, help);
    if (!key.empty()) absl::StrAppend(&out, " [", key, "]");
    out += "\n";
  };
  line("  -c, --config FILE", "YAML config file; options below override its keys", "");
  for (const FlagSpec& f : flags) {
    std::string left = f.short_name
                           ? absl::StrCat("  -", std::string(1, f.short_name), ", --", f.name)
                           : absl::StrCat("      --", f.name);
    if (!f.value_name.empty()) absl::StrAppend(&left, " ", f.value_name);
    line(left, f.help, f.key);
  }
  line("  -h, --help", "show this help", "");
  return out;
}

YAML::Node ConfigReader::Lookup(absl::string_view key) {
  read_.insert(std::string(key));
  YAML::Node node = YAML::Clone(root_);
  for (absl::string_view part : absl::StrSplit(key, '.')) {
    if (!node.IsMap()) return YAML::Node(YAML::NodeType::Undefined);
    YAML::Node child = node[std::string(part)];
    if (!child) return YAML::Node(YAML::NodeType::Undefined);
    node.reset(child);
  }
  return node;
}

void ConfigReader::Fail(absl::string_view key, absl::string_view message) {
  if (first_error_.ok()) {
    first_error_ = absl::InvalidArgumentError(absl::StrCat("config key '", key, "': ", message));
  }
}

std::string ConfigReader::String(absl::string_view key, absl::string_view def) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return std::string(def);
  if (!n.IsScalar()) {
    Fail(key, "expected a single value");
    return std::string(def);
  }
  return n.Scalar();
}

int64_t ConfigReader::Int(absl::string_view key, int64_t def, int64_t min, int64_t max) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  int64_t v;
  if (!n.IsScalar() || !absl::SimpleAtoi(n.Scalar(), &v)) {
    Fail(key, absl::StrCat("expected an integer, got '", n.IsScalar() ? n.Scalar() : "a structure",
                           "'"));
    return def;
  }
  if (v < min || v > max) {
    Fail(key, absl::StrCat(v, " is out of range [", min, ", ", max, "]"));
    return def;
  }
  return v;
}

bool ConfigReader::Bool(absl::string_view key, bool def) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  bool v;
  if (!n.IsScalar() || !absl::SimpleAtob(n.Scalar(), &v)) {
    Fail(key, "expected true or false");
    return def;
  }
  return v;
}

bool ParseDurationText(absl::string_view text, absl::Duration* out) {
  double seconds;
  if (absl::SimpleAtod(text, &seconds)) {
    if (seconds < 0) return false;
    *out = absl::Seconds(seconds);
    return true;
  }
  return absl::ParseDuration(text, out) && *out >= absl::ZeroDuration();
}

absl::Duration ConfigReader::Duration(absl::string_view key, absl::Duration def) {
  YAML::Node n = Lookup(key);
  if (!n.IsDefined() || n.IsNull()) return def;
  absl::Duration d;
  if (!n.IsScalar() || !ParseDurationText(n.Scalar(), &d)) {
    Fail(key, absl::StrCat("expected a duration such as 30s or 500ms, got '",
                           n.IsScalar() ? n.Scalar() : "a structure", "'"));
    return def;
  }
  return d;
}

std::vector<std::string> ConfigReader::StringList(absl::string_view key) {
  YAML::Node n = Lookup(key);
  std::vector<std::string> out;
  if (!n.IsDefined() || n.IsNull()) return out;
  if (n.IsScalar()) {
    for (absl::string_view s : absl::StrSplit(n.Scalar(), ',', absl::SkipWhitespace())) {
      out.emplace_back(absl::StripAsciiWhitespace(s));
    }
    return out;
  }
  if (!n.IsSequence()) {
    Fail(key, "expected a list");
    return out;
  }
  for (const auto& item : n) {
    if (!item.IsScalar()) {
      Fail(key, "expected a list of strings");
      return {};
    }
    out.push_back(item.Scalar());
  }
  return out;
}

YAML::Node ConfigReader::Node(absl::string_view key) { return Lookup(key); }

absl::Status ConfigReader::Finish() {
  if (!first_error_.ok()) return first_error_;
  std::vector<std::string> leaves;
  CollectLeaves(root_, "", &leaves);
  for (const std::string& leaf : leaves) {
    bool known = false;
    for (const std::string& r : read_) {
      if (leaf == r || absl::StartsWith(leaf, r + ".")) known = true;
    }
    if (!known) return absl::InvalidArgumentError(absl::StrCat("unknown config key '", leaf, "'"));
  }
  return absl::OkStatus();
}

}  // namespace gourmet
