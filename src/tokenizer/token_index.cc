#include "tokenizer/token_index.h"

#include <functional>

namespace mlxs {
namespace {

size_t capacity_for(size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap <<= 1;  // at most half full keeps probe runs short
  return cap;
}

uint32_t hash_text(std::string_view s) {
  return static_cast<uint32_t>(std::hash<std::string_view>{}(s));
}

uint64_t mix(uint64_t k) {  // splitmix64 finaliser: spreads the two ids over all bits
  k ^= k >> 30;
  k *= 0xbf58476d1ce4e5b9ULL;
  k ^= k >> 27;
  k *= 0x94d049bb133111ebULL;
  return k ^ (k >> 31);
}

}  // namespace

void TokenIndex::build(const std::vector<std::string>& tokens) {
  tokens_ = &tokens;
  slots_.assign(capacity_for(tokens.size()), Slot{});
  mask_ = slots_.size() - 1;
  for (size_t id = 0; id < tokens.size(); ++id) {
    const uint32_t h = hash_text(tokens[id]);
    for (size_t i = h & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.id < 0) {
        s = {h, static_cast<int32_t>(id)};
        break;
      }
      if (s.hash == h && tokens[s.id] == tokens[id]) break;  // duplicate text
    }
  }
}

int32_t TokenIndex::find(std::string_view text) const {
  if (slots_.empty()) return -1;
  const uint32_t h = hash_text(text);
  for (size_t i = h & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.id < 0) return -1;
    if (s.hash == h && (*tokens_)[s.id] == text) return s.id;
  }
}

void MergeTable::reserve(size_t n) {
  slots_.assign(capacity_for(n), Slot{});
  mask_ = slots_.size() - 1;
  size_ = 0;
}

size_t MergeTable::slot_for(uint64_t k) const {
  size_t i = mix(k) & mask_;
  while (slots_[i].key != kEmpty && slots_[i].key != k) i = (i + 1) & mask_;
  return i;
}

void MergeTable::grow() {
  std::vector<Slot> old = std::move(slots_);
  reserve(old.size());  // capacity_for doubles: 2 * old.size() slots
  for (const Slot& s : old) {
    if (s.key == kEmpty) continue;
    slots_[slot_for(s.key)] = s;
    ++size_;
  }
}

void MergeTable::insert(int32_t left, int32_t right, Merge m) {
  if (slots_.empty() || 2 * (size_ + 1) > slots_.size()) grow();
  const uint64_t k = key(left, right);
  Slot& s = slots_[slot_for(k)];
  if (s.key == k) return;
  s = {k, m};
  ++size_;
}

const MergeTable::Merge* MergeTable::find(int32_t left, int32_t right) const {
  if (slots_.empty()) return nullptr;
  const uint64_t k = key(left, right);
  const Slot& s = slots_[slot_for(k)];
  return s.key == k ? &s.merge : nullptr;
}

}  // namespace mlxs
