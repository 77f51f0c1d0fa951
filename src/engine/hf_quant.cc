#include "engine/hf_quant.h"

#include <optional>
#include <tuple>

namespace mlxs {
namespace {

// Bit widths whose codes tile a uint32 word exactly; MLX packs 3, 5 and 6 bits in a
// different (byte-triple) layout, which the kernels do not read.
Status check_params(int bits, int group_size, const std::string& where) {
  if (bits == 3 || bits == 5 || bits == 6)
    return Status::Error(where + ": " + std::to_string(bits) +
                         "-bit MLX quantization packs codes across words and is not supported "
                         "(supported: 2, 4 and 8 bits)");
  if (bits != 2 && bits != 4 && bits != 8)
    return Status::Error(where + ": " + std::to_string(bits) + "-bit quantization is not supported (supported: 2, 4 and 8 bits)");
  if (group_size != 32 && group_size != 64 && group_size != 128)
    return Status::Error(where + ": group size " + std::to_string(group_size) +
                         " is not supported (supported: 32, 64, 128)");
  return Status::Ok();
}

Result<std::pair<int, int>> read_params(const nlohmann::json& q, const std::string& where) {
  if (!q.contains("bits") || !q["bits"].is_number_integer() || !q.contains("group_size") ||
      !q["group_size"].is_number_integer())
    return Status::Error(where + " (" + q.dump() + "): expected integer \"bits\" and \"group_size\"");
  const int bits = q["bits"].get<int>(), group = q["group_size"].get<int>();
  MLXS_RETURN_IF_ERROR(check_params(bits, group, where));
  return std::make_pair(bits, group);
}

std::optional<GgmlType> scale_type(StDtype t) {
  switch (t) {
    case StDtype::F32: return GgmlType::F32;
    case StDtype::F16: return GgmlType::F16;
    case StDtype::BF16: return GgmlType::BF16;
    default: return std::nullopt;
  }
}

}  // namespace

Result<MlxQuantization> MlxQuantization::from_config(const nlohmann::json& j, const std::string& config_path) {
  MlxQuantization m;
  const char* key = j.contains("quantization") ? "quantization" : "quantization_config";
  if (!j.contains(key) || j[key].is_null()) return m;
  const nlohmann::json& q = j[key];
  const std::string where = config_path + ": \"" + key + "\"";
  if (!q.is_object()) return Status::Error(where + " is not an object");
  // Hugging Face's own quantizers (GPTQ, AWQ, bitsandbytes, FP8...) name a method; MLX's
  // affine quantization does not, or says "affine".
  if (q.contains("quant_method"))
    return Status::Error(where + ": quant_method " + q["quant_method"].dump() +
                         " is not supported (only MLX affine quantization is)");
  if (q.contains("mode") && q["mode"] != "affine")
    return Status::Error(where + ": mode " + q["mode"].dump() + " is not supported (only \"affine\" is)");
  auto params = read_params(q, where);
  if (!params.ok()) return params.status();
  m.present = true;
  std::tie(m.bits, m.group_size) = params.value();
  for (const auto& [name, v] : q.items()) {
    if (v.is_boolean() && !v.get<bool>()) {
      m.per_module[name] = {0, 0};
    } else if (v.is_object()) {
      auto p = read_params(v, where + "[\"" + name + "\"]");
      if (!p.ok()) return p.status();
      m.per_module[name] = p.value();
    }
  }
  return m;
}

Result<kern::AffineMatrix> bind_mlx_matrix(const SafetensorsSet& set, const std::string& module,
                                           const MlxQuantization& q, const std::string& config_path) {
  const StTensor* s = set.find(module + ".scales");
  const StTensor* w = set.find(module + ".weight");
  const StTensor* b = set.find(module + ".biases");
  auto at = [](const StTensor* t) { return t->file + ": tensor '" + t->name + "'"; };
  if (!q.present)
    return Status::Error(at(s) + " is MLX-quantized, but " + config_path + " has no \"quantization\" entry");
  int bits = q.bits, group = q.group_size;
  if (auto it = q.per_module.find(module); it != q.per_module.end()) std::tie(bits, group) = it->second;
  if (bits == 0)
    return Status::Error(at(s) + ": " + config_path + " says '" + module + "' is not quantized");
  if (!w) return Status::Error(at(s) + " has no '" + module + ".weight' beside it");
  if (!b) return Status::Error(at(s) + " has no '" + module + ".biases' beside it (affine quantization stores both)");
  if (w->dtype != StDtype::U32 || w->shape.size() != 2)
    return Status::Error(at(w) + " is " + st_dtype_name(w->dtype) + " " + w->shape_string() +
                         ", expected a 2-D U32 array of packed codes");
  auto st = scale_type(s->dtype);
  if (!st || s->shape.size() != 2)
    return Status::Error(at(s) + " is " + st_dtype_name(s->dtype) + " " + s->shape_string() +
                         ", expected a 2-D F16, BF16 or F32 array");
  if (b->dtype != s->dtype || b->shape != s->shape)
    return Status::Error(at(b) + " is " + st_dtype_name(b->dtype) + " " + b->shape_string() + ", expected " +
                         st_dtype_name(s->dtype) + " " + s->shape_string() + " like '" + s->name + "'");
  const int64_t rows = w->shape[0], words = w->shape[1];
  const int64_t cols = words * 32 / bits;
  if (s->shape[0] != rows)
    return Status::Error(at(s) + " has " + std::to_string(s->shape[0]) + " rows, but '" + w->name + "' has " +
                         std::to_string(rows));
  const std::string hint = " (do the bits and group_size of " + config_path + " match the tensors?)";
  if (cols % group != 0)
    return Status::Error(at(w) + " " + w->shape_string() + " holds " + std::to_string(cols) + " " +
                         std::to_string(bits) + "-bit codes per row, not a multiple of the group size " +
                         std::to_string(group) + hint);
  if (s->shape[1] != cols / group)
    return Status::Error(at(w) + " " + w->shape_string() + " holds " + std::to_string(cols) + " " +
                         std::to_string(bits) + "-bit codes per row, " + std::to_string(cols / group) +
                         " groups of " + std::to_string(group) + ", but '" + s->name + "' " + s->shape_string() +
                         " has " + std::to_string(s->shape[1]) + hint);
  kern::AffineMatrix m{bits, group, cols, rows, w->data, s->data, b->data, *st};
  if (std::string why = kern::affine_unsupported(m); !why.empty()) return Status::Error(at(w) + ": " + why);
  return m;
}

}  // namespace mlxs
