// parse_qos_config: the qos_monitor section walked once over the YAML tree. Every problem
// is collected (never stop at the first) with the line of the key or list item it is
// about, so an operator fixes the whole section in one pass.
#include "qos/qos_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>
#include <sstream>
#include <utility>

namespace mlxs::qos {

const char* metric_name(Metric m) {
  switch (m) {
    case Metric::kTtft: return "ttft";
    case Metric::kLatency: return "latency";
    case Metric::kThroughput: return "throughput";
    case Metric::kErrorRate: return "error_rate";
    case Metric::kStreamCount: return "stream_count";
  }
  return "?";
}

const char* statistic_name(Statistic s) {
  switch (s) {
    case Statistic::kP50: return "p50";
    case Statistic::kP90: return "p90";
    case Statistic::kP95: return "p95";
    case Statistic::kP99: return "p99";
    case Statistic::kMean: return "mean";
    case Statistic::kRate: return "rate";
    case Statistic::kCurrent: return "current";
  }
  return "?";
}

const char* severity_name(Severity s) {
  switch (s) {
    case Severity::kCritical: return "critical";
    case Severity::kWarning: return "warning";
    case Severity::kInfo: return "info";
  }
  return "?";
}

const char* action_name(Action a) {
  switch (a) {
    case Action::kScaleUp: return "scale_up";
    case Action::kScaleDown: return "scale_down";
    case Action::kAlert: return "alert";
    case Action::kShedLoad: return "shed_load";
    case Action::kCircuitBreak: return "circuit_break";
  }
  return "?";
}

const char* target_name(Target t) {
  switch (t) {
    case Target::kGovernor: return "governor";
    case Target::kStreamRegistry: return "stream_registry";
    case Target::kTransport: return "transport";
  }
  return "?";
}

const AlertChannel* QosConfig::channel(const std::string& name) const {
  for (const auto& c : alert_channels) {
    if (c.name == name) return &c;
  }
  return nullptr;
}

namespace {

// Time settings are bounded so that adding them to a time point can never overflow.
constexpr int64_t kMaxMs = 365LL * 24 * 3600 * 1000;  // a year

const std::vector<std::pair<const char*, Metric>> kMetrics = {
    {"ttft", Metric::kTtft},
    {"latency", Metric::kLatency},
    {"throughput", Metric::kThroughput},
    {"error_rate", Metric::kErrorRate},
    {"stream_count", Metric::kStreamCount},
};
const std::vector<std::pair<const char*, Statistic>> kStatistics = {
    {"p50", Statistic::kP50},   {"p90", Statistic::kP90},   {"p95", Statistic::kP95},
    {"p99", Statistic::kP99},   {"mean", Statistic::kMean}, {"rate", Statistic::kRate},
    {"current", Statistic::kCurrent},
};
const std::vector<std::pair<const char*, Severity>> kSeverities = {
    {"critical", Severity::kCritical},
    {"warning", Severity::kWarning},
    {"info", Severity::kInfo},
};
const std::vector<std::pair<const char*, Action>> kActions = {
    {"scale_up", Action::kScaleUp},     {"scale_down", Action::kScaleDown},
    {"alert", Action::kAlert},          {"shed_load", Action::kShedLoad},
    {"circuit_break", Action::kCircuitBreak},
};
const std::vector<std::pair<const char*, Target>> kTargets = {
    {"governor", Target::kGovernor},
    {"stream_registry", Target::kStreamRegistry},
    {"transport", Target::kTransport},
};

template <typename T>
std::optional<T> lookup(const std::vector<std::pair<const char*, T>>& table,
                        const std::string& name) {
  for (const auto& [n, v] : table) {
    if (name == n) return v;
  }
  return std::nullopt;
}

template <typename T>
std::string names_of(const std::vector<std::pair<const char*, T>>& table) {
  std::string out;
  for (const auto& entry : table) out += (out.empty() ? "" : ", ") + std::string(entry.first);
  return out;
}

// The statistics each metric can be compared on.
std::vector<Statistic> allowed_statistics(Metric m) {
  switch (m) {
    case Metric::kErrorRate: return {Statistic::kRate};
    case Metric::kStreamCount: return {Statistic::kCurrent};
    default:
      return {Statistic::kP50, Statistic::kP90, Statistic::kP95, Statistic::kP99,
              Statistic::kMean};
  }
}

Statistic default_statistic(Metric m) {
  switch (m) {
    case Metric::kTtft:
    case Metric::kLatency: return Statistic::kP95;
    case Metric::kThroughput: return Statistic::kP50;
    case Metric::kErrorRate: return Statistic::kRate;
    case Metric::kStreamCount: return Statistic::kCurrent;
  }
  return Statistic::kP95;
}

// The statistic an SLO name's suffix asks for ("ttft_p99" -> p99), if any.
std::optional<Statistic> statistic_from_name(const std::string& name) {
  static const std::vector<std::pair<const char*, Statistic>> kSuffixes = {
      {"_p50", Statistic::kP50}, {"_p90", Statistic::kP90},   {"_p95", Statistic::kP95},
      {"_p99", Statistic::kP99}, {"_mean", Statistic::kMean}, {"_rate", Statistic::kRate},
  };
  for (const auto& [suffix, s] : kSuffixes) {
    const std::string sfx = suffix;
    if (name.size() > sfx.size() && name.compare(name.size() - sfx.size(), sfx.size(), sfx) == 0) {
      return s;
    }
  }
  return std::nullopt;
}

std::string allowed_text(Metric m) {
  std::string out;
  for (Statistic s : allowed_statistics(m)) {
    out += (out.empty() ? "" : ", ") + std::string(statistic_name(s));
  }
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
  std::string path;  // dotted path from qos_monitor, for messages
  YAML::Node value;
  int line = 0;
};

using Handler = std::function<void(const Entry&)>;
using Handlers = std::vector<std::pair<std::string, Handler>>;

// An alert remediation's channel, checked once every channel is known (the alerts
// section may come after the policies).
struct ChannelRef {
  std::string channel;
  std::string path;
  int line = 0;
};

struct Problem {
  int line;
  std::string message;
};

class Parser {
 public:
  explicit Parser(QosConfig& config) : config_(config) {}

