// Prometheus metrics: counters, gauges and histograms in labelled families, rendered in
// the text exposition format (version 0.0.4) that `promtool check metrics` accepts.
// Updates are lock-free on a child once it is looked up; looking a child up by label
// values takes the family's mutex, so hot paths keep the child pointer.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace mlxs::metrics {

class Counter {
 public:
  void inc(double v = 1.0);  // v >= 0
  double value() const { return value_.load(std::memory_order_relaxed); }
 private:
  std::atomic<double> value_{0.0};
};

class Gauge {
 public:
  void set(double v) { value_.store(v, std::memory_order_relaxed); }
  void inc(double v = 1.0);
  void dec(double v = 1.0) { inc(-v); }
  double value() const { return value_.load(std::memory_order_relaxed); }
 private:
  std::atomic<double> value_{0.0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);  // upper bounds, ascending; +Inf implied
  void observe(double v);
  // Cumulative counts per bound (the last entry is +Inf), sum and count: one snapshot.
  struct Snapshot {
    std::vector<double> bounds;
    std::vector<uint64_t> cumulative;  // bounds.size() + 1 entries
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot snapshot() const;
 private:
  std::vector<double> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;  // per bucket, not cumulative
  std::atomic<double> sum_{0.0};
  std::atomic<uint64_t> count_{0};
};

// A family: one metric name with a fixed list of label names and one child per distinct
// label-value tuple. with() creates children on first use; the reference stays valid for
// the registry's lifetime.
template <typename T>
class Family {
 public:
  Family(std::string name, std::string help, std::vector<std::string> label_names,
         std::function<std::unique_ptr<T>()> make);
  T& with(const std::vector<std::string>& label_values);  // size must match label names
  T& get() { return with({}); }                          // for a family without labels
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  // Children in label order, for rendering.
  void for_each(const std::function<void(const std::vector<std::string>&, const T&)>& f) const;
 private:
  std::string name_, help_;
  std::vector<std::string> label_names_;
  std::function<std::unique_ptr<T>()> make_;
  mutable std::mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_;
};

// Latency buckets in seconds, following vLLM's choices for LLM serving.
std::vector<double> ttft_buckets_seconds();          // 0.001 .. 80
std::vector<double> inter_token_buckets_seconds();   // 0.01 .. 80
std::vector<double> request_latency_buckets_seconds();  // 0.3 .. 960 (e2e, queue)

// Writes families straight into the exposition text, for metrics whose names or presence
// are decided at scrape time (the feature-flag metrics take their prefix from the live
// flags file). The writer checks names; keeping them apart from registered ones is the
// caller's job.
class Exposition {
 public:
  explicit Exposition(std::string& out) : out_(out) {}
  // "# HELP" and "# TYPE" lines; type is "counter" or "gauge". Throws
  // std::invalid_argument for a malformed name (a programming error).
  void family(const std::string& name, const std::string& help, const char* type);
  void sample(const std::string& name,
              const std::vector<std::pair<std::string, std::string>>& labels, double value);

 private:
  std::string& out_;
};

class Registry {
 public:
  Registry();
  ~Registry();
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]* and not
  // start with "__"; registering a name twice returns the existing family when the kind
  // and labels agree, and throws std::invalid_argument otherwise (a programming error).
  Family<Counter>& counter(const std::string& name, const std::string& help,
                           std::vector<std::string> label_names = {});
  Family<Gauge>& gauge(const std::string& name, const std::string& help,
                       std::vector<std::string> label_names = {});
  Family<Histogram>& histogram(const std::string& name, const std::string& help,
                               std::vector<double> bounds,
                               std::vector<std::string> label_names = {});
  // Runs before every render(): the place to copy values that live elsewhere (engine
  // queue lengths, KV blocks) into gauges.
  void add_collect_hook(std::function<void()> hook);
  // Runs during every render(), after the registered families.
  void add_exposition_source(std::function<void(Exposition&)> source);

  // The text exposition format: # HELP / # TYPE per family, label values escaped
  // (\\, \", \n), histograms as _bucket{le=...} (cumulative, le="+Inf" last), _sum, _count.
  std::string render();

 private:
  struct Entry;
  std::mutex mu_;
  std::vector<std::unique_ptr<Entry>> entries_;  // in registration order
  std::vector<std::function<void()>> hooks_;
  std::vector<std::function<void(Exposition&)>> sources_;
};

}  // namespace mlxs::metrics
