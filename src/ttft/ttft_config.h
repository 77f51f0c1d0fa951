// The ttft_accelerator section of config/runtime.yaml: the warm queue, first-token
// speculation and KV prefetch settings of the TTFT acceleration pipeline.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "base/status.h"

namespace mlxs::ttft {

// Pre-tokenizes prompts ahead of inference.
struct WarmQueueConfig {
  int max_size = 100;             // 1..1000000 items
  int64_t ttl_ms = 800;           // >= 1; an item not taken by then is dropped
  bool priority_by_tokens = true;  // longer prompts first
};

// Predicts the first token of repeated prompts.
struct SpeculationConfig {
  bool enabled = false;
  bool allowlist_only = true;   // speculate only on allowlisted prompts
  int max_candidates = 1000;    // 1..10000000 tracked patterns
  double min_confidence = 0.85;  // 0..1; below this no speculation
  double decay_factor = 0.8;     // 0 < x <= 1; confidence multiplier on a miss
  // Prompt texts that may be speculated when allowlist_only (an extension of the spec's
  // keys; more can be added at run time through POST /admin/ttft/allowlist).
  std::vector<std::string> allowlist;
};

// Pre-warms the KV cache for anticipated prompts.
struct KvPrepConfig {
  bool enabled = false;
  bool prefetch_enabled = true;
  int64_t cache_warmup_ms = 50;  // >= 0
};

struct TtftConfig {
  bool enabled = false;
  WarmQueueConfig warm_queue;
  SpeculationConfig speculation;
  KvPrepConfig kv_prep;
};

// Parses a whole runtime.yaml text and reads its top-level ttft_accelerator section
// (absent or empty: the defaults above); other sections are left to their own parsers.
// Every problem is reported, one "PATH:LINE: message" per line, sorted by line.
Result<TtftConfig> parse_ttft_config(const std::string& file_text, const std::string& path);

}  // namespace mlxs::ttft
