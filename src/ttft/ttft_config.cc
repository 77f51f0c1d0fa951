// parse_ttft_config: the ttft_accelerator section walked once over the YAML tree. Every
// problem is collected (never stop at the first) with the line of the key it is about, so
// an operator fixes the whole section in one pass.
#include "ttft/ttft_config.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <sstream>
#include <utility>
#include <vector>

namespace mlxs::ttft {
namespace {

// Time settings are bounded so that adding them to a time point can never overflow.
constexpr int64_t kMaxMs = 365LL * 24 * 3600 * 1000;  // a year

int line_of(const YAML::Node& n) { return n.Mark().line >= 0 ? n.Mark().line + 1 : 0; }

// A plain (unquoted, untagged) scalar: yaml-cpp tags those "?". A quoted "true" or "5" is
// a string, and accepting it would hide a typo in the file.
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
  std::string path;  // dotted path from ttft_accelerator, for messages
  YAML::Node value;
  int line = 0;
};

using Handler = std::function<void(const Entry&)>;
using Handlers = std::vector<std::pair<std::string, Handler>>;

struct Problem {
  int line;
  std::string message;
};

// Stores a value read without a problem; on a problem the default stays.
template <typename T, typename U>
void set(T& field, const std::optional<U>& v) {
  if (v) field = static_cast<T>(*v);
}

class Parser {
 public:
  explicit Parser(TtftConfig& config) : config_(config) {}

  std::vector<Problem> problems;

  void document(const YAML::Node& root) {
    if (!root.IsDefined() || root.IsNull()) return;
    if (!root.IsMap()) {
      error(line_of(root), "the file must be a mapping of sections, not " + describe(root));
      return;
    }
    // Other sections belong to other parsers; only ttft_accelerator here.
    std::optional<int> first_line;
    for (const auto& kv : root) {
      if (!kv.first.IsScalar() || kv.first.Scalar() != "ttft_accelerator") continue;
      const int line = line_of(kv.first);
      if (first_line) {
        error(line, "duplicate key 'ttft_accelerator' (first at line " +
                        std::to_string(*first_line) + ")");
        continue;
      }
      first_line = line;
      ttft_accelerator(Entry{"ttft_accelerator", kv.second, line});
    }
  }

 private:
  void error(int line, std::string msg) { problems.push_back({line, std::move(msg)}); }

