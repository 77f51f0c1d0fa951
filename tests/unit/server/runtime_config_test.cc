#include "server/runtime_config.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace mlxs::server {
namespace {

// The message of a config that must fail to parse.
std::string error_of(const std::string& yaml) {
  auto r = parse_runtime_config(yaml, "rt.yaml");
  EXPECT_FALSE(r.ok()) << "expected an error for:\n" << yaml;
  return r.ok() ? "" : r.status().message();
}

RuntimeConfig parse_ok(const std::string& yaml) {
  auto r = parse_runtime_config(yaml, "rt.yaml");
  EXPECT_TRUE(r.ok()) << r.status().message();
  return r.ok() ? r.value() : RuntimeConfig{};
}

TEST(RuntimeConfigTest, EmptyFileGivesDefaults) {
  for (const char* text : {"", "# only a comment\n", "\n\n"}) {
    RuntimeConfig c = parse_ok(text);
    EXPECT_EQ(c.server.host, "127.0.0.1");
    EXPECT_EQ(c.server.port, 3000);
    EXPECT_EQ(c.server.log_level, "info");
    EXPECT_EQ(c.model.kv_type, "f16");
    EXPECT_EQ(c.scheduler.max_sequences, 8);
    EXPECT_EQ(c.source_path, "rt.yaml");
    EXPECT_TRUE(c.other_sections.empty());
  }
}

TEST(RuntimeConfigTest, ReadsEveryKind) {
  RuntimeConfig c = parse_ok(
      "server:\n"
      "  host: 0.0.0.0\n"
      "  port: 8080\n"
      "  api_keys: [k1, \"k2\"]\n"
      "  cors:\n"
      "    allowed_origins:\n"
      "      - https://a.example\n"
      "      - '*'\n"
      "    max_age_s: 0\n"
      "  tls_cert_file: cert.pem\n"
      "  tls_key_file: key.pem\n"
      "  log_level: debug\n"
      "model:\n"
      "  path: /models/x.gguf\n"
      "  kv_type: f32\n"
      "  n_ctx: 2048\n"
      "scheduler:\n"
      "  max_sequences: 16\n"
      "  max_active_streams: 4\n"
      "  max_waiting: 0\n"
      "  step_token_budget: +1024\n");
  EXPECT_EQ(c.server.host, "0.0.0.0");
  EXPECT_EQ(c.server.port, 8080);
  EXPECT_EQ(c.server.api_keys, (std::vector<std::string>{"k1", "k2"}));
  EXPECT_EQ(c.server.cors.allowed_origins,
            (std::vector<std::string>{"https://a.example", "*"}));
  EXPECT_EQ(c.server.cors.allowed_headers,
            (std::vector<std::string>{"Authorization", "Content-Type"}));  // default kept
  EXPECT_EQ(c.server.cors.max_age_s, 0);
  EXPECT_EQ(c.server.tls_cert_file, "cert.pem");
  EXPECT_EQ(c.server.log_level, "debug");
  EXPECT_EQ(c.server.io_threads, 2);  // default kept
  EXPECT_EQ(c.model.path, "/models/x.gguf");
  EXPECT_EQ(c.model.kv_type, "f32");
  EXPECT_EQ(c.model.n_ctx, 2048);
  EXPECT_EQ(c.scheduler.max_sequences, 16);
  EXPECT_EQ(c.scheduler.max_active_streams, 4);
  EXPECT_EQ(c.scheduler.max_waiting, 0);
  EXPECT_EQ(c.scheduler.step_token_budget, 1024);
}

TEST(RuntimeConfigTest, EmptySectionsAndNullStringsKeepDefaults) {
  RuntimeConfig c = parse_ok("server:\nmodel:\n  path:\nscheduler: {}\n");
  EXPECT_EQ(c.server.port, 3000);
  EXPECT_EQ(c.model.path, "");
  c = parse_ok("server:\n  api_keys:\n");
  EXPECT_TRUE(c.server.api_keys.empty());
}

TEST(RuntimeConfigTest, UnknownKeysNameTheKeyLineAndKnownKeys) {
  std::string msg = error_of("server:\n  host: x\n  prot: 80\n");
  EXPECT_EQ(msg.rfind("rt.yaml:3: unknown key 'server.prot' (known: host, port, io_threads,", 0),
            0u) << msg;
  EXPECT_NE(msg.find("cors"), std::string::npos);
  EXPECT_NE(msg.find("log_level)"), std::string::npos) << msg;

  msg = error_of("# header\nsrever:\n  port: 1\n");
  EXPECT_EQ(msg,
            "rt.yaml:2: unknown key 'srever' (known: server, model, scheduler, feature_flags, "
            "fault_injection, deployment, "
            "ttft_accelerator, "
            "qos_monitor, policy_engine)");

  msg = error_of("server:\n  cors:\n    allowed_origin: ['*']\n");
  EXPECT_EQ(msg,
            "rt.yaml:3: unknown key 'server.cors.allowed_origin' (known: allowed_origins, "
            "allowed_headers, max_age_s)");

  msg = error_of("model:\n  n_ctx: 1\n\n  kv: f16\n");
  EXPECT_EQ(msg.rfind("rt.yaml:4: unknown key 'model.kv' (known: path, name,", 0), 0u) << msg;
  msg = error_of("scheduler:\n  max_seqs: 2\n");
  EXPECT_EQ(msg.rfind("rt.yaml:2: unknown key 'scheduler.max_seqs' (known: max_sequences,", 0),
            0u) << msg;
}

TEST(RuntimeConfigTest, WrongTypes) {
  EXPECT_EQ(error_of("server:\n  port: abc\n"), "rt.yaml:2: server.port must be an integer");
  EXPECT_EQ(error_of("server:\n  port: \"3000\"\n"), "rt.yaml:2: server.port must be an integer");
  EXPECT_EQ(error_of("server:\n  port: 30.5\n"), "rt.yaml:2: server.port must be an integer");
  EXPECT_EQ(error_of("server:\n  port: 3e3\n"), "rt.yaml:2: server.port must be an integer");
  EXPECT_EQ(error_of("server:\n  port:\n"), "rt.yaml:2: server.port must be an integer");
  EXPECT_EQ(error_of("server:\n  port: [1]\n"), "rt.yaml:2: server.port must be an integer");
  EXPECT_EQ(error_of("server:\n\n  host: {a: 1}\n"), "rt.yaml:3: server.host must be a string");
  EXPECT_EQ(error_of("server:\n  cors:\n    allowed_origins: '*'\n"),
            "rt.yaml:3: server.cors.allowed_origins must be a list of strings");
  EXPECT_EQ(error_of("server:\n  api_keys:\n    - ok\n    - [nested]\n"),
            "rt.yaml:4: server.api_keys must be a list of strings");
  EXPECT_EQ(error_of("server:\n  api_keys:\n    - ok\n    - ''\n"),
            "rt.yaml:4: server.api_keys entries must not be empty");
  EXPECT_EQ(error_of("server: 5\n"), "rt.yaml:1: server must be a mapping");
  EXPECT_EQ(error_of("server:\n  cors: [a]\n"), "rt.yaml:2: server.cors must be a mapping");
  EXPECT_EQ(error_of("- a\n- b\n"), "rt.yaml:1: the top level must be a mapping of sections");
  EXPECT_EQ(error_of("model:\n  n_ctx: 99999999999999999999999\n"),
            "rt.yaml:2: model.n_ctx must be an integer");
}

TEST(RuntimeConfigTest, Ranges) {
  EXPECT_EQ(error_of("server:\n  port: 65536\n"),
            "rt.yaml:2: server.port must be between 0 and 65535 (got 65536)");
  EXPECT_EQ(error_of("server:\n  port: -1\n"),
            "rt.yaml:2: server.port must be between 0 and 65535 (got -1)");
  EXPECT_TRUE(parse_runtime_config("server:\n  port: 0\n", "rt.yaml").ok());
  EXPECT_TRUE(parse_runtime_config("server:\n  port: 65535\n", "rt.yaml").ok());
  EXPECT_EQ(error_of("server:\n  io_threads: 0\n"),
            "rt.yaml:2: server.io_threads must be between 1 and 64 (got 0)");
  EXPECT_EQ(error_of("server:\n  io_threads: 65\n"),
            "rt.yaml:2: server.io_threads must be between 1 and 64 (got 65)");
  for (const char* key : {"header_timeout_ms", "body_timeout_ms", "keep_alive_timeout_ms",
                          "request_timeout_ms", "drain_timeout_ms", "max_request_bytes",
                          "max_header_bytes"}) {
    EXPECT_EQ(error_of(std::string("server:\n  ") + key + ": 0\n"),
              std::string("rt.yaml:2: server.") + key + " must be > 0 (got 0)");
  }
  EXPECT_EQ(error_of("server:\n  port: 99999999999\n"),
            "rt.yaml:2: server.port must be between 0 and 65535 (got 99999999999)");
  EXPECT_EQ(error_of("server:\n  cors:\n    max_age_s: -5\n"),
            "rt.yaml:3: server.cors.max_age_s must be >= 0 (got -5)");
  EXPECT_EQ(error_of("scheduler:\n  max_sequences: 0\n"),
            "rt.yaml:2: scheduler.max_sequences must be between 1 and 256 (got 0)");
  EXPECT_EQ(error_of("scheduler:\n  max_sequences: 257\n"),
            "rt.yaml:2: scheduler.max_sequences must be between 1 and 256 (got 257)");
  EXPECT_EQ(error_of("scheduler:\n  max_active_streams: 0\n"),
            "rt.yaml:2: scheduler.max_active_streams must be between 1 and 256 (got 0)");
  EXPECT_EQ(error_of("scheduler:\n  max_waiting: -1\n"),
            "rt.yaml:2: scheduler.max_waiting must be >= 0 (got -1)");
  EXPECT_EQ(error_of("scheduler:\n  default_max_tokens: 0\n"),
            "rt.yaml:2: scheduler.default_max_tokens must be > 0 (got 0)");
  EXPECT_EQ(error_of("model:\n  n_ctx: -1\n"), "rt.yaml:2: model.n_ctx must be >= 0 (got -1)");
  EXPECT_EQ(error_of("model:\n  threads: -2\n"),
            "rt.yaml:2: model.threads must be between 0 and 1024 (got -2)");
  EXPECT_EQ(error_of("model:\n  kv_cache_tokens: -1\n"),
            "rt.yaml:2: model.kv_cache_tokens must be >= 0 (got -1)");
}

TEST(RuntimeConfigTest, Choices) {
  EXPECT_EQ(error_of("model:\n  kv_type: q8\n"),
            "rt.yaml:2: model.kv_type must be one of f16, f32 (got 'q8')");
  EXPECT_EQ(error_of("server:\n  log_level: verbose\n"),
            "rt.yaml:2: server.log_level must be one of debug, info, warn, error (got 'verbose')");
  EXPECT_EQ(error_of("server:\n  host: ''\n"), "rt.yaml:2: server.host must not be empty");
  for (const char* level : {"debug", "info", "warn", "error"})
    EXPECT_EQ(parse_ok(std::string("server:\n  log_level: ") + level + "\n").server.log_level,
              level);
}

TEST(RuntimeConfigTest, DuplicateKeysAreRejected) {
  EXPECT_EQ(error_of("server:\n  port: 1\n  port: 2\n"),
            "rt.yaml:3: duplicate key 'server.port'");
  EXPECT_EQ(error_of("model: {}\nmodel: {}\n"), "rt.yaml:2: duplicate key 'model'");
}

TEST(RuntimeConfigTest, SyntaxErrorsGiveLineAndColumn) {
  std::string msg = error_of("server:\n  port: [1, 2\n");
  EXPECT_EQ(msg.rfind("rt.yaml:", 0), 0u) << msg;
  msg = error_of("server:\n  host: a: b\n");
  EXPECT_EQ(msg.rfind("rt.yaml:2:", 0), 0u) << msg;
  // Bad indentation on line 3, column 3.
  msg = error_of("server:\n    port: 1\n  host: x\n");
  EXPECT_EQ(msg.rfind("rt.yaml:3:3: ", 0), 0u) << msg;
}

TEST(RuntimeConfigTest, OtherSectionsAreKeptAsYaml) {
  RuntimeConfig c = parse_ok(
      "ttft_accelerator:\n"
      "  enabled: true\n"
      "  warm_queue:\n"
      "    max_size: 100\n"
      "qos_monitor:\n"
      "  policy_store:\n"
      "    policies:\n"
      "      - id: default_ttft_policy\n"
      "        slos: [{name: ttft_p95, threshold: 550}]\n"
      "policy_engine:\n"
      "  enabled: false\n"
      "server:\n"
      "  port: 1234\n");
  EXPECT_EQ(c.server.port, 1234);
  ASSERT_EQ(c.other_sections.size(), 3u);
  // The text is YAML again: re-parsing it through a config section keeps the values.
  EXPECT_NE(c.other_sections["ttft_accelerator"].find("max_size: 100"), std::string::npos)
      << c.other_sections["ttft_accelerator"];
  EXPECT_NE(c.other_sections["qos_monitor"].find("default_ttft_policy"), std::string::npos);
  EXPECT_NE(c.other_sections["qos_monitor"].find("550"), std::string::npos);
  EXPECT_EQ(c.other_sections["policy_engine"], "enabled: false");
}

TEST(RuntimeConfigTest, CrossFieldRules) {
  EXPECT_EQ(error_of("scheduler:\n  max_sequences: 4\n  max_active_streams: 5\n"),
            "rt.yaml: scheduler.max_active_streams (5) must be <= scheduler.max_sequences (4)");
  EXPECT_EQ(error_of("scheduler:\n  max_sequences: 16\n  max_active_streams: 4\n"
                     "  step_token_budget: 8\n"),
            "rt.yaml: scheduler.step_token_budget (8) must be >= scheduler.max_sequences (16)");
  EXPECT_EQ(error_of("server:\n  tls_cert_file: c.pem\n"),
            "rt.yaml: server.tls_cert_file and server.tls_key_file must be set together");
  EXPECT_EQ(error_of("server:\n  tls_key_file: k.pem\n"),
            "rt.yaml: server.tls_cert_file and server.tls_key_file must be set together");
}

TEST(RuntimeConfigTest, ValidateChecksConfigsBuiltInCode) {
  RuntimeConfig c;
  EXPECT_EQ(validate(c), "");
  c.server.port = 70000;
  EXPECT_EQ(validate(c), "server.port must be between 0 and 65535 (got 70000)");
  c = RuntimeConfig{};
  c.scheduler.max_active_streams = 9;
  EXPECT_EQ(validate(c), "scheduler.max_active_streams (9) must be <= scheduler.max_sequences (8)");
  c = RuntimeConfig{};
  c.model.kv_type = "bf16";
  EXPECT_EQ(validate(c), "model.kv_type must be one of f16, f32 (got 'bf16')");
  c = RuntimeConfig{};
  c.server.cors.allowed_origins = {""};
  EXPECT_EQ(validate(c), "server.cors.allowed_origins entries must not be empty");
  c = RuntimeConfig{};
  c.server.log_level = "trace";
  EXPECT_EQ(validate(c), "server.log_level must be one of debug, info, warn, error (got 'trace')");
}

TEST(RuntimeConfigTest, LoadReadsFileAndReportsMissingOnes) {
  auto dir = std::filesystem::temp_directory_path() / ("mlxs_rtcfg_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto file = (dir / "runtime.yaml").string();
  std::ofstream(file) << "server:\n  port: 4000\n  bogus: 1\n";
  auto bad = load_runtime_config(file);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.status().message().rfind(file + ":3: unknown key 'server.bogus'", 0), 0u)
      << bad.status().message();
  std::ofstream(file) << "server:\n  port: 4000\n";
  auto good = load_runtime_config(file);
  ASSERT_TRUE(good.ok()) << good.status().message();
  EXPECT_EQ(good->server.port, 4000);
  EXPECT_EQ(good->source_path, file);
  std::filesystem::remove_all(dir);
  auto missing = load_runtime_config((dir / "nope.yaml").string());
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("nope.yaml: cannot open"), std::string::npos);
}

