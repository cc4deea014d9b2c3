// The sticky split: stable buckets, and keys that only ever move into a growing pool.
#include <map>
#include <random>

#include "gtest/gtest.h"
#include "routing/routing_table.h"
#include "routing/sticky_hash.h"

namespace rollout::routing {
namespace {

class Headers final : public MetadataView {
 public:
  explicit Headers(std::map<std::string, std::string> h) : h_(std::move(h)) {}
  std::optional<absl::string_view> Get(absl::string_view key) const override {
    auto it = h_.find(std::string(key));
    if (it == h_.end()) return std::nullopt;
    return absl::string_view(it->second);
  }

 private:
  std::map<std::string, std::string> h_;
};

std::shared_ptr<const RoutingTable> Table(const std::vector<double>& weights) {
  std::vector<PoolSpec> pools;
  RouteSpec route{.name = "infer", .sticky_key = "x-user-id"};
  for (size_t i = 0; i < weights.size(); ++i) {
    const std::string name = "p" + std::to_string(i);
    pools.push_back({name, {"127.0.0.1:" + std::to_string(9000 + i)}});
    route.split.push_back({name, weights[i]});
  }
  auto table = RoutingTable::Create(pools, {route}, 1);
  EXPECT_TRUE(table.ok()) << table.status();
  return *table;
}

size_t PoolOf(const RoutingTable& table, const std::string& user) {
  Headers headers({{"x-user-id", user}});
  auto d = table.Decide(CallAttributes{"/svc/M", &headers}, /*random=*/0);
  EXPECT_TRUE(d.ok());
  EXPECT_EQ(d->choice, RoutingTable::Choice::kSticky);
  return d->pool;
}

TEST(StickyHashTest, BucketsAreFixedForeverAndSpreadEvenly) {
  // Pinned values: if these change, every deployed user moves pool. Never update them.
  EXPECT_EQ(StickyBucket("infer", "user-1"), 7269u);
  EXPECT_EQ(StickyBucket("infer", "user-2"), 452u);
  EXPECT_EQ(StickyBucket("checkout", "user-1"), 4637u);
  EXPECT_NE(StickyBucket("a", "bc"), StickyBucket("ab", "c"));
  std::vector<int> counts(10);
  for (int i = 0; i < 100000; ++i) ++counts[StickyBucket("infer", "u" + std::to_string(i)) / 1000];
  for (int c : counts) EXPECT_NEAR(c, 10000, 500);
}

TEST(StickySplitTest, SameKeySamePoolAndSharesFollowWeights) {
  auto table = Table({90, 10});
  int to_p1 = 0;
  for (int i = 0; i < 20000; ++i) {
    const std::string user = "user-" + std::to_string(i);
    const size_t pool = PoolOf(*table, user);
    EXPECT_EQ(PoolOf(*table, user), pool);
    to_p1 += pool == 1;
  }
  EXPECT_NEAR(to_p1, 2000, 200);
  // Without the key, the call is split at random.
  auto d = table->Decide(CallAttributes{"/svc/M"}, 0);
  EXPECT_EQ(d->choice, RoutingTable::Choice::kWeighted);
}

TEST(StickySplitTest, SplitListingOrderDoesNotMoveUsers) {
  // The same shares listed in another order (as an API map might) give the same pools.
  std::vector<PoolSpec> pools = {{"v1", {"127.0.0.1:1"}}, {"v2", {"127.0.0.1:2"}}};
  auto a = RoutingTable::Create(
      pools, {{.name = "r", .sticky_key = "k", .split = {{"v1", 70}, {"v2", 30}}}}, 1);
  auto b = RoutingTable::Create(
      pools, {{.name = "r", .sticky_key = "k", .split = {{"v2", 30}, {"v1", 70}}}}, 1);
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 5000; ++i) {
    Headers h({{"k", std::to_string(i)}});
    EXPECT_EQ((*a)->Decide(CallAttributes{"/s/m", &h}, 0)->pool,
              (*b)->Decide(CallAttributes{"/s/m", &h}, 0)->pool);
  }
}

// Property: over random sequences of weight changes where one pool grows and the others
// shrink or stay, no key ever leaves the growing pool. (With three or more pools a key may
// move between two shrinking pools; the contract is about the growing one.)
TEST(StickySplitTest, PropertyKeysNeverLeaveTheGrowingPool) {
  std::mt19937_64 rng(7);
  constexpr int kKeys = 3000;
  for (int pools : {2, 3, 4}) {
    for (int sequence = 0; sequence < 30; ++sequence) {
      std::vector<double> weights(pools, 1000);
      auto table = Table(weights);
      std::vector<size_t> where(kKeys);
      for (int k = 0; k < kKeys; ++k) where[k] = PoolOf(*table, "k" + std::to_string(k));
      for (int step = 0; step < 12; ++step) {
        const size_t grow = rng() % pools;
        std::vector<double> next = weights;
        double taken = 0;
        for (int p = 0; p < pools; ++p) {
          if (static_cast<size_t>(p) == grow) continue;
          const double cut = next[p] * std::uniform_real_distribution<double>(0, 1)(rng);
          next[p] -= cut;
          taken += cut;
        }
        next[grow] += taken;
        auto next_table = Table(next);
        for (int k = 0; k < kKeys; ++k) {
          const size_t now = PoolOf(*next_table, "k" + std::to_string(k));
          if (where[k] == grow) {
            ASSERT_EQ(now, grow) << "key k" << k << " left growing pool " << grow << " (" << pools
                                 << " pools, step " << step << ")";
          }
          where[k] = now;
        }
        weights = next;
      }
    }
  }
}

}  // namespace
}  // namespace rollout::routing
