// Internal to src/kernels: the prepared-activation layout shared by the affine kernels of
// every instruction set, and the one order of float operations they all follow.
//
// Codes are handled in "chunks" of 64 weight bytes (64 * 8/bits elements). Within a chunk,
// byte k of the row holds elements per*k + p (p < per = 8/bits) in bits [p*bits, ...), so a
// shift and a mask give "plane" p: 64 codes whose partners are activations per*k + p. The
// prepared activations store each chunk as `per` planes of 64 int8 codes in that order, so
// the integer dot product of a plane with its activations is a plain byte-wise product
// (vpdpbusd: unsigned codes x signed activations), 16 int32 lanes of 4 bytes each.
//
// Lane l of chunk c (global lane c*16 + l) covers 4*per consecutive elements, all inside
// one activation block of 32 (global lane / bits) and one weight group (global lane / lpg,
// lpg = group_size*bits/32 lanes per group). Per (row, token) the float steps are, with
// 16 float accumulators acc[l] starting at +0:
//   for each chunk c:  acc[l] = fma(float(isum[l]), d[c*16+l] * s[l], acc[l])
//   for each 16 groups g0: acc[l] = fma(bias[g0+l], xsum[g0+l], acc[l])
//   result = ((u0+u2) + (u1+u3)) with u[i] = v[i] + v[i+4], v[i] = acc[i] + acc[i+8]
// where d is the lane's activation block scale, s the lane's weight group scale, xsum the
// group's sum of dequantized activations, and every value past the row's end is zero. The
// scalar, AVX2 and AVX-512 kernels produce bit-identical results; a tile of several tokens
// or rows keeps each pair's accumulators apart, so no result depends on its batch.
#pragma once

#include <cstddef>
#include <cstdint>

#include "kernels/affine.h"

namespace mlxs::kern::affine {

struct Layout {
  int bits = 4;
  int per = 2;                 // elements per byte (8 / bits)
  int lpg = 8;                 // int32 lanes per weight group (group_size * bits / 32)
  int64_t n = 0;               // elements per row
  int64_t n_chunks = 0;        // chunks of 64 row bytes, the last possibly partial
  int64_t n_groups = 0;
  int64_t groups_padded = 0;   // n_groups rounded up to 16
  size_t d_offset = 0;         // float d per lane: n_chunks * 16
  size_t xsum_offset = 0;      // float xsum per group: groups_padded
  size_t stride = 0;           // bytes per prepared token, a multiple of 64

  static Layout of(const AffineMatrix& m);
};

// Quantizes one token's n activations into the layout (stride bytes at dst).
void prepare_token(const Layout& l, const float* x, uint8_t* dst);

// out[t * out_stride + (r - r0)] = dot(row r, prepared token t) for r0 <= r < r0 + nr and
// t < nt; prepared tokens are l.stride bytes apart from xp.
using GemmFn = void (*)(const AffineMatrix& w, const Layout& l, const uint8_t* xp, int nt,
                        int64_t r0, int nr, float* out, int64_t out_stride);

// nullptr when that instruction set has no kernel for these bits.
GemmFn gemm_scalar(int bits);
GemmFn gemm_avx2(int bits);
GemmFn gemm_avx512(int bits);

// The widest kernel the CPU (and MLXS_CPU) allows, chosen once per process.
GemmFn active_gemm(int bits);

// Reads scale or bias number i of a row stored as `type` (F16, BF16, F32).
float load_scale(GgmlType type, const uint8_t* row, int64_t i);

}  // namespace mlxs::kern::affine
