#include "server/runtime_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <charconv>
#include <climits>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace mlxs::server {
namespace {

// ---- the schema ------------------------------------------------------------------------
// One row per key, dotted from the top ("server.cors.max_age_s"). Parsing, range checks and
// the "known keys" list in messages all come from this table, so a new key is added once.

enum class Type { kInt, kString, kStringList, kBool, kDouble };

struct Field {
  const char* key;
  Type type;
  int min = 0, max = INT_MAX;             // kInt
  std::vector<std::string> choices = {};  // kString: allowed values when not empty
  bool non_empty = false;                 // kString: "" rejected; kStringList: "" items rejected
  int* (*i)(RuntimeConfig&) = nullptr;
  std::string* (*s)(RuntimeConfig&) = nullptr;
  std::vector<std::string>* (*l)(RuntimeConfig&) = nullptr;
  bool* (*b)(RuntimeConfig&) = nullptr;
  double* (*d)(RuntimeConfig&) = nullptr;
};

#define MLXS_INT(KEY, MIN, MAX, EXPR) \
  Field{KEY, Type::kInt, MIN, MAX, {}, false, [](RuntimeConfig& c) { return &c.EXPR; }}
#define MLXS_STR(KEY, CHOICES, NON_EMPTY, EXPR)                            \
  Field{KEY, Type::kString, 0, 0, CHOICES, NON_EMPTY, nullptr,           \
        [](RuntimeConfig& c) { return &c.EXPR; }}
#define MLXS_BOOL(KEY, EXPR)                                              \
  Field{KEY, Type::kBool, 0, 0, {}, false, nullptr, nullptr, nullptr,      \
        [](RuntimeConfig& c) { return &c.EXPR; }}
#define MLXS_DOUBLE(KEY, EXPR)                                              \
  Field{KEY, Type::kDouble, 0, 0, {}, false, nullptr, nullptr, nullptr, nullptr, \
        [](RuntimeConfig& c) { return &c.EXPR; }}
#define MLXS_LIST(KEY, EXPR)                                              \
  Field{KEY, Type::kStringList, 0, 0, {}, true, nullptr, nullptr,         \
        [](RuntimeConfig& c) { return &c.EXPR; }}

const std::vector<Field>& fields() {
  using V = std::vector<std::string>;
  static const std::vector<Field> kFields = {
      MLXS_STR("server.host", V{}, true, server.host),
      MLXS_INT("server.port", 0, 65535, server.port),
      MLXS_INT("server.io_threads", 1, 64, server.io_threads),
      MLXS_LIST("server.api_keys", server.api_keys),
      MLXS_STR("server.api_keys_file", V{}, false, server.api_keys_file),
      MLXS_LIST("server.cors.allowed_origins", server.cors.allowed_origins),
      MLXS_LIST("server.cors.allowed_headers", server.cors.allowed_headers),
      MLXS_INT("server.cors.max_age_s", 0, INT_MAX, server.cors.max_age_s),
      MLXS_STR("server.tls_cert_file", V{}, false, server.tls_cert_file),
      MLXS_STR("server.tls_key_file", V{}, false, server.tls_key_file),
      MLXS_INT("server.max_request_bytes", 1, INT_MAX, server.max_request_bytes),
      MLXS_INT("server.max_header_bytes", 1, INT_MAX, server.max_header_bytes),
      MLXS_INT("server.header_timeout_ms", 1, INT_MAX, server.header_timeout_ms),
      MLXS_INT("server.body_timeout_ms", 1, INT_MAX, server.body_timeout_ms),
      MLXS_INT("server.keep_alive_timeout_ms", 1, INT_MAX, server.keep_alive_timeout_ms),
      MLXS_INT("server.request_timeout_ms", 1, INT_MAX, server.request_timeout_ms),
      MLXS_INT("server.drain_timeout_ms", 1, INT_MAX, server.drain_timeout_ms),
      MLXS_STR("server.pid_file", V{}, false, server.pid_file),
      MLXS_STR("server.log_level", (V{"debug", "info", "warn", "error"}), true,
               server.log_level),
      MLXS_STR("model.path", V{}, false, model.path),
      MLXS_STR("model.name", V{}, false, model.name),
      MLXS_INT("model.n_ctx", 0, INT_MAX, model.n_ctx),
      MLXS_INT("model.threads", 0, 1024, model.threads),
      MLXS_STR("model.kv_type", (V{"f16", "f32"}), true, model.kv_type),
      MLXS_INT("model.kv_cache_tokens", 0, INT_MAX, model.kv_cache_tokens),
      MLXS_STR("model.chat_template_file", V{}, false, model.chat_template_file),
      MLXS_INT("scheduler.max_sequences", 1, 256, scheduler.max_sequences),
      MLXS_INT("scheduler.max_active_streams", 1, 256, scheduler.max_active_streams),
      MLXS_INT("scheduler.max_waiting", 0, INT_MAX, scheduler.max_waiting),
      MLXS_INT("scheduler.step_token_budget", 1, INT_MAX, scheduler.step_token_budget),
      MLXS_INT("scheduler.default_max_tokens", 1, INT_MAX, scheduler.default_max_tokens),
      MLXS_INT("scheduler.retry_after_s", 0, INT_MAX, scheduler.retry_after_s),
      MLXS_STR("feature_flags.file", V{}, false, feature_flags.file),
      MLXS_STR("feature_flags.key_header", V{}, false, feature_flags.key_header),
      MLXS_BOOL("feature_flags.response_header", feature_flags.response_header),
      MLXS_BOOL("fault_injection.enabled", fault_injection.enabled),
      MLXS_INT("fault_injection.first_token_delay_ms", 0, 600000,
               fault_injection.first_token_delay_ms),
      MLXS_INT("fault_injection.per_token_delay_ms", 0, 60000, fault_injection.per_token_delay_ms),
      MLXS_DOUBLE("fault_injection.error_rate", fault_injection.error_rate),
      MLXS_INT("fault_injection.fail_after_tokens", 0, INT_MAX, fault_injection.fail_after_tokens),
      MLXS_STR("fault_injection.variant", (V{"all", "baseline", "canary"}), true,
               fault_injection.variant),
      MLXS_STR("deployment.canary_file", V{}, false, deployment.canary_file),
  };
  return kFields;
}

#undef MLXS_INT
#undef MLXS_STR
#undef MLXS_LIST
#undef MLXS_BOOL
#undef MLXS_DOUBLE

// Top-level sections that belong to other subsystems: kept as YAML text for their owners.
const std::vector<std::string>& other_section_names() {
  static const std::vector<std::string> kNames = {"ttft_accelerator", "qos_monitor",
                                                  "policy_engine"};
  return kNames;
}

const Field* find_field(const std::string& key) {
  for (const Field& f : fields())
    if (key == f.key) return &f;
  return nullptr;
}

// The direct children of `prefix` ("" for the top level), in table order.
std::vector<std::string> children_of(const std::string& prefix) {
  std::vector<std::string> out;
  std::string p = prefix.empty() ? "" : prefix + ".";
  for (const Field& f : fields()) {
    std::string key = f.key;
    if (key.compare(0, p.size(), p) != 0) continue;
    std::string child = key.substr(p.size(), key.find('.', p.size()) - p.size());
    bool seen = false;
    for (const auto& c : out) seen = seen || c == child;
    if (!seen) out.push_back(child);
  }
  if (prefix.empty())
    for (const auto& s : other_section_names()) out.push_back(s);
  return out;
}

std::string join(const std::vector<std::string>& v) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : ", ") + s;
  return out;
}

