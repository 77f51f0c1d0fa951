// parse_canary_config: config/canary.yaml walked once over the YAML tree. Every problem is
// collected (never stop at the first) with the line of the key or list item it is about,
// so an operator fixes the whole file in one pass before a deploy.
#include "canary/canary_config.h"

#include <yaml-cpp/yaml.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

namespace mlxs::canary {

const char* strategy_name(Strategy s) {
  switch (s) {
    case Strategy::kHash: return "hash";
    case Strategy::kRandom: return "random";
  }
  return "?";
}

const char* trigger_severity_name(TriggerSeverity s) {
  switch (s) {
    case TriggerSeverity::kCritical: return "critical";
    case TriggerSeverity::kWarning: return "warning";
    case TriggerSeverity::kInfo: return "info";
  }
  return "?";
}

const char* trigger_name(TriggerKind k) {
  switch (k) {
    case TriggerKind::kHighErrorRate: return "high_error_rate";
    case TriggerKind::kHighLatency: return "high_latency";
    case TriggerKind::kMemoryLeak: return "memory_leak";
    case TriggerKind::kCrashRate: return "crash_rate";
  }
  return "?";
}

namespace {

// Time settings are bounded so that adding them to a time point can never overflow.
constexpr int64_t kMaxMs = 365LL * 24 * 3600 * 1000;  // a year

template <typename T>
using Table = std::vector<std::pair<const char*, T>>;

const Table<Strategy> kStrategies = {{"hash", Strategy::kHash}, {"random", Strategy::kRandom}};
const Table<TriggerSeverity> kSeverities = {{"critical", TriggerSeverity::kCritical},
                                            {"warning", TriggerSeverity::kWarning},
                                            {"info", TriggerSeverity::kInfo}};
const Table<TriggerKind> kTriggers = {{"high_error_rate", TriggerKind::kHighErrorRate},
                                      {"high_latency", TriggerKind::kHighLatency},
                                      {"memory_leak", TriggerKind::kMemoryLeak},
                                      {"crash_rate", TriggerKind::kCrashRate}};
const Table<std::string> kHashKeys = {{"user_id", "user_id"}, {"request_id", "request_id"}};
const Table<std::string> kKvTypes = {{"f16", "f16"}, {"f32", "f32"}};
using Kind = VariantConfig::Kind;
const Table<Kind> kAllKinds = {
    {"server", Kind::kServer}, {"local", Kind::kLocal}, {"upstream", Kind::kUpstream}};

// The spec's default triggers, used when rollback.triggers is absent.
std::vector<TriggerConfig> default_triggers() {
  return {{TriggerKind::kHighErrorRate, 2.0, TriggerSeverity::kCritical, 0},
          {TriggerKind::kHighLatency, 1.5, TriggerSeverity::kCritical, 0},
          {TriggerKind::kMemoryLeak, 50, TriggerSeverity::kWarning, 0},
          {TriggerKind::kCrashRate, 0.001, TriggerSeverity::kCritical, 0}};
}

TriggerSeverity default_severity(TriggerKind k) {
  return k == TriggerKind::kMemoryLeak ? TriggerSeverity::kWarning : TriggerSeverity::kCritical;
}

template <typename T>
std::optional<T> lookup(const Table<T>& table, const std::string& name) {
  for (const auto& [n, v] : table) {
    if (name == n) return v;
  }
  return std::nullopt;
}

template <typename T>
std::string names_of(const Table<T>& table) {
  std::string out;
  for (const auto& entry : table) out += (out.empty() ? "" : ", ") + std::string(entry.first);
  return out;
}

int line_of(const YAML::Node& n) { return n.Mark().line >= 0 ? n.Mark().line + 1 : 0; }

// A plain (unquoted, untagged) scalar: yaml-cpp tags those "?".
bool is_plain(const YAML::Node& n) { return n.IsScalar() && n.Tag() == "?"; }

std::string describe(const YAML::Node& n) {
  if (!n.IsDefined() || n.IsNull()) return "nothing";
  if (n.IsMap()) return "a mapping";
  if (n.IsSequence()) return "a list";
  if (!is_plain(n)) return "\"" + n.Scalar() + "\" (quoted, so a string)";
  return "'" + n.Scalar() + "'";
}

std::string format_number(double v) {
  std::ostringstream os;
  os << v;
  return os.str();
}

// One key of a mapping, with what messages about it need.
struct Entry {
  std::string name;
  std::string path;  // dotted path from the top of the file, for messages
  YAML::Node value;
  int line = 0;
};

using Handler = std::function<void(const Entry&)>;
using Handlers = std::vector<std::pair<std::string, Handler>>;

struct Problem {
  int line;
  std::string message;
};

class Parser {
 public:
  Parser(CanaryConfig& config, bool check_files) : config_(config), check_files_(check_files) {}