// The shipped config/runtime.yaml must load and hold exactly the built-in defaults.
TEST(RuntimeConfigTest, FeatureFlagsSection) {
  RuntimeConfig d = parse_ok("");
  EXPECT_EQ(d.feature_flags.file, "");
  EXPECT_EQ(d.feature_flags.key_header, "");
  EXPECT_TRUE(d.feature_flags.response_header);
  RuntimeConfig c = parse_ok(
      "feature_flags:\n  file: /etc/flags.yaml\n  key_header: X-User-Id\n"
      "  response_header: false\n");
  EXPECT_EQ(c.feature_flags.file, "/etc/flags.yaml");
  EXPECT_EQ(c.feature_flags.key_header, "X-User-Id");
  EXPECT_FALSE(c.feature_flags.response_header);
  // Booleans are plain true/false: "yes" and quoted strings are refused with the line.
  EXPECT_EQ(error_of("feature_flags:\n  response_header: yes\n"),
            "rt.yaml:2: feature_flags.response_header must be true or false");
  EXPECT_EQ(error_of("feature_flags:\n  response_header: \"true\"\n"),
            "rt.yaml:2: feature_flags.response_header must be true or false");
  EXPECT_NE(error_of("feature_flags:\n  key_header: \"X User\"\n").find("HTTP header name"),
            std::string::npos);
  EXPECT_NE(error_of("feature_flags:\n  fil: x\n").find("unknown key 'feature_flags.fil'"),
            std::string::npos);
}

