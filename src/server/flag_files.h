// Which feature-flags and canary files a server uses, and loading them: shared by startup
// and reload so that both resolve the same paths the same way.
#pragma once

#include <memory>
#include <string>

#include "base/status.h"
#include "flags/flag_config.h"
#include "server/runtime_config.h"

namespace mlxs::server {

// feature_flags.file when set; else feature-flags.yaml beside the runtime config file,
// then config/feature-flags.yaml under the current folder, whichever exists first; ""
// when none does.
std::string feature_flags_path(const RuntimeConfig& config);

// The snapshot for `config`: the file's (every problem listed on error; a configured file
// that is missing is an error), or every feature off when there is no file at all.
Result<std::shared_ptr<const flags::FlagSnapshot>> load_feature_flags(const RuntimeConfig& config);

// The canary deployment file: `override` (--canary-config) when set, else
// deployment.canary_file, else canary.yaml beside the runtime config file, then
// config/canary.yaml; "" when none exists (no canary).
std::string canary_config_path(const RuntimeConfig& config, const std::string& override_path = "");

}  // namespace mlxs::server
