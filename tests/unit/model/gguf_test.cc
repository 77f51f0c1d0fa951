#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace mlxs {
namespace {

// Builds small GGUF images by hand so every failure path can be reached.
class Bytes {
 public:
  template <typename T>
  Bytes& put(T v) {
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    buf.insert(buf.end(), p, p + sizeof(T));
    return *this;
  }
  Bytes& str(const std::string& s) {
    put<uint64_t>(s.size());
    buf.insert(buf.end(), s.begin(), s.end());
    return *this;
  }
  Bytes& pad_to(size_t align) {
    while (buf.size() % align) buf.push_back(0);
    return *this;
  }
  std::vector<uint8_t> buf;
};

Bytes header(uint64_t n_tensors, uint64_t n_kv, uint32_t version = 3) {
  Bytes b;
  b.put<uint32_t>(0x46554747).put<uint32_t>(version).put<uint64_t>(n_tensors).put<uint64_t>(n_kv);
  return b;
}

Result<std::shared_ptr<GgufFile>> parse(const Bytes& b) {
  return GgufFile::parse(b.buf.data(), b.buf.size(), "test.gguf");
}

TEST(Gguf, ReadsEveryMetadataType) {
  Bytes b = header(0, 13);
  b.str("u8").put<uint32_t>(0).put<uint8_t>(200);
  b.str("i8").put<uint32_t>(1).put<int8_t>(-5);
  b.str("u16").put<uint32_t>(2).put<uint16_t>(60000);
  b.str("i16").put<uint32_t>(3).put<int16_t>(-300);
  b.str("u32").put<uint32_t>(4).put<uint32_t>(4000000000u);
  b.str("i32").put<uint32_t>(5).put<int32_t>(-70000);
  b.str("f32").put<uint32_t>(6).put<float>(1.5f);
  b.str("bool").put<uint32_t>(7).put<uint8_t>(1);
  b.str("s").put<uint32_t>(8).str("héllo");
  b.str("arr").put<uint32_t>(9).put<uint32_t>(8).put<uint64_t>(2).str("a").str("bc");
  b.str("u64").put<uint32_t>(10).put<uint64_t>(1ull << 40);
  b.str("i64").put<uint32_t>(11).put<int64_t>(-(1ll << 40));
  b.str("f64").put<uint32_t>(12).put<double>(0.25);
  auto f = parse(b);
  ASSERT_TRUE(f.ok()) << f.status().message();
  const GgufFile& g = *f.value();
  EXPECT_EQ(g.get_int("u8"), 200);
  EXPECT_EQ(g.get_int("i8"), -5);
  EXPECT_EQ(g.get_int("u16"), 60000);
  EXPECT_EQ(g.get_int("i16"), -300);
  EXPECT_EQ(g.get_int("u32"), 4000000000ll);
  EXPECT_EQ(g.get_int("i32"), -70000);
  EXPECT_EQ(g.get_float("f32"), 1.5);
  EXPECT_EQ(g.get_bool("bool"), true);
  EXPECT_EQ(g.get_string("s"), "héllo");
  ASSERT_NE(g.get_array("arr"), nullptr);
  EXPECT_EQ(g.get_array("arr")->strings, (std::vector<std::string>{"a", "bc"}));
  EXPECT_EQ(g.get_int("u64"), 1ll << 40);
  EXPECT_EQ(g.get_int("i64"), -(1ll << 40));
  EXPECT_EQ(g.get_float("f64"), 0.25);
  EXPECT_EQ(g.get_string("missing"), std::nullopt);
}

Bytes one_tensor_file(uint32_t type, uint64_t ne0, uint64_t offset, size_t data_bytes) {
  Bytes b = header(1, 0);
  b.str("w").put<uint32_t>(1).put<uint64_t>(ne0).put<uint32_t>(type).put<uint64_t>(offset);
  b.pad_to(32);
  for (size_t k = 0; k < data_bytes; ++k) b.put<uint8_t>(static_cast<uint8_t>(k));
  return b;
}

TEST(Gguf, TensorDirectoryAndData) {
  Bytes b = one_tensor_file(/*F32*/ 0, 4, 0, 16);
  auto f = parse(b);
  ASSERT_TRUE(f.ok()) << f.status().message();
  const GgufTensor* t = f.value()->find_tensor("w");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->type, GgmlType::F32);
  EXPECT_EQ(t->nbytes, 16u);
  EXPECT_EQ(t->data[3], 3);
}

void expect_error(const Bytes& b, const std::string& fragment) {
  auto f = parse(b);
  ASSERT_FALSE(f.ok());
  EXPECT_NE(f.status().message().find("test.gguf"), std::string::npos) << f.status().message();
  EXPECT_NE(f.status().message().find(fragment), std::string::npos) << f.status().message();
}

TEST(Gguf, BadFilesNameTheProblem) {
  Bytes wrong_magic;
  wrong_magic.put<uint32_t>(0x12345678).put<uint32_t>(3).put<uint64_t>(0).put<uint64_t>(0);
  expect_error(wrong_magic, "wrong magic");
  expect_error(header(0, 0, 7), "unsupported GGUF version 7");
  Bytes truncated = header(0, 1);
  truncated.str("key").put<uint32_t>(8).put<uint64_t>(100);
  expect_error(truncated, "runs past the end");
  expect_error(one_tensor_file(/*unknown*/ 99, 4, 0, 16), "unknown tensor type 99");
  expect_error(one_tensor_file(/*Q8_0*/ 8, 33, 0, 64), "not a multiple");
  expect_error(one_tensor_file(/*F32*/ 0, 4, 0, 8), "runs past the end of the file");
  expect_error(one_tensor_file(/*F32*/ 0, 4, 3, 64), "not aligned");
  Bytes bad_type = header(0, 1);
  bad_type.str("k").put<uint32_t>(42);
  expect_error(bad_type, "unknown value type 42");
  Bytes huge_count = header(0, 1ull << 60);
  expect_error(huge_count, "metadata count");
}

}  // namespace
}  // namespace mlxs
