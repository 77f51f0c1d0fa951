// CanaryRouter: which variant serves a key. strategy hash: a bucket from MD5 of
// key + ":" + hash_seed (the first 8 hex digits as an unsigned 32-bit integer, modulo
// 10000, so fractions down to 0.01 % split exactly); the key goes to the canary when its
// bucket is below percentage * 100. Deterministic and sticky, and raising the
// percentage only moves keys from baseline to canary. strategy random: a fresh draw per
// request. Decisions are cached in an LRU of cache_size keys (enableCache). Thread-safe.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <mutex>
#include <random>
#include <string>
#include <string_view>
#include <unordered_map>

#include "canary/canary_config.h"

namespace mlxs::canary {

enum class Variant { kBaseline, kCanary };
const char* variant_name(Variant v);  // "baseline", "canary"

struct RouteDecision {
  Variant variant = Variant::kBaseline;
  bool cached = false;
  int bucket = -1;  // 0..9999 (hash strategy)
};

// The spec's getStats().
struct RouterStats {
  uint64_t total_requests = 0;
  uint64_t baseline = 0, canary = 0;
  double target_percentage = 0;
  double actual_percentage = 0;  // canary / total * 100
  uint64_t cache_hits = 0, cache_misses = 0;
  double cache_hit_rate = 0;     // hits / (hits + misses); 0 before any lookup
};

// The bucket of a key, 0..9999.
int canary_bucket(std::string_view key, std::string_view seed);

class CanaryRouter {
 public:
  explicit CanaryRouter(const CanaryConfig& config);
  // A new config (reload) or percentage (rollback): the cache is cleared when the
  // percentage, strategy or seed changes, counters are kept.
  void configure(const CanaryConfig& config);
  void set_percentage(double percentage);
  double percentage() const;
  bool enabled() const;

  // Disabled or 0 %: always baseline (not cached).
  RouteDecision route(std::string_view key);
  RouterStats stats() const;

 private:
  mutable std::mutex mu_;
  bool enabled_ = false;
  double percentage_ = 0;
  Strategy strategy_ = Strategy::kHash;
  std::string seed_;
  bool cache_on_ = true;
  size_t cache_size_ = 10000;
  // Most recent first; the decision keeps its bucket so a cache hit reports it too.
  using Lru = std::list<std::pair<std::string, RouteDecision>>;
  Lru lru_;
  std::unordered_map<std::string_view, Lru::iterator> index_;  // views into lru_'s keys
  std::mt19937_64 rng_{std::random_device{}()};
  uint64_t baseline_ = 0, canary_ = 0, hits_ = 0, misses_ = 0;

  RouteDecision decide(std::string_view key);  // uncached; mu_ held
  void clear_cache();                          // mu_ held
  void count(Variant v);                       // mu_ held
};

}  // namespace mlxs::canary
