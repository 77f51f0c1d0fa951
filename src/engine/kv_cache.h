// Paged KV cache. Keys and values live in fixed-size blocks (block_size token slots) drawn
// from one pool per layer; each sequence owns a block table that maps its positions to
// blocks. Blocks are reference-counted so that sequences with a common prefix can share
// them later (prefix reuse) without copying.
#pragma once

#include <cstdint>
#include <vector>

#include "base/status.h"

namespace mlxs {

enum class KvType { kF16, kF32 };

struct KvCacheConfig {
  int n_layers = 0;
  int kv_dim = 0;       // n_head_kv * head_dim
  int block_size = 16;  // token slots per block
  int n_blocks = 0;     // blocks in the pool
  KvType type = KvType::kF16;
};

class KvCache {
 public:
  explicit KvCache(const KvCacheConfig& cfg);

  const KvCacheConfig& config() const { return cfg_; }
  int block_size() const { return cfg_.block_size; }
  int n_free_blocks() const { return static_cast<int>(free_.size()); }
  int n_blocks() const { return cfg_.n_blocks; }
  size_t bytes() const { return storage_.size(); }

  // Sequences are small integer handles.
  int create_sequence();
  void free_sequence(int seq);
  // Makes room for positions [0, n_tokens); false (and nothing allocated) when the pool has
  // too few free blocks.
  bool reserve(int seq, int n_tokens);
  // Forgets positions >= n_tokens (blocks past the end return to the pool).
  void truncate(int seq, int n_tokens);
  int capacity(int seq) const;
  // Blocks needed to hold n tokens.
  int blocks_for(int n_tokens) const { return (n_tokens + cfg_.block_size - 1) / cfg_.block_size; }

  const std::vector<int>& block_table(int seq) const { return seqs_[seq].blocks; }
  int block_refcount(int block) const { return refcount_[block]; }

  // Address of the key / value vector (kv_dim elements of the cache type) of `layer` in
  // block `block`, slot `slot`.
  uint8_t* k_at(int layer, int block, int slot) { return at(layer, block, slot, 0); }
  uint8_t* v_at(int layer, int block, int slot) { return at(layer, block, slot, 1); }
  const uint8_t* k_at(int layer, int block, int slot) const {
    return const_cast<KvCache*>(this)->at(layer, block, slot, 0);
  }
  const uint8_t* v_at(int layer, int block, int slot) const {
    return const_cast<KvCache*>(this)->at(layer, block, slot, 1);
  }
  // Slot address for a sequence position (the position must be reserved).
  uint8_t* k_pos(int layer, int seq, int pos) {
    return k_at(layer, seqs_[seq].blocks[pos / cfg_.block_size], pos % cfg_.block_size);
  }
  uint8_t* v_pos(int layer, int seq, int pos) {
    return v_at(layer, seqs_[seq].blocks[pos / cfg_.block_size], pos % cfg_.block_size);
  }
  size_t elem_size() const { return cfg_.type == KvType::kF16 ? 2 : 4; }

 private:
  uint8_t* at(int layer, int block, int slot, int kv) {
    size_t idx = ((static_cast<size_t>(layer) * cfg_.n_blocks + block) * 2 + kv) * cfg_.block_size + slot;
    return storage_.data() + idx * row_bytes_;
  }
  int alloc_block();
  void release_block(int block);

  struct Seq {
    bool live = false;
    std::vector<int> blocks;
  };
  KvCacheConfig cfg_;
  size_t row_bytes_;
  std::vector<uint8_t> storage_;
  std::vector<int> refcount_;
  std::vector<int> free_;
  std::vector<Seq> seqs_;
  std::vector<int> free_seqs_;
};

}  // namespace mlxs
