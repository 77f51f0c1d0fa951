#include "engine/kv_cache.h"

#include <cassert>

namespace mlxs {

KvCache::KvCache(const KvCacheConfig& cfg) : cfg_(cfg) {
  row_bytes_ = static_cast<size_t>(cfg.kv_dim) * elem_size();
  storage_.resize(static_cast<size_t>(cfg.n_layers) * cfg.n_blocks * 2 * cfg.block_size * row_bytes_);
  refcount_.assign(cfg.n_blocks, 0);
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
  seqs_[id].live = true;
  seqs_[id].blocks.clear();
  return id;
}

void KvCache::free_sequence(int seq) {
  assert(seqs_[seq].live);
  for (int b : seqs_[seq].blocks) release_block(b);
  seqs_[seq].blocks.clear();
  seqs_[seq].live = false;
  free_seqs_.push_back(seq);
}

int KvCache::alloc_block() {
  int b = free_.back();
  free_.pop_back();
  refcount_[b] = 1;
  return b;
}

void KvCache::release_block(int block) {
  assert(refcount_[block] > 0);
  if (--refcount_[block] == 0) free_.push_back(block);
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
}

int KvCache::capacity(int seq) const {
  return static_cast<int>(seqs_[seq].blocks.size()) * cfg_.block_size;
}

}  // namespace mlxs
