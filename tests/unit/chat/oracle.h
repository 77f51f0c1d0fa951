// Runs render_oracle.py (Python jinja2 under Hugging Face's settings) on a
// batch of templates and variables, so tests can compare byte for byte.
#pragma once

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "chat/chat_template.h"

namespace mlxs::chat_test {

// Fixed instant for strftime_now in both renderers: 2024-07-26 12:00:00 UTC.
constexpr int64_t kFixedNow = 1721995200;

inline std::filesystem::path source_root() {
  const char* src = std::getenv("MLXS_SOURCE_DIR");
#ifdef MLXS_SOURCE_DIR_DEFAULT
  if (!src) src = MLXS_SOURCE_DIR_DEFAULT;
#endif
  return src ? std::filesystem::path(src) : std::filesystem::current_path();
}

struct OracleResult {
  bool ok = false;
  std::string output, error, error_type;
};

// The variables HF passes to render(), from our input struct.
inline nlohmann::ordered_json template_vars(const ChatTemplateInput& in) {
  nlohmann::ordered_json v = nlohmann::ordered_json::object();
  v["messages"] = in.messages;
  v["tools"] = in.tools;
  v["add_generation_prompt"] = in.add_generation_prompt;
  v["bos_token"] = in.bos_token;
  v["eos_token"] = in.eos_token;
  if (in.extra.is_object())
    for (auto it = in.extra.begin(); it != in.extra.end(); ++it) v[it.key()] = it.value();
  return v;
}

// Returns nullopt and sets *skip when Python or jinja2 is unavailable.
inline std::optional<std::vector<OracleResult>> run_oracle(const std::vector<std::pair<std::string, ChatTemplateInput>>& cases,
                                                           std::string* skip) {
  const char* python = "/usr/bin/python3";
  std::filesystem::path script = source_root() / "tests/unit/chat/render_oracle.py";
  if (access(python, X_OK) != 0) {
    *skip = "/usr/bin/python3 not found (install python3-jinja2 for the oracle tests)";
    return std::nullopt;
  }
  if (!std::filesystem::exists(script)) {
    *skip = "render_oracle.py not found at " + script.string() + " (set MLXS_SOURCE_DIR)";
    return std::nullopt;
  }
  nlohmann::ordered_json req;
  req["cases"] = nlohmann::ordered_json::array();
  for (const auto& [tmpl, in] : cases) {
    nlohmann::ordered_json c;
    c["template"] = tmpl;
    c["vars"] = template_vars(in);
    c["now"] = in.now_unix_seconds.value_or(kFixedNow);
    req["cases"].push_back(std::move(c));
  }
  auto dir = std::filesystem::temp_directory_path();
  std::string stem = "mlxs_chat_oracle_" + std::to_string(getpid()) + "_" + std::to_string(std::rand());
  auto req_path = dir / (stem + ".in.json");
  auto resp_path = dir / (stem + ".out.json");
  auto err_path = dir / (stem + ".err");
  {
    std::ofstream f(req_path, std::ios::binary);
    f << req.dump();
  }
  std::string cmd = std::string(python) + " '" + script.string() + "' < '" + req_path.string() + "' > '" +
                    resp_path.string() + "' 2> '" + err_path.string() + "'";
  int rc = std::system(cmd.c_str());
  std::ifstream rf(resp_path, std::ios::binary), ef(err_path);
  std::stringstream resp, err;
  resp << rf.rdbuf();
  err << ef.rdbuf();
  std::filesystem::remove(req_path);
  std::filesystem::remove(resp_path);
  std::filesystem::remove(err_path);
  if (rc == -1 || !WIFEXITED(rc) || WEXITSTATUS(rc) != 0) {
    *skip = (WIFEXITED(rc) && WEXITSTATUS(rc) == 3)
                ? "Python jinja2 is not installed for /usr/bin/python3 (apt install python3-jinja2): " + err.str()
                : "render_oracle.py failed: " + err.str();
    return std::nullopt;
  }
  auto j = nlohmann::json::parse(resp.str(), nullptr, false);
  if (j.is_discarded() || !j.is_array() || j.size() != cases.size()) {
    *skip = "render_oracle.py returned malformed output";
    return std::nullopt;
  }
  std::vector<OracleResult> out;
  for (const auto& r : j)
    out.push_back(OracleResult{r.value("ok", false), r.value("output", ""), r.value("error", ""),
                               r.value("error_type", "")});
  return out;
}

}  // namespace mlxs::chat_test
