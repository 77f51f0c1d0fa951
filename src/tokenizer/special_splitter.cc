#include "tokenizer/special_splitter.h"

#include <algorithm>

namespace mlxs {

int32_t SpecialSplitter::child(int32_t node, uint8_t b) const {
  const auto& next = nodes_[node].next;
  auto it = std::lower_bound(next.begin(), next.end(), std::make_pair(b, int32_t{-1}));
  return it != next.end() && it->first == b ? it->second : -1;
}

void SpecialSplitter::add(std::string_view text, int32_t token, bool always) {
  if (text.empty()) return;  // an empty token text would match everywhere
  int32_t node = 0;
  for (char c : text) {
    const auto b = static_cast<uint8_t>(c);
    int32_t n = child(node, b);
    if (n < 0) {
      n = static_cast<int32_t>(nodes_.size());
      nodes_.emplace_back();
      auto& next = nodes_[node].next;
      next.insert(std::lower_bound(next.begin(), next.end(), std::make_pair(b, int32_t{-1})),
                  {b, n});
    }
    node = n;
  }
  // Two tokens with the same text: the first (lowest id) wins, like a vocabulary lookup.
  if (nodes_[node].token < 0) {
    nodes_[node].token = token;
    nodes_[node].always = always;
  }
}

std::vector<SpecialSplitter::Fragment> SpecialSplitter::split(std::string_view text,
                                                              bool all) const {
  std::vector<Fragment> out;
  size_t raw_start = 0;
  for (size_t i = 0; i < text.size();) {
    // Longest token text starting at i.
    int32_t node = 0, best = -1;
    size_t best_len = 0;
    for (size_t j = i; j < text.size(); ++j) {
      node = child(node, static_cast<uint8_t>(text[j]));
      if (node < 0) break;
      const Node& n = nodes_[node];
      if (n.token >= 0 && (all || n.always)) {
        best = n.token;
        best_len = j - i + 1;
      }
    }
    if (best < 0) {
      ++i;
      continue;
    }
    if (i > raw_start) out.push_back({text.substr(raw_start, i - raw_start), -1});
    out.push_back({text.substr(i, best_len), best});
    i += best_len;
    raw_start = i;
  }
  if (raw_start < text.size()) out.push_back({text.substr(raw_start), -1});
  return out;
}

}  // namespace mlxs
