// The prepared-activation layout of the affine kernels (see affine_kernels.h): int8 codes
// per 32-element block with a float scale, rearranged into the planes of each chunk.
#include <immintrin.h>

#include <cstring>

#include "base/fp16.h"
#include "kernels/affine_kernels.h"

namespace mlxs::kern::affine {

Layout Layout::of(const AffineMatrix& m) {
  Layout l;
  l.bits = m.bits;
  l.per = 8 / m.bits;
  l.lpg = m.group_size * m.bits / 32;
  l.n = m.n_cols;
  l.n_chunks = (static_cast<int64_t>(m.row_bytes()) + 63) / 64;
  l.n_groups = m.n_groups();
  l.groups_padded = (l.n_groups + 15) / 16 * 16;
  const size_t codes = static_cast<size_t>(l.n_chunks) * 64 * l.per;
  l.d_offset = codes;
  l.xsum_offset = l.d_offset + static_cast<size_t>(l.n_chunks) * 16 * sizeof(float);
  l.stride = (l.xsum_offset + static_cast<size_t>(l.groups_padded) * sizeof(float) + 63) / 64 * 64;
  return l;
}

namespace {

template <int kPer>
inline void scatter(const int32_t* e, int8_t* dst) {
  for (int i = 0; i < 32; ++i) dst[(i % kPer) * 64 + i / kPer] = static_cast<int8_t>(e[i]);
}

}  // namespace

void prepare_token(const Layout& l, const float* x, uint8_t* dst) {
  std::memset(dst, 0, l.stride);
  int8_t* codes = reinterpret_cast<int8_t*>(dst);
  float* d_lane = reinterpret_cast<float*>(dst + l.d_offset);
  float* xsum = reinterpret_cast<float*>(dst + l.xsum_offset);
  const int64_t chunk_elems = 64 * l.per;
  // Blocks per group (lanes per group / lanes per block) and chunk sizes are powers of two:
  // shifts and masks instead of divisions in the loop.
  const int group_shift = __builtin_ctz(static_cast<unsigned>(l.lpg / l.bits));
  const __m256 sign = _mm256_set1_ps(-0.0f);
  for (int64_t b = 0; b < l.n / 32; ++b) {
    // AVX2 is the build's baseline; every instruction set's kernels share this code, so
    // the codes of a token are the same whichever kernel reads them.
    const float* xb = x + b * 32;
    __m256 v[4];
    __m256 amax = _mm256_setzero_ps();
    for (int j = 0; j < 4; ++j) {
      v[j] = _mm256_loadu_ps(xb + 8 * j);
      amax = _mm256_max_ps(amax, _mm256_andnot_ps(sign, v[j]));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(amax), _mm256_extractf128_ps(amax, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    const float d = _mm_cvtss_f32(m4) / 127.0f;
    const __m256 id = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
    // Round to nearest even (the default MXCSR mode), as nearbyint would.
    alignas(32) int32_t e[32];
    __m256i isum = _mm256_setzero_si256();
    for (int j = 0; j < 4; ++j) {
      const __m256i q = _mm256_cvtps_epi32(_mm256_mul_ps(v[j], id));
      _mm256_store_si256(reinterpret_cast<__m256i*>(e + 8 * j), q);
      isum = _mm256_add_epi32(isum, q);
    }
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(isum), _mm256_extracti128_si256(isum, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    const int32_t sum = _mm_cvtsi128_si32(s4);
    // Element b*32 + i goes to plane (i % per) of its chunk, byte (within / per).
    const int64_t within = (b * 32) & (chunk_elems - 1);
    int8_t* chunk = codes + (b * 32 - within);
    const int64_t k0 = within >> __builtin_ctz(static_cast<unsigned>(l.per));
    switch (l.per) {  // constant strides, so that the scatter compiles to plain stores
      case 1: scatter<1>(e, chunk + k0); break;
      case 2: scatter<2>(e, chunk + k0); break;
      default: scatter<4>(e, chunk + k0); break;
    }
    // The block's lanes: 4 * per elements each, `bits` lanes per block of 32.
    for (int j = 0; j < l.bits; ++j) d_lane[b * l.bits + j] = d;
    // Group sums of the dequantized activations, blocks added in order.
    xsum[b >> group_shift] += d * static_cast<float>(sum);
  }
}

float load_scale(GgmlType type, const uint8_t* row, int64_t i) {
  uint16_t h;
  switch (type) {
    case GgmlType::F16:
      std::memcpy(&h, row + 2 * i, 2);
      return fp16_to_f32(h);
    case GgmlType::BF16:
      std::memcpy(&h, row + 2 * i, 2);
      return bf16_to_f32(h);
    default: {
      float f;
      std::memcpy(&f, row + 4 * i, 4);
      return f;
    }
  }
}

}  // namespace mlxs::kern::affine
