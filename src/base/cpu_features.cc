#include "base/cpu_features.h"

#include <cpuid.h>

#include <cstdlib>
#include <cstring>

namespace mlxs {
namespace {

CpuFeatures detect() {
  CpuFeatures f;
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  f.fma = c & bit_FMA;
  f.f16c = c & bit_F16C;
  bool osxsave = c & bit_OSXSAVE;
  if (!osxsave) return f;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  bool ymm_ok = (xcr0_lo & 0x6) == 0x6;
  bool zmm_ok = (xcr0_lo & 0xe6) == 0xe6;
  __cpuid_count(7, 0, a, b, c, d);
  f.avx2 = ymm_ok && (b & bit_AVX2);
  f.avx512f = zmm_ok && (b & bit_AVX512F);
  f.avx512bw = zmm_ok && (b & bit_AVX512BW);
  f.avx512vl = zmm_ok && (b & bit_AVX512VL);
  f.avx512vnni = zmm_ok && (c & bit_AVX512VNNI);
  __cpuid_count(7, 1, a, b, c, d);
  f.avx512bf16 = zmm_ok && (a & (1u << 5));
  f.avxvnni = ymm_ok && (a & (1u << 4));
  if (const char* env = std::getenv("MLXS_CPU")) {
    if (std::strcmp(env, "avx2") == 0 || std::strcmp(env, "scalar") == 0) {
      f.avx512f = f.avx512bw = f.avx512vl = f.avx512vnni = f.avx512bf16 = false;
    }
    if (std::strcmp(env, "scalar") == 0) f.avx2 = f.avxvnni = false;
  }
  return f;
}

}  // namespace

std::string CpuFeatures::describe() const {
  std::string s;
  auto add = [&](bool on, const char* name) {
    if (!on) return;
    if (!s.empty()) s += ' ';
    s += name;
  };
  add(avx2, "avx2");
  add(fma, "fma");
  add(f16c, "f16c");
  add(avx512f, "avx512f");
  add(avx512bw, "avx512bw");
  add(avx512vnni, "avx512vnni");
  add(avx512bf16, "avx512bf16");
  add(avxvnni, "avxvnni");
  return s.empty() ? "scalar" : s;
}

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace mlxs
