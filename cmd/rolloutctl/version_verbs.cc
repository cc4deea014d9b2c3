// The verbs of `version`: add, list, get and deactivate (the version registry); and
// `rollback`, back to an earlier release or version.
#include <cstdio>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cmd/rolloutctl/print.h"
#include "cmd/rolloutctl/verbs.h"

namespace rollout::ctl {
namespace {

// "infer 25%, search 100%", or "-".
std::string Shares(const v1::Version& v) {
  std::vector<std::string> out;
  for (const v1::RouteShare& s : v.shares()) {
    out.push_back(absl::StrCat(s.route(), " ", absl::SixDigits(100 * s.share()), "%"));
  }
  return out.empty() ? "-" : absl::StrJoin(out, ", ");
}

std::string LastRelease(const v1::Version& v) {
  if (v.last_release() == 0) return "-";
  return absl::StrCat("#", v.last_release(), " ", v.last_release_outcome(), " (",
                      v.last_release_role(), ")");
}

void PrintVersionTable(const google::protobuf::RepeatedPtrField<v1::Version>& versions) {
  std::printf("%-12s %-12s %-12s %-20s %-26s %-20s %s\n", "VERSION", "POOL", "STATE", "TRAFFIC",
              "LAST RELEASE", "REGISTERED", "BY");
  for (const v1::Version& v : versions) {
    std::printf("%-12s %-12s %-12s %-20s %-26s %-20s %s\n", v.name().c_str(), v.pool().c_str(),
                v.state().c_str(), Shares(v).c_str(), LastRelease(v).c_str(),
                Local(v.registered_time()).c_str(), v.registered_by().c_str());
  }
}

void PrintVersion(const v1::Version& v) {
  std::printf("version %s  (pool %s)  %s\n", v.name().c_str(), v.pool().c_str(), v.state().c_str());
  auto line = [](const char* label, const std::string& value) {
    if (!value.empty()) std::printf("  %-14s %s\n", label, value.c_str());
  };
  line("traffic:", Shares(v));
  line("model:", v.model() + (v.model_version().empty() ? "" : " version " + v.model_version()));
  line("artifact:", v.artifact());
  line("digest:", v.digest());
  line("notes:", v.notes());
  line("registered:", absl::StrCat(Local(v.registered_time()), " by ", v.registered_by()));
  if (!v.first_served_time().empty()) line("first served:", Local(v.first_served_time()));
  if (v.last_release() != 0) {
    line("last release:", absl::StrCat(LastRelease(v), v.last_release_reason().empty() ? "" : ": ",
                                       v.last_release_reason()));
  }
  if (!v.deactivated_time().empty()) {
    line("deactivated:", absl::StrCat(Local(v.deactivated_time()), " by ", v.deactivated_by(), ": ",
                                      v.deactivated_reason()));
  }
}

int Add(Client& client, const Args& a) {
  const VersionFlags& f = a.version;
  v1::AddVersionRequest request;
  request.set_name(f.name);
  request.set_pool(f.pool);
  request.set_model(f.model);
  request.set_model_version(f.model_version);
  request.set_artifact(f.artifact);
  request.set_digest(f.digest);
  request.set_notes(f.notes);
  request.set_reason(a.reason);
  return Call(client, &v1::AdminService::Stub::AddVersion, request, [](const v1::Version& v) {
    std::printf("registered version %s on pool %s\n", v.name().c_str(), v.pool().c_str());
  });
}

int List(Client& client, const Args&) {
  return Call(client, &v1::AdminService::Stub::ListVersions, v1::ListVersionsRequest(),
              [](const v1::ListVersionsResponse& response) {
                if (response.versions_size() == 0) {
                  std::printf("no versions registered (rolloutctl version add --help)\n");
                  return;
                }
                PrintVersionTable(response.versions());
              });
}

int Get(Client& client, const Args& a) {
  v1::GetVersionRequest request;
  request.set_name(a.version.name);
  return Call(client, &v1::AdminService::Stub::GetVersion, request, PrintVersion);
}

int Deactivate(Client& client, const Args& a) {
  v1::DeactivateVersionRequest request;
  request.set_name(a.version.name);
  request.set_reason(a.reason);
  return Call(client, &v1::AdminService::Stub::DeactivateVersion, request,
              [](const v1::Version& v) {
                std::printf("deactivated version %s: %s\n", v.name().c_str(),
                            v.deactivated_reason().c_str());
              });
}

int Rollback(Client& client, const Args& a) {
  if ((a.to_release == 0) == a.to_version.empty()) {
    std::fprintf(stderr, "rolloutctl: rollback: give one of --to-release N or --to-version V\n");
    return kUsage;
  }
  v1::RollbackRequest request;
  request.set_route(a.route);
  request.set_to_release(a.to_release);
  request.set_to_version(a.to_version);
  request.set_reason(a.reason);
  return Call(client, &v1::AdminService::Stub::Rollback, request, PrintRollout);
}

}  // namespace

std::vector<Verb> VersionVerbs() {
  return {
      {"version", "register and retire model versions", "rolloutctl version list", nullptr,
       nullptr},
      {"version add", "register a version: a pool and what it serves",
       "rolloutctl version add v2 --pool canary --model clf --model-version 2 "
       "--artifact s3://models/clf/2 --digest sha256:<64 hex> --notes \"retrained on May data\"",
       [](CLI::App* cmd, Args* a) {
         VersionFlags* f = &a->version;
         cmd->add_option("name", f->name, "the version's name, never reused")->required();
         cmd->add_option("--pool", f->pool, "the pool whose endpoints serve it")->required();
         cmd->add_option("--model", f->model, "the model's name on its servers");
         cmd->add_option("--model-version", f->model_version, "the model's version there");
         cmd->add_option("--artifact", f->artifact, "where the model came from (a URI)");
         cmd->add_option("--digest", f->digest, "sha256:<64 hex> of the artifact");
         cmd->add_option("--notes", f->notes, "release notes");
         cmd->add_option("--reason", a->reason, "why (recorded in the audit log)");
       },
       Add},
      {"version list", "every version: pool, state, traffic share, last release",
       "rolloutctl version list --json", [](CLI::App*, Args*) {}, List},
      {"version get", "one version in full", "rolloutctl version get v2",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("name", a->version.name, "version name")->required();
       },
       Get},
      {"version deactivate", "retire a version for good (refused while it serves traffic)",
       "rolloutctl version deactivate v2 --reason \"CVE-2026-1234 in its runtime\"",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("name", a->version.name, "version name")->required();
         cmd->add_option("--reason", a->reason, "why (recorded in the audit log)")->required();
       },
       Deactivate},
      {"rollback", "back, in one step, to what an earlier release left serving",
       "rolloutctl rollback infer --to-release 1 --reason \"v3 drifts on night traffic\"",
       [](CLI::App* cmd, Args* a) {
         cmd->add_option("route", a->route, "route name")->required();
         cmd->add_option("--to-release", a->to_release, "the release whose end to restore");
         cmd->add_option("--to-version", a->to_version, "or a version (or pool) to return to");
         cmd->add_option("--reason", a->reason, "why (recorded in the audit log)")->required();
       },
       Rollback},
  };
}

}  // namespace rollout::ctl
