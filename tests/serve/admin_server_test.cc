#include "serve/admin_server.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/support/echo_backend.h"

namespace rollout::serve {
namespace {

using ::testing::HasSubstr;

// Any service will do: the server only listens and dispatches.
class Echo final : public rollout::testing::Echo::Service {};

TEST(AdminServerTest, ItListensOnAFreePortAndRefusesATakenOneByName) {
  Echo service;
  control::AdminConfig admin;
  admin.listen = "127.0.0.1:0";
  auto first = AdminServer::Start(admin, &service);
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_GT((*first)->port(), 0);

  Echo other;
  admin.listen = "127.0.0.1:" + std::to_string((*first)->port());
  auto second = AdminServer::Start(admin, &other);
  ASSERT_FALSE(second.ok());
  EXPECT_THAT(std::string(second.status().message()),
              HasSubstr("cannot listen on " + admin.listen + " (admin.listen)"));
}

}  // namespace
}  // namespace rollout::serve