  std::vector<Problem> problems;

  void document(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) {
      config_.rollback.triggers = default_triggers();
      return;
    }
    if (!root.IsMap()) {
      error(line_of(root), "the file must be a mapping of sections (canary, rollback, "
                           "monitoring, variants), not " + describe(root));
      return;
    }
    bool triggers_given = false;
    section(Entry{"", "", root, line_of(root)},
            {
                {"canary", [&](const Entry& e) { canary(e); }},
                {"rollback", [&](const Entry& e) { triggers_given = rollback(e); }},
                {"monitoring", [&](const Entry& e) { monitoring(e); }},
                {"variants", [&](const Entry& e) { variants(e); }},
            });
    if (!triggers_given) config_.rollback.triggers = default_triggers();
    cross_checks();
  }

 private:
  void error(int line, std::string msg) { problems.push_back({line, std::move(msg)}); }

  static std::string join(const std::string& parent, const std::string& name) {
    return parent.empty() ? name : parent + "." + name;
  }

  // Walks a mapping: each key a plain name, none twice, each known; calls its handler.
  // Returns the names present. A null value (a section with every key commented out)
  // keeps the defaults.
  std::set<std::string> section(const Entry& at, const Handlers& handlers) {
    std::set<std::string> present;
    if (at.value.IsNull()) return present;
    if (!at.value.IsMap()) {
      error(at.line, "'" + at.path + "' must be a mapping (known keys: " + known(handlers) +
                         "), not " + describe(at.value));
      return present;
    }
    std::map<std::string, int> seen;
    for (const auto& kv : at.value) {
      const int line = line_of(kv.first);
      const std::string where = at.path.empty() ? "the top level" : "'" + at.path + "'";
      if (!kv.first.IsScalar()) {
        error(line, "keys under " + where + " must be plain names, not " + describe(kv.first));
        continue;
      }
      const std::string name = kv.first.Scalar();
      const std::string path = join(at.path, name);
      auto [first, inserted] = seen.emplace(name, line);
      if (!inserted) {
        error(line, "duplicate key '" + path + "' (first at line " +
                        std::to_string(first->second) + ")");
        continue;
      }
      const Handler* handler = nullptr;
      for (const auto& [n, h] : handlers) {
        if (n == name) handler = &h;
      }
      if (!handler) {
        error(line, "unknown key '" + path + "' (known: " + known(handlers) + ")");
        continue;
      }
      present.insert(name);
      (*handler)(Entry{name, path, kv.second, line});
    }
    return present;
  }

  static std::string known(const Handlers& handlers) {
    std::string out;
    for (const auto& h : handlers) out += (out.empty() ? "" : ", ") + h.first;
    return out;
  }

  // ---- scalar readers: each reports its own problem and returns nullopt on one.

  std::optional<bool> boolean(const Entry& e) {
    if (is_plain(e.value) && (e.value.Scalar() == "true" || e.value.Scalar() == "false")) {
      return e.value.Scalar() == "true";
    }
    error(e.line, "'" + e.path + "' must be true or false, not " + describe(e.value));
    return std::nullopt;
  }