// "must be between 0 and 65535", "must be > 0", "must be >= 0".
std::string range_text(const Field& f) {
  if (f.max != INT_MAX)
    return "must be between " + std::to_string(f.min) + " and " + std::to_string(f.max);
  if (f.min == 1) return "must be > 0";
  return "must be >= " + std::to_string(f.min);
}

std::string check_int(const Field& f, long long v) {
  if (v < f.min || v > f.max)
    return std::string(f.key) + ' ' + range_text(f) + " (got " + std::to_string(v) + ")";
  return "";
}

std::string check_string(const Field& f, const std::string& v) {
  if (f.non_empty && v.empty()) return std::string(f.key) + " must not be empty";
  if (!f.choices.empty()) {
    for (const auto& c : f.choices)
      if (v == c) return "";
    return std::string(f.key) + " must be one of " + join(f.choices) + " (got '" + v + "')";
  }
  return "";
}

// ---- parsing ---------------------------------------------------------------------------

class Parser {
 public:
  Parser(std::string path, RuntimeConfig& config) : path_(std::move(path)), config_(config) {}

  // Fills config_ from the top-level map; returns "" or a "FILE:LINE: ..." message.
  std::string parse_top(const YAML::Node& root) {
    if (!root.IsMap()) return at(root, "the top level must be a mapping of sections");
    return walk(root, "");
  }

