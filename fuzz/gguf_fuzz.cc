// libFuzzer target: any byte string fed to the GGUF reader, and to everything that reads
// a parsed file (model config, weight binding, tokenizer), must give a value or a clear
// error, never a crash, hang or out-of-bounds read.
#include <cstddef>
#include <cstdint>

#include "engine/model_config.h"
#include "engine/weights.h"
#include "model/gguf.h"
#include "tokenizer/tokenizer.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto f = mlxs::GgufFile::parse(data, size, "fuzz.gguf");
  if (!f.ok()) return 0;
  const mlxs::GgufFile& g = *f.value();
  if (auto cfg = mlxs::ModelConfig::from_gguf(g); cfg.ok()) {
    // Bound the work: the fuzzer can describe huge models in a few bytes.
    if (static_cast<int64_t>(cfg->n_layer) * cfg->n_embd < (1 << 20)) {
      mlxs::ModelSource src;
      src.path = "fuzz.gguf";
      src.config = cfg.value();
      for (const auto& t : g.tensors()) src.tensors.emplace(t.name, t);
      auto w = mlxs::ModelWeights::load(src);
      (void)w;
    }
  }
  if (g.get_array("tokenizer.ggml.tokens") && g.get_array("tokenizer.ggml.tokens")->size() < 200000) {
    auto tok = mlxs::Tokenizer::from_gguf(g);
    if (tok.ok()) {
      auto ids = tok.value()->encode("Hello wörld <s> 123 \xe2\x96\x81x", true, true);
      (void)tok.value()->decode(ids);
    }
  }
  return 0;
}