  std::optional<int64_t> integer(const Entry& e, int64_t min, int64_t max) {
    static const std::regex kInteger("-?[0-9]+");
    if (!is_plain(e.value) || !std::regex_match(e.value.Scalar(), kInteger)) {
      error(e.line, "'" + e.path + "' must be an integer, not " + describe(e.value));
      return std::nullopt;
    }
    errno = 0;
    const long long v = std::strtoll(e.value.Scalar().c_str(), nullptr, 10);
    if (errno == ERANGE || v < min || v > max) {
      error(e.line, "'" + e.path + "' must be " + range_text(min, max) + ", not " +
                        e.value.Scalar());
      return std::nullopt;
    }
    return v;
  }

  static std::string range_text(int64_t min, int64_t max) {
    if (max == INT_MAX || max == kMaxMs) return "at least " + std::to_string(min);
    return "between " + std::to_string(min) + " and " + std::to_string(max);
  }

  std::optional<int> int_value(const Entry& e, int64_t min, int64_t max = INT_MAX) {
    auto v = integer(e, min, max);
    if (!v) return std::nullopt;
    return static_cast<int>(*v);
  }

  std::optional<double> number(const Entry& e) {
    static const std::regex kDecimal(R"(-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?)");
    if (!is_plain(e.value) || !std::regex_match(e.value.Scalar(), kDecimal)) {
      error(e.line, "'" + e.path + "' must be a number, not " + describe(e.value));
      return std::nullopt;
    }
    const double v = std::strtod(e.value.Scalar().c_str(), nullptr);
    if (!std::isfinite(v)) {
      error(e.line, "'" + e.path + "' is out of range: " + e.value.Scalar());
      return std::nullopt;
    }
    return v;
  }

  std::optional<double> number_in(const Entry& e, double min, double max) {
    auto v = number(e);
    if (!v) return std::nullopt;
    if (*v < min || *v > max) {
      error(e.line, "'" + e.path + "' must be between " + format_number(min) + " and " +
                        format_number(max) + ", not " + e.value.Scalar());
      return std::nullopt;
    }
    return v;
  }

  // A number strictly above zero (and at most `max`).
  std::optional<double> positive(const Entry& e, double max = HUGE_VAL) {
    auto v = number(e);
    if (!v) return std::nullopt;
    if (!(*v > 0) || *v > max) {
      const std::string bound = std::isinf(max) ? "" : " and at most " + format_number(max);
      error(e.line, "'" + e.path + "' must be above 0" + bound + ", not " + e.value.Scalar());
      return std::nullopt;
    }
    return v;
  }

  std::optional<std::string> string(const Entry& e, bool allow_empty = false) {
    if (!e.value.IsScalar() || (!allow_empty && e.value.Scalar().empty())) {
      const char* what = allow_empty ? "a string" : "a non-empty string";
      error(e.line, "'" + e.path + "' must be " + what + ", not " + describe(e.value));
      return std::nullopt;
    }
    return e.value.Scalar();
  }

  template <typename T>
  std::optional<T> choice(const Entry& e, const Table<T>& table) {
    if (e.value.IsScalar()) {
      if (auto v = lookup(table, e.value.Scalar())) return v;
    }
    error(e.line, "'" + e.path + "' must be one of " + names_of(table) + ", not " +
                      describe(e.value));
    return std::nullopt;
  }

  template <typename T, typename V>
  static void set(T& field, const std::optional<V>& v) {
    if (v) field = static_cast<T>(*v);
  }

  // ---- the sections

  void canary(const Entry& at) {
    CanaryConfig& c = config_;
    section(at, {
        {"enabled", [&](const Entry& e) { set(c.enabled, boolean(e)); }},
        {"rolloutPercentage",
         [&](const Entry& e) {
           c.percentage_line = e.line;
           set(c.rollout_percentage, number_in(e, 0, 100));
         }},
        {"strategy", [&](const Entry& e) { set(c.strategy, choice(e, kStrategies)); }},
        {"hashKey", [&](const Entry& e) { set(c.hash_key, choice(e, kHashKeys)); }},
        {"enableCache", [&](const Entry& e) { set(c.enable_cache, boolean(e)); }},
        {"cacheSize", [&](const Entry& e) { set(c.cache_size, int_value(e, 1, 10000000)); }},
        {"hashSeed", [&](const Entry& e) { set(c.hash_seed, string(e)); }},
    });
  }

