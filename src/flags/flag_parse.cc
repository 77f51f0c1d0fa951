// parse_flag_config: the file's schema as a table, walked once over the YAML tree. Every
// problem is collected (never stop at the first) with the line of the key it is about,
// so an operator fixes the whole file in one pass.
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "flags/flag_config.h"

namespace mlxs::flags {
namespace {

enum class Kind { kBool, kPercent, kString, kMetricName, kSection };

struct Field {
  std::string name;
  Kind kind;
  std::function<bool&(FlagConfig&)> flag;           // kBool
  std::function<double&(FlagConfig&)> number;       // kPercent
  std::function<std::string&(FlagConfig&)> text;    // kString, kMetricName
  std::vector<Field> children;                      // kSection
};

Field boolean(std::string name, std::function<bool&(FlagConfig&)> f) {
  return Field{std::move(name), Kind::kBool, std::move(f), {}, {}, {}};
}
Field percent(std::string name, std::function<double&(FlagConfig&)> f) {
  return Field{std::move(name), Kind::kPercent, {}, std::move(f), {}, {}};
}
Field text(std::string name, Kind kind, std::function<std::string&(FlagConfig&)> f) {
  return Field{std::move(name), kind, {}, {}, std::move(f), {}};
}
Field section(std::string name, std::vector<Field> children) {
  return Field{std::move(name), Kind::kSection, {}, {}, {}, std::move(children)};
}

// A top-level rollout section: enabled, its percentage key (named differently per
// feature, as in the spec), hash_seed, then its sub-feature sections.
Field rollout_section(std::string name, Rollout FlagConfig::*r, std::string pct_key,
                      std::vector<Field> subs = {}) {
  std::vector<Field> fields = {
      boolean("enabled", [r](FlagConfig& c) -> bool& { return (c.*r).enabled; }),
      percent(std::move(pct_key), [r](FlagConfig& c) -> double& { return (c.*r).percentage; }),
      text("hash_seed", Kind::kString,
           [r](FlagConfig& c) -> std::string& { return (c.*r).hash_seed; }),
  };
  for (auto& s : subs) fields.push_back(std::move(s));
  return section(std::move(name), std::move(fields));
}

Field sub_switch(std::string name, bool FlagConfig::*on) {
  return section(std::move(name),
                 {boolean("enabled", [on](FlagConfig& c) -> bool& { return c.*on; })});
}

const std::vector<Field>& schema() {
  static const std::vector<Field> kSchema = {
      rollout_section("phase4_rollout", &FlagConfig::phase4_rollout, "percentage"),
      rollout_section(
          "ttft_pipeline", &FlagConfig::ttft_pipeline, "rollout_percentage",
          {sub_switch("warmup_queue", &FlagConfig::warmup_queue_enabled),
           section("speculation",
                   {boolean("enabled",
                            [](FlagConfig& c) -> bool& { return c.speculation_enabled; }),
                    boolean("allowlist_only",
                            [](FlagConfig& c) -> bool& { return c.speculation_allowlist_only; })}),
           sub_switch("kv_prep", &FlagConfig::kv_prep_enabled)}),
      rollout_section(
          "qos_monitor", &FlagConfig::qos_monitor, "rollout_percentage",
          {sub_switch("evaluator", &FlagConfig::evaluator_enabled),
           section("executor",
                   {boolean("enabled", [](FlagConfig& c) -> bool& { return c.executor_enabled; }),
                    boolean("dry_run", [](FlagConfig& c) -> bool& { return c.executor_dry_run; })}),
           sub_switch("policy_store", &FlagConfig::policy_store_enabled)}),
      rollout_section("canary", &FlagConfig::canary, "rolloutPercentage"),
      section("emergency",
              {boolean("kill_switch", [](FlagConfig& c) -> bool& { return c.kill_switch; }),
               boolean("rollback_to_baseline",
                       [](FlagConfig& c) -> bool& { return c.rollback_to_baseline; })}),
      section("observability",
              {boolean("log_feature_decisions",
                       [](FlagConfig& c) -> bool& { return c.log_feature_decisions; }),
               boolean("export_metrics", [](FlagConfig& c) -> bool& { return c.export_metrics; }),
               text("metric_prefix", Kind::kMetricName,
                    [](FlagConfig& c) -> std::string& { return c.metric_prefix; })}),
  };
  return kSchema;
}

// The top-level features with a rollout, and the name of their percentage key.
struct RolloutKeys {
  const char* feature;
  const char* pct_key;
  Rollout FlagConfig::*rollout;
};
constexpr RolloutKeys kRollouts[] = {
    {"phase4_rollout", "percentage", &FlagConfig::phase4_rollout},
    {"ttft_pipeline", "rollout_percentage", &FlagConfig::ttft_pipeline},
    {"qos_monitor", "rollout_percentage", &FlagConfig::qos_monitor},
    {"canary", "rolloutPercentage", &FlagConfig::canary},
};

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

// YAML's spellings of infinity and NaN: numbers, but never a valid percentage.
std::optional<double> yaml_special_float(const std::string& s) {
  static const std::set<std::string> kInf = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"};
  static const std::set<std::string> kNegInf = {"-.inf", "-.Inf", "-.INF"};
  if (kInf.count(s)) return INFINITY;
  if (kNegInf.count(s)) return -INFINITY;
  if (s == ".nan" || s == ".NaN" || s == ".NAN") return NAN;
  return std::nullopt;
}

class Parser {
 public:
  Parser(FlagCheck& check, FlagConfig& config) : check_(check), config_(config) {}

