// The release process end to end with real processes: demo-model-server versions behind a
// real rollout-proxy, driven by rolloutctl. Versions are registered, listed with their
// state and traffic, named by rollouts and the release history, and deactivated for good.
#include <signal.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/cmd/release_fixture.h"

namespace rollout::testing {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;

TEST_F(ReleaseProcessTest, VersionsAreRegisteredNamedByReleasesAndDeactivatedForGood) {
  const std::string digest =
      "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
  std::string out;
  ASSERT_EQ(Ctl({"version", "add", "v1", "--pool", "stable", "--model", "classifier", "--artifact",
                 "file:///models/classifier/1", "--notes", "first model"},
                &out),
            0)
      << out;
  ASSERT_EQ(
      Ctl({"version", "add", "v2", "--pool", "canary", "--model", "classifier", "--artifact",
           "file:///models/classifier/2", "--digest", digest, "--notes", "retrained on May data"},
          &out),
      0)
      << out;
  EXPECT_THAT(out, HasSubstr("registered version v2 on pool canary"));
  EXPECT_EQ(Ctl({"version", "add", "v2", "--pool", "canary"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("ALREADY_EXISTS: version \"v2\" is already registered"));
  EXPECT_EQ(Ctl({"version", "add", "v3", "--pool", "canary", "--digest", "md5:abc"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT: digest:"));
  EXPECT_EQ(Ctl({"version", "add", "v3", "--pool", "nope"}, &out, viewer_), 1);
  EXPECT_THAT(out, HasSubstr("PERMISSION_DENIED"));

  auto versions = Versions();
  ASSERT_EQ(versions.size(), 2u);
  EXPECT_EQ(versions["v1"]["state"], "active");
  EXPECT_EQ(versions["v1"]["shares"][0]["route"], "infer");
  EXPECT_EQ(versions["v2"]["state"], "registered");
  EXPECT_EQ(versions["v2"]["registered_by"], "release-bot");
  EXPECT_EQ(versions["v2"]["digest"], digest);
  EXPECT_EQ(versions["v2"]["notes"], "retrained on May data");
  ASSERT_EQ(Ctl({"version", "list"}, &out, viewer_), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("VERSION"), HasSubstr("infer 100%"), HasSubstr("registered")));

  // A rollout names the versions; the proxy routes to their pools.
  InferenceLoad load(proxy_->address());
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps",
                 "50,100", "--interval", "1s", "--min-requests", "20", "--max-error-rate", "0.05",
                 "--reason", "release v2"},
                &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("canary v1 (pool stable) -> v2 (pool canary)"));
  versions = Versions();
  EXPECT_EQ(versions["v2"]["state"], "candidate");
  EXPECT_EQ(versions["v2"]["last_release_outcome"], "in_progress");
  EXPECT_EQ(Ctl({"version", "deactivate", "v2", "--reason", "too early"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("FAILED_PRECONDITION: version \"v2\" still serves traffic (pool "
                             "canary: route infer sends it 50%)"));
  ASSERT_EQ(Ctl({"rollout", "events", "infer", "--until-done"}, &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("v2 now takes 100%"));
  auto served = load.Take();
  EXPECT_GT(served["canary"][true], 20);

  ASSERT_EQ(Ctl({"history", "infer"}, &out, viewer_), 0) << out;
  EXPECT_THAT(out, HasSubstr("v1 (pool stable) -> v2 (pool canary)  promoted"));
  versions = Versions();
  EXPECT_EQ(versions["v1"]["state"], "inactive");
  EXPECT_EQ(versions["v2"]["state"], "active");
  EXPECT_EQ(versions["v2"]["last_release"], "1");
  EXPECT_EQ(versions["v2"]["last_release_outcome"], "promoted");

  // v1 is retired for good: not a candidate, not given traffic.
  ASSERT_EQ(Ctl({"version", "deactivate", "v1", "--reason", "CVE-2026-1234 in its runtime"}, &out),
            0)
      << out;
  ASSERT_EQ(Ctl({"version", "get", "v1"}, &out, viewer_), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("version v1  (pool stable)  deactivated"),
                         HasSubstr("by release-bot: CVE-2026-1234 in its runtime"),
                         HasSubstr("last release:  #1 promoted (stable)")));
  EXPECT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v2", "--candidate", "v1", "--steps",
                 "50", "--max-error-rate", "0.05"},
                &out),
            1);
  EXPECT_THAT(out, HasSubstr("FAILED_PRECONDITION: candidate: version \"v1\" (pool stable) is "
                             "deactivated by release-bot"));
  EXPECT_EQ(Ctl({"set-weight", "infer", "stable=50", "canary=50", "--reason", "x"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("version \"v1\" (pool stable) is deactivated"));
  load.Take();
  absl::SleepFor(absl::Milliseconds(300));
  served = load.Take();
  EXPECT_EQ(served["stable"][true] + served["stable"][false], 0);
  EXPECT_GT(served["canary"][true], 20);

  // The audit log has each registry change with its actor.
  ASSERT_EQ(Ctl({"audit", "--json"}, &out, viewer_), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("\"AddVersion\""), HasSubstr("\"DeactivateVersion\"")));
}

TEST_F(ReleaseProcessTest, AnIncompatibleCandidateIsRefusedNamingTheTensorBeforeAnyCall) {
  RegisterVersions();
  InferenceLoad load(proxy_->address());
  std::string out;
  EXPECT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v3", "--steps",
                 "50", "--max-error-rate", "0.05", "--reason", "release v3"},
                &out),
            1);
  EXPECT_THAT(out, HasSubstr("FAILED_PRECONDITION: candidate v3 is not compatible with v1: "
                             "input \"input\" shape [-1,5] vs [-1,4] (recorded as release #1, "
                             "aborted)"));
  // The refusal is a release of its own, with the gate's answer and both schemas.
  const nlohmann::json r = Rollout();
  EXPECT_EQ(r["outcome"], "aborted");
  ASSERT_EQ(r["gates"].size(), 1u);
  EXPECT_EQ(r["gates"][0]["name"], "compatibility");
  EXPECT_EQ(r["gates"][0]["state"], "failed");
  const nlohmann::json data = nlohmann::json::parse(r["gates"][0]["data_json"].get<std::string>());
  EXPECT_EQ(data["candidate"]["schema"]["inputs"][0]["shape"], nlohmann::json({-1, 5}));
  EXPECT_EQ(data["stable"]["schema"]["inputs"][0]["shape"], nlohmann::json({-1, 4}));
  ASSERT_EQ(Ctl({"history", "infer"}, &out, viewer_), 0) << out;
  EXPECT_THAT(out, HasSubstr("refused at the compatibility gate"));
  absl::SleepFor(absl::Milliseconds(300));
  auto served = load.Take();
  EXPECT_EQ(served["wide"][true] + served["wide"][false], 0) << "no call reached v3";
  EXPECT_GT(served["stable"][true], 20);