TEST(RuntimeConfigTest, FaultInjectionIsOffUnlessEnabled) {
  RuntimeConfig c = parse_ok(
      "fault_injection:\n  enabled: true\n  first_token_delay_ms: 300\n  error_rate: 0.25\n");
  EXPECT_TRUE(c.fault_injection.enabled);
  EXPECT_EQ(c.fault_injection.first_token_delay_ms, 300);
  EXPECT_DOUBLE_EQ(c.fault_injection.error_rate, 0.25);
  EXPECT_EQ(c.fault_injection.fail_after_tokens, 1);
  // A fault set while the switch is off is refused, never silently ignored or applied.
  EXPECT_NE(error_of("fault_injection:\n  per_token_delay_ms: 5\n").find(
                "fault_injection.enabled is false"),
            std::string::npos);
  EXPECT_NE(error_of("fault_injection:\n  enabled: true\n  error_rate: 1.5\n").find(
                "fault_injection.error_rate must be between 0 and 1"),
            std::string::npos);
  EXPECT_EQ(error_of("fault_injection:\n  enabled: true\n  error_rate: \"0.5\"\n"),
            "rt.yaml:3: fault_injection.error_rate must be a number");
  EXPECT_EQ(error_of("fault_injection:\n  enabled: true\n  error_rate: 5%\n"),
            "rt.yaml:3: fault_injection.error_rate must be a number");
  // The file's bytes are kept for the sections other subsystems parse with line numbers.
  EXPECT_EQ(c.source_text.substr(0, 16), "fault_injection:");
}

