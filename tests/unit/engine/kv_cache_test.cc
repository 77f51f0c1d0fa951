#include <gtest/gtest.h>

#include <algorithm>

#include "engine/kv_cache.h"

namespace mlxs {
namespace {

KvCacheConfig small_config() {
  KvCacheConfig c;
  c.n_layers = 2;
  c.kv_dim = 8;
  c.block_size = 4;
  c.n_blocks = 6;
  return c;
}

TEST(KvCache, ReservesWholeBlocksAndReturnsThem) {
  KvCache cache(small_config());
  int a = cache.create_sequence();
  EXPECT_TRUE(cache.reserve(a, 5));  // 2 blocks
  EXPECT_EQ(cache.capacity(a), 8);
  EXPECT_EQ(cache.n_free_blocks(), 4);
  EXPECT_TRUE(cache.reserve(a, 8));  // still 2 blocks
  EXPECT_EQ(cache.n_free_blocks(), 4);
  int b = cache.create_sequence();
  EXPECT_FALSE(cache.reserve(b, 17));  // 5 blocks > 4 free: nothing allocated
  EXPECT_EQ(cache.n_free_blocks(), 4);
  EXPECT_TRUE(cache.reserve(b, 16));
  EXPECT_EQ(cache.n_free_blocks(), 0);
  cache.truncate(b, 5);
  EXPECT_EQ(cache.n_free_blocks(), 2);
  cache.free_sequence(a);
  cache.free_sequence(b);
  EXPECT_EQ(cache.n_free_blocks(), 6);
}

TEST(KvCache, SequencesGetDistinctSlots) {
  KvCache cache(small_config());
  int a = cache.create_sequence();
  int b = cache.create_sequence();
  ASSERT_TRUE(cache.reserve(a, 4));
  ASSERT_TRUE(cache.reserve(b, 4));
  EXPECT_NE(cache.block_table(a)[0], cache.block_table(b)[0]);
  EXPECT_NE(cache.k_pos(0, a, 3), cache.k_pos(0, b, 3));
  EXPECT_NE(cache.k_pos(0, a, 1), cache.v_pos(0, a, 1));
  EXPECT_NE(cache.k_pos(0, a, 1), cache.k_pos(1, a, 1));
  EXPECT_EQ(cache.k_pos(1, a, 2) - cache.k_pos(1, a, 1), static_cast<long>(8 * cache.elem_size()));
  EXPECT_EQ(cache.block_refcount(cache.block_table(a)[0]), 1);
  cache.free_sequence(a);
  int c = cache.create_sequence();
  EXPECT_EQ(c, a);  // handles are reused
}


// Tokens 0..n-1 offset by `base`, so prompts can share or differ block by block.
std::vector<TokenId> seq_tokens(int n, int base = 100) {
  std::vector<TokenId> t(n);
  for (int i = 0; i < n; ++i) t[i] = base + i;
  return t;
}

// A sequence that computed `tokens` (the KV writes themselves do not matter to the index).
int computed_sequence(KvCache& cache, const std::vector<TokenId>& tokens) {
  int s = cache.create_sequence();
  EXPECT_TRUE(cache.reserve(s, static_cast<int>(tokens.size())));
  cache.publish_blocks(s, tokens, static_cast<int>(tokens.size()));
  return s;
}

TEST(KvCachePrefix, AttachAfterPublishSharesTheSameBlocks) {
  KvCache cache(small_config());
  cache.set_prefix_caching(true);
  auto t = seq_tokens(10);  // 2 full blocks + 2 tokens
  int a = computed_sequence(cache, t);
  EXPECT_EQ(cache.prefix_stats().cached_blocks, 2u);
  int b = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(b, t, 9), 8);
  ASSERT_EQ(cache.block_table(b).size(), 2u);
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(cache.block_table(b)[i], cache.block_table(a)[i]);
    EXPECT_EQ(cache.block_refcount(cache.block_table(b)[i]), 2);
  }
  // Reserving extends the table past the shared blocks with a fresh one.
  ASSERT_TRUE(cache.reserve(b, 12));
  EXPECT_NE(cache.block_table(b)[2], cache.block_table(a)[2]);
  auto st = cache.prefix_stats();
  EXPECT_EQ(st.queries, 1u);
  EXPECT_EQ(st.hits, 1u);
  EXPECT_EQ(st.hit_tokens, 8u);
}

TEST(KvCachePrefix, AttachStopsAtMaxTokensAndNeverCoversTheWholePrompt) {
  KvCache cache(small_config());
  cache.set_prefix_caching(true);
  auto t = seq_tokens(8);
  computed_sequence(cache, t);
  int b = cache.create_sequence();
  // The same 8-token prompt: only the first block, so one token is left to compute.
  EXPECT_EQ(cache.attach_prefix(b, t, 7), 4);
}