  // Returns whether `triggers` was given (else the spec's four apply).
  bool rollback(const Entry& at) {
    RollbackConfig& c = config_.rollback;
    bool triggers_given = false;
    section(at, {
        {"enabled", [&](const Entry& e) { set(c.enabled, boolean(e)); }},
        {"cooldownMs", [&](const Entry& e) { set(c.cooldown_ms, integer(e, 0, kMaxMs)); }},
        {"gradual", [&](const Entry& e) { set(c.gradual, boolean(e)); }},
        {"gradualSteps", [&](const Entry& e) { gradual_steps(e); }},
        {"minSamples", [&](const Entry& e) { set(c.min_samples, int_value(e, 1)); }},
        {"warningEvaluations",
         [&](const Entry& e) { set(c.warning_evaluations, int_value(e, 1)); }},
        {"triggers",
         [&](const Entry& e) {
           // A key with every item commented out keeps the defaults, like a null section.
           if (e.value.IsNull()) return;
           triggers_given = true;
           triggers(e);
         }},
    });
    return triggers_given;
  }

  void gradual_steps(const Entry& at) {
    if (!at.value.IsSequence() || at.value.size() == 0) {
      error(at.line, "'" + at.path + "' must be a non-empty list of fractions ending with 0 "
                     "(e.g. [0.5, 0]), not " + describe(at.value));
      return;
    }
    std::vector<double> steps;
    bool ok = true;
    for (size_t i = 0; i < at.value.size(); ++i) {
      const YAML::Node item = at.value[i];
      Entry e{std::to_string(i), at.path + "[" + std::to_string(i) + "]", item, line_of(item)};
      if (e.line == 0) e.line = at.line;
      auto v = number(e);
      if (!v) {
        ok = false;
        continue;
      }
      if (*v < 0 || *v >= 1) {
        error(e.line, "'" + e.path + "' must be at least 0 and below 1 (a fraction of the "
                      "deployed percentage), not " + item.Scalar());
        ok = false;
        continue;
      }
      if (!steps.empty() && !(*v < steps.back())) {
        error(e.line, "'" + at.path + "' must be strictly decreasing: " + item.Scalar() +
                          " follows " + format_number(steps.back()));
        ok = false;
      }
      steps.push_back(*v);
    }
    if (ok && steps.back() != 0) {
      error(at.line, "'" + at.path + "' must end with 0 (the canary off), not " +
                         format_number(steps.back()));
      ok = false;
    }
    if (ok) config_.rollback.gradual_steps = steps;
  }

  void triggers(const Entry& at) {
    if (!at.value.IsSequence()) {
      error(at.line, "'" + at.path + "' must be a list of {name, threshold, severity}, not " +
                         describe(at.value));
      return;
    }
    std::map<TriggerKind, int> seen;
    for (size_t i = 0; i < at.value.size(); ++i) {
      const YAML::Node item = at.value[i];
      Entry e{std::to_string(i), at.path + "[" + std::to_string(i) + "]", item, line_of(item)};
      if (e.line == 0) e.line = at.line;
      if (!item.IsMap()) {
        error(e.line, "'" + e.path + "' must be a mapping {name, threshold, severity}, not " +
                          describe(item));
        continue;
      }
      TriggerConfig t;
      t.line = e.line;
      std::optional<TriggerKind> kind;
      std::optional<TriggerSeverity> severity;
      bool threshold_ok = false;
      int name_line = e.line;
      auto present = section(e, {
          {"name",
           [&](const Entry& x) {
             name_line = x.line;
             kind = choice(x, kTriggers);
           }},
          {"threshold",
           [&](const Entry& x) {
             auto v = positive(x);
             threshold_ok = v.has_value();
             set(t.threshold, v);
           }},
          {"severity", [&](const Entry& x) { severity = choice(x, kSeverities); }},
      });
      for (const char* r : {"name", "threshold"}) {
        if (!present.count(r)) error(e.line, "'" + e.path + "' needs '" + r + "'");
      }
      if (!kind) continue;
      auto [first, inserted] = seen.emplace(*kind, name_line);
      if (!inserted) {
        error(name_line, "trigger '" + std::string(trigger_name(*kind)) +
                             "' is listed twice (first at line " +
                             std::to_string(first->second) + ")");
        continue;
      }
      if (!threshold_ok) continue;
      t.kind = *kind;
      t.severity = severity.value_or(default_severity(*kind));
      config_.rollback.triggers.push_back(t);
    }
  }