  void document(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) {
      warn(0, "no features configured: every feature is off");
      return;
    }
    if (!root.IsMap()) {
      error(line_of(root), "the file must be a mapping of sections (known: " +
                               known_keys(schema()) + "), not " + describe(root));
      return;
    }
    if (root.size() == 0) warn(0, "no features configured: every feature is off");
    mapping(root, schema(), "");
    check_seeds();
  }

 private:
  void error(int line, std::string msg) { check_.errors.push_back({line, std::move(msg)}); }
  void warn(int line, std::string msg) { check_.warnings.push_back({line, std::move(msg)}); }

  static std::string known_keys(const std::vector<Field>& fields) {
    std::string out;
    for (const auto& f : fields) out += (out.empty() ? "" : ", ") + f.name;
    return out;
  }

  void mapping(const YAML::Node& map, const std::vector<Field>& fields, const std::string& prefix) {
    std::map<std::string, int> seen;  // key -> line of its first occurrence
    for (const auto& entry : map) {
      const YAML::Node key = entry.first;
      int line = line_of(key);
      if (!key.IsScalar()) {
        error(line, "keys must be plain names" +
                        (prefix.empty() ? std::string() : " (under '" + prefix + "')") +
                        ", not " + describe(key));
        continue;
      }
      const std::string name = key.Scalar();
      const std::string path = prefix.empty() ? name : prefix + "." + name;
      auto [first, inserted] = seen.emplace(name, line);
      if (!inserted) {
        error(line, "duplicate key '" + path + "' (first at line " +
                        std::to_string(first->second) + ")");
        continue;
      }
      const Field* field = nullptr;
      for (const auto& f : fields) {
        if (f.name == name) field = &f;
      }
      if (!field) {
        error(line, "unknown key '" + path + "' (known: " + known_keys(fields) + ")");
        continue;
      }
      lines_[path] = line;
      value(*field, entry.second, path, line);
    }
  }

  void value(const Field& f, const YAML::Node& v, const std::string& path, int line) {
    switch (f.kind) {
      case Kind::kSection:
        // An empty section (every key commented out) keeps the defaults.
        if (v.IsNull()) return;
        if (!v.IsMap()) {
          error(line, "'" + path + "' must be a mapping (known keys: " + known_keys(f.children) +
                          "), not " + describe(v));
          return;
        }
        mapping(v, f.children, path);
        return;
      case Kind::kBool:
        if (is_plain(v) && (v.Scalar() == "true" || v.Scalar() == "false")) {
          f.flag(config_) = v.Scalar() == "true";
        } else {
          error(line, "'" + path + "' must be true or false, not " + describe(v));
        }
        return;
      case Kind::kPercent:
        percentage(f, v, path, line);
        return;
      case Kind::kString:
      case Kind::kMetricName:
        string_value(f, v, path, line);
        return;
    }
  }