TEST(RuntimeConfigTest, ShippedConfigLoadsWithDefaults) {
  const char* src = std::getenv("MLXS_SOURCE_DIR");
#ifdef MLXS_SOURCE_DIR_DEFAULT
  if (!src) src = MLXS_SOURCE_DIR_DEFAULT;
#endif
  if (!src) GTEST_SKIP() << "MLXS_SOURCE_DIR not set";
  auto r = load_runtime_config(std::string(src) + "/config/runtime.yaml");
  ASSERT_TRUE(r.ok()) << r.status().message();
  const RuntimeConfig& c = r.value();
  RuntimeConfig d;
  EXPECT_EQ(c.server.host, d.server.host);
  EXPECT_EQ(c.server.port, d.server.port);
  EXPECT_EQ(c.server.io_threads, d.server.io_threads);
  EXPECT_EQ(c.server.api_keys, d.server.api_keys);
  EXPECT_EQ(c.server.api_keys_file, d.server.api_keys_file);
  EXPECT_EQ(c.server.cors.allowed_origins, d.server.cors.allowed_origins);
  EXPECT_EQ(c.server.cors.allowed_headers, d.server.cors.allowed_headers);
  EXPECT_EQ(c.server.cors.max_age_s, d.server.cors.max_age_s);
  EXPECT_EQ(c.server.tls_cert_file, d.server.tls_cert_file);
  EXPECT_EQ(c.server.tls_key_file, d.server.tls_key_file);
  EXPECT_EQ(c.server.max_request_bytes, d.server.max_request_bytes);
  EXPECT_EQ(c.server.max_header_bytes, d.server.max_header_bytes);
  EXPECT_EQ(c.server.header_timeout_ms, d.server.header_timeout_ms);
  EXPECT_EQ(c.server.body_timeout_ms, d.server.body_timeout_ms);
  EXPECT_EQ(c.server.keep_alive_timeout_ms, d.server.keep_alive_timeout_ms);
  EXPECT_EQ(c.server.request_timeout_ms, d.server.request_timeout_ms);
  EXPECT_EQ(c.server.drain_timeout_ms, d.server.drain_timeout_ms);
  EXPECT_EQ(c.server.pid_file, d.server.pid_file);
  EXPECT_EQ(c.server.log_level, d.server.log_level);
  EXPECT_EQ(c.model.path, d.model.path);
  EXPECT_EQ(c.model.name, d.model.name);
  EXPECT_EQ(c.model.n_ctx, d.model.n_ctx);
  EXPECT_EQ(c.model.threads, d.model.threads);
  EXPECT_EQ(c.model.kv_type, d.model.kv_type);
  EXPECT_EQ(c.model.kv_cache_tokens, d.model.kv_cache_tokens);
  EXPECT_EQ(c.model.chat_template_file, d.model.chat_template_file);
  EXPECT_EQ(c.scheduler.max_sequences, d.scheduler.max_sequences);
  EXPECT_EQ(c.scheduler.max_active_streams, d.scheduler.max_active_streams);
  EXPECT_EQ(c.scheduler.max_waiting, d.scheduler.max_waiting);
  EXPECT_EQ(c.scheduler.step_token_budget, d.scheduler.step_token_budget);
  EXPECT_EQ(c.scheduler.default_max_tokens, d.scheduler.default_max_tokens);
  EXPECT_EQ(c.scheduler.retry_after_s, d.scheduler.retry_after_s);
  EXPECT_EQ(c.feature_flags.file, d.feature_flags.file);
  EXPECT_EQ(c.feature_flags.key_header, d.feature_flags.key_header);
  EXPECT_EQ(c.feature_flags.response_header, d.feature_flags.response_header);
  EXPECT_EQ(c.fault_injection.enabled, d.fault_injection.enabled);
  EXPECT_EQ(c.fault_injection.first_token_delay_ms, d.fault_injection.first_token_delay_ms);
  EXPECT_EQ(c.fault_injection.per_token_delay_ms, d.fault_injection.per_token_delay_ms);
  EXPECT_EQ(c.fault_injection.error_rate, d.fault_injection.error_rate);
  EXPECT_EQ(c.fault_injection.fail_after_tokens, d.fault_injection.fail_after_tokens);

  // Every key is written out (not left to the default), so the file documents them all.
  std::ifstream in(std::string(src) + "/config/runtime.yaml");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  for (const char* key :
       {"\nserver:", "\n  host:", "\n  port:", "\n  io_threads:", "\n  api_keys:",
        "\n  api_keys_file:", "\n  cors:", "\n    allowed_origins:", "\n    allowed_headers:",
        "\n    max_age_s:", "\n  tls_cert_file:", "\n  tls_key_file:",
        "\n  max_request_bytes:", "\n  max_header_bytes:", "\n  header_timeout_ms:",
        "\n  body_timeout_ms:", "\n  keep_alive_timeout_ms:", "\n  request_timeout_ms:",
        "\n  drain_timeout_ms:", "\n  pid_file:", "\n  log_level:", "\nmodel:", "\n  path:",
        "\n  name:", "\n  n_ctx:", "\n  threads:", "\n  kv_type:", "\n  kv_cache_tokens:",
        "\n  chat_template_file:", "\nscheduler:", "\n  max_sequences:",
        "\n  max_active_streams:", "\n  max_waiting:", "\n  step_token_budget:",
        "\n  default_max_tokens:", "\n  retry_after_s:", "\nfeature_flags:", "\n  file:",
        "\n  key_header:", "\n  response_header:", "\nfault_injection:",
        "\n  first_token_delay_ms:", "\n  per_token_delay_ms:", "\n  error_rate:",
        "\n  fail_after_tokens:", "\nqos_monitor:"}) {
    EXPECT_NE(text.find(key), std::string::npos) << "missing" << key;
  }
}

}  // namespace
}  // namespace mlxs::server