  void monitoring(const Entry& at) {
    MonitoringConfig& c = config_.monitoring;
    section(at, {
        {"enabled", [&](const Entry& e) { set(c.enabled, boolean(e)); }},
        {"intervalMs", [&](const Entry& e) { set(c.interval_ms, integer(e, 100, kMaxMs)); }},
        {"retentionHours", [&](const Entry& e) { set(c.retention_hours, positive(e, 168)); }},
        {"windowMs", [&](const Entry& e) { set(c.window_ms, integer(e, 1000, kMaxMs)); }},
    });
  }

  void variants(const Entry& at) {
    section(at, {
        {"baseline", [&](const Entry& e) { variant(e, config_.baseline, /*is_canary=*/false); }},
        {"canary",
         [&](const Entry& e) {
           canary_line_ = e.line;
           variant(e, config_.canary, /*is_canary=*/true);
         }},
    });
  }

  // The kind decides which other keys are allowed, so it is read first.
  void variant(const Entry& at, VariantConfig& v, bool is_canary) {
    if (at.value.IsNull() && !is_canary) return;  // every key commented out: the default
    if (!at.value.IsMap()) {
      const char* kinds = is_canary ? "local, upstream" : "server, local, upstream";
      error(at.line, "'" + at.path + "' must be a mapping with 'kind' (" + kinds + "), not " +
                         describe(at.value));
      return;
    }
    std::optional<Kind> kind;
    bool kind_present = false;
    for (const auto& kv : at.value) {
      if (!kv.first.IsScalar() || kv.first.Scalar() != "kind" || kind_present) continue;
      kind_present = true;
      Entry e{"kind", at.path + ".kind", kv.second, line_of(kv.first)};
      kind = choice(e, kAllKinds);
      if (kind && *kind == Kind::kServer && is_canary) {
        error(e.line, "'" + e.path + "' cannot be server: that is the baseline, and the canary "
                      "must differ from it (use local or upstream)");
        kind.reset();
      }
    }
    if (!kind_present) {
      if (is_canary) {
        error(at.line, "'" + at.path + "' needs 'kind' (local or upstream)");
        return;
      }
      kind = Kind::kServer;
    }
    if (!kind) return;  // reported; other keys depend on it
    VariantConfig out;
    out.kind = *kind;
    Handlers handlers = {{"kind", [](const Entry&) {}}};
    if (*kind == Kind::kLocal) {
      handlers.push_back({"model", [&](const Entry& e) { model_path(e, out); }});
      handlers.push_back({"n_ctx", [&](const Entry& e) { set(out.n_ctx, int_value(e, 0)); }});
      handlers.push_back(
          {"threads", [&](const Entry& e) { set(out.threads, int_value(e, 0)); }});
      handlers.push_back({"max_sequences",
                          [&](const Entry& e) { set(out.max_sequences, int_value(e, 1, 256)); }});
      handlers.push_back({"kv_type", [&](const Entry& e) { set(out.kv_type, choice(e, kKvTypes)); }});
    } else if (*kind == Kind::kUpstream) {
      handlers.push_back({"url", [&](const Entry& e) { upstream_url(e, out); }});
      handlers.push_back(
          {"api_key", [&](const Entry& e) { set(out.api_key, string(e, /*allow_empty=*/true)); }});
      handlers.push_back(
          {"timeout_ms", [&](const Entry& e) { set(out.timeout_ms, int_value(e, 1, 3600000)); }});
    }
    auto present = section(at, handlers);
    const char* required = *kind == Kind::kLocal    ? "model"
                           : *kind == Kind::kUpstream ? "url"
                                                      : nullptr;
    if (required && !present.count(required)) {
      error(at.line, "'" + at.path + "' (kind " + kind_name(*kind) + ") needs '" + required +
                         "'");
    }
    v = out;
  }