  // Walks a mapping: each key a plain name, none twice, each known; calls its handler.
  // A null value (a section with every key commented out) keeps the defaults.
  void section(const Entry& at, const Handlers& handlers) {
    if (at.value.IsNull()) return;
    if (!at.value.IsMap()) {
      error(at.line, "'" + at.path + "' must be a mapping (known keys: " + known(handlers) +
                         "), not " + describe(at.value));
      return;
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
      (*handler)(Entry{path, kv.second, line});
    }
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

  // An integer in [min, max]; `unbounded_max` says max is only an overflow guard, so the
  // message reads "at least min".
  std::optional<int64_t> integer(const Entry& e, int64_t min, int64_t max,
                                 bool unbounded_max = false) {
    static const std::regex kInteger("-?[0-9]+");
    if (!is_plain(e.value) || !std::regex_match(e.value.Scalar(), kInteger)) {
      error(e.line, "'" + e.path + "' must be an integer, not " + describe(e.value));
      return std::nullopt;
    }
    errno = 0;
    const long long v = std::strtoll(e.value.Scalar().c_str(), nullptr, 10);
    if (errno == ERANGE || v < min || v > max) {
      const std::string range =
          unbounded_max ? "at least " + std::to_string(min)
                        : "between " + std::to_string(min) + " and " + std::to_string(max);
      error(e.line, "'" + e.path + "' must be " + range + ", not " + e.value.Scalar());
      return std::nullopt;
    }
    return v;
  }

  std::optional<int64_t> milliseconds(const Entry& e, int64_t min) {
    return integer(e, min, kMaxMs, /*unbounded_max=*/true);
  }

  std::optional<double> number(const Entry& e) {
    static const std::regex kDecimal(R"(-?[0-9]+(\.[0-9]+)?)");
    if (!is_plain(e.value) || !std::regex_match(e.value.Scalar(), kDecimal)) {
      error(e.line, "'" + e.path + "' must be a number, not " + describe(e.value));
      return std::nullopt;
    }
    return std::strtod(e.value.Scalar().c_str(), nullptr);
  }

  // A number in [min, max], or (min, max] when `exclusive_min`.
  std::optional<double> number_in(const Entry& e, double min, double max,
                                  bool exclusive_min = false) {
    auto v = number(e);
    if (!v) return std::nullopt;
    const bool below = exclusive_min ? *v <= min : *v < min;
    if (below || *v > max) {
      const std::string range =
          exclusive_min ? "greater than " + format_number(min) + " and at most " +
                              format_number(max)
                        : "between " + format_number(min) + " and " + format_number(max);
      error(e.line, "'" + e.path + "' must be " + range + ", not " + e.value.Scalar());
      return std::nullopt;
    }
    return v;
  }

  // A list of non-blank strings (an empty value or `[]`: none). Every bad item is reported
  // with its own line; any problem leaves the default.
  std::optional<std::vector<std::string>> string_list(const Entry& e) {
    if (e.value.IsNull()) return std::vector<std::string>{};
    if (!e.value.IsSequence()) {
      error(e.line, "'" + e.path + "' must be a list of strings, not " + describe(e.value));
      return std::nullopt;
    }
    std::vector<std::string> out;
    bool ok = true;
    for (size_t i = 0; i < e.value.size(); ++i) {
      const YAML::Node item = e.value[i];
      const std::string where = "item " + std::to_string(i + 1) + " of '" + e.path + "'";
      const int line = line_of(item) > 0 ? line_of(item) : e.line;
      if (!item.IsScalar() || item.IsNull()) {
        error(line, where + " must be a string, not " + describe(item));
        ok = false;
      } else if (item.Scalar().find_first_not_of(" \t\r\n\f\v") == std::string::npos) {
        error(line, where + " must not be empty");
        ok = false;
      } else {
        out.push_back(item.Scalar());
      }
    }
    if (!ok) return std::nullopt;
    return out;
  }

  // ---- the sections

  void ttft_accelerator(const Entry& at) {
    section(at, {
        {"enabled", [&](const Entry& e) { set(config_.enabled, boolean(e)); }},
        {"warm_queue", [&](const Entry& e) { warm_queue(e); }},
        {"speculation", [&](const Entry& e) { speculation(e); }},
        {"kv_prep", [&](const Entry& e) { kv_prep(e); }},
    });
  }

  void warm_queue(const Entry& at) {
    WarmQueueConfig& c = config_.warm_queue;
    section(at, {
        {"max_size", [&](const Entry& e) { set(c.max_size, integer(e, 1, 1000000)); }},
        {"ttl_ms", [&](const Entry& e) { set(c.ttl_ms, milliseconds(e, 1)); }},
        {"priority_by_tokens", [&](const Entry& e) { set(c.priority_by_tokens, boolean(e)); }},
    });
  }

  void speculation(const Entry& at) {
    SpeculationConfig& c = config_.speculation;
    section(at, {
        {"enabled", [&](const Entry& e) { set(c.enabled, boolean(e)); }},
        {"allowlist_only", [&](const Entry& e) { set(c.allowlist_only, boolean(e)); }},
        {"max_candidates",
         [&](const Entry& e) { set(c.max_candidates, integer(e, 1, 10000000)); }},
        {"min_confidence", [&](const Entry& e) { set(c.min_confidence, number_in(e, 0, 1)); }},
        // A factor of 0 would wipe a pattern out on its first miss; the spec decays it.
        {"decay_factor",
         [&](const Entry& e) { set(c.decay_factor, number_in(e, 0, 1, true)); }},
        {"allowlist", [&](const Entry& e) { set(c.allowlist, string_list(e)); }},
    });
  }

  void kv_prep(const Entry& at) {
    KvPrepConfig& c = config_.kv_prep;
    section(at, {
        {"enabled", [&](const Entry& e) { set(c.enabled, boolean(e)); }},
        {"prefetch_enabled", [&](const Entry& e) { set(c.prefetch_enabled, boolean(e)); }},
        {"cache_warmup_ms", [&](const Entry& e) { set(c.cache_warmup_ms, milliseconds(e, 0)); }},
    });
  }

  TtftConfig& config_;
};

}  // namespace

Result<TtftConfig> parse_ttft_config(const std::string& file_text, const std::string& path) {
  TtftConfig config;
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

}  // namespace mlxs::ttft
