#include "testmodel/hf_weights.h"

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "base/fp16.h"
#include "testmodel/hf_layout.h"
#include "testmodel/mlx_quant.h"
#include "testmodel/safetensors_writer.h"

namespace mlxs::testmodel {
namespace {

namespace fs = std::filesystem;

enum class Enc { kF32, kF16, kBF16, kMlx };

// One GGUF tensor as the folder stores it.
struct HfTensor {
  const TensorSpec* spec;
  Enc enc;
};

const char* dtype_of(Enc e) {
  switch (e) {
    case Enc::kF16: return "F16";
    case Enc::kBF16: return "BF16";
    default: return "F32";
  }
}

size_t elem_size(Enc e) { return e == Enc::kF32 ? 4 : 2; }

// How the folder stores a matrix of row length `cols`: mlx-lm quantizes a Linear or
// Embedding only when its input dimension is a multiple of the group size, and leaves the
// others in the float dtype.
Enc matrix_encoding(const Options& o, int64_t cols, std::vector<std::string>* notes,
                    const std::string& name) {
  const Enc half = o.mlx_dtype == "bf16" ? Enc::kBF16 : Enc::kF16;
  if (o.mlx_bits) {
    if (cols % o.group_size == 0) return Enc::kMlx;
    notes->push_back(name + " stays " + o.mlx_dtype + ": row length " + std::to_string(cols) +
                     " is not a multiple of --group-size " + std::to_string(o.group_size));
    return half;
  }
  if (o.type == GgmlType::F16) return Enc::kF16;
  if (o.type == GgmlType::BF16) return Enc::kBF16;
  return Enc::kF32;
}

StGroup entries_of(const Options& o, const HfTensor& t) {
  const std::string hf = hf_tensor_name(t.spec->name);
  const std::vector<int64_t>& ne = t.spec->ne;
  StGroup g;
  if (ne.size() == 1) {
    g.entries.push_back({hf, dtype_of(t.enc), {ne[0]}, static_cast<size_t>(ne[0]) * elem_size(t.enc)});
    return g;
  }
  const int64_t cols = ne[0], rows = ne[1];
  if (t.enc != Enc::kMlx) {
    g.entries.push_back({hf, dtype_of(t.enc), {rows, cols},
                         static_cast<size_t>(rows * cols) * elem_size(t.enc)});
    return g;
  }
  const std::string base = hf.substr(0, hf.size() - std::strlen(".weight"));
  const int64_t words = cols * o.mlx_bits / 32, groups = cols / o.group_size;
  const char* sdt = o.mlx_dtype == "bf16" ? "BF16" : "F16";
  g.entries.push_back({base + ".weight", "U32", {rows, words}, static_cast<size_t>(rows * words) * 4});
  g.entries.push_back({base + ".scales", sdt, {rows, groups}, static_cast<size_t>(rows * groups) * 2});
  g.entries.push_back({base + ".biases", sdt, {rows, groups}, static_cast<size_t>(rows * groups) * 2});
  return g;
}

// Rows in Hugging Face order, each generated as the GGUF row it corresponds to.
Status fill_group(const Options& o, const HfTensor& t, const StGroup& g, int threads,
                  std::vector<std::vector<uint8_t>>* blobs) {
  for (const StEntry& e : g.entries) blobs->emplace_back(e.nbytes);
  const TensorSpec& s = *t.spec;
  const int64_t cols = s.ne[0], rows = s.ne.size() > 1 ? s.ne[1] : 1;
  const MlxQuant mq{o.mlx_bits, o.group_size, o.mlx_dtype == "bf16"};
  auto work = [&](int64_t r0, int64_t r1) {
    std::vector<float> row(static_cast<size_t>(cols));
    for (int64_t r = r0; r < r1; ++r) {
      generate_row(s, o, gguf_row_of(o.arch, s.name, o.head_dim(), r), row.data());
      const size_t off = static_cast<size_t>(r * cols);
      switch (t.enc) {
        case Enc::kF32:
          std::memcpy((*blobs)[0].data() + off * 4, row.data(), static_cast<size_t>(cols) * 4);
          break;
        case Enc::kF16:
        case Enc::kBF16:
          for (int64_t k = 0; k < cols; ++k) {
            const uint16_t h = t.enc == Enc::kF16 ? f32_to_fp16(row[k]) : f32_to_bf16(row[k]);
            std::memcpy((*blobs)[0].data() + (off + k) * 2, &h, 2);
          }
          break;
        case Enc::kMlx: {
          const int64_t words = cols * mq.bits / 32, groups = cols / mq.group;
          mlx_quantize_row(mq, row.data(), cols,
                           reinterpret_cast<uint32_t*>((*blobs)[0].data()) + r * words,
                           reinterpret_cast<uint16_t*>((*blobs)[1].data()) + r * groups,
                           reinterpret_cast<uint16_t*>((*blobs)[2].data()) + r * groups);
          break;
        }
      }
    }
  };
  parallel_rows(rows, rows * cols, threads, work);
  return Status::Ok();
}

// Contiguous runs of groups of about equal size, none empty.
std::vector<std::vector<size_t>> split_shards(const std::vector<StGroup>& groups, int64_t n) {
  uint64_t total = 0;
  for (const StGroup& g : groups) total += g.nbytes();
  std::vector<std::vector<size_t>> shards(static_cast<size_t>(n));
  uint64_t done = 0;
  size_t k = 0;
  for (size_t i = 0; i < groups.size(); ++i) {
    const size_t left_groups = groups.size() - i, left_shards = shards.size() - k;
    // Move on once this shard has its share, or when every later shard needs a group.
    if (!shards[k].empty() && k + 1 < shards.size() &&
        (done >= total * (k + 1) / shards.size() || left_groups < left_shards))
      ++k;
    shards[k].push_back(i);
    done += groups[i].nbytes();
  }
  return shards;
}

}  // namespace

Result<HfWeightStats> write_hf_weights(const Options& o, const ModelPlan& plan,
                                       const std::string& dir, int threads) {
  HfWeightStats stats;
  std::vector<HfTensor> tensors;
  std::vector<StGroup> groups;
  for (const TensorSpec& s : plan.tensors) {
    if (hf_tensor_name(s.name).empty()) continue;
    // Norm gains and biases stay F32 whatever the type, as in the GGUF (llama.cpp keeps
    // them F32 too), so that the folder and the GGUF compute the same function.
    const Enc enc = s.ne.size() == 1 ? Enc::kF32 : matrix_encoding(o, s.ne[0], &stats.notes, s.name);
    tensors.push_back({&s, enc});
    groups.push_back(entries_of(o, tensors.back()));
    int64_t n = 1;
    for (int64_t d : s.ne) n *= d;
    stats.n_params += static_cast<uint64_t>(n);
    stats.n_bytes += groups.back().nbytes();
    stats.n_tensors += groups.back().entries.size();
  }
  if (o.shards > static_cast<int64_t>(groups.size()))
    return Status::Error("--shards " + std::to_string(o.shards) + " is more than the " +
                         std::to_string(groups.size()) + " weights to split");

  const std::map<std::string, std::string> meta = {{"format", o.mlx_bits ? "mlx" : "pt"}};
  auto fill = [&](size_t i, std::vector<std::vector<uint8_t>>* blobs) {
    return fill_group(o, tensors[i], groups[i], threads, blobs);
  };
  if (o.shards == 1) {
    std::vector<size_t> all(groups.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    MLXS_RETURN_IF_ERROR(write_safetensors((fs::path(dir) / "model.safetensors").string(), groups,
                                           all, meta, fill));
    return stats;
  }
  nlohmann::json weight_map = nlohmann::json::object();
  const auto shards = split_shards(groups, o.shards);
  for (size_t k = 0; k < shards.size(); ++k) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", k + 1, shards.size());
    MLXS_RETURN_IF_ERROR(write_safetensors((fs::path(dir) / name).string(), groups, shards[k],
                                           meta, fill));
    for (size_t i : shards[k])
      for (const StEntry& e : groups[i].entries) weight_map[e.name] = name;
  }
  const nlohmann::json index = {{"metadata", {{"total_size", stats.n_bytes}}},
                                {"weight_map", weight_map}};
  const std::string path = (fs::path(dir) / "model.safetensors.index.json").string();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << index.dump(2) << "\n";
  out.close();
  if (!out) return Status::Error(path + ": cannot write");
  return stats;
}

}  // namespace mlxs::testmodel
