// Converts rows of float weights to a tensor type's bytes: F32/F16/BF16 here, the
// quantized types through the kernels' quant_ops (when this build has them).
#pragma once

#include <cstdint>

#include "base/status.h"
#include "model/ggml_type.h"

namespace mlxs::testmodel {

// Whether `type` can be encoded by this build.
Status check_encodable(GgmlType type);

// Writes one row of n floats (n a multiple of the block size) as `type` to dst.
void encode_row(GgmlType type, const float* src, int64_t n, uint8_t* dst);

}  // namespace mlxs::testmodel
