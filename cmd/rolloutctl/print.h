// How rolloutctl prints the admin API's answers for people: routes with their traffic,
// pools with their endpoints' health, rollouts and their decisions. (--json prints the
// messages themselves, through Client::PrintJson.)
//
// Thread-safety: plain functions.
#ifndef ROLLOUT_CMD_ROLLOUTCTL_PRINT_H_
#define ROLLOUT_CMD_ROLLOUTCTL_PRINT_H_

#include <string>

#include "rollout/admin/v1/admin.grpc.pb.h"

namespace rollout::ctl {

namespace v1 = ::rollout::admin::v1;

// One pool's traffic in a route's window, as people read it.
struct Traffic {
  bool known = false;
  double rps = 0;
  double error_percent = 0;  // server errors over answered (not cancelled) calls
  double p50_ms = 0, p99_ms = 0;
};
Traffic TrafficOf(const v1::Route& route, const std::string& pool);

void PrintRoutes(const google::protobuf::RepeatedPtrField<v1::Route>& routes);
void PrintPools(const google::protobuf::RepeatedPtrField<v1::Pool>& pools);
// An RFC 3339 time from the API as people read it: local time, to the second. `format`
// is absl::FormatTime's.
std::string Local(const std::string& rfc3339, const char* format = "%Y-%m-%d %H:%M:%S");
// A rollout's side as people read it: "v2 (pool canary)" for a registered version on a
// pool of another name, else the one name.
std::string StableName(const v1::Rollout& r);
std::string CandidateName(const v1::Rollout& r);
// One line per decision.
void PrintDecision(const v1::Decision& d);
void PrintRollout(const v1::Rollout& r);

}  // namespace rollout::ctl

#endif  // ROLLOUT_CMD_ROLLOUTCTL_PRINT_H_
