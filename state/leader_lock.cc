#include "state/leader_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fstream>
#include <sstream>

namespace rollout::control {

LeaderLock::LeaderLock(std::string dir, std::string me)
    : path_(dir + "/leader.lock"), me_(std::move(me)) {}

LeaderLock::~LeaderLock() {
  if (fd_ >= 0) close(fd_);  // releases the lock
}

bool LeaderLock::TryAcquire() {
  if (held_) return true;
  if (fd_ < 0) fd_ = open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0640);
  if (fd_ < 0) return false;
  if (flock(fd_, LOCK_EX | LOCK_NB) != 0) return false;
  held_ = true;
  const std::string text = me_ + "\n";
  if (ftruncate(fd_, 0) == 0) (void)!pwrite(fd_, text.data(), text.size(), 0);
  fsync(fd_);
  return true;
}

std::string LeaderLock::Holder() const {
  std::ifstream in(path_);
  std::string line;
  std::getline(in, line);
  return line;
}

}  // namespace rollout::control
