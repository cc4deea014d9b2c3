#include "proxy/concurrency_limit.h"

#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace rollout::proxy {
namespace {

TEST(ConcurrencyLimitTest, NoCapAdmitsEverythingWithoutCounting) {
  ConcurrencyLimit limit;
  for (int i = 0; i < 1000; ++i) EXPECT_EQ(limit.TryAcquire(), ConcurrencyLimit::kUnlimited);
  EXPECT_EQ(limit.rejected(), 0u);
}

TEST(ConcurrencyLimitTest, RefusesOverTheCapAndAdmitsAgainAfterARelease) {
  ConcurrencyLimit limit;
  limit.set_max(2);
  EXPECT_EQ(limit.TryAcquire(), ConcurrencyLimit::kAcquired);
  EXPECT_EQ(limit.TryAcquire(), ConcurrencyLimit::kAcquired);
  EXPECT_EQ(limit.TryAcquire(), ConcurrencyLimit::kRejected);
  EXPECT_EQ(limit.rejected(), 1u);
  limit.Release();
  EXPECT_EQ(limit.TryAcquire(), ConcurrencyLimit::kAcquired);
}

TEST(ConcurrencyLimitTest, LoweringTheCapKeepsCallsInFlightAndRefusesNewOnes) {
  ConcurrencyLimit limit;
  limit.set_max(3);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(limit.TryAcquire(), ConcurrencyLimit::kAcquired);
  limit.set_max(1);
  EXPECT_EQ(limit.TryAcquire(), ConcurrencyLimit::kRejected);
  limit.Release();
  limit.Release();
  EXPECT_EQ(limit.TryAcquire(), ConcurrencyLimit::kRejected);  // 1 still in flight
  limit.Release();
  EXPECT_EQ(limit.TryAcquire(), ConcurrencyLimit::kAcquired);
}

TEST(ConcurrencyLimitTest, NeverAdmitsMoreThanTheCapAcrossThreads) {
  ConcurrencyLimit limit;
  limit.set_max(8);
  std::atomic<int> inside{0};
  std::atomic<int> most{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (limit.TryAcquire() != ConcurrencyLimit::kAcquired) continue;
        const int now = inside.fetch_add(1) + 1;
        int seen = most.load();
        while (now > seen && !most.compare_exchange_weak(seen, now)) {
        }
        inside.fetch_sub(1);
        limit.Release();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_LE(most.load(), 8);
}

TEST(PoolLimitsTest, APoolKeepsItsLimitAndCountAcrossLookups) {
  PoolLimits limits;
  ConcurrencyLimit* a = limits.Get("a");
  a->set_max(1);
  ASSERT_EQ(a->TryAcquire(), ConcurrencyLimit::kAcquired);
  EXPECT_EQ(limits.Get("a")->TryAcquire(), ConcurrencyLimit::kRejected);
  EXPECT_EQ(limits.Get("b")->TryAcquire(), ConcurrencyLimit::kUnlimited);
  const auto rejected = limits.Rejected();
  ASSERT_EQ(rejected.size(), 1u);  // b has no limit and no refusals
  EXPECT_EQ(rejected[0].pool, "a");
  EXPECT_EQ(rejected[0].rejected, 1u);
}

}  // namespace
}  // namespace rollout::proxy
