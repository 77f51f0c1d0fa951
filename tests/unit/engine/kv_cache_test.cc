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
  // The same 8-token prompt: the first block shared, three slots of the second copied, so
  // one token is left to compute.
  EXPECT_EQ(cache.attach_prefix(b, t, 7), 7);
  EXPECT_EQ(cache.block_table(b).size(), 2u);
  EXPECT_EQ(cache.prefix_stats().copied_tokens, 3u);
}

TEST(KvCachePrefix, DifferentTokenStopsTheMatch) {
  KvCache cache(small_config());
  cache.set_prefix_caching(true);
  auto t = seq_tokens(12);
  int a = computed_sequence(cache, t);
  auto u = t;
  u[5] = 7;  // block 2 (positions 4..7) differs
  int b = cache.create_sequence();
  // Block 1 shared; block 2's leading slot (position 4) copied, the rest computed.
  EXPECT_EQ(cache.attach_prefix(b, u, 11), 5);
  EXPECT_EQ(cache.block_table(b)[0], cache.block_table(a)[0]);
  EXPECT_NE(cache.block_table(b)[1], cache.block_table(a)[1]);
  EXPECT_EQ(cache.block_refcount(cache.block_table(b)[1]), 1);  // a private copy
  // A later block equal to the cached one does not match after a differing parent; the
  // first block's leading slot is still copied.
  u = t;
  u[1] = 7;
  int c = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(c, u, 11), 1);
  ASSERT_EQ(cache.block_table(c).size(), 1u);
  EXPECT_NE(cache.block_table(c)[0], cache.block_table(a)[0]);
  // Nothing in common at all: nothing attached.
  u = seq_tokens(12, 400);
  int d = cache.create_sequence();
  EXPECT_EQ(cache.attach_prefix(d, u, 11), 0);
  EXPECT_TRUE(cache.block_table(d).empty());
  EXPECT_EQ(cache.prefix_stats().hits, 2u);
  EXPECT_EQ(cache.prefix_stats().copies, 2u);
}

// Fills every K and V slot of the sequence's first n positions with a pattern of its
// position and layer, as a forward pass would.
void write_rows(KvCache& cache, int seq, int n, int salt) {
  const size_t row = cache.config().kv_dim * cache.elem_size();
  for (int l = 0; l < cache.config().n_layers; ++l)
    for (int p = 0; p < n; ++p)
      for (size_t i = 0; i < row; ++i) {
        cache.k_pos(l, seq, p)[i] = static_cast<uint8_t>(salt + 7 * l + 13 * p + i);
        cache.v_pos(l, seq, p)[i] = static_cast<uint8_t>(salt + 5 * l + 11 * p + 3 * i);
      }
}

TEST(KvCachePrefix, CopyOnWriteCopiesTheMatchingSlotsExactly) {
  KvCache cache(small_config());
  cache.set_prefix_caching(true);
  auto t = seq_tokens(8);
  int a = cache.create_sequence();
  ASSERT_TRUE(cache.reserve(a, 8));
  write_rows(cache, a, 8, 1);
  cache.publish_blocks(a, t, 8);
  auto u = t;
  u[6] = 9;  // positions 4 and 5 of block 2 match, 6 differs
  int b = cache.create_sequence();
  ASSERT_EQ(cache.attach_prefix(b, u, 7), 6);
  const size_t row = cache.config().kv_dim * cache.elem_size();
  for (int l = 0; l < 2; ++l)
    for (int p = 0; p < 6; ++p) {
      EXPECT_TRUE(std::equal(cache.k_pos(l, b, p), cache.k_pos(l, b, p) + row, cache.k_pos(l, a, p)));
      EXPECT_TRUE(std::equal(cache.v_pos(l, b, p), cache.v_pos(l, b, p) + row, cache.v_pos(l, a, p)));
    }
  // Writing the copy's later slots leaves the cached block as it was.
  ASSERT_TRUE(cache.reserve(b, 8));
  write_rows(cache, b, 8, 99);
  int c = cache.create_sequence();
  ASSERT_EQ(cache.attach_prefix(c, t, 8), 8);  // a's blocks, untouched
  EXPECT_EQ(cache.block_table(c)[1], cache.block_table(a)[1]);
}

TEST(KvCachePrefix, CopySourceIsNotEvictedToMakeRoomForTheCopy) {
  KvCacheConfig cfg = small_config();
  cfg.n_blocks = 2;
  KvCache cache(cfg);
  cache.set_prefix_caching(true);
  auto t = seq_tokens(8);
  int a = computed_sequence(cache, t);
  cache.free_sequence(a);  // both blocks cached, unreferenced
  auto u = t;
  u[5] = 1;
  int b = cache.create_sequence();
  // Block 1 attached; the copy of block 2 must take a block other than block 2 itself,
  // and there is none: nothing is copied, nothing breaks.
  EXPECT_EQ(cache.attach_prefix(b, u, 7), 4);
  EXPECT_EQ(cache.block_table(b).size(), 1u);
  EXPECT_EQ(cache.prefix_stats().cached_blocks, 2u);
  cache.free_sequence(b);
  // With a block to spare the copy happens.
  KvCacheConfig roomy = small_config();
  KvCache cache2(roomy);
  cache2.set_prefix_caching(true);
  int a2 = computed_sequence(cache2, t);
  cache2.free_sequence(a2);
  int b2 = cache2.create_sequence();
  EXPECT_EQ(cache2.attach_prefix(b2, u, 7), 5);
  EXPECT_EQ(cache2.prefix_stats().cached_blocks, 2u);  // the source stays cached
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