  // A compatible candidate passes, and the gate's answer is in its record.
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps",
                 "50", "--max-error-rate", "0.05", "--reason", "release v2"},
                &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("gates: compatibility passed"));
  EXPECT_EQ(Rollout()["gates"][0]["detail"],
            "candidate v2 is compatible with v1: 1 inputs, 2 outputs agree");
  // Without the gate the same incompatible start goes through (and fails on live calls).
  ASSERT_EQ(Ctl({"rollout", "abort", "infer", "--reason", "next"}, &out), 0) << out;
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v3", "--steps",
                 "50", "--max-error-rate", "0.05", "--compatibility", "none"},
                &out),
            0)
      << out;
  EXPECT_EQ(Rollout()["gates"][0]["state"], "skipped");
}

TEST_F(ReleaseProcessTest, ACandidateThatIsNotReadyHoldsTheStartWithNoTrafficUntilItIs) {
  RegisterVersions();
  v2_.process().Signal(SIGUSR1);  // ServerReady: false
  ASSERT_FALSE(v2_.process().WaitForLine("health NOT_SERVING", absl::Seconds(5)).empty());
  InferenceLoad load(proxy_->address());
  std::string out;
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps",
                 "50", "--interval", "1s", "--min-requests", "20", "--max-error-rate", "0.05"},
                &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("gating"));
  absl::SleepFor(absl::Milliseconds(2500));
  nlohmann::json r = Rollout();
  EXPECT_EQ(r["phase"], "gating");
  EXPECT_EQ(r["gates"][0]["state"], "pending");
  EXPECT_THAT(r["decisions"].back()["detail"].get<std::string>(),
              HasSubstr("hold: at the compatibility gate, no traffic yet: waiting: candidate v2 "
                        "not ready: server"));
  auto served = load.Take();
  EXPECT_EQ(served["canary"][true] + served["canary"][false], 0) << "no traffic while gated";
  EXPECT_EQ(Ctl({"rollout", "promote", "infer"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("is still at its gates"));

  v2_.process().Signal(SIGUSR1);  // ready again: the next try passes
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (Rollout()["phase"] == "gating" && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  r = Rollout();
  EXPECT_EQ(r["phase"], "progressing");
  EXPECT_EQ(r["gates"][0]["state"], "passed");
  load.Take();
  absl::SleepFor(absl::Milliseconds(500));
  served = load.Take();
  EXPECT_GT(served["canary"][true], 20);
}

TEST_F(ReleaseProcessTest, RollbackReturnsInOneStepToWhatAnEarlierReleaseLeftServing) {
  RegisterVersions();
  InferenceLoad load(proxy_->address());
  std::string out;
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--stable", "v1", "--candidate", "v2", "--steps",
                 "100", "--interval", "1s", "--min-requests", "20", "--max-error-rate", "0.05"},
                &out),
            0)
      << out;
  ASSERT_EQ(Ctl({"rollout", "events", "infer", "--until-done"}, &out), 0) << out;  // #1: v2
  auto serves = [&](const std::string& pool) {
    load.Take();
    absl::SleepFor(absl::Milliseconds(400));
    auto served = load.Take();
    return served[pool][true] > 20 && served.size() == 1;
  };
  ASSERT_TRUE(serves("canary"));

  ASSERT_EQ(
      Ctl({"rollback", "infer", "--to-version", "v1", "--reason", "v2 drifts at night"}, &out), 0)
      << out;
  EXPECT_THAT(out, AllOf(HasSubstr("rollout #2 on infer: rollback v2 (pool canary) -> v1 (pool "
                                   "stable), promoted"),
                         HasSubstr("rolled back: v1 takes 100%")));
  EXPECT_TRUE(serves("stable"));
  ASSERT_EQ(Ctl({"rollback", "infer", "--to-release", "1", "--reason", "false alarm"}, &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("back to what release #1 left serving in one step (false alarm)"));
  EXPECT_TRUE(serves("canary"));
  const nlohmann::json r = Rollout();
  EXPECT_EQ(r["strategy"], "rollback");
  EXPECT_EQ(r["rollback_to"], "1");
  EXPECT_EQ(r["gates"][0]["state"], "passed");

  // Refusals: the same version, an incompatible one (recorded), a deactivated one.
  EXPECT_EQ(Ctl({"rollback", "infer", "--to-version", "v2", "--reason", "x"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("serves v2 already"));
  EXPECT_EQ(Ctl({"rollback", "infer", "--to-version", "v3", "--reason", "x"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("candidate v3 is not compatible with v2: input \"input\" shape"));
  ASSERT_EQ(Ctl({"version", "deactivate", "v1", "--reason", "CVE"}, &out), 0) << out;
  EXPECT_EQ(Ctl({"rollback", "infer", "--to-release", "2", "--reason", "x"}, &out), 1);
  EXPECT_THAT(out, HasSubstr("FAILED_PRECONDITION: rollback candidate: version \"v1\" (pool "
                             "stable) is deactivated"));
  EXPECT_EQ(Ctl({"rollback", "infer", "--reason", "x"}, &out), 2);  // neither target given
  EXPECT_TRUE(serves("canary"));
  ASSERT_EQ(Ctl({"history", "infer"}, &out, viewer_), 0) << out;
  EXPECT_THAT(out, AllOf(HasSubstr("#3    infer      rollback"),
                         HasSubstr("refused at the compatibility gate")));
}

TEST_F(ReleaseProcessTest, AScheduledStartAndAClosedWindowKeepTheCandidateAtZeroUntilTheirTime) {
  InferenceLoad load(proxy_->address());
  const std::string start_at =
      absl::FormatTime(absl::RFC3339_sec, absl::Now() + absl::Seconds(3), absl::UTCTimeZone());
  std::string out;
  ASSERT_EQ(Ctl({"rollout", "start", "infer", "--stable", "stable", "--candidate", "canary",
                 "--steps", "50", "--interval", "1h", "--min-requests", "20", "--max-error-rate",
                 "0.05", "--start-at", start_at, "--reason", "tonight"},
                &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("scheduled"));
  absl::SleepFor(absl::Milliseconds(1500));
  EXPECT_EQ(Rollout()["phase"], "scheduled");
  auto served = load.Take();
  EXPECT_EQ(served["canary"][true] + served["canary"][false], 0) << "nothing before its time";
  const absl::Time give_up = absl::Now() + absl::Seconds(10);
  while (Rollout()["phase"] == "scheduled" && absl::Now() < give_up) {
    absl::SleepFor(absl::Milliseconds(200));
  }
  EXPECT_EQ(Rollout()["start_at"], start_at.substr(0, 19) + "+00:00");
  ASSERT_NE(Rollout()["phase"], "scheduled");
  load.Take();
  absl::SleepFor(absl::Milliseconds(500));
  EXPECT_GT(load.Take()["canary"][true], 20) << "step 1 once the time came";
  ASSERT_EQ(Ctl({"rollout", "abort", "infer", "--reason", "next test"}, &out), 0) << out;

  // A window that opens in two hours: the rollout waits there, and abort works at any time.
  const int hour = absl::ToCivilHour(absl::Now(), absl::UTCTimeZone()).hour();
  const std::string window =
      absl::StrFormat("all %02d:00-%02d:00 UTC", (hour + 2) % 24, (hour + 3) % 24);
  ASSERT_EQ(
      Ctl({"rollout", "start", "infer", "--stable", "stable", "--candidate", "canary", "--steps",
           "50", "--interval", "1s", "--max-error-rate", "0.05", "--window", window},
          &out),
      0)
      << out;
  nlohmann::json r = Rollout();
  EXPECT_EQ(r["phase"], "waiting_for_window");
  EXPECT_EQ(r["window"], window);
  load.Take();
  absl::SleepFor(absl::Milliseconds(1500));
  served = load.Take();
  EXPECT_EQ(served["canary"][true] + served["canary"][false], 0) << "no traffic outside it";
  ASSERT_EQ(Ctl({"rollout", "abort", "infer", "--reason", "not tonight"}, &out), 0) << out;
  EXPECT_EQ(Rollout()["outcome"], "aborted");
  EXPECT_EQ(Ctl({"rollout", "start", "infer", "--stable", "stable", "--candidate", "canary",
                 "--steps", "50", "--max-error-rate", "0.05", "--window", "weekdays 2-6"},
                &out),
            1);
  EXPECT_THAT(out, HasSubstr("INVALID_ARGUMENT: window.days: \"weekdays\""));
}

}  // namespace
}  // namespace rollout::testing
