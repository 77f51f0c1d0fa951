#include "server/flag_files.h"

#include <filesystem>

namespace mlxs::server {

namespace fs = std::filesystem;

std::string feature_flags_path(const RuntimeConfig& config) {
  if (!config.feature_flags.file.empty()) return config.feature_flags.file;
  std::error_code ec;
  if (!config.source_path.empty()) {
    fs::path beside = fs::path(config.source_path).parent_path() / "feature-flags.yaml";
    if (fs::exists(beside, ec)) return beside.string();
  }
  if (fs::exists("config/feature-flags.yaml", ec)) return "config/feature-flags.yaml";
  return "";
}

std::string canary_config_path(const RuntimeConfig& config, const std::string& override_path) {
  if (!override_path.empty()) return override_path;
  if (!config.deployment.canary_file.empty()) return config.deployment.canary_file;
  std::error_code ec;
  if (!config.source_path.empty()) {
    fs::path beside = fs::path(config.source_path).parent_path() / "canary.yaml";
    if (fs::exists(beside, ec)) return beside.string();
  }
  if (fs::exists("config/canary.yaml", ec)) return "config/canary.yaml";
  return "";
}

Result<std::shared_ptr<const flags::FlagSnapshot>> load_feature_flags(const RuntimeConfig& config) {
  std::string path = feature_flags_path(config);
  if (path.empty()) return flags::builtin_flag_snapshot();
  return flags::load_flag_file(path);
}

}  // namespace mlxs::server
