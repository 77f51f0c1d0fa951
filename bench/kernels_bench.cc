// Kernel throughput: for each weight type and matrix shape, matmul with 1 token reported
// as weight bytes streamed per second (decode is bandwidth bound), and with 8 / 64 tokens
// as GFLOP/s. "cold" rotates over copies of the matrix totalling ~8x the L3 size, so the
// weights come from DRAM as in a real model; "hot" reuses one copy (cache resident when
// it fits in L3). Rows named TYPEr run the same matrix repacked (kernels/repack.h). Times
// are the best of several batches (see time_per_call).
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "base/cpu_features.h"
#include "base/thread_pool.h"
#include "kernels/affine.h"
#include "kernels/dot_kernels.h"
#include "kernels/matmul.h"
#include "kernels/quant.h"
#include "kernels/repack.h"

using namespace mlxs;
using namespace mlxs::kern;

namespace {

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Seconds per call of fn(i): the fastest of several batches of calls, each batch lasting
// about min_time / 8. Taking the best batch keeps the figure meaningful on a shared machine
// where other processes steal the cores now and then.
template <class F>
double time_per_call(F&& fn, double min_time) {
  fn(0);
  int64_t i = 0;
  double best = 1e30;
  const double start = now_s();
  while (now_s() - start < min_time) {
    int64_t calls = 0;
    const double t0 = now_s();
    double t1 = t0;
    while (t1 - t0 < min_time / 8) {
      fn(i++);
      ++calls;
      t1 = now_s();
    }
    best = std::min(best, (t1 - t0) / static_cast<double>(calls));
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 2;
  double min_time = 0.3;
  std::string only;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--threads" && i + 1 < argc) threads = std::atoi(argv[++i]);
    else if (a == "--quick") min_time = 0.1;
    else if (a == "--type" && i + 1 < argc) only = argv[++i];
    else {
      std::fprintf(stderr, "usage: kernels_bench [--threads N] [--quick] [--type q4_0|mlx4|mlx8]\n");
      return 2;
    }
  }
  const char* isa_names[] = {"scalar", "avx2", "avx512"};
  std::printf("cpu: %s; kernels: %s; threads: %d\n", cpu_features().describe().c_str(),
              isa_names[static_cast<int>(detail::best_isa())], threads);
  std::printf("%-5s %-11s %10s %10s %13s %14s\n", "type", "rows x cols", "1tok cold", "1tok hot", "8tok", "64tok");
  std::printf("%-5s %-11s %10s %10s %13s %14s\n", "", "", "GB/s", "GB/s", "GFLOP/s", "GFLOP/s");

  ThreadPool pool(threads);
  const GgmlType types[] = {GgmlType::Q8_0, GgmlType::Q4_0, GgmlType::Q4_K, GgmlType::Q6_K,
                            GgmlType::Q5_K, GgmlType::Q3_K, GgmlType::Q2_K, GgmlType::Q5_0,
                            GgmlType::Q4_1, GgmlType::F16};
  const std::pair<int64_t, int64_t> shapes[] = {{2048, 2048}, {8192, 2048}, {2048, 8192}};
  std::mt19937 rng(1);
  std::normal_distribution<float> dist(0.f, 1.f);

  for (GgmlType t : types) {
    if (!only.empty() && only != type_name(t)) continue;
    for (auto [rows, cols] : shapes) {
      std::vector<float> f(rows * cols);
      for (auto& v : f) v = dist(rng);
      const size_t bytes = row_size(t, cols) * rows;
      const size_t copies = std::max<size_t>(2, (size_t(8) * 36 << 20) / bytes);
      std::vector<uint8_t> data(bytes * copies);
      quant_ops(t)->from_float(f.data(), data.data(), rows * cols);
      for (size_t c = 1; c < copies; ++c) std::memcpy(data.data() + c * bytes, data.data(), bytes);

      std::vector<float> x(64 * cols), out(64 * rows);
      for (auto& v : x) v = dist(rng);
      auto run = [&](int64_t n_tokens, size_t copy) {
        WeightMatrix w{t, cols, rows, data.data() + copy * bytes};
        matmul(w, x.data(), n_tokens, out.data(), pool);
      };
      const double cold = time_per_call([&](int64_t i) { run(1, static_cast<size_t>(i) % copies); }, min_time);
      const double hot = time_per_call([&](int64_t) { run(1, 0); }, min_time);
      const double t8 = time_per_call([&](int64_t) { run(8, 0); }, min_time);
      const double t64 = time_per_call([&](int64_t) { run(64, 0); }, min_time);
      const double flop = 2.0 * rows * cols;
      std::printf("%-5s %5lldx%-5lld %10.1f %10.1f %13.1f %14.1f\n", type_name(t), static_cast<long long>(rows),
                  static_cast<long long>(cols), bytes / cold * 1e-9, bytes / hot * 1e-9, 8 * flop / t8 * 1e-9,
                  64 * flop / t64 * 1e-9);
      std::fflush(stdout);

      // The same matrix in the interleaved layout (repack.h), where this CPU has its kernel.
      const WeightMatrix w0{t, cols, rows, data.data()};
      if (!repack_available(w0)) continue;
      std::vector<std::shared_ptr<const RepackedMatrix>> packed;
      for (size_t c = 0; c < copies; ++c)
        packed.push_back(repack(WeightMatrix{t, cols, rows, data.data() + c * bytes}));
      auto run_r = [&](int64_t n_tokens, size_t copy) {
        matmul(*packed[copy], x.data(), n_tokens, out.data(), pool);
      };
      const double rcold =
          time_per_call([&](int64_t i) { run_r(1, static_cast<size_t>(i) % copies); }, min_time);
      const double rhot = time_per_call([&](int64_t) { run_r(1, 0); }, min_time);
      const double r8 = time_per_call([&](int64_t) { run_r(8, 0); }, min_time);
      const double r64 = time_per_call([&](int64_t) { run_r(64, 0); }, min_time);
      std::printf("%-5s %5lldx%-5lld %10.1f %10.1f %13.1f %14.1f\n",
                  (std::string(type_name(t)) + "r").c_str(), static_cast<long long>(rows),
                  static_cast<long long>(cols), bytes / rcold * 1e-9, bytes / rhot * 1e-9,
                  8 * flop / r8 * 1e-9, 64 * flop / r64 * 1e-9);
      std::fflush(stdout);
    }
  }

  // MLX affine matrices (mlx-lm's default 4-bit, group 64, and 8-bit), f16 scales and
  // biases: codes are uniform random, which is all the kernels' speed depends on.
  for (int bits : {4, 8}) {
    const std::string name = "mlx" + std::to_string(bits);
    if (!only.empty() && only != name) continue;
    for (auto [rows, cols] : shapes) {
      AffineMatrix proto{bits, 64, cols, rows, nullptr, nullptr, nullptr, GgmlType::F16};
      const size_t q_bytes = proto.row_bytes() * rows, s_bytes = 2 * size_t(rows) * proto.n_groups();
      const size_t bytes = proto.total_bytes();
      const size_t copies = std::max<size_t>(2, (size_t(8) * 36 << 20) / bytes);
      std::vector<uint8_t> data(bytes * copies);
      for (size_t i = 0; i < q_bytes; ++i) data[i] = static_cast<uint8_t>(rng());
      for (size_t i = 0; i < 2 * s_bytes; i += 2) {
        const uint16_t h = i < s_bytes ? 0x1c00 : 0xa400;  // scale 2^-8, bias -2^-6
        std::memcpy(&data[q_bytes + i], &h, 2);
      }
      for (size_t c = 1; c < copies; ++c) std::memcpy(data.data() + c * bytes, data.data(), bytes);

      std::vector<float> x(64 * cols), out(64 * rows);
      for (auto& v : x) v = dist(rng);
      auto run = [&](int64_t n_tokens, size_t copy) {
        AffineMatrix w = proto;
        w.q = data.data() + copy * bytes;
        w.scales = w.q + q_bytes;
        w.biases = w.scales + s_bytes;
        matmul(w, x.data(), n_tokens, out.data(), pool);
      };
      const double cold = time_per_call([&](int64_t i) { run(1, static_cast<size_t>(i) % copies); }, min_time);
      const double hot = time_per_call([&](int64_t) { run(1, 0); }, min_time);
      const double t8 = time_per_call([&](int64_t) { run(8, 0); }, min_time);
      const double t64 = time_per_call([&](int64_t) { run(64, 0); }, min_time);
      const double flop = 2.0 * rows * cols;
      std::printf("%-5s %5lldx%-5lld %10.1f %10.1f %13.1f %14.1f\n", name.c_str(), static_cast<long long>(rows),
                  static_cast<long long>(cols), bytes / cold * 1e-9, bytes / hot * 1e-9, 8 * flop / t8 * 1e-9,
                  64 * flop / t64 * 1e-9);
      std::fflush(stdout);
    }
  }
  return 0;
}
