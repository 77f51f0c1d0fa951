// parse_ttft_config: the spec's example, defaults, and every kind of problem reported
// with its line, several at once.
#include "ttft/ttft_config.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace mlxs::ttft {
namespace {

// The runtime.yaml example of PRODUCTION_FEATURES.md ("TTFT Acceleration Pipeline"),
// inside a file with other sections.
const char* kSpecExample = R"(server:
  port: 3000
# Phase 4.3: TTFT Accelerator Pipeline
ttft_accelerator:
  enabled: true

  warm_queue:
    max_size: 100                     # Maximum queue size
    ttl_ms: 800                       # Item TTL (milliseconds)
    priority_by_tokens: true          # Prioritize by estimated tokens

  speculation:
    enabled: true                     # Enable speculation
    allowlist_only: true              # Only speculate on allowlisted prompts
    max_candidates: 1000              # Maximum speculation candidates
    min_confidence: 0.85              # Minimum confidence threshold (85%)
    decay_factor: 0.8                 # Confidence decay on failure

  kv_prep:
    enabled: false                    # Enable KV cache prefetch
    prefetch_enabled: true            # Enable prefetch
    cache_warmup_ms: 50               # Cache warmup time (50ms)
qos_monitor:
  enabled: true
)";

std::string error_of(const std::string& text) {
  auto r = parse_ttft_config(text, "runtime.yaml");
  EXPECT_FALSE(r.ok()) << "expected a problem in:\n" << text;
  return r.ok() ? std::string() : r.status().message();
}

