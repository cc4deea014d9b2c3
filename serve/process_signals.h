// ProcessSignals: the process-wide setup a server makes before it starts any thread.
// SIGTERM, SIGINT, SIGHUP and SIGUSR1 are blocked, so every thread started later inherits the mask
// and Wait() on the main thread takes them synchronously. SIGPIPE is ignored: OpenSSL
// writes with write(), not send(MSG_NOSIGNAL), and a client leaving mid-handshake would
// otherwise kill the process. The descriptor limit is raised to the hard limit, as Go's
// runtime and nginx's worker_rlimit_nofile do, so connections.max_connections bounds them.
//
//   ProcessSignals signals;                 // first, before any thread
//   ... start everything ...
//   int sig = signals.Wait();  // SIGHUP: reload; SIGUSR1: reopen logs; SIGTERM/SIGINT: drain
//
// Thread-safety: construct once on the main thread; Wait() from that thread.
#ifndef ROLLOUT_SERVE_PROCESS_SIGNALS_H_
#define ROLLOUT_SERVE_PROCESS_SIGNALS_H_

#include <signal.h>

namespace rollout::serve {

class ProcessSignals final {
 public:
  ProcessSignals();
  // The next of SIGTERM, SIGINT, SIGHUP or SIGUSR1.
  int Wait();

 private:
  sigset_t signals_;
};

}  // namespace rollout::serve

#endif  // ROLLOUT_SERVE_PROCESS_SIGNALS_H_
