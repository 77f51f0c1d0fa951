// mlx-dequant MODEL.gguf OUT.f32: converts every tensor of a GGUF file to float32 with the
// kernels' quant_ops and writes them back to back, in directory order, as raw little-endian
// floats. tests/reference/check_dequant.py compares this with its own numpy dequantizers.
#include <cstdio>
#include <vector>

#include "kernels/quant.h"
#include "model/gguf.h"

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: mlx-dequant MODEL.gguf OUT.f32\n");
    return 2;
  }
  auto f = mlxs::GgufFile::open(argv[1]);
  if (!f.ok()) {
    std::fprintf(stderr, "mlx-dequant: %s\n", f.status().message().c_str());
    return 1;
  }
  FILE* out = std::fopen(argv[2], "wb");
  if (!out) {
    std::perror(argv[2]);
    return 1;
  }
  std::vector<float> buf;
  for (const auto& t : f.value()->tensors()) {
    const mlxs::kern::QuantOps* ops = mlxs::kern::quant_ops(t.type);
    if (!ops || !ops->to_float) {
      std::fprintf(stderr, "mlx-dequant: no to_float for %s (%s)\n", t.name.c_str(),
                   mlxs::type_name(t.type));
      std::fclose(out);
      return 1;
    }
    buf.resize(static_cast<size_t>(t.n_elements()));
    // Row by row, as the engine converts them.
    const size_t rbytes = mlxs::row_size(t.type, t.ne[0]);
    for (int64_t r = 0; r < t.rows(); ++r)
      ops->to_float(t.data + rbytes * static_cast<size_t>(r), buf.data() + r * t.ne[0], t.ne[0]);
    if (std::fwrite(buf.data(), sizeof(float), buf.size(), out) != buf.size()) {
      std::perror(argv[2]);
      std::fclose(out);
      return 1;
    }
  }
  return std::fclose(out) == 0 ? 0 : 1;
}