  static std::string kind_name(Kind k) {
    for (const auto& [n, v] : kAllKinds) {
      if (v == k) return n;
    }
    return "?";
  }

  void model_path(const Entry& e, VariantConfig& out) {
    auto p = string(e);
    if (!p) return;
    // Relative paths are relative to the working directory, as the server opens them.
    std::error_code ec;
    if (check_files_ && !std::filesystem::is_regular_file(*p, ec)) {
      error(e.line, e.path + ": no such file: " + *p);
      return;
    }
    out.model_path = *p;
  }

  // http://host[:port] with an optional trailing '/': the server root, /v1/... is appended.
  void upstream_url(const Entry& e, VariantConfig& out) {
    auto url = string(e);
    if (!url) return;
    if (url->rfind("https://", 0) == 0) {
      error(e.line, "'" + e.path + "': https is not supported for upstream variants (plain "
                    "HTTP only); use an http:// URL, not '" + *url + "'");
      return;
    }
    static const std::regex kUrl(R"(http://([A-Za-z0-9._\-]+|\[[0-9A-Fa-f:.]+\])(:([0-9]+))?/?)");
    std::smatch m;
    if (!std::regex_match(*url, m, kUrl)) {
      error(e.line, "'" + e.path + "' must be http://host[:port] (the server root, no path), "
                    "not '" + *url + "'");
      return;
    }
    if (m[3].matched) {
      const long port = m[3].length() > 5 ? 0 : std::strtol(m[3].str().c_str(), nullptr, 10);
      if (port < 1 || port > 65535) {
        error(e.line, "'" + e.path + "' has port " + m[3].str() + ": it must be 1..65535");
        return;
      }
    }
    std::string root = *url;
    if (root.back() == '/') root.pop_back();
    out.url = root;
  }

  void cross_checks() {
    const CanaryConfig& c = config_;
    if (c.enabled && c.rollout_percentage > 0 && c.canary.kind == Kind::kServer &&
        canary_line_ == 0) {
      error(c.percentage_line, "canary is enabled at " + format_number(c.rollout_percentage) +
                                   "% but 'variants.canary' is missing: say what serves the "
                                   "canary (kind local or upstream)");
    }
  }

  CanaryConfig& config_;
  bool check_files_;
  int canary_line_ = 0;  // line of variants.canary (0: absent)
};

std::string format_problems(std::vector<Problem> problems, const std::string& path) {
  std::stable_sort(problems.begin(), problems.end(),
                   [](const Problem& a, const Problem& b) { return a.line < b.line; });
  std::string message;
  for (const auto& p : problems) {
    if (!message.empty()) message += "\n";
    // Without a file name (a text about to be written) lines read "line N: ...".
    const std::string line = p.line > 0 ? std::to_string(p.line) : std::string();
    if (path.empty()) {
      message += (line.empty() ? "" : "line " + line + ": ") + p.message;
    } else {
      message += path + ":" + (line.empty() ? "" : line + ":") + " " + p.message;
    }
  }
  return message;
}

Result<CanaryConfig> parse(const std::string& yaml_text, const std::string& path,
                           bool check_files) {
  CanaryConfig config;
  std::vector<Problem> problems;
  try {
    Parser parser(config, check_files);
    parser.document(YAML::Load(yaml_text));
    problems = std::move(parser.problems);
  } catch (const YAML::Exception& e) {
    if (e.mark.is_null()) {
      problems.push_back({0, "YAML syntax error: " + e.msg});
    } else {
      problems.push_back({e.mark.line + 1, "YAML syntax error at column " +
                                               std::to_string(e.mark.column + 1) + ": " + e.msg});
    }
  } catch (const std::exception& e) {
    problems.push_back({0, std::string("cannot parse: ") + e.what()});
  }
  if (problems.empty()) return config;
  return Status::Error(format_problems(std::move(problems), path));
}

}  // namespace

Result<CanaryConfig> parse_canary_config(const std::string& yaml_text, const std::string& path) {
  return parse(yaml_text, path, /*check_files=*/true);
}

