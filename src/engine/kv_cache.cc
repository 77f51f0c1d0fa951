#include "engine/kv_cache.h"

#include <algorithm>
#include <cassert>

namespace mlxs {

KvCache::KvCache(const KvCacheConfig& cfg) : cfg_(cfg) {
  row_bytes_ = static_cast<size_t>(cfg.kv_dim) * elem_size();
  storage_.resize(static_cast<size_t>(cfg.n_layers) * cfg.n_blocks * 2 * cfg.block_size * row_bytes_);
  refcount_.assign(cfg.n_blocks, 0);
  cached_.resize(cfg.n_blocks);
  free_.reserve(cfg.n_blocks);
  // Hand out low block numbers first: they were touched most recently.
  for (int b = cfg.n_blocks - 1; b >= 0; --b) free_.push_back(b);
}

int KvCache::create_sequence() {
  int id;
  if (!free_seqs_.empty()) {
    id = free_seqs_.back();
    free_seqs_.pop_back();
  } else {
    id = static_cast<int>(seqs_.size());
    seqs_.emplace_back();
  }
  seqs_[id] = Seq{};
  seqs_[id].live = true;
  return id;
}

void KvCache::free_sequence(int seq) {
  assert(seqs_[seq].live);
  // Last block first: the tail of a prefix then sits ahead of its head in the LRU order,
  // so eviction trims prefixes from the end instead of orphaning their tails.
  auto& blocks = seqs_[seq].blocks;
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) release_block(*it);
  seqs_[seq].blocks.clear();
  seqs_[seq].live = false;
  free_seqs_.push_back(seq);
}

int KvCache::alloc_block() {
  int b;
  if (!free_.empty()) {
    b = free_.back();
    free_.pop_back();
  } else {
    assert(!evictable_.empty());
    b = evictable_.front();
    evict(b);
  }
  refcount_[b] = 1;
  return b;
}

void KvCache::release_block(int block) {
  assert(refcount_[block] > 0);
  if (--refcount_[block] != 0) return;
  CachedBlock& cb = cached_[block];
  if (cb.indexed) {
    cb.evictable = true;
    cb.lru_pos = evictable_.insert(evictable_.end(), block);
  } else {
    free_.push_back(block);
  }
}

// Drops an unreferenced cached block from the LRU list and the index.
void KvCache::evict(int block) {
  CachedBlock& cb = cached_[block];
  evictable_.erase(cb.lru_pos);
  cb.evictable = false;
  unindex(block);
  evictions_.fetch_add(1, std::memory_order_relaxed);
}

void KvCache::unindex(int block) {
  CachedBlock& cb = cached_[block];
  auto [lo, hi] = index_.equal_range(cb.hash);
  for (auto it = lo; it != hi; ++it) {
    if (it->second == block) {
      index_.erase(it);
      break;
    }
  }
  auto [clo, chi] = children_.equal_range(cb.parent_gen);
  for (auto it = clo; it != chi; ++it) {
    if (it->second == block) {
      children_.erase(it);
      break;
    }
  }
  cb.indexed = false;
  cb.tokens.clear();
  n_cached_.fetch_sub(1, std::memory_order_relaxed);
}

uint64_t KvCache::default_block_hash(uint64_t parent, const TokenId* tokens, int n) {
  // 64-bit FNV-1a over the parent hash and the token ids, byte by byte.
  uint64_t h = kRootHash;
  auto mix = [&h](uint64_t v, int bytes) {
    for (int i = 0; i < bytes; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ull;
    }
  };
  mix(parent, 8);
  for (int i = 0; i < n; ++i) mix(static_cast<uint32_t>(tokens[i]), 4);
  return h;
}

int KvCache::find_cached(uint64_t hash, uint64_t parent_gen, const TokenId* tokens) const {
  auto [lo, hi] = index_.equal_range(hash);
  for (auto it = lo; it != hi; ++it) {
    const CachedBlock& cb = cached_[it->second];
    if (cb.parent_gen == parent_gen && std::equal(cb.tokens.begin(), cb.tokens.end(), tokens))
      return it->second;
  }
  return -1;
}

int KvCache::attach_prefix(int seq, const std::vector<TokenId>& tokens, int max_tokens) {
  if (!prefix_on_) return 0;
  Seq& s = seqs_[seq];
  assert(s.live && s.blocks.empty());
  queries_.fetch_add(1, std::memory_order_relaxed);
  const int bs = cfg_.block_size;
  const int limit = std::min(max_tokens, static_cast<int>(tokens.size()));
  for (int start = 0; start + bs <= limit; start += bs) {
    const TokenId* t = tokens.data() + start;
    uint64_t h = hasher_(s.chain_hash(), t, bs);
    int b = find_cached(h, s.chain_gen(), t);
    if (b < 0) break;
    CachedBlock& cb = cached_[b];
    if (cb.evictable) {
      evictable_.erase(cb.lru_pos);
      cb.evictable = false;
    }
    ++refcount_[b];
    s.blocks.push_back(b);
    s.chain.push_back({h, cb.gen});  // already in the index
  }
  int covered = static_cast<int>(s.blocks.size()) * bs;
  if (covered < limit) covered += copy_partial(s, tokens.data() + covered, std::min(bs, limit - covered));
  if (covered > 0) {
    hits_.fetch_add(1, std::memory_order_relaxed);
    hit_tokens_.fetch_add(static_cast<uint64_t>(covered), std::memory_order_relaxed);
  }
  return covered;
}

