#include "testmodel/encode.h"

#include <cstring>

#include "base/fp16.h"
#if MLXS_HAVE_QUANT_OPS
#include "kernels/quant.h"
#endif

namespace mlxs::testmodel {

Status check_encodable(GgmlType type) {
  if (type == GgmlType::F32 || type == GgmlType::F16 || type == GgmlType::BF16)
    return Status::Ok();
#if MLXS_HAVE_QUANT_OPS
  const kern::QuantOps* ops = kern::quant_ops(type);
  if (ops && ops->from_float) return Status::Ok();
  return Status::Error(std::string("the kernels have no quantizer for ") + type_name(type));
#else
  return Status::Error(std::string("this build has no quantizers (mlxs_kernels was not "
                                   "available), so it cannot write ") +
                       type_name(type));
#endif
}

void encode_row(GgmlType type, const float* src, int64_t n, uint8_t* dst) {
  switch (type) {
    case GgmlType::F32:
      std::memcpy(dst, src, static_cast<size_t>(n) * 4);
      return;
    case GgmlType::F16:
      for (int64_t k = 0; k < n; ++k) {
        uint16_t h = f32_to_fp16(src[k]);
        std::memcpy(dst + 2 * k, &h, 2);
      }
      return;
    case GgmlType::BF16:
      for (int64_t k = 0; k < n; ++k) {
        uint16_t h = f32_to_bf16(src[k]);
        std::memcpy(dst + 2 * k, &h, 2);
      }
      return;
    default:
#if MLXS_HAVE_QUANT_OPS
      kern::quant_ops(type)->from_float(src, dst, n);
#endif
      return;
  }
}

}  // namespace mlxs::testmodel
