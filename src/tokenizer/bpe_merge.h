// The rank-ordered BPE merge loop shared by the GGUF byte-level tokenizer and the
// tokenizer.json BPE model: adjacent symbols whose id pair is in the merge table join,
// lowest rank first (leftmost on ties, as Hugging Face's BPE does), until none is left.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "tokenizer/token_index.h"

namespace mlxs {

struct BpeSymbol {
  int prev;
  int next;
  size_t pos;  // byte offset of the symbol's text in the word
  size_t len;  // 0 once merged into its left neighbour
  int32_t id;  // token spelled by this symbol, -1 if none (never merges)
};

// Appends a symbol linked after the previous one.
void bpe_push_symbol(std::vector<BpeSymbol>& symbols, size_t pos, size_t len, int32_t id);

// Merges in place. Afterwards the live symbols are reached from index 0 through `next`.
void bpe_merge(std::vector<BpeSymbol>& symbols, const MergeTable& merges);

}  // namespace mlxs
