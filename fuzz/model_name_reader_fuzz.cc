// libFuzzer target: the model-name wire reader, which sees a client's first message before
// anything else has checked it. It must never read past the bytes it is given (ASan
// watches), and a name it returns must lie inside them.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>

#include "routing/model_name_reader.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const bool complete = data[0] & 1;
  // A copy of exactly the rest, so that ASan sees any read past its end.
  std::unique_ptr<char[]> bytes(new char[size - 1]);
  for (size_t i = 1; i < size; ++i) bytes[i - 1] = static_cast<char>(data[i]);
  const absl::string_view input(bytes.get(), size - 1);
  absl::StatusOr<absl::string_view> name = rollout::routing::ReadModelName(input, complete);
  if (name.ok() && !name->empty() &&
      (name->data() < input.data() || name->data() + name->size() > input.data() + input.size())) {
    std::abort();
  }
  return 0;
}
