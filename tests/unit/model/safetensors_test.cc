#include <gtest/gtest.h>

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "model/safetensors.h"

namespace mlxs {
namespace {

namespace fs = std::filesystem;

// Builds a safetensors image from (name, dtype, shape, bytes) entries.
struct Entry {
  std::string name, dtype;
  std::vector<int64_t> shape;
  std::vector<uint8_t> bytes;
};

std::vector<uint8_t> build(const std::vector<Entry>& entries, const nlohmann::json& meta = nullptr) {
  nlohmann::ordered_json h = nlohmann::ordered_json::object();
  if (!meta.is_null()) h["__metadata__"] = meta;
  std::vector<uint8_t> data;
  for (const auto& e : entries) {
    h[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {data.size(), data.size() + e.bytes.size()}}};
    data.insert(data.end(), e.bytes.begin(), e.bytes.end());
  }
  std::string hs = h.dump();
  uint64_t n = hs.size();
  std::vector<uint8_t> out(8 + hs.size() + data.size());
  std::memcpy(out.data(), &n, 8);
  std::memcpy(out.data() + 8, hs.data(), hs.size());
  if (!data.empty()) std::memcpy(out.data() + 8 + hs.size(), data.data(), data.size());
  return out;
}

std::vector<uint8_t> floats(std::initializer_list<float> v) {
  std::vector<uint8_t> b(v.size() * 4);
  std::memcpy(b.data(), std::data(v), b.size());
  return b;
}

TEST(Safetensors, ReadsTensorsAndMetadata) {
  auto img = build({{"a", "F32", {2, 2}, floats({1, 2, 3, 4})}, {"b", "U8", {3}, {7, 8, 9}}},
                   {{"format", "mlx"}});
  auto s = SafetensorsSet::parse(img.data(), img.size(), "x.safetensors");
  ASSERT_TRUE(s.ok()) << s.status().message();
  const StTensor* a = s.value()->find("a");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->dtype, StDtype::F32);
  EXPECT_EQ(a->shape, (std::vector<int64_t>{2, 2}));
  float f[4];
  std::memcpy(f, a->data, 16);
  EXPECT_EQ(f[3], 4.0f);
  EXPECT_EQ(s.value()->find("b")->data[2], 9);
  EXPECT_EQ(s.value()->metadata().at("format"), "mlx");
}

void expect_error(const std::vector<uint8_t>& img, const std::string& fragment) {
  auto s = SafetensorsSet::parse(img.data(), img.size(), "x.safetensors");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("x.safetensors"), std::string::npos) << s.status().message();
  EXPECT_NE(s.status().message().find(fragment), std::string::npos) << s.status().message();
}

TEST(Safetensors, BadFilesNameTheProblem) {
  expect_error({1, 2, 3}, "shorter");
  auto good = build({{"a", "F32", {2}, floats({1, 2})}});
  expect_error(std::vector<uint8_t>(good.begin(), good.end() - 4), "run past the end");
  expect_error(build({{"a", "F32", {3}, floats({1, 2})}}), "needs 12");
  expect_error(build({{"a", "Q9", {2}, floats({1, 2})}}), "unsupported dtype Q9");
  std::vector<uint8_t> huge(16, 0);
  huge[7] = 1;  // header length 2^56
  expect_error(huge, "header length");
  std::vector<uint8_t> notjson = {5, 0, 0, 0, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
  expect_error(notjson, "not a JSON object");
}

class ShardedFolder : public ::testing::Test {
 protected:
  void SetUp() override {
    dir = fs::temp_directory_path() / ("mlxs-st-" + std::to_string(::getpid()) + "-" +
                                       ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir);
    write("model-00001-of-00002.safetensors", build({{"x", "F32", {1}, floats({1})}}));
    write("model-00002-of-00002.safetensors", build({{"y", "F32", {1}, floats({2})}}));
  }
  void TearDown() override { fs::remove_all(dir); }
  void write(const std::string& name, const std::vector<uint8_t>& bytes) {
    std::ofstream(dir / name, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()), bytes.size());
  }
  void index(const nlohmann::json& map) {
    std::ofstream(dir / "model.safetensors.index.json") << nlohmann::json{{"weight_map", map}}.dump();
  }
  fs::path dir;
};

TEST_F(ShardedFolder, OpensEveryShardOfTheIndex) {
  index({{"x", "model-00001-of-00002.safetensors"}, {"y", "model-00002-of-00002.safetensors"}});
  auto s = SafetensorsSet::open_folder(dir.string());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_NE(s.value()->find("x"), nullptr);
  EXPECT_NE(s.value()->find("y"), nullptr);
}

TEST_F(ShardedFolder, MissingShardIsNamed) {
  index({{"x", "model-00001-of-00002.safetensors"}, {"z", "model-00003-of-00002.safetensors"}});
  auto s = SafetensorsSet::open_folder(dir.string());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("model-00003-of-00002.safetensors"), std::string::npos);
  EXPECT_NE(s.status().message().find("missing"), std::string::npos);
}

TEST_F(ShardedFolder, TensorInTheWrongShardIsNamed) {
  index({{"x", "model-00002-of-00002.safetensors"}, {"y", "model-00002-of-00002.safetensors"}});
  auto s = SafetensorsSet::open_folder(dir.string());
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("'x'"), std::string::npos) << s.status().message();
}

TEST_F(ShardedFolder, WithoutIndexEveryFileIsRead) {
  auto s = SafetensorsSet::open_folder(dir.string());
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_EQ(s.value()->tensors().size(), 2u);
}

}  // namespace
}  // namespace mlxs
