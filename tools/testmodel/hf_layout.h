// Where a GGUF tensor of a test model lives in a Hugging Face checkpoint: its name there,
// and the order of its rows.
//
// Hugging Face llama checkpoints keep q_proj/k_proj rows in their original order and
// rotate with rotate_half (dimension i paired with i + head_dim/2, "NEOX"); llama.cpp's
// converter permutes those rows per head (reshape(n_head, 2, head_dim/2, in).swapaxes(1, 2))
// so the GGUF can rotate adjacent pairs. A folder written from the GGUF's weights undoes
// that permutation, so that both compute the same function. qwen2 uses NEOX in both and
// keeps its rows.
#pragma once

#include <cstdint>
#include <string>

namespace mlxs::testmodel {

// "blk.3.attn_q.weight" → "model.layers.3.self_attn.q_proj.weight"; "" for tensors a
// folder does not hold (rope_freqs.weight: config.json's rope_scaling replaces it).
std::string hf_tensor_name(const std::string& gguf_name);

// The GGUF row that holds row r of the Hugging Face tensor.
int64_t gguf_row_of(const std::string& arch, const std::string& gguf_name, int64_t head_dim,
                    int64_t r);

}  // namespace mlxs::testmodel
