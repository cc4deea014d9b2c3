// BlockCache: a freed block serves the next object of its size, other sizes pass through to
// operator new, and the cache keeps no more than it was told.
#include "proxy/h2/block_cache.h"

#include <vector>

#include "gtest/gtest.h"

namespace rollout::proxy::h2 {
namespace {

TEST(BlockCacheTest, AFreedBlockServesTheNextGet) {
  BlockCache cache(256, 4);
  void* a = cache.Get(256);
  cache.Put(a, 256);
  EXPECT_EQ(cache.cached(), 1u);
  EXPECT_EQ(cache.Get(256), a);
  EXPECT_EQ(cache.cached(), 0u);
  cache.Put(a, 256);
}

TEST(BlockCacheTest, OtherSizesAreNotCached) {
  BlockCache cache(256, 4);
  void* a = cache.Get(512);
  cache.Put(a, 512);
  EXPECT_EQ(cache.cached(), 0u);
}

TEST(BlockCacheTest, KeepsAtMostMaxBlocks) {
  BlockCache cache(64, 3);
  std::vector<void*> blocks;
  for (int i = 0; i < 10; ++i) blocks.push_back(cache.Get(64));
  for (void* b : blocks) cache.Put(b, 64);
  EXPECT_EQ(cache.cached(), 3u);
}

}  // namespace
}  // namespace rollout::proxy::h2
