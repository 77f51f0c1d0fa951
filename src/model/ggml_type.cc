#include "model/ggml_type.h"

#include <algorithm>
#include <array>
#include <cctype>

namespace mlxs {
namespace {

constexpr std::array<TypeInfo, 20> kTypes = {{
    {GgmlType::F32, "f32", 1, 4, false},
    {GgmlType::F16, "f16", 1, 2, false},
    {GgmlType::Q4_0, "q4_0", kQK, sizeof(BlockQ4_0), true},
    {GgmlType::Q4_1, "q4_1", kQK, sizeof(BlockQ4_1), true},
    {GgmlType::Q5_0, "q5_0", kQK, sizeof(BlockQ5_0), true},
    {GgmlType::Q5_1, "q5_1", kQK, sizeof(BlockQ5_1), true},
    {GgmlType::Q8_0, "q8_0", kQK, sizeof(BlockQ8_0), true},
    {GgmlType::Q8_1, "q8_1", kQK, sizeof(BlockQ8_1), true},
    {GgmlType::Q2_K, "q2_k", kQK_K, sizeof(BlockQ2_K), true},
    {GgmlType::Q3_K, "q3_k", kQK_K, sizeof(BlockQ3_K), true},
    {GgmlType::Q4_K, "q4_k", kQK_K, sizeof(BlockQ4_K), true},
    {GgmlType::Q5_K, "q5_k", kQK_K, sizeof(BlockQ5_K), true},
    {GgmlType::Q6_K, "q6_k", kQK_K, sizeof(BlockQ6_K), true},
    {GgmlType::Q8_K, "q8_k", kQK_K, sizeof(BlockQ8_K), true},
    {GgmlType::I8, "i8", 1, 1, false},
    {GgmlType::I16, "i16", 1, 2, false},
    {GgmlType::I32, "i32", 1, 4, false},
    {GgmlType::I64, "i64", 1, 8, false},
    {GgmlType::F64, "f64", 1, 8, false},
    {GgmlType::BF16, "bf16", 1, 2, false},
}};

}  // namespace

std::optional<TypeInfo> type_info(uint32_t type) {
  for (const auto& t : kTypes)
    if (static_cast<uint32_t>(t.type) == type) return t;
  return std::nullopt;
}

const TypeInfo& type_info(GgmlType type) {
  for (const auto& t : kTypes)
    if (t.type == type) return t;
  return kTypes[0];  // unreachable for valid enum values
}

const char* type_name(GgmlType type) { return type_info(type).name; }

std::optional<GgmlType> type_from_name(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  for (const auto& t : kTypes)
    if (lower == t.name) return t.type;
  return std::nullopt;
}

}  // namespace mlxs
