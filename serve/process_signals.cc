#include "serve/process_signals.h"

#include <pthread.h>
#include <sys/resource.h>

namespace rollout::serve {

ProcessSignals::ProcessSignals() {
  sigemptyset(&signals_);
  sigaddset(&signals_, SIGTERM);
  sigaddset(&signals_, SIGINT);
  sigaddset(&signals_, SIGHUP);
  sigaddset(&signals_, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals_, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (rlimit nofile{};
      getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    setrlimit(RLIMIT_NOFILE, &nofile);
  }
}

int ProcessSignals::Wait() {
  for (;;) {
    int sig = 0;
    if (sigwait(&signals_, &sig) == 0) return sig;
  }
}

}  // namespace rollout::serve
