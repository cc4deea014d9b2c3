#include "tests/support/http_receiver.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

namespace rollout::testing {

HttpReceiver::HttpReceiver(int fail_first) : fail_first_(fail_first) {
  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  listen(listen_fd_, 16);
  socklen_t len = sizeof(addr);
  getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this] { Serve(); });
}

HttpReceiver::~HttpReceiver() {
  stop_ = true;
  thread_.join();
  close(listen_fd_);
}

void HttpReceiver::Serve() {
  while (!stop_) {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;
    std::string data;
    char buf[4096];
    size_t header_end = std::string::npos;
    size_t length = 0;
    while (true) {
      pollfd c{fd, POLLIN, 0};
      if (poll(&c, 1, 2000) <= 0) break;
      const ssize_t n = read(fd, buf, sizeof(buf));
      if (n <= 0) break;
      data.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos) {
        header_end = data.find("\r\n\r\n");
        if (header_end == std::string::npos) continue;
        const char* cl = strcasestr(data.c_str(), "content-length:");
        length = cl == nullptr ? 0 : std::strtoul(cl + 15, nullptr, 10);
      }
      if (data.size() >= header_end + 4 + length) break;
    }
    const bool fail = requests_.fetch_add(1) < fail_first_;
    std::string body;
    {
      std::lock_guard<std::mutex> lock(mu_);
      body = reply_;
    }
    const std::string reply =
        fail ? "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\n"
               "Connection: close\r\n\r\n"
             : "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                   std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
    (void)!write(fd, reply.data(), reply.size());
    close(fd);
    if (!fail && header_end != std::string::npos) {
      std::lock_guard<std::mutex> lock(mu_);
      bodies_.push_back(data.substr(header_end + 4));
      cv_.notify_all();
    }
  }
}

std::vector<std::string> HttpReceiver::WaitFor(size_t n, absl::Duration timeout) {
  std::unique_lock<std::mutex> lock(mu_);
  cv_.wait_for(lock, absl::ToChronoNanoseconds(timeout), [&] { return bodies_.size() >= n; });
  return bodies_;
}

}  // namespace rollout::testing
