// MLX-quantized Hugging Face folders (written by mlx-testmodel): the matrices bind as
// affine matrices, the forward pass is batch- and thread-invariant bit for bit, and bad
// quantization entries fail with messages naming the file.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "engine/model.h"
#include "test_model.h"

namespace mlxs {
namespace {

namespace fs = std::filesystem;

constexpr const char* kShape =
    "--format hf --arch llama --dim 128 --layers 2 --heads 4 --kv-heads 2 --ffn 256 --vocab 512 "
    "--ctx 256 --seed 7 ";

std::string folder(const std::string& name, const std::string& type_options) {
  std::string p = testing::make_test_model(name, kShape + type_options);
  EXPECT_FALSE(p.empty()) << "mlx-testmodel failed";
  return p;
}

// Logits of every position of `tokens`, in sequences of `chunk` tokens per forward call.
std::vector<float> run(const Model& m, int threads, const std::vector<TokenId>& tokens, int chunk) {
  ThreadPool pool(threads);
  KvCache cache({m.config().n_layer, m.config().kv_dim(), 16, 64, KvType::kF16});
  std::vector<float> out;
  int s = cache.create_sequence();
  cache.reserve(s, static_cast<int>(tokens.size()));
  for (size_t pos = 0; pos < tokens.size(); pos += chunk) {
    const int n = static_cast<int>(std::min<size_t>(chunk, tokens.size() - pos));
    BatchSeq b{s, tokens.data() + pos, n, static_cast<int>(pos), BatchSeq::Logits::kAll};
    const_cast<Model&>(m).forward({&b, 1}, cache, pool, &out);
  }
  return out;
}

TEST(MlxFolder, LoadsAsAffineAndIsBatchInvariant) {
  const std::pair<const char*, const char*> kVariants[] = {
      {"mlx-folder-mlx4_g64", "--type mlx4 --group-size 64"},
      {"mlx-folder-mlx8_g32_bf16", "--type mlx8 --group-size 32 --mlx-dtype bf16"},
      {"mlx-folder-mlx2_g128", "--type mlx2 --group-size 128"}};
  for (const auto& [name, type] : kVariants) {
    auto m = Model::load(folder(name, type));
    ASSERT_TRUE(m.ok()) << m.status().message();
    const Model& model = *m.value();
    const auto& w = model.weights();
    ASSERT_TRUE(std::holds_alternative<kern::AffineMatrix>(w.layers[0].wq.m)) << type;
    ASSERT_TRUE(std::holds_alternative<kern::AffineMatrix>(w.token_embd.m)) << type;
    const auto& a = std::get<kern::AffineMatrix>(w.layers[0].w_down.m);
    EXPECT_EQ(a.n_cols, 256);
    EXPECT_EQ(a.n_rows, 128);
    EXPECT_GT(w.matrix_bytes(), 0u);

    std::vector<TokenId> tokens(21);
    for (size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<TokenId>((i * 37 + 5) % 500 + 3);
    const auto whole = run(model, 2, tokens, 21);
    const auto chunked = run(model, 3, tokens, 4);
    const auto single = run(model, 1, tokens, 1);
    ASSERT_EQ(whole.size(), single.size());
    EXPECT_EQ(0, std::memcmp(whole.data(), chunked.data(), whole.size() * sizeof(float))) << type;
    EXPECT_EQ(0, std::memcmp(whole.data(), single.data(), whole.size() * sizeof(float))) << type;
    float mn = whole[0], mx = whole[0];
    for (float v : whole) mn = std::min(mn, v), mx = std::max(mx, v);
    EXPECT_GT(mx - mn, 0.1f) << type;
  }
}

// A copy of the mlx4 folder with config.json's quantization entry replaced.
std::string with_quantization(const std::string& src, const std::string& name, const nlohmann::json& q) {
  const fs::path dst = fs::path(src).parent_path() / (name + "." + std::to_string(::getpid()));
  fs::remove_all(dst);
  fs::copy(src, dst, fs::copy_options::recursive);
  std::ifstream in(dst / "config.json");
  nlohmann::json c = nlohmann::json::parse(in);
  c["quantization"] = q;
  c["quantization_config"] = q;
  std::ofstream(dst / "config.json") << c.dump(2);
  return dst.string();
}

TEST(MlxFolder, BadQuantizationEntriesFailClearly) {
  const std::string src = folder("mlx-folder-mlx4_g64", "--type mlx4 --group-size 64");
  struct Case {
    nlohmann::json q;
    std::vector<std::string> expect;  // substrings of the message
  };
  const std::vector<Case> cases = {
      {{{"bits", 3}, {"group_size", 64}}, {"config.json", "3-bit", "not supported"}},
      {{{"bits", 6}, {"group_size", 64}}, {"6-bit"}},
      {{{"bits", 4}, {"group_size", 48}}, {"group size 48"}},
      {{{"bits", 4}, {"group_size", 64}, {"mode", "mxfp4"}}, {"mxfp4"}},
      {{{"quant_method", "gptq"}, {"bits", 4}, {"group_size", 128}}, {"gptq"}},
      // The tensors are 4-bit g64: read as 8-bit, the packed width gives half the columns.
      {{{"bits", 8}, {"group_size", 64}}, {"model.safetensors", ".weight'", "8-bit", "group_size"}},
      {{{"bits", 4}, {"group_size", 32}}, {"model.safetensors", ".scales'"}},
  };
  int i = 0;
  for (const Case& c : cases) {
    const std::string dir = with_quantization(src, "mlx-bad-" + std::to_string(i++), c.q);
    auto m = Model::load(dir);
    fs::remove_all(dir);
    ASSERT_FALSE(m.ok()) << c.q.dump();
    for (const std::string& s : c.expect)
      EXPECT_NE(m.status().message().find(s), std::string::npos) << c.q.dump() << ": " << m.status().message();
    if (std::getenv("MLXS_PRINT_ERRORS")) std::printf("%s\n", m.status().message().c_str());
  }
}

}  // namespace
}  // namespace mlxs
