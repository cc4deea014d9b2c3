#include "routing/model_name_reader.h"

#include <random>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "inference/grpc_predict_v2.pb.h"

namespace rollout::routing {
namespace {

using ::testing::HasSubstr;

std::string Request(const std::string& model, int inputs = 1) {
  inference::ModelInferRequest r;
  r.set_model_name(model);
  r.set_id("id-7");
  for (int i = 0; i < inputs; ++i) {
    auto* in = r.add_inputs();
    in->set_name("input");
    in->set_datatype("FP32");
    in->add_shape(1);
    in->add_shape(4);
    r.add_raw_input_contents(std::string(16, 'x'));
  }
  return r.SerializeAsString();
}

TEST(ModelNameReaderTest, ReadsTheModelNameOfRealRequests) {
  for (const std::string& model :
       {std::string("resnet"), std::string("a"), std::string(200, 'm'), std::string(1024, 'z')}) {
    const std::string bytes = Request(model);
    auto read = ReadModelName(bytes, /*complete=*/true);
    ASSERT_TRUE(read.ok()) << read.status();
    EXPECT_EQ(*read, model);
    // The prefix alone is enough.
    auto prefix = ReadModelName(absl::string_view(bytes).substr(0, kModelNamePrefixBytes), false);
    ASSERT_TRUE(prefix.ok());
    EXPECT_EQ(*prefix, model);
  }
}

TEST(ModelNameReaderTest, NoModelNameIsEmptyNotAnError) {
  EXPECT_EQ(*ReadModelName(Request(""), true), "");  // proto3 omits the empty string
  EXPECT_EQ(*ReadModelName("", true), "");
  inference::ModelInferRequest only_id;
  only_id.set_id("x");
  EXPECT_EQ(*ReadModelName(only_id.SerializeAsString(), true), "");
}

TEST(ModelNameReaderTest, MalformedBytesAreInvalidArgument) {
  struct Case {
    std::string bytes;
    std::string message;
  };
  for (const Case& c : std::vector<Case>{
           {std::string("\x0a\x05res", 5), "runs past the end"},
           {std::string("\x0a", 1), "truncated length"},
           {std::string("\x0a\xff", 2), "truncated length"},
           {std::string("\x08\x01", 2), "wire type 0"},
           {std::string("\x00\x01", 2), "field number 0"},
           {std::string("\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff", 11), "overlong field tag"},
           {std::string("\x0a\x81\x08", 3) + std::string(1025, 'a'), "at most 1024"},
       }) {
    auto read = ReadModelName(c.bytes, /*complete=*/true);
    ASSERT_FALSE(read.ok()) << c.message;
    EXPECT_EQ(read.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(read.status().message(), HasSubstr(c.message));
  }
}

// Fuzz: random bytes, and valid requests with random mutations and truncations. The reader
// must never crash or read outside its input, and a name it returns lies inside the input.
TEST(ModelNameReaderTest, FuzzNeverOverReads) {
  std::mt19937_64 rng(20261127);
  const std::string valid = Request("resnet-50", 2);
  for (int i = 0; i < 200000; ++i) {
    std::string bytes;
    if (i % 2 == 0) {
      bytes.resize(rng() % 24);
      for (char& c : bytes) c = static_cast<char>(rng());
    } else {
      bytes = valid.substr(0, rng() % (valid.size() + 1));
      for (int m = rng() % 4; m > 0 && !bytes.empty(); --m) {
        bytes[rng() % bytes.size()] = static_cast<char>(rng());
      }
    }
    // A heap copy of exactly the input's size, so that ASan would catch any over-read.
    std::unique_ptr<char[]> exact(new char[bytes.size() + 1]);
    std::memcpy(exact.get(), bytes.data(), bytes.size());
    const absl::string_view view(exact.get(), bytes.size());
    auto read = ReadModelName(view, /*complete=*/true);
    if (read.ok() && !read->empty()) {
      ASSERT_GE(read->data(), view.data());
      ASSERT_LE(read->data() + read->size(), view.data() + view.size());
      ASSERT_LE(read->size(), kMaxModelNameBytes);
    }
  }
}

}  // namespace
}  // namespace rollout::routing
