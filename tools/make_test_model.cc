// mlx-testmodel: writes a random-weight Llama-family model (llama or qwen2) as a GGUF file
// that llama.cpp accepts, or as a Hugging Face folder holding the same weights, for tests
// and benchmarks of any shape without downloading weights. Same options and seed give the
// same bytes.
#include <chrono>
#include <cstdio>
#include <thread>

#include "model/gguf_writer.h"
#include "testmodel/encode.h"
#include "testmodel/hf_folder.h"
#include "testmodel/options.h"
#include "testmodel/tensors.h"
#include "testmodel/vocab.h"

namespace mlxs::testmodel {
namespace {

constexpr int kExitBadOptions = 2;

void set_model_metadata(const Options& o, const ModelPlan& plan, GgufWriter* w) {
  const std::string& a = o.arch;
  w->set_string("general.architecture", a);
  w->set_string("general.name", "mlx-testmodel " + a + " " + o.type_name + " seed " +
                                    std::to_string(o.seed));
  w->set_u32("general.file_type", plan.file_type);
  if (o.type != GgmlType::F32 && o.type != GgmlType::F16 && o.type != GgmlType::BF16)
    w->set_u32("general.quantization_version", 2);
  w->set_u32(a + ".vocab_size", static_cast<uint32_t>(o.vocab));
  w->set_u32(a + ".context_length", static_cast<uint32_t>(o.ctx));
  w->set_u32(a + ".embedding_length", static_cast<uint32_t>(o.dim));
  w->set_u32(a + ".block_count", static_cast<uint32_t>(o.layers));
  w->set_u32(a + ".feed_forward_length", static_cast<uint32_t>(o.ffn));
  w->set_u32(a + ".attention.head_count", static_cast<uint32_t>(o.heads));
  w->set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(o.kv_heads));
  // The epsilons the real model families ship with.
  w->set_f32(a + ".attention.layer_norm_rms_epsilon", a == "qwen2" ? 1e-6f : 1e-5f);
  w->set_f32(a + ".rope.freq_base", static_cast<float>(o.rope_base));
  w->set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(o.head_dim()));
}

int run(int argc, char** argv) {
  ParseResult pr = parse_options(argc, argv);
  if (pr.kind == ParseResult::kHelp) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  if (pr.kind == ParseResult::kError) {
    std::fprintf(stderr, "mlx-testmodel: %s\n", pr.error.c_str());
    return kExitBadOptions;
  }
  Options o = pr.options;
  const auto t0 = std::chrono::steady_clock::now();

  // The tokenizer comes first: a tokenizer file decides the vocabulary size.
  GgufWriter w;
  if (o.tokenizer_from_file()) {
    auto n = copy_tokenizer(o.tokenizer, &w);
    if (!n.ok()) {
      std::fprintf(stderr, "mlx-testmodel: --tokenizer: %s\n", n.status().message().c_str());
      return kExitBadOptions;
    }
    if (o.vocab_given && o.vocab != n.value())
      std::fprintf(stderr, "mlx-testmodel: note: --vocab %lld replaced by %lld, the size of %s\n",
                   static_cast<long long>(o.vocab), static_cast<long long>(n.value()),
                   o.tokenizer.c_str());
    o.vocab = n.value();
  } else {
    auto v = o.tokenizer == "spm" ? make_spm_vocab(o.vocab) : make_gpt2_vocab(o.vocab);
    if (!v.ok()) {
      std::fprintf(stderr, "mlx-testmodel: %s\n", v.status().message().c_str());
      return kExitBadOptions;
    }
    add_vocab_metadata(v.value(), &w);
  }

  ModelPlan plan = plan_model(o);
  for (const auto& note : plan.notes) std::fprintf(stderr, "mlx-testmodel: note: %s\n", note.c_str());
  for (const auto& t : plan.tensors) {
    Status st = check_encodable(t.type);
    if (!st.ok()) {
      std::fprintf(stderr, "mlx-testmodel: --type %s: %s\n", o.type_name.c_str(),
                   st.message().c_str());
      return kExitBadOptions;
    }
  }
  const int threads =
      o.threads > 0 ? o.threads : std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
  if (o.hf()) {
    auto stats = write_hf_folder(o, plan, &w, threads);
    if (!stats.ok()) {
      std::fprintf(stderr, "mlx-testmodel: %s\n", stats.status().message().c_str());
      return 1;
    }
    for (const auto& note : stats.value().notes)
      std::fprintf(stderr, "mlx-testmodel: note: %s\n", note.c_str());
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fprintf(stderr,
                 "mlx-testmodel: wrote %s/: %s %s, %zu tensors, %.1fM parameters, %.1f MiB, %.1f s\n",
                 o.output.c_str(), o.arch.c_str(), o.type_name.c_str(), stats.value().n_tensors,
                 static_cast<double>(stats.value().n_params) / 1e6,
                 static_cast<double>(stats.value().n_bytes) / (1 << 20), secs);
    return 0;
  }
  set_model_metadata(o, plan, &w);
  for (const auto& t : plan.tensors) {
    Status st = w.declare_tensor(t.name, t.type, t.ne);
    if (!st.ok()) {
      std::fprintf(stderr, "mlx-testmodel: %s\n", st.message().c_str());
      return 1;
    }
  }

  uint64_t n_params = 0, n_bytes = 0;
  Status st = w.write(o.output, [&](size_t index, const GgufWriter::TensorInfo& info,
                                    std::vector<uint8_t>* out) {
    n_bytes += info.nbytes;
    int64_t n = 1;
    for (int64_t d : info.ne) n *= d;
    n_params += static_cast<uint64_t>(n);
    return fill_tensor(plan.tensors[index], o, threads, out);
  });
  if (!st.ok()) {
    std::fprintf(stderr, "mlx-testmodel: %s\n", st.message().c_str());
    return 1;
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::fprintf(stderr, "mlx-testmodel: wrote %s: %s %s, %zu tensors, %.1fM parameters, %.1f MiB, %.1f s\n",
               o.output.c_str(), o.arch.c_str(), o.type_name.c_str(), plan.tensors.size(),
               static_cast<double>(n_params) / 1e6, static_cast<double>(n_bytes) / (1 << 20), secs);
  return 0;
}

}  // namespace
}  // namespace mlxs::testmodel

int main(int argc, char** argv) { return mlxs::testmodel::run(argc, argv); }