TEST(TtftConfig, SpecExampleParsesWithItsValues) {
  auto r = parse_ttft_config(kSpecExample, "runtime.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->enabled);
  EXPECT_EQ(r->warm_queue.max_size, 100);
  EXPECT_EQ(r->warm_queue.ttl_ms, 800);
  EXPECT_TRUE(r->warm_queue.priority_by_tokens);
  EXPECT_TRUE(r->speculation.enabled);
  EXPECT_TRUE(r->speculation.allowlist_only);
  EXPECT_EQ(r->speculation.max_candidates, 1000);
  EXPECT_DOUBLE_EQ(r->speculation.min_confidence, 0.85);
  EXPECT_DOUBLE_EQ(r->speculation.decay_factor, 0.8);
  EXPECT_FALSE(r->kv_prep.enabled);
  EXPECT_TRUE(r->kv_prep.prefetch_enabled);
  EXPECT_EQ(r->kv_prep.cache_warmup_ms, 50);
}

TEST(TtftConfig, NonDefaultValuesAreRead) {
  auto r = parse_ttft_config(R"(ttft_accelerator:
  warm_queue: {max_size: 7, ttl_ms: 1, priority_by_tokens: false}
  speculation: {allowlist_only: false, max_candidates: 10000000, min_confidence: 0,
                decay_factor: 1}
  kv_prep: {enabled: true, prefetch_enabled: false, cache_warmup_ms: 0}
)",
                             "runtime.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->enabled);
  EXPECT_EQ(r->warm_queue.max_size, 7);
  EXPECT_EQ(r->warm_queue.ttl_ms, 1);
  EXPECT_FALSE(r->warm_queue.priority_by_tokens);
  EXPECT_FALSE(r->speculation.allowlist_only);
  EXPECT_EQ(r->speculation.max_candidates, 10000000);
  EXPECT_DOUBLE_EQ(r->speculation.min_confidence, 0.0);
  EXPECT_DOUBLE_EQ(r->speculation.decay_factor, 1.0);
  EXPECT_TRUE(r->kv_prep.enabled);
  EXPECT_FALSE(r->kv_prep.prefetch_enabled);
  EXPECT_EQ(r->kv_prep.cache_warmup_ms, 0);
}

void expect_defaults(const TtftConfig& c) {
  EXPECT_FALSE(c.enabled);
  EXPECT_EQ(c.warm_queue.max_size, 100);
  EXPECT_EQ(c.warm_queue.ttl_ms, 800);
  EXPECT_TRUE(c.warm_queue.priority_by_tokens);
  EXPECT_FALSE(c.speculation.enabled);
  EXPECT_TRUE(c.speculation.allowlist_only);
  EXPECT_EQ(c.speculation.max_candidates, 1000);
  EXPECT_DOUBLE_EQ(c.speculation.min_confidence, 0.85);
  EXPECT_DOUBLE_EQ(c.speculation.decay_factor, 0.8);
  EXPECT_FALSE(c.kv_prep.enabled);
  EXPECT_TRUE(c.kv_prep.prefetch_enabled);
  EXPECT_EQ(c.kv_prep.cache_warmup_ms, 50);
}

TEST(TtftConfig, AbsentSectionGivesDefaults) {
  for (const char* text : {"", "server:\n  port: 3000\n", "ttft_accelerator:\n",
                           "ttft_accelerator:\n  warm_queue:\n  speculation:\n  kv_prep:\n"}) {
    auto r = parse_ttft_config(text, "runtime.yaml");
    ASSERT_TRUE(r.ok()) << text << ": " << r.status().message();
    expect_defaults(*r);
  }
}

TEST(TtftConfig, PartialSectionKeepsOtherDefaults) {
  auto r = parse_ttft_config("ttft_accelerator:\n  speculation:\n    enabled: true\n",
                             "runtime.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->speculation.enabled);
  EXPECT_TRUE(r->speculation.allowlist_only);
  EXPECT_EQ(r->speculation.max_candidates, 1000);
  EXPECT_EQ(r->warm_queue.ttl_ms, 800);
}

TEST(TtftConfig, OtherSectionsAreIgnored) {
  // Unknown keys and bad values elsewhere belong to other parsers.
  auto r = parse_ttft_config(R"(qos_monitor:
  bogus: [1, 2]
canary:
  enabled: "maybe"
ttft_accelerator:
  enabled: true
)",
                             "runtime.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_TRUE(r->enabled);
}

TEST(TtftConfig, UnknownKeyListsTheKnownOnes) {
  EXPECT_EQ(error_of("ttft_accelerator:\n  enabled: true\n  warmqueue: {}\n"),
            "runtime.yaml:3: unknown key 'ttft_accelerator.warmqueue' (known: enabled, "
            "warm_queue, speculation, kv_prep)");
  EXPECT_EQ(error_of("ttft_accelerator:\n  kv_prep:\n    prefetch: true\n"),
            "runtime.yaml:3: unknown key 'ttft_accelerator.kv_prep.prefetch' (known: enabled, "
            "prefetch_enabled, cache_warmup_ms)");
}

TEST(TtftConfig, DuplicateKeysAreRejected) {
  EXPECT_EQ(error_of("ttft_accelerator:\n  warm_queue:\n    ttl_ms: 5\n    ttl_ms: 6\n"),
            "runtime.yaml:4: duplicate key 'ttft_accelerator.warm_queue.ttl_ms' "
            "(first at line 3)");
  EXPECT_EQ(error_of("ttft_accelerator:\n  enabled: true\nserver: {}\nttft_accelerator:\n"),
            "runtime.yaml:4: duplicate key 'ttft_accelerator' (first at line 1)");
}

TEST(TtftConfig, BooleansArePlainTrueOrFalse) {
  EXPECT_EQ(error_of("ttft_accelerator:\n  enabled: yes\n"),
            "runtime.yaml:2: 'ttft_accelerator.enabled' must be true or false, not 'yes'");
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    enabled: \"true\"\n"),
            "runtime.yaml:3: 'ttft_accelerator.speculation.enabled' must be true or false, "
            "not \"true\" (quoted, so a string)");
  EXPECT_EQ(error_of("ttft_accelerator:\n  kv_prep:\n    enabled:\n"),
            "runtime.yaml:3: 'ttft_accelerator.kv_prep.enabled' must be true or false, "
            "not nothing");
}

