#include "server/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <set>
#include <stdexcept>
#include <utility>

namespace mlxs::metrics {

// ---- values ----------------------------------------------------------------------------

void Counter::inc(double v) {
  // A counter only goes up; a negative or NaN step is a bug in the caller, and letting it
  // through would make rate() report nonsense until the process restarts.
  if (!(v >= 0.0)) throw std::invalid_argument("Counter::inc: step must be >= 0");
  value_.fetch_add(v, std::memory_order_relaxed);
}

void Gauge::inc(double v) { value_.fetch_add(v, std::memory_order_relaxed); }

Histogram::Histogram(std::vector<double> bounds) : bounds_(std::move(bounds)) {
  for (size_t i = 0; i < bounds_.size(); ++i) {
    if (std::isnan(bounds_[i])) throw std::invalid_argument("Histogram: NaN bucket bound");
    if (i > 0 && !(bounds_[i - 1] < bounds_[i]))
      throw std::invalid_argument("Histogram: bucket bounds must be strictly ascending");
  }
  // +Inf is implied; an explicit one would give two le="+Inf" buckets.
  if (!bounds_.empty() && std::isinf(bounds_.back()) && bounds_.back() > 0) bounds_.pop_back();
  buckets_ = std::make_unique<std::atomic<uint64_t>[]>(bounds_.size() + 1);
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void Histogram::observe(double v) {
  // Buckets are "less than or equal": the first bound >= v. NaN lands in +Inf.
  size_t i = static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                 bounds_.begin());
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
  // Released last: a reader that sees this count also sees the bucket and the sum.
  count_.fetch_add(1, std::memory_order_release);
}

Histogram::Snapshot Histogram::snapshot() const {
  Snapshot s;
  s.bounds = bounds_;
  s.cumulative.resize(bounds_.size() + 1);
  // Observers update bucket, sum, then count without a lock. Retry until the bucket total
  // matches a count that did not move while reading, so _count equals the +Inf bucket and
  // the sum belongs to the same observations; under constant load fall back to the bucket
  // total, which still keeps the exposition self-consistent.
  for (int attempt = 0; attempt < 64; ++attempt) {
    uint64_t before = count_.load(std::memory_order_acquire);
    uint64_t total = 0;
    for (size_t i = 0; i <= bounds_.size(); ++i) {
      total += buckets_[i].load(std::memory_order_relaxed);
      s.cumulative[i] = total;
    }
    s.sum = sum_.load(std::memory_order_relaxed);
    uint64_t after = count_.load(std::memory_order_acquire);
    s.count = total;
    if (before == after && total == after) break;
  }
  return s;
}

// ---- families --------------------------------------------------------------------------

template <typename T>
Family<T>::Family(std::string name, std::string help, std::vector<std::string> label_names,
                  std::function<std::unique_ptr<T>()> make)
    : name_(std::move(name)),
      help_(std::move(help)),
      label_names_(std::move(label_names)),
      make_(std::move(make)) {}

template <typename T>
T& Family<T>::with(const std::vector<std::string>& label_values) {
  if (label_values.size() != label_names_.size()) {
    throw std::invalid_argument("metric " + name_ + ": expected " +
                                std::to_string(label_names_.size()) + " label values, got " +
                                std::to_string(label_values.size()));
  }
  std::lock_guard<std::mutex> lock(mu_);
  auto it = children_.find(label_values);
  if (it == children_.end()) it = children_.emplace(label_values, make_()).first;
  return *it->second;
}

template <typename T>
void Family<T>::for_each(
    const std::function<void(const std::vector<std::string>&, const T&)>& f) const {
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [values, child] : children_) f(values, *child);
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

// ---- buckets ---------------------------------------------------------------------------

std::vector<double> ttft_buckets_seconds() {
  return {0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5,
          0.75,  1.0,   2.5,  5.0,  7.5,  10.0, 20.0, 40.0, 80.0};
}

std::vector<double> inter_token_buckets_seconds() {
  return {0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2,  0.3,  0.4, 0.5,
          0.75, 1.0,   2.5,  5.0,   7.5, 10.0, 20.0, 40.0, 80.0};
}

std::vector<double> request_latency_buckets_seconds() {
  return {0.3,  0.5,  0.8,  1.0,  1.5,  2.0,  2.5,   5.0,   10.0, 15.0,
          20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0};
}

// ---- text format helpers ---------------------------------------------------------------

namespace {

enum class Kind { kCounter, kGauge, kHistogram };

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::kCounter: return "counter";
    case Kind::kGauge: return "gauge";
    case Kind::kHistogram: return "histogram";
  }
  return "untyped";
}

bool valid_metric_name(const std::string& s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

bool valid_label_name(const std::string& s) {
  if (s.empty() || s.rfind("__", 0) == 0) return false;  // "__" prefix is Prometheus's own
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (i > 0 && digit))) return false;
  }
  return true;
}

