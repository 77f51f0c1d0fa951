// Internal to src/kernels: the kernels that run RepackedMatrix (see repack.h), the layout of
// the K-quant super-block records, and the activation layout the kernels read.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/repack.h"
#include "model/ggml_type.h"

namespace mlxs::kern::detail {

// Prepared activations come in tiles of `width` tokens (width = min(8, tokens in the call);
// the last tile of a call may hold fewer). One pointer walks a whole tile. Conversion is
// exact and per token.
//   Q4_0, Q8_0 (from Q8_0 rows): per block b, at b * 40 * width bytes, the width tokens' 32
//     int8 codes each; then their int32 start values -offset * (sum of the block's codes),
//     which cancel the offset that makes the weight codes unsigned (Q8_0: 128, Q4_0: 8);
//     then their float scales.
//   Q4_K, Q6_K (from Q8_K rows): per super-block s, at s * 324 * width bytes, the tokens'
//     256 codes each; then 16 int32 words per token; then their float scales. Q4_K: word
//     p < 4 holds the sums of the codes of sub-blocks 2p and 2p+1 (32 elements each) as
//     int16 (low, high), which the mins multiply. Q6_K: word j is -32 * (sum of codes
//     16j..16j+15), the start value that cancels the +32 of the weight codes.
constexpr int kRepackedTileTokens = 8;
int repacked_x_width(int64_t n_tokens);
// The type activation rows are quantized to first: Q8_0 or Q8_K.
GgmlType repacked_x_type(GgmlType t);
size_t repacked_x_tile_bytes(GgmlType t, int64_t n, int width);  // a multiple of 64
// Token `slot` (< width) of the tile at dst, from its row xq of type repacked_x_type(t).
void repacked_x_prep(GgmlType t, int64_t n, const uint8_t* xq, int width, int slot, uint8_t* dst);

// K-quant super-block records (one per 256 columns of a 16-row group, 64-byte aligned parts):
//   Q4_K (2368 bytes): codes, pair k < 4 of sub-blocks (2k, 2k+1) in 8 chunks of 64 bytes,
//     chunk c holding each row's stored bytes qs[32k + 4c .. 32k + 4c + 3] (row r at 4r: low
//     nibbles are elements 64k + 4c.., high nibbles 64k + 32 + 4c..); at 2048 the 8
//     sub-blocks' scales (16 bytes each, row r at r); at 2176 the mins as 4 pairs of 32 bytes
//     (row r at 2r: mins 2p and 2p+1); at 2304 d, at 2336 dmin (16 fp16 each).
//   Q6_K (3392 bytes): the low 4 bits of the codes (q + 32) in 32 chunks: chunk 2j + h, row r
//     at 4r, byte i holds elements 16j + 8h + i (low nibble) and 16j + 8h + 4 + i (high);
//     at 2048 their top 2 bits in 16 chunks: chunk j, byte i holds element 16j + 4k + i in
//     bits 2k..2k+1; at 3072 the 16 sub-blocks' int8 scales (16 bytes each); at 3328 d.
size_t kquant_record_bytes(GgmlType t);
// Row r (< 16) of a GGUF super-block into a record, and back.
void kquant_put(GgmlType t, const uint8_t* block, int r, uint8_t* record);
void kquant_get(GgmlType t, const uint8_t* record, int r, uint8_t* block);

// out[t * os + i] = dot(row r0 + i of w, prepared token t) for i < nr, t < nt; r0 is a
// multiple of 16; tokens in tiles of `width`, tile_bytes apart (64-byte aligned), from xt.
using RepackedGemmFn = void (*)(const RepackedMatrix& w, int64_t r0, int nr, const uint8_t* xt,
                                size_t tile_bytes, int width, int nt, float* out, int64_t os);

// Null when the instruction set has no kernel for the type.
RepackedGemmFn repacked_gemm_avx512(GgmlType t);
RepackedGemmFn repacked_kquant_gemm_avx512(GgmlType t);
// The kernel for the active instruction set (best_isa()), or null.
RepackedGemmFn active_repacked_gemm(GgmlType t);

}  // namespace mlxs::kern::detail