 private:
  std::string at(const YAML::Node& node, const std::string& message) const {
    int line = node.Mark().line;  // 0-based; -1 for nodes yaml-cpp made up
    return path_ + ':' + std::to_string(line < 0 ? 1 : line + 1) + ": " + message;
  }

  std::string walk(const YAML::Node& map, const std::string& prefix) {
    std::set<std::string> seen;
    for (const auto& kv : map) {  // the iterator yields temporaries: keep them by value
      const YAML::Node key_node = kv.first;
      const YAML::Node value = kv.second;
      if (!key_node.IsScalar()) return at(key_node, "keys must be plain names");
      std::string key = prefix.empty() ? key_node.Scalar() : prefix + "." + key_node.Scalar();
      // yaml-cpp keeps both copies of a repeated key; which one wins would be a guess.
      if (!seen.insert(key_node.Scalar()).second)
        return at(key_node, "duplicate key '" + key + "'");
      std::string err = entry(key_node, value, prefix, key);
      if (!err.empty()) return err;
    }
    return "";
  }

  std::string entry(const YAML::Node& key_node, const YAML::Node& value,
                    const std::string& prefix, const std::string& key) {
    if (prefix.empty()) {
      for (const auto& name : other_section_names()) {
        if (key != name) continue;
        YAML::Emitter out;
        out << value;
        config_.other_sections[key] = out.c_str();
        return "";
      }
    }
    if (const Field* f = find_field(key)) return field(*f, key_node, value);
    if (!children_of(key).empty()) {
      if (value.IsNull()) return "";  // "server:" with nothing under it: all defaults
      if (!value.IsMap()) return at(key_node, key + " must be a mapping");
      return walk(value, key);
    }
    return at(key_node, "unknown key '" + key + "' (known: " + join(children_of(prefix)) + ")");
  }

  std::string field(const Field& f, const YAML::Node& key_node, const YAML::Node& value) {
    switch (f.type) {
      case Type::kInt: {
        long long v = 0;
        if (!as_integer(value, &v)) return at(key_node, std::string(f.key) + " must be an integer");
        std::string err = check_int(f, v);
        if (!err.empty()) return at(key_node, err);
        *f.i(config_) = static_cast<int>(v);
        return "";
      }
      case Type::kString: {
        if (!value.IsNull() && !value.IsScalar())
          return at(key_node, std::string(f.key) + " must be a string");
        std::string v = value.IsNull() ? "" : value.Scalar();
        std::string err = check_string(f, v);
        if (!err.empty()) return at(key_node, err);
        *f.s(config_) = v;
        return "";
      }
      case Type::kBool: {
        // Plain true/false only: "yes", "on" and quoted strings are typos waiting to happen.
        if (!value.IsScalar() || value.Tag() == "!" ||
            (value.Scalar() != "true" && value.Scalar() != "false"))
          return at(key_node, std::string(f.key) + " must be true or false");
        *f.b(config_) = value.Scalar() == "true";
        return "";
      }
      case Type::kDouble: {
        // A plain number: quoted text and "5%" are not numbers.
        double v = 0;
        const std::string& text = value.IsScalar() ? value.Scalar() : std::string();
        auto res = std::from_chars(text.data(), text.data() + text.size(), v);
        if (!value.IsScalar() || value.Tag() == "!" || text.empty() || res.ec != std::errc() ||
            res.ptr != text.data() + text.size() || !std::isfinite(v))
          return at(key_node, std::string(f.key) + " must be a number");
        *f.d(config_) = v;
        return "";
      }
      case Type::kStringList: {
        std::vector<std::string> items;
        if (!value.IsNull()) {
          if (!value.IsSequence())
            return at(key_node, std::string(f.key) + " must be a list of strings");
          for (const auto& item : value) {
            if (!item.IsScalar())
              return at(item, std::string(f.key) + " must be a list of strings");
            if (f.non_empty && item.Scalar().empty())
              return at(item, std::string(f.key) + " entries must not be empty");
            items.push_back(item.Scalar());
          }
        }
        *f.l(config_) = std::move(items);
        return "";
      }
    }
    return "";
  }