  void percentage(const Field& f, const YAML::Node& v, const std::string& path, int line) {
    static const std::regex kDecimal(R"(-?[0-9]+(\.[0-9]+)?)");
    std::optional<double> num;
    if (is_plain(v)) {
      if (std::regex_match(v.Scalar(), kDecimal)) {
        num = std::strtod(v.Scalar().c_str(), nullptr);
      } else {
        num = yaml_special_float(v.Scalar());
      }
    }
    if (!num) {
      error(line, "'" + path + "' must be a number from 0 to 100, not " + describe(v));
      return;
    }
    if (!std::isfinite(*num) || *num < 0 || *num > 100) {
      error(line, "'" + path + "' must be between 0 and 100, not " + v.Scalar());
      return;
    }
    f.number(config_) = *num;
    percent_set_.insert(path);
  }

  void string_value(const Field& f, const YAML::Node& v, const std::string& path, int line) {
    if (!v.IsScalar()) {
      error(line, "'" + path + "' must be a string, not " + describe(v));
      return;
    }
    static const std::regex kMetricName("[a-zA-Z_:][a-zA-Z0-9_:]*");
    if (f.kind == Kind::kMetricName && !std::regex_match(v.Scalar(), kMetricName)) {
      error(line, "'" + path +
                      "' must be a Prometheus metric name ([a-zA-Z_:][a-zA-Z0-9_:]*), not '" +
                      v.Scalar() + "'");
      return;
    }
    f.text(config_) = v.Scalar();
  }

  // A percentage strictly between 0 and 100 needs a seed; one seed shared by two
  // features correlates their rollouts (the same keys get both), which is legal but
  // rarely meant.
  void check_seeds() {
    struct Seeded {
      const char* feature;
      int line;
      std::string seed;
    };
    std::vector<Seeded> seeded;
    for (const auto& r : kRollouts) {
      const std::string pct_path = std::string(r.feature) + "." + r.pct_key;
      const std::string seed_path = std::string(r.feature) + ".hash_seed";
      const Rollout& rollout = config_.*(r.rollout);
      if (percent_set_.count(pct_path) && rollout.percentage > 0 && rollout.percentage < 100 &&
          rollout.hash_seed.empty()) {
        error(lines_[pct_path], std::string(r.feature) + ": " + r.pct_key + " is " +
                                    format_number(rollout.percentage) +
                                    ": hash_seed is required when the percentage is between 0 "
                                    "and 100: it decides which keys are in");
      }
      if (!rollout.hash_seed.empty()) {
        seeded.push_back({r.feature, lines_[seed_path], rollout.hash_seed});
      }
    }
    std::stable_sort(seeded.begin(), seeded.end(),
                     [](const Seeded& a, const Seeded& b) { return a.line < b.line; });
    for (size_t i = 0; i < seeded.size(); ++i) {
      for (size_t j = 0; j < i; ++j) {
        if (seeded[j].seed != seeded[i].seed) continue;
        warn(seeded[i].line, std::string(seeded[i].feature) + ".hash_seed '" + seeded[i].seed +
                                 "' is also the seed of " + seeded[j].feature +
                                 ": the same keys fall in the same buckets of both, so their "
                                 "rollouts are correlated; give each feature its own seed");
        break;
      }
    }
  }

  FlagCheck& check_;
  FlagConfig& config_;
  std::map<std::string, int> lines_;   // dotted key path -> line
  std::set<std::string> percent_set_;  // percentages that parsed and are in range
};

}  // namespace

ParsedFlags parse_flag_config(const std::string& yaml_text, const std::string& path) {
  ParsedFlags out;
  out.check.path = path;
  FlagConfig config;
  try {
    // Every document is read so that a stray second one ("---") is reported, not ignored.
    std::vector<YAML::Node> docs = YAML::LoadAll(yaml_text);
    Parser(out.check, config).document(docs.empty() ? YAML::Node() : docs[0]);
    for (size_t i = 1; i < docs.size(); ++i) {
      out.check.errors.push_back({line_of(docs[i]), "a second YAML document: a feature flags "
                                                    "file holds exactly one"});
    }
  } catch (const YAML::Exception& e) {
    out.check.errors.clear();
    out.check.warnings.clear();
    if (e.mark.is_null()) {
      out.check.errors.push_back({0, "YAML syntax error: " + e.msg});
    } else {
      int line = e.mark.line + 1;
      out.check.errors.push_back({line, "YAML syntax error at " + std::to_string(line) + ":" +
                                            std::to_string(e.mark.column + 1) + ": " + e.msg});
    }
  } catch (const std::exception& e) {
    out.check.errors.push_back({0, std::string("cannot parse: ") + e.what()});
  }
  if (out.check.ok()) out.config = std::move(config);
  return out;
}

}  // namespace mlxs::flags
