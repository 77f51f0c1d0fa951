#include <gtest/gtest.h>

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

}  // namespace
}  // namespace mlxs
