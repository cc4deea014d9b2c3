#include "proxy/metadata_filter.h"

#include "gtest/gtest.h"

namespace rollout::proxy {
namespace {

TEST(MetadataFilterTest, HopByHopKeysAreDropped) {
  for (const char* key :
       {"user-agent", "te", "content-type", "grpc-timeout", "grpc-encoding", "grpc-accept-encoding",
        "grpc-previous-rpc-attempts", ":authority", "connection", "host"}) {
    EXPECT_TRUE(IsHopByHopKey(key)) << key;
  }
}

TEST(MetadataFilterTest, ApplicationAndTracingKeysPass) {
  for (const char* key : {"x-user-id", "authorization", "x-rollout-pool", "trace-bin",
                          "grpc-trace-bin", "grpc-tags-bin", "traceparent"}) {
    EXPECT_FALSE(IsHopByHopKey(key)) << key;
  }
}

TEST(MetadataFilterTest, StatusTrailersTravelInTheStatus) {
  EXPECT_TRUE(IsStatusTrailerKey("grpc-status"));
  EXPECT_TRUE(IsStatusTrailerKey("grpc-message"));
  EXPECT_TRUE(IsStatusTrailerKey("grpc-status-details-bin"));
  EXPECT_FALSE(IsStatusTrailerKey("x-backend"));
}

}  // namespace
}  // namespace rollout::proxy
