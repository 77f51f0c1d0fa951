// Tensor element types as numbered in GGUF files (ggml's enum), with their block layouts.
// The layouts are part of the file format; kernels/ owns the arithmetic on them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

namespace mlxs {

enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  BF16 = 30,
};

constexpr int kQK = 32;    // elements per block of the legacy quants (Q4_0 ... Q8_1)
constexpr int kQK_K = 256; // elements per super-block of the K-quants

// Storage facts for one type: `block_size` elements occupy `type_size` bytes.
struct TypeInfo {
  GgmlType type;
  const char* name;
  int block_size;
  size_t type_size;
  bool quantized;
};

// nullopt for a type number this build does not know.
std::optional<TypeInfo> type_info(uint32_t type);
const TypeInfo& type_info(GgmlType type);
const char* type_name(GgmlType type);
// Parses names such as "q8_0", "Q4_K", "f16" (case-insensitive).
std::optional<GgmlType> type_from_name(const std::string& name);

// Bytes used by a row of n elements (n must be a multiple of the block size).
inline size_t row_size(GgmlType t, int64_t n) {
  const TypeInfo& ti = type_info(t);
  return static_cast<size_t>(n / ti.block_size) * ti.type_size;
}

// ---- Block layouts (little-endian, packed, exactly as stored in files) ----
#pragma pack(push, 1)
struct BlockQ4_0 { uint16_t d; uint8_t qs[kQK / 2]; };
struct BlockQ4_1 { uint16_t d; uint16_t m; uint8_t qs[kQK / 2]; };
struct BlockQ5_0 { uint16_t d; uint8_t qh[4]; uint8_t qs[kQK / 2]; };
struct BlockQ5_1 { uint16_t d; uint16_t m; uint8_t qh[4]; uint8_t qs[kQK / 2]; };
struct BlockQ8_0 { uint16_t d; int8_t qs[kQK]; };
struct BlockQ8_1 { uint16_t d; uint16_t s; int8_t qs[kQK]; };  // s = d * sum(qs)
struct BlockQ2_K { uint8_t scales[kQK_K / 16]; uint8_t qs[kQK_K / 4]; uint16_t d; uint16_t dmin; };
struct BlockQ3_K { uint8_t hmask[kQK_K / 8]; uint8_t qs[kQK_K / 4]; uint8_t scales[12]; uint16_t d; };
struct BlockQ4_K { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qs[kQK_K / 2]; };
struct BlockQ5_K { uint16_t d; uint16_t dmin; uint8_t scales[12]; uint8_t qh[kQK_K / 8]; uint8_t qs[kQK_K / 2]; };
struct BlockQ6_K { uint8_t ql[kQK_K / 2]; uint8_t qh[kQK_K / 4]; int8_t scales[kQK_K / 16]; uint16_t d; };
struct BlockQ8_K { float d; int8_t qs[kQK_K]; int16_t bsums[kQK_K / 16]; };
#pragma pack(pop)

static_assert(sizeof(BlockQ4_0) == 18);
static_assert(sizeof(BlockQ4_1) == 20);
static_assert(sizeof(BlockQ5_0) == 22);
static_assert(sizeof(BlockQ5_1) == 24);
static_assert(sizeof(BlockQ8_0) == 34);
static_assert(sizeof(BlockQ8_1) == 36);
static_assert(sizeof(BlockQ2_K) == 84);
static_assert(sizeof(BlockQ3_K) == 110);
static_assert(sizeof(BlockQ4_K) == 144);
static_assert(sizeof(BlockQ5_K) == 176);
static_assert(sizeof(BlockQ6_K) == 210);
static_assert(sizeof(BlockQ8_K) == 292);

}  // namespace mlxs
