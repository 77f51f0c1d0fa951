// Seeded random numbers for test weights. splitmix64 is tiny, fast and good enough for
// test data; every row of every tensor gets its own stream (seeded from the model seed,
// the tensor name and the row index), so the output does not depend on how many threads
// produced it.
#pragma once

#include <cmath>
#include <cstdint>
#include <string>

namespace mlxs::testmodel {

inline uint64_t splitmix64_next(uint64_t* state) {
  uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Mixes two words into one seed (one splitmix64 step over their combination).
inline uint64_t mix_seed(uint64_t a, uint64_t b) {
  uint64_t s = a ^ (b * 0xD1B54A32D192ED03ull);
  return splitmix64_next(&s);
}

// FNV-1a: a stable hash of tensor names for per-tensor seeds.
inline uint64_t hash_name(const std::string& s) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001B3ull;
  return h;
}

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}

  uint64_t next() { return splitmix64_next(&state_); }

  // Uniform in [0, 1) with 24 bits, exact in float.
  float uniform() { return static_cast<float>(next() >> 40) * (1.0f / 16777216.0f); }

  // Fills n values with normal(0, stddev) by the polar form of Box–Muller (no sin/cos;
  // about a fifth of the candidate pairs are rejected). One 64-bit draw gives the two
  // 24-bit uniforms of a candidate pair.
  void normal(float* out, int64_t n, float stddev) {
    constexpr float kScale = 2.0f / 16777216.0f;
    for (int64_t k = 0; k < n;) {
      uint64_t x = next();
      float a = static_cast<float>(x >> 40) * kScale - 1.0f;  // [-1, 1)
      float b = static_cast<float>(x & 0xFFFFFF) * kScale - 1.0f;
      float s = a * a + b * b;
      if (s >= 1.0f || s == 0.0f) continue;
      float f = stddev * std::sqrt(-2.0f * std::log(s) / s);
      out[k++] = a * f;
      if (k < n) out[k++] = b * f;
    }
  }

 private:
  uint64_t state_;
};

}  // namespace mlxs::testmodel