TEST(KvCachePrefix, DifferentTokenStopsTheMatch) {
  KvCache cache(small_config());
  cache.set_prefix_caching(true);
  auto t = seq_tokens(12);
  int a = computed_sequence(cache, t);
  auto u = t;
  u[5] = 7;  // block 2 (positions 4..7) differs
  int b = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(b, u, 11), 4);
  EXPECT_EQ(cache.block_table(b)[0], cache.block_table(a)[0]);
  // A later block equal to the cached one does not match after a differing parent.
  u = t;
  u[1] = 7;
  int c = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(c, u, 11), 0);
  EXPECT_TRUE(cache.block_table(c).empty());
  EXPECT_EQ(cache.prefix_stats().hits, 1u);
}

uint64_t constant_hash(uint64_t, const TokenId*, int) { return 42; }

TEST(KvCachePrefix, HashCollisionNeverSharesAWrongBlock) {
  KvCache cache(small_config());
  cache.set_prefix_caching(true);
  cache.set_block_hasher_for_testing(&constant_hash);  // every block collides
  auto t = seq_tokens(8);
  int a = computed_sequence(cache, t);
  auto u = seq_tokens(8, 300);
  int b = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(b, u, 7), 0);
  // Block 2 of t with block 1 of t swapped out: same hash everywhere, still no share.
  auto v = t;
  std::swap_ranges(v.begin(), v.begin() + 4, v.begin() + 4);
  EXPECT_EQ(cache.attach_prefix(b, v, 8), 0);
  // The genuine prefix is still found by comparing tokens.
  int c = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(c, t, 8), 8);
  EXPECT_EQ(cache.block_table(c), cache.block_table(a));
  // Colliding different content can be published alongside.
  int d = computed_sequence(cache, u);
  int e = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(e, u, 8), 8);
  EXPECT_EQ(cache.block_table(e), cache.block_table(d));
}

TEST(KvCachePrefix, UnreferencedCachedBlocksAreEvictedLeastRecentlyUsedFirst) {
  KvCache cache(small_config());  // 6 blocks
  cache.set_prefix_caching(true);
  auto old_prompt = seq_tokens(4, 100), new_prompt = seq_tokens(4, 200);
  int a = computed_sequence(cache, old_prompt);
  int old_block = cache.block_table(a)[0];
  cache.free_sequence(a);
  int b = computed_sequence(cache, new_prompt);
  int new_block = cache.block_table(b)[0];
  cache.free_sequence(b);
  // Both cached blocks are unreferenced but still count as available.
  EXPECT_EQ(cache.n_free_blocks(), 6);
  EXPECT_EQ(cache.prefix_stats().cached_blocks, 2u);
  // Exhaust the free list: the next block comes from the oldest cached one.
  int c = cache.create_sequence();
  ASSERT_TRUE(cache.reserve(c, 4 * 5));
  EXPECT_EQ(cache.prefix_stats().evictions, 1u);
  EXPECT_EQ(cache.block_table(c).back(), old_block);
  EXPECT_EQ(cache.n_free_blocks(), 1);  // the newer cached block, still evictable
  EXPECT_EQ(cache.prefix_stats().cached_blocks, 1u);
  // The evicted prefix is gone, the newer one is still shared.
  int d = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(d, old_prompt, 4), 0);
  EXPECT_EQ(cache.attach_prefix(d, new_prompt, 4), 4);
  EXPECT_EQ(cache.block_table(d)[0], new_block);
  EXPECT_EQ(cache.block_refcount(new_block), 1);  // referenced again: not evictable
  EXPECT_EQ(cache.n_free_blocks(), 0);
  int f = cache.create_sequence();
  EXPECT_FALSE(cache.reserve(f, 1));
  cache.free_sequence(c);
  cache.free_sequence(d);
  EXPECT_EQ(cache.n_free_blocks(), 6);
}

TEST(KvCachePrefix, DisabledCacheSharesNothing) {
  KvCache cache(small_config());
  auto t = seq_tokens(10);
  int a = computed_sequence(cache, t);
  cache.free_sequence(a);
  EXPECT_EQ(cache.n_free_blocks(), 6);
  int b = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(b, t, 9), 0);
  EXPECT_TRUE(cache.block_table(b).empty());
  auto st = cache.prefix_stats();
  EXPECT_EQ(st.queries, 0u);
  EXPECT_EQ(st.cached_blocks, 0u);
}

TEST(KvCachePrefix, TruncateIntoAPublishedBlockUnindexesIt) {
  KvCache cache(small_config());
  cache.set_prefix_caching(true);
  auto t = seq_tokens(8);
  int a = computed_sequence(cache, t);
  cache.truncate(a, 6);  // block 2 will be rewritten
  EXPECT_EQ(cache.prefix_stats().cached_blocks, 1u);
  int b = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(b, t, 8), 4);
}

}  // namespace
}  // namespace mlxs