// Values round-trip exactly: the shortest digits that parse back to the same double.
// Whole numbers print without an exponent because counters read better that way.
std::string format_value(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  char buf[64];
  auto fmt = (v == std::trunc(v) && std::fabs(v) < 1e21) ? std::chars_format::fixed
                                                          : std::chars_format::general;
  auto res = std::to_chars(buf, buf + sizeof(buf), v, fmt);
  return std::string(buf, res.ptr);
}

std::string escape_label_value(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

std::string escape_help(const std::string& s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') out += "\\\\";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

// {a="x",b="y"} plus an optional trailing le label; "" when there are no labels at all.
std::string label_set(const std::vector<std::string>& names,
                      const std::vector<std::string>& values, const std::string* le = nullptr) {
  if (names.empty() && !le) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) out += ',';
    out += names[i] + "=\"" + escape_label_value(values[i]) + '"';
  }
  if (le) {
    if (!names.empty()) out += ',';
    out += "le=\"" + *le + '"';
  }
  return out + '}';
}

void render_header(std::string& out, const std::string& name, const std::string& help,
                   Kind kind) {
  out += "# HELP " + name + ' ' + escape_help(help) + '\n';
  out += "# TYPE " + name + ' ' + kind_name(kind) + '\n';
}

template <typename T>
void render_scalar(std::string& out, const Family<T>& family) {
  family.for_each([&](const std::vector<std::string>& values, const T& child) {
    out += family.name() + label_set(family.label_names(), values) + ' ' +
           format_value(child.value()) + '\n';
  });
}

void render_histogram(std::string& out, const Family<Histogram>& family) {
  const std::string& name = family.name();
  family.for_each([&](const std::vector<std::string>& values, const Histogram& h) {
    Histogram::Snapshot s = h.snapshot();
    for (size_t i = 0; i <= s.bounds.size(); ++i) {
      std::string le = i < s.bounds.size() ? format_value(s.bounds[i]) : "+Inf";
      out += name + "_bucket" + label_set(family.label_names(), values, &le) + ' ' +
             std::to_string(s.cumulative[i]) + '\n';
    }
    std::string labels = label_set(family.label_names(), values);
    out += name + "_sum" + labels + ' ' + format_value(s.sum) + '\n';
    out += name + "_count" + labels + ' ' + std::to_string(s.count) + '\n';
  });
}

// The sample names a family writes; two families must never share one.
std::vector<std::string> sample_names(const std::string& name, Kind kind) {
  if (kind != Kind::kHistogram) return {name};
  return {name, name + "_bucket", name + "_sum", name + "_count"};
}

}  // namespace

// ---- registry --------------------------------------------------------------------------

struct Registry::Entry {
  Kind kind;
  std::vector<double> bounds;  // histograms only
  std::unique_ptr<Family<Counter>> counter;
  std::unique_ptr<Family<Gauge>> gauge;
  std::unique_ptr<Family<Histogram>> histogram;

  const std::string& name() const {
    return counter ? counter->name() : gauge ? gauge->name() : histogram->name();
  }
  const std::vector<std::string>& label_names() const {
    return counter ? counter->label_names()
                   : gauge ? gauge->label_names() : histogram->label_names();
  }
};

namespace {

void check_names(const std::string& name, const std::vector<std::string>& label_names,
                 Kind kind) {
  if (!valid_metric_name(name))
    throw std::invalid_argument("invalid metric name '" + name + "'");
  std::set<std::string> seen;
  for (const auto& l : label_names) {
    if (!valid_label_name(l))
      throw std::invalid_argument("metric " + name + ": invalid label name '" + l + "'");
    if (!seen.insert(l).second)
      throw std::invalid_argument("metric " + name + ": duplicate label name '" + l + "'");
    if (kind == Kind::kHistogram && l == "le")
      throw std::invalid_argument("histogram " + name + ": label name 'le' is reserved");
  }
}

}  // namespace

namespace {

// Looks up `name`; returns the existing entry when it is the same family, nullptr when the
// name is free, and throws when it clashes. Called with the registry's mutex held. A
// template only because Registry::Entry is private to the registry.
template <typename Entries>
auto find_compatible(Entries& entries, const std::string& name, Kind kind,
                     const std::vector<std::string>& label_names,
                     const std::vector<double>* bounds) -> decltype(entries.front().get()) {
  auto mine = sample_names(name, kind);
  for (auto& e : entries) {
    if (e->name() == name) {
      if (e->kind != kind || e->label_names() != label_names ||
          (bounds && e->bounds != *bounds)) {
        throw std::invalid_argument("metric " + name +
                                    " is already registered with another type or labels");
      }
      return e.get();
    }
    for (const auto& theirs : sample_names(e->name(), e->kind)) {
      if (std::find(mine.begin(), mine.end(), theirs) != mine.end())
        throw std::invalid_argument("metric " + name + " clashes with samples of " + e->name());
    }
  }
  return nullptr;
}

}  // namespace

