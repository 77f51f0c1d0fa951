#include "model/gguf_writer.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "model/gguf.h"

namespace mlxs {
namespace {

// A file name unique to this test process, removed at the end of each test.
class TempPath {
 public:
  explicit TempPath(const std::string& tag)
      : path_(testing::TempDir() + "gguf_writer_" + tag + "_" + std::to_string(getpid()) +
              ".gguf") {}
  ~TempPath() { std::remove(path_.c_str()); }
  const std::string& str() const { return path_; }

 private:
  std::string path_;
};

std::vector<uint8_t> bytes_of(const std::vector<float>& v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), v.data(), b.size());
  return b;
}

TEST(GgufWriter, RoundTripsEveryMetadataType) {
  GgufWriter w;
  w.set_u8("u8", 200);
  w.set_i8("i8", -5);
  w.set_u16("u16", 60000);
  w.set_i16("i16", -300);
  w.set_u32("u32", 4000000000u);
  w.set_i32("i32", -70000);
  w.set_u64("u64", 1ull << 40);
  w.set_i64("i64", -(1ll << 40));
  w.set_f32("f32", 1.5f);
  w.set_f64("f64", 0.25);
  w.set_bool("bool", true);
  w.set_string("s", "héllo");
  w.set_strings("strs", {"a", "", "▁the"});
  w.set_i32s("i32s", {1, -2, 3});
  w.set_u32s("u32s", {7, 4000000000u});
  w.set_i64s("i64s", {-(1ll << 50)});
  w.set_f32s("f32s", {0.5f, -1.25f});
  w.set_f64s("f64s", {1e-300});
  w.set_bools("bools", {true, false});
  w.set_string("s", "replaced");  // replacing keeps one entry

  TempPath p("meta");
  Status st = w.write(p.str());
  ASSERT_TRUE(st.ok()) << st.message();
  auto f = GgufFile::open(p.str());
  ASSERT_TRUE(f.ok()) << f.status().message();
  const GgufFile& g = *f.value();
  EXPECT_EQ(g.version(), 3u);
  EXPECT_EQ(g.alignment(), 32u);
  EXPECT_EQ(g.metadata().size(), 20u);  // 19 keys + general.alignment
  EXPECT_EQ(g.find("u8")->type, GgufType::UINT8);
  EXPECT_EQ(g.get_int("u8"), 200);
  EXPECT_EQ(g.get_int("i8"), -5);
  EXPECT_EQ(g.get_int("u16"), 60000);
  EXPECT_EQ(g.get_int("i16"), -300);
  EXPECT_EQ(g.get_int("u32"), 4000000000ll);
  EXPECT_EQ(g.get_int("i32"), -70000);
  EXPECT_EQ(g.get_int("u64"), 1ll << 40);
  EXPECT_EQ(g.find("u64")->type, GgufType::UINT64);
  EXPECT_EQ(g.get_int("i64"), -(1ll << 40));
  EXPECT_EQ(g.get_float("f32"), 1.5);
  EXPECT_EQ(g.find("f32")->type, GgufType::FLOAT32);
  EXPECT_EQ(g.get_float("f64"), 0.25);
  EXPECT_EQ(g.find("f64")->type, GgufType::FLOAT64);
  EXPECT_EQ(g.get_bool("bool"), true);
  EXPECT_EQ(g.get_string("s"), "replaced");
  EXPECT_EQ(g.get_array("strs")->strings, (std::vector<std::string>{"a", "", "▁the"}));
  EXPECT_EQ(g.get_array("i32s")->elem_type, GgufType::INT32);
  EXPECT_EQ(g.get_array("i32s")->ints, (std::vector<int64_t>{1, -2, 3}));
  EXPECT_EQ(g.get_array("u32s")->ints, (std::vector<int64_t>{7, 4000000000ll}));
  EXPECT_EQ(g.get_array("i64s")->ints, (std::vector<int64_t>{-(1ll << 50)}));
  EXPECT_EQ(g.get_array("f32s")->floats, (std::vector<double>{0.5, -1.25}));
  EXPECT_EQ(g.get_array("f64s")->floats, (std::vector<double>{1e-300}));
  EXPECT_EQ(g.get_array("bools")->elem_type, GgufType::BOOL);
  EXPECT_EQ(g.get_array("bools")->ints, (std::vector<int64_t>{1, 0}));
}

