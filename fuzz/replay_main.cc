// Runs the fuzz target without libFuzzer (any compiler): over the files named on the
// command line, and over deterministic mutations of each (every truncation point on a
// coarse grid, and seeded byte flips), so the regression suite exercises the same paths.
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <random>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

int main(int argc, char** argv) {
  long runs = 0;
  for (int i = 1; i < argc; ++i) {
    std::ifstream in(argv[i], std::ios::binary);
    if (!in) {
      std::fprintf(stderr, "cannot read %s\n", argv[i]);
      return 1;
    }
    std::vector<uint8_t> buf((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    LLVMFuzzerTestOneInput(buf.data(), buf.size());
    ++runs;
    // Truncations: 64 points spread over the file plus every byte of the first 256.
    for (size_t k = 0; k < 64; ++k) {
      std::vector<uint8_t> t(buf.begin(), buf.begin() + buf.size() * k / 64);
      LLVMFuzzerTestOneInput(t.data(), t.size());
      ++runs;
    }
    for (size_t n = 0; n < std::min<size_t>(256, buf.size()); ++n) {
      LLVMFuzzerTestOneInput(buf.data(), n);
      ++runs;
    }
    // Byte flips in the header and metadata region, where structure lives.
    std::mt19937 rng(1234 + i);
    size_t region = std::min<size_t>(buf.size(), 1 << 16);
    for (int m = 0; m < 300 && region > 0; ++m) {
      std::vector<uint8_t> t = buf;
      for (int f = 0; f < 1 + m % 4; ++f) t[rng() % region] = static_cast<uint8_t>(rng());
      LLVMFuzzerTestOneInput(t.data(), t.size());
      ++runs;
    }
  }
  std::printf("replayed %ld inputs without a crash\n", runs);
  return 0;
}
