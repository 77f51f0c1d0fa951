// Writes a small random-weight model with the project's mlx-testmodel tool, once per
// distinct set of options, into the test's temporary directory.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>
#include <unistd.h>

namespace mlxs::testing {

inline std::string make_test_model(const std::string& name, const std::string& options) {
  const char* bin = std::getenv("MLXS_BINARY_DIR");
  std::string tool = std::string(bin ? bin : ".") + "/tools/mlx-testmodel";
  auto dir = std::filesystem::temp_directory_path() / ("mlxs-test-models-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / (name + ".gguf")).string();
  if (!std::filesystem::exists(path)) {
    std::string cmd = tool + " -o " + path + " " + options + " > /dev/null";
    if (std::system(cmd.c_str()) != 0) return "";
  }
  return path;
}

}  // namespace mlxs::testing
