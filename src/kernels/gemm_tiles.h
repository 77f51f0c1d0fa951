// Internal to the dot_*.cc files: builds a DotKernel (block gemm, tile, vec_dot) from a
// register-tile micro-kernel, so that all three run the very same arithmetic per
// (row, token) pair and differ only in how many pairs one call covers.
//
// Everything here has internal linkage (unnamed namespace) on purpose: each instruction-set
// file compiles it with its own target options, and a shared inline or template definition
// with external linkage could let the linker pick the AVX-512 copy for an AVX2-only CPU.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

#include "kernels/dot_kernels.h"

namespace mlxs::kern::detail {
namespace {

// A micro-kernel policy K provides:
//   static constexpr int kRows, kTokens;   the largest register tile (rows x tokens)
//   static constexpr int kRowsOneToken;    rows per tile when there is a single token
//   template <int RM, int RN> static void micro(int64_t n, const uint8_t* w, size_t ws,
//                                               const uint8_t* xp, size_t xps,
//                                               float* out, int64_t os);
//   static constexpr bool kPrepared;       activations in K's own layout, then also
//   static size_t prep_bytes(int64_t n);  static void prep(int64_t n, const void* x, void* dst);
using MicroFn = void (*)(int64_t n, const uint8_t* w, size_t ws, const uint8_t* xp, size_t xps,
                         float* out, int64_t os);

template <class K>
struct Tiles {
  static constexpr int kMaxRows = std::max(K::kRows, K::kRowsOneToken);

  template <int RM, size_t... T>
  static constexpr std::array<MicroFn, sizeof...(T)> row_of(std::index_sequence<T...>) {
    return {&K::template micro<RM, static_cast<int>(T) + 1>...};
  }
  template <size_t... R>
  static constexpr std::array<std::array<MicroFn, K::kTokens>, sizeof...(R)> table_of(std::index_sequence<R...>) {
    return {row_of<static_cast<int>(R) + 1>(std::make_index_sequence<K::kTokens>())...};
  }
  // table[rm - 1][rn - 1] = micro<rm, rn>
  static constexpr auto table = table_of(std::make_index_sequence<kMaxRows>());

  // The same table over K::micro_u, for policies that read unpacked weight rows.
  static constexpr bool kUnpacks = requires { K::kUnpacks; };
  template <int RM, size_t... T>
  static constexpr std::array<MicroFn, sizeof...(T)> row_of_u(std::index_sequence<T...>) {
    return {&K::template micro_u<RM, static_cast<int>(T) + 1>...};
  }
  template <size_t... R>
  static constexpr std::array<std::array<MicroFn, K::kTokens>, sizeof...(R)> table_u_of(std::index_sequence<R...>) {
    return {row_of_u<static_cast<int>(R) + 1>(std::make_index_sequence<K::kTokens>())...};
  }

  static void gemm(int64_t n, const void* w, size_t ws, int nr, const void* xp, size_t xps, int nt,
                   float* out, int64_t os) {
    const uint8_t* wb = static_cast<const uint8_t*>(w);
    const uint8_t* xb = static_cast<const uint8_t*>(xp);
    // Rows outer: a tile's weight rows stay in L1 while every token group passes by.
    const int rows = nt == 1 ? K::kRowsOneToken : K::kRows;
    if constexpr (requires { K::kOneTokenGemm; }) {
      if (nt == 1) return K::gemm_one_token(n, wb, ws, nr, xb, out);
    }
    if constexpr (kUnpacks) {
      // More than one token tile: unpack each row group once instead of once per tile.
      if (nt > K::kTokens) {
        static constexpr auto table_u = table_u_of(std::make_index_sequence<K::kRows>());
        static thread_local std::vector<uint8_t> buf;
        const size_t ub = K::unpacked_bytes(n);
        if (buf.size() < ub * K::kRows + 64) buf.resize(ub * K::kRows + 64);
        uint8_t* u = buf.data() + (-reinterpret_cast<uintptr_t>(buf.data()) & 63);
        for (int r = 0; r < nr; r += K::kRows) {
          const int rm = std::min(K::kRows, nr - r);
          K::unpack(n, wb + r * ws, ws, rm, u);
          for (int t = 0; t < nt; t += K::kTokens) {
            const int rn = std::min(K::kTokens, nt - t);
            table_u[rm - 1][rn - 1](n, u, ub, xb + t * xps, xps, out + t * os + r, os);
          }
        }
        return;
      }
    }
    if constexpr (requires { K::kTokensOuter; }) {
      // Rows in blocks whose weights stay in L2 while every token tile passes by; within a
      // block, a token tile's activations stay in L1 while the block's rows pass by. (Without
      // the blocks, every token tile streamed all the item's rows from memory again.)
      constexpr size_t kBlockBytes = 256 * 1024;
      const int block = static_cast<int>(std::max<size_t>(1, kBlockBytes / std::max<size_t>(ws, 1) / rows)) * rows;
      for (int rb = 0; rb < nr; rb += block) {
        const int re = std::min(nr, rb + block);
        for (int t = 0; t < nt; t += K::kTokens) {
          const int rn = std::min(K::kTokens, nt - t);
          for (int r = rb; r < re; r += rows) {
            const int rm = std::min(rows, re - r);
            table[rm - 1][rn - 1](n, wb + r * ws, ws, xb + t * xps, xps, out + t * os + r, os);
          }
        }
      }
      return;
    }
    for (int r = 0; r < nr; r += rows) {
      const int rm = std::min(rows, nr - r);
      for (int t = 0; t < nt; t += K::kTokens) {
        const int rn = std::min(K::kTokens, nt - t);
        table[rm - 1][rn - 1](n, wb + r * ws, ws, xb + t * xps, xps, out + t * os + r, os);
      }
    }
  }

  // The prepared form of nt activation rows, in a per-thread buffer.
  static const uint8_t* prepared(int64_t n, const void* x, size_t xs, int nt, size_t* xps) {
    if constexpr (K::kPrepared) {
      static thread_local std::vector<uint8_t> buf;
      *xps = K::prep_bytes(n);
      if (buf.size() < *xps * nt + 64) buf.resize(*xps * nt + 64);
      uint8_t* p = buf.data() + (-reinterpret_cast<uintptr_t>(buf.data()) & 63);
      for (int t = 0; t < nt; ++t) K::prep(n, static_cast<const uint8_t*>(x) + t * xs, p + t * *xps);
      return p;
    } else {
      *xps = xs;
      return static_cast<const uint8_t*>(x);
    }
  }

  static void tile(int64_t n, const void* w, const void* x, size_t xs, int nt, float* out, int64_t os) {
    size_t xps;
    const uint8_t* xp = prepared(n, x, xs, nt, &xps);
    gemm(n, w, 0, 1, xp, xps, nt, out, os);
  }

  static void vec_dot(int64_t n, const void* w, const void* x, float* out) {
    size_t xps;
    const uint8_t* xp = prepared(n, x, 0, 1, &xps);
    K::template micro<1, 1>(n, static_cast<const uint8_t*>(w), 0, xp, xps, out, 0);
  }

  static DotKernel make() {
    DotKernel k;
    k.vec_dot = vec_dot;
    k.tile = tile;
    k.max_tokens = K::kTokens;
    k.gemm = gemm;
    if constexpr (K::kPrepared) {
      k.prep_bytes = K::prep_bytes;
      k.prep = K::prep;
    }
    k.tile_tokens = K::kTokens;
    k.tile_rows = K::kRows;
    return k;
  }
};

}  // namespace
}  // namespace mlxs::kern::detail
