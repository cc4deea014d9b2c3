// Controller::Create: opening the backend the config names, and the state to start from.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "base/status_macros.h"
#include "control/controller.h"
#include "state/etcd_store.h"
#include "state/file_backend.h"

namespace rollout::control {
namespace {

absl::StatusOr<std::unique_ptr<StateBackend>> OpenBackend(const Config& config) {
  if (config.etcd.has_value()) {
    EtcdClient::Options options;
    options.endpoints = config.etcd->endpoints;
    options.tls = config.etcd->tls;
    auto store = EtcdStore::Connect(std::move(options), config.etcd->prefix);
    if (!store.ok()) return store.status();
    return std::unique_ptr<StateBackend>(*std::move(store));
  }
  auto files = FileBackend::Open(config.state_dir);
  if (!files.ok()) return files.status();
  return std::unique_ptr<StateBackend>(*std::move(files));
}

}  // namespace

absl::StatusOr<std::pair<PersistedState, std::shared_ptr<const routing::RoutingTable>>>
Controller::StartState(const Config& config, StateBackend* backend,
                       std::vector<std::string>* notes) {
  PersistedState state;
  std::optional<AuditEntry> reset;
  absl::StatusOr<std::optional<PersistedState>> loaded = backend->Load();
  if (loaded.ok() && loaded->has_value()) {
    state = **loaded;
    notes->push_back(absl::StrCat("restored generation ", state.generation, " with ",
                                  state.overrides.size(), " route(s) weighted by the API from ",
                                  backend->where()));
  } else if (!loaded.ok() && loaded.status().code() == absl::StatusCode::kDataLoss) {
    // Safe fallback: keep the bad state for inspection, start from the config's weights,
    // and say so loudly (stderr and audit log). Never silently.
    absl::StatusOr<std::string> moved = backend->Quarantine();
    if (!moved.ok()) return moved.status();
    notes->push_back(absl::StrCat("WARNING: ", loaded.status().message(), "; moved it to ", *moved,
                                  " and started from the config file's weights"));
    reset = AuditEntry{absl::Now(),
                       "rollout-proxy",
                       "StateReset",
                       "",
                       nullptr,
                       nullptr,
                       std::string(loaded.status().message()),
                       0};
  } else if (!loaded.ok()) {
    return loaded.status();
  }
  const std::string as_loaded = StateToJson(state);
  for (std::string& note : Reconcile(config, &state.overrides, state.held_routes)) {
    notes->push_back(std::move(note));
  }
  // The generation moves only when the table does: a plain restart keeps it, so a client's
  // compare-and-set still holds; a file edited while the proxy was down moves it.
  auto table = Build(config, state.overrides, state.generation + 1);
  if (!table.ok()) return table.status();
  const std::string fingerprint = TableFingerprint(**table);
  if (state.generation == 0 || fingerprint != state.table_fingerprint) {
    state.generation += 1;
    state.table_fingerprint = fingerprint;
  } else {
    table = Build(config, state.overrides, state.generation);
    if (!table.ok()) return table.status();
  }
  if (StateToJson(state) != as_loaded || reset.has_value()) {
    if (reset.has_value()) reset->generation = state.generation;
    RETURN_IF_ERROR(backend->Commit(&state, reset.has_value() ? &*reset : nullptr));
  }
  return std::make_pair(std::move(state), *std::move(table));
}

absl::StatusOr<std::unique_ptr<Controller>> Controller::Create(
    Config config, std::unique_ptr<StateBackend> backend) {
  if (backend == nullptr) {
    auto opened = OpenBackend(config);
    if (!opened.ok()) return opened.status();
    backend = *std::move(opened);
  }
  std::vector<std::string> notes;
  if (backend->audit().skipped_lines() > 0) {
    notes.push_back(absl::StrCat(config.state_dir, "/audit.log: skipped ",
                                 backend->audit().skipped_lines(), " unreadable line(s)"));
  }
  if (!backend->durable()) {
    notes.push_back("no state_dir: weights set through the API are lost on restart");
  }
  // Replicas starting together race to write the first state; the losers read it and
  // start from there.
  constexpr int kAttempts = 8;
  absl::StatusOr<std::pair<PersistedState, std::shared_ptr<const routing::RoutingTable>>> start;
  for (int attempt = 1; attempt <= kAttempts; ++attempt) {
    std::vector<std::string> tried;
    start = StartState(config, backend.get(), &tried);
    if (start.ok() || !IsStoreConflict(start.status()) || attempt == kAttempts) {
      notes.insert(notes.end(), tried.begin(), tried.end());
      break;
    }
  }
  if (!start.ok()) return start.status();
  std::unique_ptr<Controller> controller(new Controller(
      std::move(config), std::move(start->second), std::move(start->first), std::move(backend)));
  controller->startup_notes_ = std::move(notes);
  return controller;
}

}  // namespace rollout::control