// Copy-on-write at the first divergent block: the cached child of the sequence's chain
// that starts with the most of tokens[0, n) gives those leading slots to a fresh block.
// Returns the tokens copied (0: no child shares even one token, or no block is free).
int KvCache::copy_partial(Seq& s, const TokenId* tokens, int n) {
  int best = -1, best_len = 0;
  auto [lo, hi] = children_.equal_range(s.chain_gen());
  for (auto it = lo; it != hi; ++it) {
    const std::vector<TokenId>& t = cached_[it->second].tokens;
    int len = 0;
    while (len < n && t[len] == tokens[len]) ++len;
    if (len > best_len) {
      best = it->second;
      best_len = len;
    }
  }
  if (best < 0) return 0;
  // Hold the source so that allocating the copy cannot evict it.
  CachedBlock& src = cached_[best];
  const bool was_evictable = src.evictable;
  if (was_evictable) {
    evictable_.erase(src.lru_pos);
    src.evictable = false;
  }
  ++refcount_[best];
  int copied = 0;
  if (n_free_blocks() > 0) {
    const int b = alloc_block();
    for (int l = 0; l < cfg_.n_layers; ++l) {
      std::copy_n(k_at(l, best, 0), best_len * row_bytes_, k_at(l, b, 0));
      std::copy_n(v_at(l, best, 0), best_len * row_bytes_, v_at(l, b, 0));
    }
    s.blocks.push_back(b);
    copied = best_len;
    copies_.fetch_add(1, std::memory_order_relaxed);
    copied_tokens_.fetch_add(static_cast<uint64_t>(best_len), std::memory_order_relaxed);
  }
  release_block(best);  // back to evictable (at the recent end) when nobody else holds it
  return copied;
}

void KvCache::publish_blocks(int seq, const std::vector<TokenId>& tokens, int n_computed) {
  if (!prefix_on_) return;
  Seq& s = seqs_[seq];
  const int bs = cfg_.block_size;
  const int n = std::min({n_computed, static_cast<int>(tokens.size()), capacity(seq)});
  for (int i = static_cast<int>(s.chain.size()); (i + 1) * bs <= n; ++i) {
    const TokenId* t = tokens.data() + static_cast<size_t>(i) * bs;
    const uint64_t h = hasher_(s.chain_hash(), t, bs);
    const uint64_t parent_gen = s.chain_gen();
    int existing = find_cached(h, parent_gen, t);
    if (existing >= 0) {
      // Another sequence computed the same block first: chain on from that entry.
      s.chain.push_back({h, cached_[existing].gen});
      continue;
    }
    const int b = s.blocks[i];
    CachedBlock& cb = cached_[b];
    if (cb.indexed) break;  // still indexed for other content (see truncate): keep it private
    cb.indexed = true;
    cb.hash = h;
    cb.gen = next_gen_++;
    cb.parent_gen = parent_gen;
    cb.tokens.assign(t, t + bs);
    index_.emplace(h, b);
    children_.emplace(parent_gen, b);
    n_cached_.fetch_add(1, std::memory_order_relaxed);
    s.chain.push_back({h, cb.gen});
  }
}

PrefixCacheStats KvCache::prefix_stats() const {
  PrefixCacheStats st;
  st.queries = queries_.load(std::memory_order_relaxed);
  st.hits = hits_.load(std::memory_order_relaxed);
  st.hit_tokens = hit_tokens_.load(std::memory_order_relaxed);
  st.evictions = evictions_.load(std::memory_order_relaxed);
  st.cached_blocks = n_cached_.load(std::memory_order_relaxed);
  st.copies = copies_.load(std::memory_order_relaxed);
  st.copied_tokens = copied_tokens_.load(std::memory_order_relaxed);
  return st;
}

bool KvCache::reserve(int seq, int n_tokens) {
  auto& blocks = seqs_[seq].blocks;
  int need = blocks_for(n_tokens) - static_cast<int>(blocks.size());
  if (need <= 0) return true;
  if (need > n_free_blocks()) return false;
  for (int k = 0; k < need; ++k) blocks.push_back(alloc_block());
  return true;
}

void KvCache::truncate(int seq, int n_tokens) {
  auto& blocks = seqs_[seq].blocks;
  size_t keep = static_cast<size_t>(blocks_for(n_tokens));
  while (blocks.size() > keep) {
    release_block(blocks.back());
    blocks.pop_back();
  }
  // Blocks no longer (fully) held must be offered to the index again once recomputed. A
  // kept partial block will be rewritten, so it must leave the index (it is ours alone:
  // shared blocks lie wholly inside the prefix, which callers never cut into).
  auto& chain = seqs_[seq].chain;
  size_t full = static_cast<size_t>(n_tokens / cfg_.block_size);
  if (chain.size() > full) chain.resize(full);
  if (blocks.size() > full && cached_[blocks.back()].indexed) {
    assert(refcount_[blocks.back()] == 1);
    unindex(blocks.back());
  }
}

int KvCache::capacity(int seq) const {
  return static_cast<int>(seqs_[seq].blocks.size()) * cfg_.block_size;
}

}  // namespace mlxs
