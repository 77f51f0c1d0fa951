// The tensor list of a test model (names, shapes, types as llama.cpp expects them) and the
// seeded generation of each tensor's bytes.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "model/ggml_type.h"
#include "testmodel/options.h"

namespace mlxs::testmodel {

enum class Init {
  kMatrix,     // normal(0, stddev)
  kNorm,       // uniform in [0.9, 1.1]: RMSNorm gains near 1
  kBias,       // normal(0, stddev)
  kRopeFreqs,  // llama3 frequency factors, computed (not random)
};

struct TensorSpec {
  std::string name;
  GgmlType type = GgmlType::F32;
  std::vector<int64_t> ne;  // ggml order
  Init init = Init::kMatrix;
  float stddev = 0;
};

struct ModelPlan {
  std::vector<TensorSpec> tensors;
  uint32_t file_type = 0;          // llama.cpp's general.file_type (llama_ftype)
  std::vector<std::string> notes;  // type fallbacks, printed on stderr
};

ModelPlan plan_model(const Options& o);

// The llama3 rope scaling factors for `n` = n_rot/2 frequencies (factor 8, low/high
// frequency factors 1 and 4, original context = the model's context length).
std::vector<float> llama3_rope_factors(int64_t n_rot, double base, int64_t original_ctx);

// The float values of row `r` (ne[0] elements, ggml order) of tensor `t`, before encoding:
// a function of the seed, the tensor's GGUF name and spec, and r only. fill_tensor encodes
// these rows; the Hugging Face writer reorders and encodes the same rows its own way.
void generate_row(const TensorSpec& t, const Options& o, int64_t r, float* row);

// Calls work(r0, r1) over [0, rows) split across up to n_threads threads; tensors of fewer
// than 64K elements (n_elements) are not worth a thread.
void parallel_rows(int64_t rows, int64_t n_elements, int n_threads,
                   const std::function<void(int64_t, int64_t)>& work);

// Generates tensor `t` into `out` (resized to its byte size) using up to n_threads threads.
// The bytes depend only on the seed, the tensor name and its spec.
Status fill_tensor(const TensorSpec& t, const Options& o, int n_threads,
                   std::vector<uint8_t>* out);

}  // namespace mlxs::testmodel
