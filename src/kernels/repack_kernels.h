// Internal to src/kernels: the kernels that run RepackedMatrix (see repack.h), and the
// activation layout they read.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/repack.h"
#include "model/ggml_type.h"

namespace mlxs::kern::detail {

// Prepared activations come in tiles of `width` tokens (width = min(8, tokens in the call);
// the last tile of a call may hold fewer): per block b, at b * 40 * width bytes, the width
// tokens' 32 int8 codes each; then their int32 start values -offset * (sum of the block's
// codes), which cancel the offset that makes the weight codes unsigned (Q8_0: 128, Q4_0: 8);
// then their float scales. One pointer walks a whole tile. Conversion is exact and per token.
constexpr int kRepackedTileTokens = 8;
int repacked_x_width(int64_t n_tokens);
size_t repacked_x_tile_bytes(int64_t n, int width);  // a multiple of 64
// Token `slot` (< width) of the tile at dst, from its Q8_0 row.
void repacked_x_prep(int64_t n, const BlockQ8_0* x, int offset, int width, int slot, uint8_t* dst);
// The weight code offset of a repacked type.
int repacked_offset(GgmlType t);

// out[t * os + i] = dot(row r0 + i of w, prepared token t) for i < nr, t < nt; r0 is a
// multiple of 16; tokens in tiles of `width`, tile_bytes apart (64-byte aligned), from xt.
using RepackedGemmFn = void (*)(const RepackedMatrix& w, int64_t r0, int nr, const uint8_t* xt,
                                size_t tile_bytes, int width, int nt, float* out, int64_t os);

// Null when the instruction set has no kernel for the type.
RepackedGemmFn repacked_gemm_avx512(GgmlType t);
// The kernel for the active instruction set (best_isa()), or null.
RepackedGemmFn active_repacked_gemm(GgmlType t);

}  // namespace mlxs::kern::detail