Result<CanaryConfig> load_canary_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::Error(path + ": cannot read the file");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return Status::Error(path + ": cannot read the file");
  return parse_canary_config(text.str(), path);
}

// ---- Rewriting rolloutPercentage in place. The edit is textual, not a YAML round trip,
// because yaml-cpp's emitter drops comments and reorders nothing back the way an operator
// wrote it; the result is re-parsed so that a bad edit is never written.

namespace {

// One line of the text, its '\r' (CRLF files) kept apart so it survives the edit.
struct Line {
  std::string body;
  std::string cr;
};

std::vector<Line> split_lines(const std::string& text) {
  std::vector<Line> lines;
  size_t start = 0;
  while (start <= text.size()) {
    size_t nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    Line l{text.substr(start, nl - start), ""};
    if (!l.body.empty() && l.body.back() == '\r') {
      l.body.pop_back();
      l.cr = "\r";
    }
    lines.push_back(std::move(l));
    start = nl + 1;
  }
  return lines;  // a text ending with '\n' gives a last, empty line: joining restores it
}

std::string join_lines(const std::vector<Line>& lines) {
  std::string out;
  for (size_t i = 0; i < lines.size(); ++i) {
    if (i > 0) out += '\n';
    out += lines[i].body + lines[i].cr;
  }
  return out;
}

size_t indent_of(const std::string& s) { return s.find_first_not_of(" \t"); }

// Blank and comment-only lines do not end or start YAML blocks.
bool is_content(const std::string& s) {
  const size_t i = indent_of(s);
  return i != std::string::npos && s[i] != '#';
}

// The shortest fixed notation that reads back as the same number: 10, 0.5, 12.25.
std::string percentage_text(double v) {
  if (v == 0) v = 0;  // no "-0"
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  return std::string(buf, r.ptr);
}

// Splits "VALUE   # comment" into the value, the gap before the comment and the comment.
void split_value(const std::string& rest, std::string& value, std::string& gap,
                 std::string& comment) {
  size_t hash = std::string::npos;
  for (size_t i = 0; i < rest.size(); ++i) {
    if (rest[i] == '#' && (i == 0 || rest[i - 1] == ' ' || rest[i - 1] == '\t')) {
      hash = i;
      break;
    }
  }
  const std::string before = hash == std::string::npos ? rest : rest.substr(0, hash);
  comment = hash == std::string::npos ? "" : rest.substr(hash);
  const size_t end = before.find_last_not_of(" \t");
  value = end == std::string::npos ? "" : before.substr(0, end + 1);
  gap = before.substr(value.size());
}

// The key line rewritten with `number`, the trailing comment kept in its column when the
// new value leaves room.
std::string rewrite_line(const std::string& indent, const std::string& after_key,
                         const std::string& number) {
  const size_t colon = after_key.find(':');
  std::string sep = after_key.substr(0, colon + 1);
  std::string rest = after_key.substr(colon + 1);
  const size_t value_start = rest.find_first_not_of(" \t");
  sep += rest.substr(0, value_start == std::string::npos ? rest.size() : value_start);
  rest = value_start == std::string::npos ? "" : rest.substr(value_start);
  if (sep.back() != ' ' && sep.back() != '\t') sep += ' ';
  std::string value, gap, comment;
  split_value(rest, value, gap, comment);
  std::string line = indent + "rolloutPercentage" + sep + number;
  if (!comment.empty()) {
    const long width = static_cast<long>(gap.size() + value.size()) -
                       static_cast<long>(number.size());
    line += std::string(static_cast<size_t>(std::max(1L, width)), ' ') + comment;
  }
  return line;
}

// Index of the top-level "canary:" line, or -1. Fails on an inline (flow) block.
Result<long> find_canary_block(const std::vector<Line>& lines) {
  static const std::regex kHeader(R"(canary[ \t]*:[ \t]*(#.*)?)");
  static const std::regex kInline(R"(canary[ \t]*:[ \t]*[^ \t#].*)");
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string& s = lines[i].body;
    if (std::regex_match(s, kHeader)) return static_cast<long>(i);
    if (std::regex_match(s, kInline)) {
      return Status::Error("line " + std::to_string(i + 1) + ": the canary block is written "
                           "inline; write it as an indented block to set rolloutPercentage");
    }
  }
  return -1L;
}