TEST(TtftConfig, IntegersArePlainAndInRange) {
  EXPECT_EQ(error_of("ttft_accelerator:\n  warm_queue:\n    max_size: 0\n"),
            "runtime.yaml:3: 'ttft_accelerator.warm_queue.max_size' must be between 1 and "
            "1000000, not 0");
  EXPECT_EQ(error_of("ttft_accelerator:\n  warm_queue:\n    max_size: 1000001\n"),
            "runtime.yaml:3: 'ttft_accelerator.warm_queue.max_size' must be between 1 and "
            "1000000, not 1000001");
  EXPECT_EQ(error_of("ttft_accelerator:\n  warm_queue:\n    ttl_ms: 0\n"),
            "runtime.yaml:3: 'ttft_accelerator.warm_queue.ttl_ms' must be at least 1, not 0");
  EXPECT_EQ(error_of("ttft_accelerator:\n  warm_queue:\n    ttl_ms: 1.5\n"),
            "runtime.yaml:3: 'ttft_accelerator.warm_queue.ttl_ms' must be an integer, "
            "not '1.5'");
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    max_candidates: \"10\"\n"),
            "runtime.yaml:3: 'ttft_accelerator.speculation.max_candidates' must be an integer, "
            "not \"10\" (quoted, so a string)");
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    max_candidates: 10000001\n"),
            "runtime.yaml:3: 'ttft_accelerator.speculation.max_candidates' must be between 1 "
            "and 10000000, not 10000001");
  EXPECT_EQ(error_of("ttft_accelerator:\n  kv_prep:\n    cache_warmup_ms: -1\n"),
            "runtime.yaml:3: 'ttft_accelerator.kv_prep.cache_warmup_ms' must be at least 0, "
            "not -1");
  // Too large to hold is a range problem, not a crash.
  EXPECT_EQ(error_of("ttft_accelerator:\n  kv_prep:\n    cache_warmup_ms: 99999999999999999999\n"),
            "runtime.yaml:3: 'ttft_accelerator.kv_prep.cache_warmup_ms' must be at least 0, "
            "not 99999999999999999999");
}

TEST(TtftConfig, NumbersArePlainAndInRange) {
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    min_confidence: 1.01\n"),
            "runtime.yaml:3: 'ttft_accelerator.speculation.min_confidence' must be between 0 "
            "and 1, not 1.01");
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    min_confidence: 85%\n"),
            "runtime.yaml:3: 'ttft_accelerator.speculation.min_confidence' must be a number, "
            "not '85%'");
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    decay_factor: 0\n"),
            "runtime.yaml:3: 'ttft_accelerator.speculation.decay_factor' must be greater than "
            "0 and at most 1, not 0");
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    decay_factor: 1.5\n"),
            "runtime.yaml:3: 'ttft_accelerator.speculation.decay_factor' must be greater than "
            "0 and at most 1, not 1.5");
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    decay_factor: .nan\n"),
            "runtime.yaml:3: 'ttft_accelerator.speculation.decay_factor' must be a number, "
            "not '.nan'");
}

TEST(TtftConfig, SectionsMustBeMappings) {
  EXPECT_EQ(error_of("ttft_accelerator: true\n"),
            "runtime.yaml:1: 'ttft_accelerator' must be a mapping (known keys: enabled, "
            "warm_queue, speculation, kv_prep), not 'true'");
  EXPECT_EQ(error_of("ttft_accelerator:\n  warm_queue: [1, 2]\n"),
            "runtime.yaml:2: 'ttft_accelerator.warm_queue' must be a mapping (known keys: "
            "max_size, ttl_ms, priority_by_tokens), not a list");
  EXPECT_EQ(error_of("- a\n- b\n"),
            "runtime.yaml:1: the file must be a mapping of sections, not a list");
}

TEST(TtftConfig, EveryProblemIsReportedSortedByLine) {
  const std::string text = R"(ttft_accelerator:
  kv_prep:
    cache_warmup_ms: soon
  enabled: on
  warm_queue:
    max_size: -3
    colour: blue
  speculation:
    min_confidence: 2
    min_confidence: 0.5
)";
  EXPECT_EQ(error_of(text),
            "runtime.yaml:3: 'ttft_accelerator.kv_prep.cache_warmup_ms' must be an integer, "
            "not 'soon'\n"
            "runtime.yaml:4: 'ttft_accelerator.enabled' must be true or false, not 'on'\n"
            "runtime.yaml:6: 'ttft_accelerator.warm_queue.max_size' must be between 1 and "
            "1000000, not -3\n"
            "runtime.yaml:7: unknown key 'ttft_accelerator.warm_queue.colour' (known: "
            "max_size, ttl_ms, priority_by_tokens)\n"
            "runtime.yaml:9: 'ttft_accelerator.speculation.min_confidence' must be between 0 "
            "and 1, not 2\n"
            "runtime.yaml:10: duplicate key 'ttft_accelerator.speculation.min_confidence' "
            "(first at line 9)");
}