  std::vector<Problem> problems;

  void document(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) return;
    if (!root.IsMap()) {
      error(line_of(root), "the file must be a mapping of sections, not " + describe(root));
      return;
    }
    // Other sections belong to other parsers; only qos_monitor and policy_engine here.
    for (const auto& kv : root) {
      if (!kv.first.IsScalar() || kv.first.Scalar() != "policy_engine") continue;
      section(Entry{"policy_engine", "policy_engine", kv.second, line_of(kv.first)},
              {{"enabled", [&](const Entry& e) { set(config_.policy_engine_enabled, boolean(e)); }}});
    }
    std::optional<int> first_line;
    for (const auto& kv : root) {
      if (!kv.first.IsScalar() || kv.first.Scalar() != "qos_monitor") continue;
      const int line = line_of(kv.first);
      if (first_line) {
        error(line, "duplicate key 'qos_monitor' (first at line " + std::to_string(*first_line) +
                        ")");
        continue;
      }
      first_line = line;
      qos_monitor(Entry{"qos_monitor", "qos_monitor", kv.second, line});
    }
    check_channel_refs();
  }

 private:
  void error(int line, std::string msg) { problems.push_back({line, std::move(msg)}); }

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
      if (!kv.first.IsScalar()) {
        error(line, "keys under '" + at.path + "' must be plain names, not " + describe(kv.first));
        continue;
      }
      const std::string name = kv.first.Scalar();
      const std::string path = at.path + "." + name;
      auto [first, inserted] = seen.emplace(name, line);
      if (!inserted) {
        error(line, "duplicate key '" + path + "' (first at line " + std::to_string(first->second) +
                        ")");
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

  // Reports required keys missing from a mapping item.
  void require(const Entry& at, const std::set<std::string>& present,
               const std::vector<std::string>& required) {
    if (!at.value.IsMap()) return;  // already reported
    for (const auto& r : required) {
      if (!present.count(r)) error(at.line, "'" + at.path + "' needs '" + r + "'");
    }
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
    static const std::regex kDecimal(R"(-?[0-9]+(\.[0-9]+)?)");
    if (!is_plain(e.value) || !std::regex_match(e.value.Scalar(), kDecimal)) {
      error(e.line, "'" + e.path + "' must be a number, not " + describe(e.value));
      return std::nullopt;
    }
    return std::strtod(e.value.Scalar().c_str(), nullptr);
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

  std::optional<std::string> string(const Entry& e, bool allow_empty = false) {
    if (!e.value.IsScalar() || (!allow_empty && e.value.Scalar().empty())) {
      const char* what = allow_empty ? "a string" : "a non-empty string";
      error(e.line, "'" + e.path + "' must be " + what +
                        ", not " + describe(e.value));
      return std::nullopt;
    }
    return e.value.Scalar();
  }

  template <typename T>
  std::optional<T> choice(const Entry& e, const std::vector<std::pair<const char*, T>>& table) {
    if (e.value.IsScalar()) {
      if (auto v = lookup(table, e.value.Scalar())) return v;
    }
    error(e.line, "'" + e.path + "' must be one of " + names_of(table) + ", not " +
                      describe(e.value));
    return std::nullopt;
  }

  // ---- the sections

  void qos_monitor(const Entry& at) {
    QosConfig& c = config_;
    section(at, {
        {"enabled", [&](const Entry& e) { set(c.enabled, boolean(e)); }},
        {"evaluator", [&](const Entry& e) { evaluator(e); }},
        {"executor", [&](const Entry& e) { executor(e); }},
        {"governor", [&](const Entry& e) { governor(e); }},
        {"alerts", [&](const Entry& e) { alerts(e); }},
        {"circuit_breaker",
         [&](const Entry& e) {
           section(e, {{"half_open_requests",
                        [&](const Entry& x) { set(c.half_open_requests, int_value(x, 1)); }}});
         }},
        {"policy_store", [&](const Entry& e) { policy_store(e); }},
    });
  }

  template <typename T, typename V>
  static void set(T& field, const std::optional<V>& v) {
    if (v) field = static_cast<T>(*v);
  }

  void evaluator(const Entry& at) {
    EvaluatorConfig& c = config_.evaluator;
    section(at, {
        {"enabled", [&](const Entry& e) { set(c.enabled, boolean(e)); }},
        {"evaluation_interval_ms",
         [&](const Entry& e) { set(c.evaluation_interval_ms, integer(e, 100, kMaxMs)); }},
        {"window_ms", [&](const Entry& e) { set(c.window_ms, integer(e, 1000, kMaxMs)); }},
        {"tdigest_compression",
         [&](const Entry& e) { set(c.tdigest_compression, number_in(e, 10, 10000)); }},
    });
  }

  void executor(const Entry& at) {
    ExecutorConfig& c = config_.executor;
    section(at, {
        {"enabled", [&](const Entry& e) { set(c.enabled, boolean(e)); }},
        {"cooldown_ms", [&](const Entry& e) { set(c.cooldown_ms, integer(e, 0, kMaxMs)); }},
        {"max_executions_per_window",
         [&](const Entry& e) { set(c.max_executions_per_window, int_value(e, 1)); }},
        {"execution_window_ms",
         [&](const Entry& e) { set(c.execution_window_ms, integer(e, 1000, kMaxMs)); }},
        {"loop_detection_window",
         [&](const Entry& e) { set(c.loop_detection_window, int_value(e, 2, 1000)); }},
    });
  }

  void governor(const Entry& at) {
    GovernorConfig& c = config_.governor;
    int max_line = 0;
    bool min_ok = true, max_ok = true;
    section(at, {
        {"min_active_streams",
         [&](const Entry& e) {
           auto v = int_value(e, 1);
           min_ok = v.has_value();
           set(c.min_active_streams, v);
         }},
        {"max_active_streams",
         [&](const Entry& e) {
           max_line = e.line;
           auto v = int_value(e, 0);
           max_ok = v.has_value();
           set(c.max_active_streams, v);
         }},
    });
    if (min_ok && max_ok && c.max_active_streams > 0 &&
        c.min_active_streams > c.max_active_streams) {
      error(max_line, "'" + at.path + ".max_active_streams' (" +
                          std::to_string(c.max_active_streams) +
                          ") must not be below min_active_streams (" +
                          std::to_string(c.min_active_streams) + ")");
    }
  }

  void alerts(const Entry& at) {
    section(at, {{"channels", [&](const Entry& e) { channels(e); }}});
  }

  void channels(const Entry& at) {
    if (at.value.IsNull()) return;
    if (!at.value.IsMap()) {
      error(at.line, "'" + at.path + "' must be a mapping of channel names to {url, timeout_ms}, "
                     "not " + describe(at.value));
      return;
    }
    // Channel names are free, so they cannot be a handler table; duplicates still count.
    std::map<std::string, int> seen;
    for (const auto& kv : at.value) {
      const int line = line_of(kv.first);
      if (!kv.first.IsScalar() || kv.first.Scalar().empty()) {
        error(line, "channel names under '" + at.path + "' must be plain names, not " +
                        describe(kv.first));
        continue;
      }
      const std::string name = kv.first.Scalar();
      auto [first, inserted] = seen.emplace(name, line);
      if (!inserted) {
        error(line, "duplicate key '" + at.path + "." + name + "' (first at line " +
                        std::to_string(first->second) + ")");
        continue;
      }
      alert_channel(Entry{name, at.path + "." + name, kv.second, line});
    }
  }

  void alert_channel(const Entry& at) {
    AlertChannel ch;
    ch.name = at.name;
    auto present = section(at, {
        {"url",
         [&](const Entry& e) {
           auto v = string(e, /*allow_empty=*/true);
           if (v && url_ok(e, *v)) ch.url = *v;
         }},
        {"timeout_ms", [&](const Entry& e) { set(ch.timeout_ms, int_value(e, 1, 60000)); }},
    });
    if (at.value.IsNull()) {
      error(at.line, "'" + at.path + "' needs 'url'");
    } else {
      require(at, present, {"url"});
    }
    // A broken channel is still named, so that alerts naming it are not reported twice.
    config_.alert_channels.push_back(ch);
  }

  // http://host[:port]/path: the webhooks are posted over plain HTTP. "" is a channel
  // whose alerts are only logged.
  bool url_ok(const Entry& e, const std::string& url) {
    if (url.empty()) return true;
    if (url.rfind("https://", 0) == 0) {
      error(e.line, "'" + e.path + "': https is not supported for alert webhooks (plain HTTP "
                    "only); use an http:// URL, not '" + url + "'");
      return false;
    }
    static const std::regex kUrl(
        R"(http://([A-Za-z0-9._\-]+|\[[0-9A-Fa-f:.]+\])(:([0-9]+))?(/\S*)?)");
    std::smatch m;
    if (!std::regex_match(url, m, kUrl)) {
      error(e.line, "'" + e.path + "' must be a URL http://host[:port]/path, not '" + url + "'");
      return false;
    }
    if (m[3].matched) {
      const long port = m[3].length() > 5 ? 0 : std::strtol(m[3].str().c_str(), nullptr, 10);
      if (port < 1 || port > 65535) {
        error(e.line, "'" + e.path + "' has port " + m[3].str() + ": it must be 1..65535");
        return false;
      }
    }
    return true;
  }

  void policy_store(const Entry& at) {
    section(at, {{"policies", [&](const Entry& e) { policies(e); }}});
  }

  void policies(const Entry& at) {
    if (at.value.IsNull()) return;
    if (!at.value.IsSequence()) {
      error(at.line, "'" + at.path + "' must be a list of policies, not " + describe(at.value));
      return;
    }
    std::map<std::string, int> ids;  // id -> line of its first use
    for (size_t i = 0; i < at.value.size(); ++i) {
      const YAML::Node item = at.value[i];
      Entry e{std::to_string(i), at.path + "[" + std::to_string(i) + "]", item, line_of(item)};
      if (!item.IsMap()) {
        error(e.line, "'" + e.path + "' must be a mapping (a policy), not " + describe(item));
        continue;
      }
      auto p = policy(e);
      if (!p.id.empty()) {
        auto [first, inserted] = ids.emplace(p.id, e.line);
        if (!inserted) {
          error(e.line, "'" + e.path + "': policy id '" + p.id + "' is already used at line " +
                            std::to_string(first->second) + "; ids must be unique");
        }
      }
      config_.policies.push_back(std::move(p));
    }
  }

  Policy policy(const Entry& at) {
    Policy p;
    auto present = section(at, {
        {"id", [&](const Entry& e) { set(p.id, string(e)); }},
        {"name", [&](const Entry& e) { set(p.name, string(e)); }},
        {"description", [&](const Entry& e) { set(p.description, string(e, true)); }},
        {"enabled", [&](const Entry& e) { set(p.enabled, boolean(e)); }},
        {"priority", [&](const Entry& e) { set(p.priority, int_value(e, INT_MIN)); }},
        {"slos", [&](const Entry& e) { slos(e, p); }},
        {"remediations", [&](const Entry& e) { remediations(e, p); }},
    });
    require(at, present, {"id", "name", "slos"});
    return p;
  }

  void slos(const Entry& at, Policy& p) {
    if (!at.value.IsSequence() || at.value.size() == 0) {
      error(at.line, "'" + at.path + "' must be a non-empty list of SLOs, not " +
                         (at.value.IsSequence() ? std::string("an empty list")
                                                : describe(at.value)));
      return;
    }
    std::map<std::string, int> names;
    for (size_t i = 0; i < at.value.size(); ++i) {
      const YAML::Node item = at.value[i];
      Entry e{std::to_string(i), at.path + "[" + std::to_string(i) + "]", item, line_of(item)};
      if (!item.IsMap()) {
        error(e.line, "'" + e.path + "' must be a mapping (an SLO), not " + describe(item));
        continue;
      }
      auto slo = slo_spec(e);
      if (!slo) continue;
      auto [first, inserted] = names.emplace(slo->name, e.line);
      if (!inserted) {
        error(e.line, "'" + e.path + "': SLO name '" + slo->name + "' is already used in this "
                      "policy at line " + std::to_string(first->second));
        continue;
      }
      p.slos.push_back(std::move(*slo));
    }
  }

  // An SLO's keys may come in any order, so the checks tying them together (threshold
  // range and statistic by metric) run once the whole item is read.
  std::optional<SloSpec> slo_spec(const Entry& at) {
    SloSpec s;
    const size_t errors_before = problems.size();
    std::optional<Metric> metric;
    std::optional<double> threshold;
    std::optional<Statistic> statistic;
    Entry threshold_at, statistic_at;
    auto present = section(at, {
        {"name", [&](const Entry& e) { set(s.name, string(e)); }},
        {"metric", [&](const Entry& e) { metric = choice(e, kMetrics); }},
        {"threshold",
         [&](const Entry& e) {
           threshold_at = e;
           threshold = number(e);
         }},
        {"window_ms", [&](const Entry& e) { set(s.window_ms, integer(e, 1000, kMaxMs)); }},
        {"severity", [&](const Entry& e) { set(s.severity, choice(e, kSeverities)); }},
        {"statistic",
         [&](const Entry& e) {
           statistic_at = e;
           statistic = choice(e, kStatistics);
         }},
    });
    require(at, present, {"name", "metric", "threshold"});
    if (metric) {
      s.metric = *metric;
      if (threshold) check_threshold(threshold_at, *metric, *threshold);
      resolve_statistic(at, s, statistic, statistic_at, present.count("statistic") > 0);
    }
    if (threshold) s.threshold = *threshold;
    if (problems.size() != errors_before) return std::nullopt;
    return s;
  }

  void check_threshold(const Entry& e, Metric m, double v) {
    if (m == Metric::kErrorRate && (v < 0 || v > 1)) {
      error(e.line, "'" + e.path + "': an error_rate threshold is a fraction from 0 to 1 "
                    "(0.01 is 1%), not " + e.value.Scalar());
    } else if (v < 0) {
      error(e.line, "'" + e.path + "' must be at least 0, not " + e.value.Scalar());
    }
  }

  void resolve_statistic(const Entry& at, SloSpec& s, const std::optional<Statistic>& explicit_stat,
                         const Entry& statistic_at, bool explicit_given) {
    if (explicit_given && !explicit_stat) return;  // its value was already reported
    const auto allowed = allowed_statistics(s.metric);
    auto is_allowed = [&](Statistic st) {
      return std::find(allowed.begin(), allowed.end(), st) != allowed.end();
    };
    if (explicit_stat) {
      if (!is_allowed(*explicit_stat)) {
        error(statistic_at.line,
              "'" + statistic_at.path + "': statistic '" + statistic_name(*explicit_stat) +
                  "' does not apply to metric '" + metric_name(s.metric) + "' (it takes " +
                  allowed_text(s.metric) + ")");
        return;
      }
      s.statistic = *explicit_stat;
      return;
    }
    if (auto from_name = statistic_from_name(s.name)) {
      if (!is_allowed(*from_name)) {
        error(at.line, "'" + at.path + "': the SLO name '" + s.name + "' ends in _" +
                           statistic_name(*from_name) + ", which does not apply to metric '" +
                           metric_name(s.metric) + "' (it takes " + allowed_text(s.metric) +
                           "); rename it or set 'statistic' explicitly");
        return;
      }
      s.statistic = *from_name;
      return;
    }
    s.statistic = default_statistic(s.metric);
  }

  void remediations(const Entry& at, Policy& p) {
    if (at.value.IsNull()) return;
    if (!at.value.IsSequence()) {
      error(at.line, "'" + at.path + "' must be a list of remediations, not " +
                         describe(at.value));
      return;
    }
    for (size_t i = 0; i < at.value.size(); ++i) {
      const YAML::Node item = at.value[i];
      Entry e{std::to_string(i), at.path + "[" + std::to_string(i) + "]", item, line_of(item)};
      if (!item.IsMap()) {
        error(e.line, "'" + e.path + "' must be a mapping (a remediation), not " +
                          describe(item));
        continue;
      }
      if (auto r = remediation(e)) p.remediations.push_back(std::move(*r));
    }
  }

  static Target target_of(Action a) {
    switch (a) {
      case Action::kScaleUp:
      case Action::kScaleDown: return Target::kGovernor;
      case Action::kAlert:
      case Action::kShedLoad: return Target::kStreamRegistry;
      case Action::kCircuitBreak: return Target::kTransport;
    }
    return Target::kGovernor;
  }

  std::optional<RemediationSpec> remediation(const Entry& at) {
    RemediationSpec r;
    const size_t errors_before = problems.size();
    std::optional<Action> type;
    std::optional<Target> target;
    std::optional<Entry> target_at, params_at;
    auto present = section(at, {
        {"type", [&](const Entry& e) { type = choice(e, kActions); }},
        {"target",
         [&](const Entry& e) {
           target_at = e;
           target = choice(e, kTargets);
         }},
        {"params", [&](const Entry& e) { params_at = e; }},
        {"reason", [&](const Entry& e) { set(r.reason, string(e, true)); }},
    });
    require(at, present, {"type", "target", "params"});
    if (type) {
      r.type = *type;
      const Target wanted = target_of(*type);
      if (target && *target != wanted) {
        error(target_at->line, "'" + target_at->path + "': " + action_name(*type) +
                                   " acts on target '" + target_name(wanted) + "', not '" +
                                   target_name(*target) + "'");
      }
      r.target = wanted;
      if (params_at) params(*params_at, r);
    }
    if (problems.size() != errors_before) return std::nullopt;
    return r;
  }

  // Each action takes exactly one parameter.
  void params(const Entry& at, RemediationSpec& r) {
    switch (r.type) {
      case Action::kScaleUp:
      case Action::kScaleDown:
        require_params(at, {{"delta", [&](const Entry& e) { set(r.delta, int_value(e, 1)); }}});
        return;
      case Action::kAlert:
        require_params(at, {{"channel", [&](const Entry& e) {
                               if (auto v = string(e)) {
                                 r.channel = *v;
                                 channel_refs_.push_back({*v, e.path, e.line});
                               }
                             }}});
        return;
      case Action::kShedLoad:
        require_params(at, {{"percentage", [&](const Entry& e) {
                               auto v = number(e);
                               if (v && (*v <= 0 || *v > 100)) {
                                 error(e.line, "'" + e.path + "' must be above 0 and at most "
                                               "100, not " + e.value.Scalar());
                               } else {
                                 set(r.percentage, v);
                               }
                             }}});
        return;
      case Action::kCircuitBreak:
        require_params(at, {{"duration_ms", [&](const Entry& e) {
                               set(r.duration_ms, integer(e, 1, kMaxMs));
                             }}});
        return;
    }
  }

  void require_params(const Entry& at, const Handlers& handlers) {
    if (at.value.IsNull() || !at.value.IsMap()) {
      error(at.line, "'" + at.path + "' must be a mapping with " + known(handlers) + ", not " +
                         describe(at.value));
      return;
    }
    auto present = section(at, handlers);
    for (const auto& h : handlers) {
      if (!present.count(h.first)) error(at.line, "'" + at.path + "' needs '" + h.first + "'");
    }
  }

  void check_channel_refs() {
    for (const auto& ref : channel_refs_) {
      if (config_.channel(ref.channel)) continue;
      std::string names;
      for (const auto& c : config_.alert_channels) names += (names.empty() ? "" : ", ") + c.name;
      error(ref.line, "'" + ref.path + "': alert channel '" + ref.channel +
                          "' is not configured under qos_monitor.alerts.channels (" +
                          (names.empty() ? std::string("none are") : "configured: " + names) +
                          ")");
    }
  }

  QosConfig& config_;
  std::vector<ChannelRef> channel_refs_;
};

}  // namespace

Result<QosConfig> parse_qos_config(const std::string& file_text, const std::string& path) {
  QosConfig config;
  std::vector<Problem> problems;
  try {
    Parser parser(config);
    parser.document(YAML::Load(file_text));
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
  std::stable_sort(problems.begin(), problems.end(),
                   [](const Problem& a, const Problem& b) { return a.line < b.line; });
  std::string message;
  for (const auto& p : problems) {
    if (!message.empty()) message += "\n";
    message += path + ":" + (p.line > 0 ? std::to_string(p.line) + ":" : std::string()) + " " +
               p.message;
  }
  return Status::Error(message);
}

}  // namespace mlxs::qos