Registry::Registry() = default;
Registry::~Registry() = default;

Family<Counter>& Registry::counter(const std::string& name, const std::string& help,
                                   std::vector<std::string> label_names) {
  check_names(name, label_names, Kind::kCounter);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* e = find_compatible(entries_, name, Kind::kCounter, label_names, nullptr))
    return *e->counter;
  auto e = std::make_unique<Entry>();
  e->kind = Kind::kCounter;
  e->counter = std::make_unique<Family<Counter>>(name, help, std::move(label_names),
                                                 [] { return std::make_unique<Counter>(); });
  // An unlabelled metric exists from the start, so it reads 0 before its first event.
  if (e->counter->label_names().empty()) e->counter->get();
  entries_.push_back(std::move(e));
  return *entries_.back()->counter;
}

Family<Gauge>& Registry::gauge(const std::string& name, const std::string& help,
                               std::vector<std::string> label_names) {
  check_names(name, label_names, Kind::kGauge);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* e = find_compatible(entries_, name, Kind::kGauge, label_names, nullptr))
    return *e->gauge;
  auto e = std::make_unique<Entry>();
  e->kind = Kind::kGauge;
  e->gauge = std::make_unique<Family<Gauge>>(name, help, std::move(label_names),
                                             [] { return std::make_unique<Gauge>(); });
  if (e->gauge->label_names().empty()) e->gauge->get();
  entries_.push_back(std::move(e));
  return *entries_.back()->gauge;
}

Family<Histogram>& Registry::histogram(const std::string& name, const std::string& help,
                                       std::vector<double> bounds,
                                       std::vector<std::string> label_names) {
  check_names(name, label_names, Kind::kHistogram);
  // Validates the bounds (throws) and normalises an explicit trailing +Inf away.
  bounds = Histogram(bounds).snapshot().bounds;
  std::lock_guard<std::mutex> lock(mu_);
  if (auto* e = find_compatible(entries_, name, Kind::kHistogram, label_names, &bounds))
    return *e->histogram;
  auto e = std::make_unique<Entry>();
  e->kind = Kind::kHistogram;
  e->bounds = bounds;
  e->histogram = std::make_unique<Family<Histogram>>(
      name, help, std::move(label_names),
      [bounds] { return std::make_unique<Histogram>(bounds); });
  if (e->histogram->label_names().empty()) e->histogram->get();
  entries_.push_back(std::move(e));
  return *entries_.back()->histogram;
}

void Exposition::family(const std::string& name, const std::string& help, const char* type) {
  std::string t = type;
  if (t != "counter" && t != "gauge") throw std::invalid_argument("Exposition: unknown type " + t);
  check_names(name, {}, t == "counter" ? Kind::kCounter : Kind::kGauge);
  render_header(out_, name, help, t == "counter" ? Kind::kCounter : Kind::kGauge);
}

void Exposition::sample(const std::string& name,
                        const std::vector<std::pair<std::string, std::string>>& labels,
                        double value) {
  std::vector<std::string> names, values;
  for (const auto& [n, v] : labels) {
    names.push_back(n);
    values.push_back(v);
  }
  check_names(name, names, Kind::kGauge);
  out_ += name + label_set(names, values) + ' ' + format_value(value) + '\n';
}

void Registry::add_exposition_source(std::function<void(Exposition&)> source) {
  std::lock_guard<std::mutex> lock(mu_);
  sources_.push_back(std::move(source));
}

void Registry::add_collect_hook(std::function<void()> hook) {
  std::lock_guard<std::mutex> lock(mu_);
  hooks_.push_back(std::move(hook));
}

std::string Registry::render() {
  std::vector<std::function<void()>> hooks;
  {
    std::lock_guard<std::mutex> lock(mu_);
    hooks = hooks_;
  }
  // Outside the lock: a hook may register or look up metrics itself.
  for (auto& hook : hooks) hook();

  std::vector<const Entry*> entries;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& e : entries_) entries.push_back(e.get());
  }
  std::string out;
  for (const Entry* e : entries) {
    switch (e->kind) {
      case Kind::kCounter:
        render_header(out, e->counter->name(), e->counter->help(), e->kind);
        render_scalar(out, *e->counter);
        break;
      case Kind::kGauge:
        render_header(out, e->gauge->name(), e->gauge->help(), e->kind);
        render_scalar(out, *e->gauge);
        break;
      case Kind::kHistogram:
        render_header(out, e->histogram->name(), e->histogram->help(), e->kind);
        render_histogram(out, *e->histogram);
        break;
    }
  }
  std::vector<std::function<void(Exposition&)>> sources;
  {
    std::lock_guard<std::mutex> lock(mu_);
    sources = sources_;
  }
  Exposition writer(out);
  for (auto& source : sources) source(writer);
  return out;
}

}  // namespace mlxs::metrics