TEST(TtftConfig, AllowlistIsAListOfPromptTexts) {
  auto r = parse_ttft_config(R"(ttft_accelerator:
  speculation:
    allowlist:
      - What is the capital of France?
      - "  Say hello  "
      - 'yes'
)",
                             "runtime.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  // Kept as written; the speculation provider trims when it compares.
  EXPECT_EQ(r->speculation.allowlist,
            (std::vector<std::string>{"What is the capital of France?", "  Say hello  ", "yes"}));

  for (const char* text : {"ttft_accelerator:\n  speculation:\n    allowlist: []\n",
                           "ttft_accelerator:\n  speculation:\n    allowlist:\n",
                           "ttft_accelerator:\n  speculation:\n    enabled: true\n"}) {
    auto empty = parse_ttft_config(text, "runtime.yaml");
    ASSERT_TRUE(empty.ok()) << text << ": " << empty.status().message();
    EXPECT_TRUE(empty->speculation.allowlist.empty()) << text;
  }
}

TEST(TtftConfig, AllowlistProblemsAreReportedPerItem) {
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    allowlist: hello\n"),
            "runtime.yaml:3: 'ttft_accelerator.speculation.allowlist' must be a list of "
            "strings, not 'hello'");
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    allowlist: {a: b}\n"),
            "runtime.yaml:3: 'ttft_accelerator.speculation.allowlist' must be a list of "
            "strings, not a mapping");
  EXPECT_EQ(error_of(R"(ttft_accelerator:
  speculation:
    allowlist:
      - fine
      - [nested]
      - ""
      - {a: b}
      - ~
      - "   "
)"),
            "runtime.yaml:5: item 2 of 'ttft_accelerator.speculation.allowlist' must be a "
            "string, not a list\n"
            "runtime.yaml:6: item 3 of 'ttft_accelerator.speculation.allowlist' must not be "
            "empty\n"
            "runtime.yaml:7: item 4 of 'ttft_accelerator.speculation.allowlist' must be a "
            "string, not a mapping\n"
            "runtime.yaml:8: item 5 of 'ttft_accelerator.speculation.allowlist' must be a "
            "string, not nothing\n"
            "runtime.yaml:9: item 6 of 'ttft_accelerator.speculation.allowlist' must not be "
            "empty");
}

TEST(TtftConfig, UnknownSpeculationKeyListsAllowlist) {
  EXPECT_EQ(error_of("ttft_accelerator:\n  speculation:\n    allow_list: []\n"),
            "runtime.yaml:3: unknown key 'ttft_accelerator.speculation.allow_list' (known: "
            "enabled, allowlist_only, max_candidates, min_confidence, decay_factor, "
            "allowlist)");
}

TEST(TtftConfig, SyntaxErrorIsReportedWithItsLine) {
  const std::string message = error_of("ttft_accelerator:\n  enabled: [true\n");
  EXPECT_EQ(message.rfind("runtime.yaml:", 0), 0u) << message;
  EXPECT_NE(message.find("YAML syntax error"), std::string::npos) << message;
}

TEST(TtftConfig, ShippedRuntimeConfigParses) {
  const char* src = std::getenv("MLXS_SOURCE_DIR");
#ifdef MLXS_SOURCE_DIR_DEFAULT
  if (!src) src = MLXS_SOURCE_DIR_DEFAULT;
#endif
  if (!src) GTEST_SKIP() << "MLXS_SOURCE_DIR not set";
  const std::string path = std::string(src) + "/config/runtime.yaml";
  std::ifstream in(path);
  ASSERT_TRUE(in) << path;
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto r = parse_ttft_config(text, path);
  ASSERT_TRUE(r.ok()) << r.status().message();
}

}  // namespace
}  // namespace mlxs::ttft
