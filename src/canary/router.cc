#include "canary/router.h"

#include <openssl/evp.h>

#include <cmath>

namespace mlxs::canary {

const char* variant_name(Variant v) { return v == Variant::kCanary ? "canary" : "baseline"; }

int canary_bucket(std::string_view key, std::string_view seed) {
  std::string input;
  input.reserve(key.size() + 1 + seed.size());
  input.append(key).append(":").append(seed);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // MD5 over memory fails only when allocation fails; bucket 0 then is still a valid
  // answer (the key lands on the canary side of any percentage above 0).
  if (EVP_Digest(input.data(), input.size(), digest, &len, EVP_md5(), nullptr) != 1 || len < 4) {
    return 0;
  }
  const uint32_t h = (uint32_t{digest[0]} << 24) | (uint32_t{digest[1]} << 16) |
                     (uint32_t{digest[2]} << 8) | uint32_t{digest[3]};
  return static_cast<int>(h % 10000);
}

namespace {

// NaN and out-of-range percentages are clamped: validation rejects them, and a router
// must answer something sensible whatever it is given.
double clamp_percentage(double p) {
  if (!(p > 0)) return 0;
  return p > 100 ? 100 : p;
}

}  // namespace

CanaryRouter::CanaryRouter(const CanaryConfig& config) { configure(config); }

void CanaryRouter::configure(const CanaryConfig& config) {
  std::lock_guard lock(mu_);
  const double pct = clamp_percentage(config.rollout_percentage);
  const bool changed = pct != percentage_ || config.strategy != strategy_ ||
                       config.hash_seed != seed_ || !config.enable_cache;
  enabled_ = config.enabled;
  percentage_ = pct;
  strategy_ = config.strategy;
  seed_ = config.hash_seed;
  cache_on_ = config.enable_cache;
  cache_size_ = config.cache_size > 0 ? static_cast<size_t>(config.cache_size) : 1;
  if (changed) clear_cache();
  while (lru_.size() > cache_size_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
}

void CanaryRouter::set_percentage(double percentage) {
  std::lock_guard lock(mu_);
  const double pct = clamp_percentage(percentage);
  if (pct != percentage_) clear_cache();
  percentage_ = pct;
}

double CanaryRouter::percentage() const {
  std::lock_guard lock(mu_);
  return percentage_;
}

bool CanaryRouter::enabled() const {
  std::lock_guard lock(mu_);
  return enabled_;
}

void CanaryRouter::clear_cache() {
  index_.clear();
  lru_.clear();
}

void CanaryRouter::count(Variant v) { (v == Variant::kCanary ? canary_ : baseline_)++; }

RouteDecision CanaryRouter::decide(std::string_view key) {
  RouteDecision d;
  if (percentage_ >= 100) {
    d.variant = Variant::kCanary;
    return d;
  }
  if (strategy_ == Strategy::kRandom) {
    std::uniform_int_distribution<int> draw(0, 9999);
    d.variant = draw(rng_) < percentage_ * 100 ? Variant::kCanary : Variant::kBaseline;
    return d;
  }
  d.bucket = canary_bucket(key, seed_);
  d.variant = d.bucket < percentage_ * 100 ? Variant::kCanary : Variant::kBaseline;
  return d;
}

RouteDecision CanaryRouter::route(std::string_view key) {
  std::lock_guard lock(mu_);
  if (!enabled_ || percentage_ <= 0) {
    count(Variant::kBaseline);
    return RouteDecision{};
  }
  if (!cache_on_) {
    RouteDecision d = decide(key);
    count(d.variant);
    return d;
  }
  if (auto it = index_.find(key); it != index_.end()) {
    lru_.splice(lru_.begin(), lru_, it->second);  // now the most recent
    ++hits_;
    RouteDecision d = it->second->second;
    d.cached = true;
    count(d.variant);
    return d;
  }
  ++misses_;
  RouteDecision d = decide(key);
  count(d.variant);
  lru_.emplace_front(std::string(key), d);
  index_.emplace(lru_.front().first, lru_.begin());
  if (lru_.size() > cache_size_) {
    index_.erase(lru_.back().first);
    lru_.pop_back();
  }
  return d;
}

RouterStats CanaryRouter::stats() const {
  std::lock_guard lock(mu_);
  RouterStats s;
  s.baseline = baseline_;
  s.canary = canary_;
  s.total_requests = baseline_ + canary_;
  s.target_percentage = enabled_ ? percentage_ : 0;
  s.actual_percentage =
      s.total_requests ? 100.0 * static_cast<double>(canary_) / s.total_requests : 0;
  s.cache_hits = hits_;
  s.cache_misses = misses_;
  const uint64_t lookups = hits_ + misses_;
  s.cache_hit_rate = lookups ? static_cast<double>(hits_) / lookups : 0;
  return s;
}

}  // namespace mlxs::canary