TEST(GgufWriter, RoundTripsTensorsWithAlignedOffsets) {
  GgufWriter w;
  std::vector<float> a = {1, 2, 3};  // 12 bytes: the next tensor needs padding
  ASSERT_TRUE(w.add_tensor("a", GgmlType::F32, {3}, bytes_of(a)).ok());
  std::vector<uint8_t> q(2 * sizeof(BlockQ8_0) * 3);
  for (size_t k = 0; k < q.size(); ++k) q[k] = static_cast<uint8_t>(k * 7);
  ASSERT_TRUE(w.add_tensor("blk.0.q", GgmlType::Q8_0, {64, 3}, q).ok());
  ASSERT_TRUE(w.declare_tensor("late", GgmlType::F16, {4, 2, 1}).ok());
  w.set_string("general.architecture", "llama");

  TempPath p("tensors");
  int calls = 0;
  Status st = w.write(p.str(), [&](size_t index, const GgufWriter::TensorInfo& info,
                                   std::vector<uint8_t>* out) {
    ++calls;
    EXPECT_EQ(index, 2u);
    EXPECT_EQ(info.name, "late");
    out->assign(info.nbytes, 0xAB);
    return Status::Ok();
  });
  ASSERT_TRUE(st.ok()) << st.message();
  EXPECT_EQ(calls, 1);

  auto f = GgufFile::open(p.str());
  ASSERT_TRUE(f.ok()) << f.status().message();
  const GgufFile& g = *f.value();
  ASSERT_EQ(g.tensors().size(), 3u);
  EXPECT_EQ(g.data_offset() % 32, 0u);
  const GgufTensor* ta = g.find_tensor("a");
  ASSERT_NE(ta, nullptr);
  EXPECT_EQ(ta->type, GgmlType::F32);
  EXPECT_EQ(ta->ne, (std::vector<int64_t>{3}));
  EXPECT_EQ(std::memcmp(ta->data, a.data(), 12), 0);
  const GgufTensor* tq = g.find_tensor("blk.0.q");
  ASSERT_NE(tq, nullptr);
  EXPECT_EQ(tq->type, GgmlType::Q8_0);
  EXPECT_EQ(tq->ne, (std::vector<int64_t>{64, 3}));
  EXPECT_EQ(tq->offset, 32u);
  ASSERT_EQ(tq->nbytes, q.size());
  EXPECT_EQ(std::memcmp(tq->data, q.data(), q.size()), 0);
  const GgufTensor* tl = g.find_tensor("late");
  ASSERT_NE(tl, nullptr);
  EXPECT_EQ(tl->offset % 32, 0u);
  EXPECT_EQ(tl->ne, (std::vector<int64_t>{4, 2, 1}));
  ASSERT_EQ(tl->nbytes, 16u);
  for (size_t k = 0; k < 16; ++k) EXPECT_EQ(tl->data[k], 0xAB);
  EXPECT_EQ(g.get_string("general.architecture"), "llama");
}

TEST(GgufWriter, CopiesValuesReadFromAnotherFile) {
  GgufWriter w;
  w.set_strings("tokens", {"<s>", "</s>"});
  w.set_f32s("scores", {0.0f, -1.0f});
  w.set_u64("big", ~0ull);
  TempPath p1("copy_src");
  ASSERT_TRUE(w.write(p1.str()).ok());
  auto src = GgufFile::open(p1.str());
  ASSERT_TRUE(src.ok());

  GgufWriter w2;
  for (const auto& [k, v] : src.value()->metadata()) ASSERT_TRUE(w2.set_value(k, v).ok()) << k;
  TempPath p2("copy_dst");
  ASSERT_TRUE(w2.write(p2.str()).ok());
  auto dst = GgufFile::open(p2.str());
  ASSERT_TRUE(dst.ok()) << dst.status().message();
  EXPECT_EQ(dst.value()->get_array("tokens")->strings, (std::vector<std::string>{"<s>", "</s>"}));
  EXPECT_EQ(dst.value()->get_array("scores")->floats, (std::vector<double>{0.0, -1.0}));
  EXPECT_EQ(dst.value()->find("big")->u, ~0ull);

  // Writing the same content twice gives the same bytes: the generator relies on it.
  TempPath p3("copy_again");
  ASSERT_TRUE(w2.write(p3.str()).ok());
  std::ifstream a(p2.str(), std::ios::binary), b(p3.str(), std::ios::binary);
  std::string sa((std::istreambuf_iterator<char>(a)), {});
  std::string sb((std::istreambuf_iterator<char>(b)), {});
  EXPECT_FALSE(sa.empty());
  EXPECT_EQ(sa, sb);
}

TEST(GgufWriter, RejectsBadTensors) {
  GgufWriter w;
  EXPECT_FALSE(w.add_tensor("x", GgmlType::F32, {3}, std::vector<uint8_t>(8)).ok());
  EXPECT_FALSE(w.declare_tensor("x", GgmlType::Q8_0, {33}).ok());  // not a block multiple
  EXPECT_FALSE(w.declare_tensor("x", GgmlType::F32, {}).ok());
  EXPECT_FALSE(w.declare_tensor("x", GgmlType::F32, {1, 1, 1, 1, 1}).ok());
  EXPECT_FALSE(w.declare_tensor("x", GgmlType::F32, {0}).ok());
  ASSERT_TRUE(w.declare_tensor("x", GgmlType::F32, {2}).ok());
  EXPECT_FALSE(w.declare_tensor("x", GgmlType::F32, {2}).ok());  // duplicate

  TempPath p("bad");
  EXPECT_FALSE(w.write(p.str()).ok());  // declared tensor without a filler
  Status st = w.write(p.str(), [](size_t, const GgufWriter::TensorInfo&, std::vector<uint8_t>* out) {
    out->resize(3);  // wrong size
    return Status::Ok();
  });
  EXPECT_FALSE(st.ok());
  EXPECT_FALSE(GgufFile::open(p.str()).ok());  // nothing left behind
}

}  // namespace
}  // namespace mlxs
