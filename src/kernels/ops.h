// Element-wise and reduction operations of the forward pass (float32 activations).
#pragma once

#include <cstddef>
#include <cstdint>

namespace mlxs::kern {

// out = x / sqrt(mean(x^2) + eps) * w   (out may alias x)
void rms_norm(const float* x, const float* w, float* out, int64_t n, float eps);

// x += y
void add_inplace(float* x, const float* y, int64_t n);

// gate = silu(gate) * up
void silu_mul_inplace(float* gate, const float* up, int64_t n);

// In-place softmax over n values; returns nothing, values sum to 1.
void softmax_inplace(float* x, int64_t n);

// Dot products and scaled accumulation used by attention over the KV cache.
float dot_f32(const float* a, const float* b, int64_t n);
float dot_f32_f16(const float* a, const uint16_t* b, int64_t n);
void axpy_f32(float a, const float* x, float* y, int64_t n);          // y += a * x
void axpy_f16(float a, const uint16_t* x, float* y, int64_t n);       // y += a * x
void f32_to_f16_row(const float* x, uint16_t* y, int64_t n);

// The keys and values of one sequence for one key/value head, as the paged KV cache holds
// them: position p's key starts at k_blocks[p / block_size] + offset + (p % block_size) *
// row_stride bytes, its value likewise in v_blocks; elements are F16 or F32.
struct KvHeadView {
  const uint8_t* const* k_blocks = nullptr;
  const uint8_t* const* v_blocks = nullptr;
  size_t offset = 0;
  int block_size = 1;
  size_t row_stride = 0;
  bool f16 = true;
};

// Causal attention of n_q query heads that share one key/value head, over positions
// [0, n_ctx): out_g = sum_p softmax_p(scale * q_g . k_p) * v_p, with q_g at q + g * hd and
// out_g at out + g * hd. `scratch` holds at least attend_scratch(n_q, hd, n_ctx) floats.
// Each head's result is a function of its own q and the cache rows alone: it does not
// depend on n_q or on which heads are computed together.
size_t attend_scratch(int n_q, int hd, int n_ctx);
void attend(const float* q, int n_q, int hd, float scale, const KvHeadView& kv, int n_ctx, float* scratch,
            float* out);

// Rotary position embedding for one token's heads, in place.
// x holds n_heads vectors of head_dim floats; the first rope_dim of each are rotated.
// inv_freq has rope_dim/2 entries (theta_i = pos * inv_freq[i]).
// neox: pairs (i, i + rope_dim/2); otherwise adjacent pairs (2i, 2i+1).
void rope_inplace(float* x, int n_heads, int head_dim, int rope_dim, int pos,
                  const float* inv_freq, bool neox);

}  // namespace mlxs::kern
