// GGUF and safetensors parsers: round trips of files the writers produce, and bad files refused
// with a clear error (truncation at every length, offsets out of range, absurd dimensions,
// unknown quantization types, bad headers).
#include <gtest/gtest.h>

#include <cstring>

#include "common/error.h"
#include "cpu/quant.h"
#include "model/gguf.h"
#include "model/safetensors.h"
#include "model_writers.h"

using namespace ol;
using namespace ol::tools;

namespace {

std::vector<uint8_t> sample_gguf(DType t = DType::Q4_0) {
  std::vector<float> v(2 * 64);
  for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<float>(i % 17) - 8.0f;
  return gguf_bytes({{"general.architecture", gguf_string("llama")}, {"llama.block_count", gguf_u32(3)},
                     {"tokenizer.ggml.tokens", gguf_strings({"a", "b"})}},
                    {make_tensor("w", {2, 64}, t, v), make_tensor("n", {64}, DType::F32, std::vector<float>(64, 1.0f))});
}

std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    parse_gguf(bytes.data(), bytes.size());
  } catch (const Error& e) {
    EXPECT_EQ(e.status(), OL_ERR_BAD_FILE);
    return e.what();
  }
  return "";
}

// Offset in the file of the first tensor-info record's name "w" (after the metadata).
size_t tensor_info_offset(const std::vector<uint8_t>& b) {
  const char pattern[] = {1, 0, 0, 0, 0, 0, 0, 0, 'w'};
  for (size_t i = 0; i + sizeof pattern <= b.size(); ++i)
    if (std::memcmp(&b[i], pattern, sizeof pattern) == 0) return i;
  return 0;
}

}  // namespace

TEST(Gguf, RoundTrip) {
  const auto bytes = sample_gguf();
  const GgufFile f = parse_gguf(bytes.data(), bytes.size());
  EXPECT_EQ(f.version, 3u);
  EXPECT_EQ(f.string("general.architecture"), "llama");
  EXPECT_EQ(f.number("llama.block_count"), 3.0);
  ASSERT_EQ(f.tensors.size(), 2u);
  const GgufTensorInfo* w = f.find_tensor("w");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->dtype, DType::Q4_0);
  EXPECT_EQ(w->dims, (std::vector<int64_t>{64, 2}));
  float row[64];
  dequantize_row(DType::Q4_0, w->data, row, 64);
  EXPECT_NEAR(row[3], -5.0f, 0.6f);
  EXPECT_THROW(f.number("general.architecture"), Error);
}

TEST(Gguf, TruncatedAnywhereIsRefused) {
  const auto bytes = sample_gguf();
  for (size_t len = 0; len < bytes.size(); len += 7) {
    std::vector<uint8_t> cut(bytes.begin(), bytes.begin() + static_cast<long>(len));
    EXPECT_FALSE(error_of(cut).empty()) << len;
  }
}

TEST(Gguf, BadHeaderFieldsAreRefusedWithTheirReason) {
  auto bytes = sample_gguf();
  bytes[0] = 'X';
  EXPECT_NE(error_of(bytes).find("magic"), std::string::npos);

  bytes = sample_gguf();
  const uint64_t huge = uint64_t{1} << 60;
  std::memcpy(&bytes[8], &huge, 8);  // tensor count
  EXPECT_NE(error_of(bytes).find("tensor count"), std::string::npos);

  // Tensor record: name(8+1) n_dims(4) dims(2x8) type(4) offset(8).
  const size_t rec = tensor_info_offset(sample_gguf());
  ASSERT_GT(rec, 0u);
  bytes = sample_gguf();
  std::memcpy(&bytes[rec + 9 + 4], &huge, 8);
  EXPECT_NE(error_of(bytes).find("absurd dimension"), std::string::npos);

  bytes = sample_gguf();
  const uint32_t bad_type = 77;
  std::memcpy(&bytes[rec + 9 + 4 + 16], &bad_type, 4);
  EXPECT_NE(error_of(bytes).find("unknown or unsupported quantization type 77"), std::string::npos);

  bytes = sample_gguf();
  const uint64_t far = uint64_t{1} << 20;
  std::memcpy(&bytes[rec + 9 + 4 + 16 + 4], &far, 8);
  EXPECT_NE(error_of(bytes).find("outside the file"), std::string::npos);

  bytes = sample_gguf();
  const uint32_t rank = 9;
  std::memcpy(&bytes[rec + 9], &rank, 4);
  EXPECT_NE(error_of(bytes).find("rank"), std::string::npos);
}

TEST(Gguf, RowLengthMustFitTheBlockSize) {
  std::vector<float> v(40, 1.0f);
  NamedTensor t = make_tensor("w", {1, 32}, DType::Q4_0, std::vector<float>(32, 1.0f));
  t.shape = {1, 40};  // claims 40 elements per row: not a whole number of Q4_0 blocks
  const auto bytes = gguf_bytes({}, {t});
  EXPECT_NE(error_of(bytes).find("block size"), std::string::npos);
}

TEST(Safetensors, RoundTripAndBadFiles) {
  std::vector<float> v{1, 2, 3, 4, 5, 6};
  auto bytes = safetensors_bytes({make_tensor("a.weight", {2, 3}, DType::F32, v), make_tensor("b", {3}, DType::BF16, {1, 2, 3})});
  const SafetensorsFile f = parse_safetensors(bytes.data(), bytes.size());
  ASSERT_NE(f.find("a.weight"), nullptr);
  EXPECT_EQ(f.find("a.weight")->shape, (std::vector<int64_t>{2, 3}));
  float got[6];
  std::memcpy(got, f.find("a.weight")->data, sizeof got);
  EXPECT_EQ(got[5], 6.0f);

  auto refuse = [](std::vector<uint8_t> b, const char* reason) {
    try {
      parse_safetensors(b.data(), b.size());
      ADD_FAILURE() << "accepted: " << reason;
    } catch (const Error& e) {
      EXPECT_EQ(e.status(), OL_ERR_BAD_FILE);
      EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
    }
  };
  for (size_t len = 0; len < bytes.size(); len += 5)
    EXPECT_THROW(parse_safetensors(bytes.data(), len), Error) << len;
  auto patch = [&](const std::string& from, const std::string& to) {
    std::string s(bytes.begin(), bytes.end());
    s.replace(s.find(from), from.size(), to);
    return std::vector<uint8_t>(s.begin(), s.end());
  };
  refuse(patch("\"F32\"", "\"I64\""), "unsupported dtype I64");
  refuse(patch("[2,3]", "[2,4]"), "does not match");
  refuse(patch("[2,3]", "[0,3]"), "absurd shape");
  refuse(patch("\"data_offsets\":[0,", "\"data_offsets\":[9,"), "does not match");
  refuse(patch("{\"a.weight\"", "[\"a.weight\""), "invalid JSON");
}