Result<std::string> edit_text(const std::string& yaml_text, const std::string& number) {
  std::vector<Line> lines = split_lines(yaml_text);
  auto header = find_canary_block(lines);
  if (!header.ok()) return header.status();
  if (*header < 0) {
    std::string out = yaml_text;
    if (!out.empty() && out.back() != '\n') out += '\n';
    return out + "canary:\n  rolloutPercentage: " + number + "\n";
  }
  const size_t h = static_cast<size_t>(*header);
  std::string child_indent;  // the block's key indentation, from its first key
  for (size_t i = h + 1; i < lines.size(); ++i) {
    const std::string& s = lines[i].body;
    if (!is_content(s)) continue;
    const size_t ind = indent_of(s);
    if (ind == 0) break;  // the next top-level section
    if (child_indent.empty()) child_indent = s.substr(0, ind);
    if (ind != child_indent.size()) continue;  // nested deeper
    const std::string key = "rolloutPercentage";
    if (s.compare(ind, key.size(), key) != 0) continue;
    const std::string after = s.substr(ind + key.size());
    const size_t colon = after.find_first_not_of(" \t");
    if (colon == std::string::npos || after[colon] != ':') continue;  // a longer key name
    lines[i].body = rewrite_line(child_indent, after, number);
    return join_lines(lines);
  }
  if (child_indent.empty()) child_indent = "  ";
  lines.insert(lines.begin() + static_cast<long>(h) + 1,
               Line{child_indent + "rolloutPercentage: " + number, lines[h].cr});
  return join_lines(lines);
}

}  // namespace

Result<std::string> with_rollout_percentage(const std::string& yaml_text, double percentage) {
  if (!std::isfinite(percentage) || percentage < 0 || percentage > 100) {
    return Status::Error("rolloutPercentage must be between 0 and 100, not " +
                         format_number(percentage));
  }
  const std::string number = percentage_text(percentage);
  auto edited = edit_text(yaml_text, number);
  if (!edited.ok()) return edited.status();
  // Model files are not checked here: the edit is about the text, and a rollback to 0
  // must be writable even when a canary model has gone. Callers that deploy validate the
  // result in full.
  auto parsed = parse(*edited, "", /*check_files=*/false);
  if (!parsed.ok()) {
    return Status::Error("with rolloutPercentage " + number + " the file does not validate:\n" +
                         parsed.status().message());
  }
  if (parsed->rollout_percentage != std::strtod(number.c_str(), nullptr)) {
    return Status::Error("the rewritten file reads rolloutPercentage " +
                         format_number(parsed->rollout_percentage) + ", not " + number);
  }
  return std::move(edited).value();
}

Status write_file_atomically(const std::string& path, const std::string& text) {
  namespace fs = std::filesystem;
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  // Keep the file's permissions: a rollback must not make the config world-writable or
  // unreadable for the server.
  mode_t mode = 0644;
  struct stat st;
  if (::stat(path.c_str(), &st) == 0) mode = st.st_mode & 07777;
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) return Status::Error(tmp + ": cannot create: " + std::strerror(errno));
  auto fail = [&](const std::string& what) {
    const std::string msg = tmp + ": cannot " + what + ": " + std::strerror(errno);
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::Error(msg);
  };
  size_t done = 0;
  while (done < text.size()) {
    const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return fail("write");
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, mode) != 0) return fail("set permissions");
  if (::fsync(fd) != 0) return fail("sync");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::Error(tmp + ": cannot close: " + std::strerror(errno));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string msg = path + ": cannot replace: " + std::strerror(errno);
    ::unlink(tmp.c_str());
    return Status::Error(msg);
  }
  // The rename itself is durable once the folder is synced (best effort: some file
  // systems refuse to sync a directory, and the data is already in place).
  fs::path dir = fs::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    ::fsync(dfd);
    ::close(dfd);
  }
  return Status::Ok();
}

}  // namespace mlxs::canary
