// Paged KV cache. Keys and values live in fixed-size blocks (block_size token slots) drawn
// from one pool per layer; each sequence owns a block table that maps its positions to
// blocks. Blocks are reference-counted so that sequences with a common prefix can share
// them (prefix reuse) without copying.
//
// Prefix cache (off by default): every FULL block whose keys and values are computed can be
// published into an index keyed by a chained hash of its tokens (the parent block's hash
// mixed with this block's token ids), so a later sequence with the same leading tokens
// attaches those blocks instead of recomputing them. Shared blocks are full and never
// written again (writes only go to positions after the shared prefix, in fresh blocks).
// At the first block that differs, a cached block that begins with the same tokens is
// copied (copy-on-write): the new sequence takes the matching leading slots into a fresh
// block of its own and computes only from there. A published block whose last user leaves
// stays cached as "evictable" and is recycled least-recently-used first when the free list
// runs dry.
#pragma once

#include <atomic>
#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "base/status.h"

namespace mlxs {

using TokenId = int32_t;

enum class KvType { kF16, kF32 };

// Prefix-cache counters since construction (cached_blocks is the current index size).
struct PrefixCacheStats {
  uint64_t queries = 0;      // attach_prefix calls while enabled
  uint64_t hits = 0;         // of those, lookups that matched at least one block
  uint64_t hit_tokens = 0;   // tokens covered by matched blocks
  uint64_t evictions = 0;    // cached blocks recycled for new allocations
  uint64_t copies = 0;       // partly matching blocks copied at the first divergent block
  uint64_t copied_tokens = 0;  // tokens covered by those copies (included in hit_tokens)
  uint64_t cached_blocks = 0;
};

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
  // Blocks an allocation can take: free ones plus cached blocks nobody references.
  int n_free_blocks() const { return static_cast<int>(free_.size() + evictable_.size()); }
  int n_blocks() const { return cfg_.n_blocks; }
  size_t bytes() const { return storage_.size(); }

  // Sequences are small integer handles.
  int create_sequence();
  void free_sequence(int seq);
  // Makes room for positions [0, n_tokens); false (and nothing allocated) when the pool has
  // too few free blocks.
  bool reserve(int seq, int n_tokens);
  // Forgets positions >= n_tokens (blocks past the end return to the pool). With prefix
  // caching, n_tokens must not cut into blocks this sequence shares with others.
  void truncate(int seq, int n_tokens);
  int capacity(int seq) const;
  // Blocks needed to hold n tokens.
  int blocks_for(int n_tokens) const { return (n_tokens + cfg_.block_size - 1) / cfg_.block_size; }

  const std::vector<int>& block_table(int seq) const { return seqs_[seq].blocks; }
  int block_refcount(int block) const { return refcount_[block]; }

  // Prefix cache. Off: attach_prefix returns 0 and publish_blocks does nothing. Turning it
  // off keeps what is already cached until it is evicted.
  void set_prefix_caching(bool on) { prefix_on_ = on; }
  bool prefix_caching() const { return prefix_on_; }
  // For a new, empty sequence: walks the full blocks of tokens[0, max_tokens) in order and
  // appends each cached block that matches (same chained prefix, same tokens) to the
  // sequence's table, stopping at the first miss. At that block, the cached child of the
  // matched chain sharing the most leading tokens (at least one) is copied into a fresh
  // private block for those tokens. Returns the tokens covered. Callers pass
  // max_tokens = n_prompt - 1 so at least one prompt token is left to compute the logits
  // from.
  int attach_prefix(int seq, const std::vector<TokenId>& tokens, int max_tokens);
  // Registers every full block of the sequence whose positions are all < n_computed and
  // that is not yet registered. tokens are the sequence's tokens from position 0.
  void publish_blocks(int seq, const std::vector<TokenId>& tokens, int n_computed);
  PrefixCacheStats prefix_stats() const;

  // The chained block hash; replaceable so tests can force collisions.
  using BlockHasher = uint64_t (*)(uint64_t parent, const TokenId* tokens, int n);
  static uint64_t default_block_hash(uint64_t parent, const TokenId* tokens, int n);
  void set_block_hasher_for_testing(BlockHasher h) { hasher_ = h; }

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
  static constexpr uint64_t kRootHash = 0xcbf29ce484222325ull;
  int alloc_block();
  void release_block(int block);
  void evict(int block);
  void unindex(int block);
  int find_cached(uint64_t hash, uint64_t parent_gen, const TokenId* tokens) const;

  struct Seq {
    bool live = false;
    std::vector<int> blocks;
    // Per leading block already offered to the prefix index: its chained hash and the
    // generation of the index entry holding its tokens (the parent of the next block).
    struct Link {
      uint64_t hash;
      uint64_t gen;
    };
    std::vector<Link> chain;
    uint64_t chain_hash() const { return chain.empty() ? kRootHash : chain.back().hash; }
    uint64_t chain_gen() const { return chain.empty() ? 0 : chain.back().gen; }
  };
  int copy_partial(Seq& s, const TokenId* tokens, int n);

  // What the index knows about a cached block. A lookup must match the hash, the parent's
  // generation and the tokens themselves, so neither a hash collision nor a recycled parent
  // block can ever share a wrong block.
  struct CachedBlock {
    bool indexed = false;
    uint64_t hash = 0;
    uint64_t gen = 0;         // unique per registration, never reused
    uint64_t parent_gen = 0;  // 0 for the first block of a sequence
    std::vector<TokenId> tokens;
    bool evictable = false;
    std::list<int>::iterator lru_pos;
  };

  KvCacheConfig cfg_;
  size_t row_bytes_;
  std::vector<uint8_t> storage_;
  std::vector<int> refcount_;
  std::vector<int> free_;
  std::vector<Seq> seqs_;
  std::vector<int> free_seqs_;

  bool prefix_on_ = false;
  BlockHasher hasher_ = &default_block_hash;
  std::vector<CachedBlock> cached_;              // per block
  std::unordered_multimap<uint64_t, int> index_;  // chained hash -> block
  std::unordered_multimap<uint64_t, int> children_;  // parent's generation -> block
  std::list<int> evictable_;                     // unreferenced cached blocks, oldest first
  uint64_t next_gen_ = 1;
  // Atomic so that stats can be read from other threads; written by the owner only.
  std::atomic<uint64_t> queries_{0}, hits_{0}, hit_tokens_{0}, evictions_{0}, n_cached_{0};
  std::atomic<uint64_t> copies_{0}, copied_tokens_{0};
};

}  // namespace mlxs
