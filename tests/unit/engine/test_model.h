// Writes a small random-weight model with the project's mlx-testmodel tool, once per
// name, into the build tree (test-models/), where later test processes find it.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace mlxs::testing {

inline std::string make_test_model(const std::string& name, const std::string& options) {
  const char* env = std::getenv("MLXS_BINARY_DIR");
  std::filesystem::path bin = env ? env : MLXS_BINARY_DIR_DEFAULT;
  std::filesystem::path dir = bin / "test-models";
  std::filesystem::create_directories(dir);
  std::string path = (dir / (name + ".gguf")).string();
  if (!std::filesystem::exists(path)) {
    // Test processes run in parallel: write privately, then rename into place atomically.
    std::string tmp = path + "." + std::to_string(::getpid()) + ".part";
    std::string cmd = (bin / "tools" / "mlx-testmodel").string() + " -o " + tmp + " " + options + " > /dev/null";
    if (std::system(cmd.c_str()) != 0) return "";
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    // Another process finished the same model first (a folder cannot replace a folder):
    // keep theirs, which holds the same bytes.
    if (ec) std::filesystem::remove_all(tmp, ec);
    if (!std::filesystem::exists(path)) return "";
  }
  return path;
}

}  // namespace mlxs::testing
