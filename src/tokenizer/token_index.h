// Flat open-addressing hash tables for vocabulary lookups. Loading a 150k vocabulary
// does hundreds of thousands of lookups (every merge names three tokens); node-based
// std::unordered_map spends most of that time on allocation and cache misses.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mlxs {

// Token text -> id. Keys are not copied: the index points into the token vector it was
// built from, which must stay alive and unchanged.
class TokenIndex {
 public:
  void build(const std::vector<std::string>& tokens);  // first id wins for duplicate texts
  int32_t find(std::string_view text) const;           // -1 when absent

 private:
  struct Slot {
    uint32_t hash = 0;
    int32_t id = -1;
  };
  const std::vector<std::string>* tokens_ = nullptr;
  std::vector<Slot> slots_;
  size_t mask_ = 0;
};

// Pair of token ids -> merge (rank and resulting token).
class MergeTable {
 public:
  struct Merge {
    int32_t rank = -1;
    int32_t result = -1;
  };
  void reserve(size_t n);
  // Keeps the first (lowest-rank) entry when a pair is listed twice.
  void insert(int32_t left, int32_t right, Merge m);
  const Merge* find(int32_t left, int32_t right) const;

 private:
  struct Slot {
    uint64_t key = kEmpty;
    Merge merge;
  };
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  size_t slot_for(uint64_t k) const;
  void grow();
  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace mlxs
