// The per-type table behind quant_ops(): converters plus the dispatched dot product.
//
// Activation types: legacy quants dot with Q8_0 (Q4_1 and Q5_1 with Q8_1, whose stored
// d*sum(q) folds in their offset), K-quants with Q8_K. F16 and BF16 weights dot with F32
// activations: converting activations to half precision would save little (weights
// dominate the traffic) and would add a rounding step. Q8_1 and Q8_K are activation-only
// types: they convert both ways but have no vec_dot.
#include <array>

#include "kernels/dot_kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_impl.h"

namespace mlxs::kern {
namespace {

using namespace detail;

QuantOps entry(GgmlType t, void (*to)(const void*, float*, int64_t), void (*from)(const float*, void*, int64_t),
               GgmlType vdt) {
  return QuantOps{t, to, from, vdt, active_dot_kernel(t).vec_dot};
}

struct Table {
  std::array<QuantOps, 40> ops{};
  std::array<bool, 40> present{};
  void add(const QuantOps& o) {
    ops[static_cast<uint32_t>(o.type)] = o;
    present[static_cast<uint32_t>(o.type)] = true;
  }
};

const Table& table() {
  static const Table t = [] {
    Table tb;
    tb.add(entry(GgmlType::F32, to_float_f32, from_float_f32, GgmlType::F32));
    tb.add(entry(GgmlType::F16, to_float_f16, from_float_f16, GgmlType::F32));
    tb.add(entry(GgmlType::BF16, to_float_bf16, from_float_bf16, GgmlType::F32));
    tb.add(entry(GgmlType::Q4_0, to_float_q4_0, from_float_q4_0, GgmlType::Q8_0));
    tb.add(entry(GgmlType::Q4_1, to_float_q4_1, from_float_q4_1, GgmlType::Q8_1));
    tb.add(entry(GgmlType::Q5_0, to_float_q5_0, from_float_q5_0, GgmlType::Q8_0));
    tb.add(entry(GgmlType::Q5_1, to_float_q5_1, from_float_q5_1, GgmlType::Q8_1));
    tb.add(entry(GgmlType::Q8_0, to_float_q8_0, from_float_q8_0, GgmlType::Q8_0));
    tb.add(entry(GgmlType::Q8_1, to_float_q8_1, from_float_q8_1, GgmlType::Q8_1));
    tb.add(entry(GgmlType::Q2_K, to_float_q2_k, from_float_q2_k, GgmlType::Q8_K));
    tb.add(entry(GgmlType::Q3_K, to_float_q3_k, from_float_q3_k, GgmlType::Q8_K));
    tb.add(entry(GgmlType::Q4_K, to_float_q4_k, from_float_q4_k, GgmlType::Q8_K));
    tb.add(entry(GgmlType::Q5_K, to_float_q5_k, from_float_q5_k, GgmlType::Q8_K));
    tb.add(entry(GgmlType::Q6_K, to_float_q6_k, from_float_q6_k, GgmlType::Q8_K));
    tb.add(entry(GgmlType::Q8_K, to_float_q8_k, from_float_q8_k, GgmlType::Q8_K));
    return tb;
  }();
  return t;
}

}  // namespace

const QuantOps* quant_ops(GgmlType type) {
  const uint32_t i = static_cast<uint32_t>(type);
  const Table& t = table();
  if (i >= t.ops.size() || !t.present[i]) return nullptr;
  return &t.ops[i];
}

}  // namespace mlxs::kern