  // A plain (unquoted) decimal integer: "3000" in quotes is a string, 3e3 and 1.5 are not.
  static bool as_integer(const YAML::Node& node, long long* out) {
    if (!node.IsScalar() || node.Tag() == "!") return false;
    const std::string& s = node.Scalar();
    const char* begin = s.data();
    if (!s.empty() && s[0] == '+') ++begin;
    auto res = std::from_chars(begin, s.data() + s.size(), *out);
    return res.ec == std::errc() && res.ptr == s.data() + s.size() && begin != s.data() + s.size();
  }

  std::string path_;
  RuntimeConfig& config_;
};

}  // namespace

Result<RuntimeConfig> parse_runtime_config(const std::string& yaml_text,
                                           const std::string& path) {
  RuntimeConfig config;
  config.source_path = path;
  config.source_text = yaml_text;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    // Marks are 0-based; editors count from 1.
    return Status::Error(path + ':' + std::to_string(e.mark.line + 1) + ':' +
                         std::to_string(e.mark.column + 1) + ": " + e.msg);
  }
  if (root.IsNull()) return config;  // an empty file (or only comments): all defaults
  std::string err;
  try {
    err = Parser(path, config).parse_top(root);
  } catch (const YAML::Exception& e) {
    // Not expected for a loaded tree, but a bad file must never take the server down.
    err = path + ':' + std::to_string(e.mark.line + 1) + ": " + e.msg;
  }
  if (!err.empty()) return Status::Error(err);
  std::string rule = validate(config);
  if (!rule.empty()) return Status::Error(path + ": " + rule);
  return config;
}

Result<RuntimeConfig> load_runtime_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(path + ": cannot open: " + std::strerror(errno));
  std::stringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Error(path + ": read error");
  return parse_runtime_config(text.str(), path);
}

std::string validate(const RuntimeConfig& config) {
  RuntimeConfig c = config;  // the field table hands out mutable pointers
  // Single-key rules, for configs assembled in code (command-line overrides) too.
  for (const Field& f : fields()) {
    std::string err;
    if (f.type == Type::kInt) err = check_int(f, *f.i(c));
    if (f.type == Type::kString) err = check_string(f, *f.s(c));
    if (f.type == Type::kStringList) {
      for (const auto& item : *f.l(c))
        if (item.empty()) err = std::string(f.key) + " entries must not be empty";
    }
    if (!err.empty()) return err;
  }
  const auto& s = c.scheduler;
  if (s.max_active_streams > s.max_sequences) {
    return "scheduler.max_active_streams (" + std::to_string(s.max_active_streams) +
           ") must be <= scheduler.max_sequences (" + std::to_string(s.max_sequences) + ")";
  }
  // Every active sequence must be able to decode one token in each step.
  if (s.step_token_budget < s.max_sequences) {
    return "scheduler.step_token_budget (" + std::to_string(s.step_token_budget) +
           ") must be >= scheduler.max_sequences (" + std::to_string(s.max_sequences) + ")";
  }
  const std::string& h = c.feature_flags.key_header;
  auto token_char = [](char ch) {
    return std::isalnum(static_cast<unsigned char>(ch)) || std::strchr("!#$%&'*+-.^_`|~", ch);
  };
  if (!std::all_of(h.begin(), h.end(), token_char)) {
    return "feature_flags.key_header must be an HTTP header name (got '" + h + "')";
  }
  const FaultInjectionSection& fi = c.fault_injection;
  if (!(fi.error_rate >= 0 && fi.error_rate <= 1)) {
    return "fault_injection.error_rate must be between 0 and 1 (got " + std::to_string(fi.error_rate) + ")";
  }
  if (!fi.enabled && (fi.first_token_delay_ms > 0 || fi.per_token_delay_ms > 0 || fi.error_rate > 0)) {
    return "fault_injection sets faults but fault_injection.enabled is false: fault injection "
           "must be switched on explicitly";
  }
  if (c.server.tls_cert_file.empty() != c.server.tls_key_file.empty()) {
    return "server.tls_cert_file and server.tls_key_file must be set together";
  }
  return "";
}

}  // namespace mlxs::server
