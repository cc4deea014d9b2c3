// The dashboard's files (dashboard/web/), compiled into the binary by CMake
// (dashboard/embed_assets.cmake), so the proxy serves every byte of its page itself.
//
// Thread-safety: constants.
#ifndef ROLLOUT_DASHBOARD_ASSETS_H_
#define ROLLOUT_DASHBOARD_ASSETS_H_

#include <cstddef>

namespace rollout::dashboard {

struct Asset {
  const char* path;  // "/app.js"; the page itself is "/index.html"
  const char* content_type;
  const unsigned char* data;
  size_t size;
};

extern const Asset kAssets[];
extern const size_t kNumAssets;

}  // namespace rollout::dashboard

#endif  // ROLLOUT_DASHBOARD_ASSETS_H_
