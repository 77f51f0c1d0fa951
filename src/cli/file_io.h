// Reading a whole input file for the commands that take one.
#pragma once

#include <optional>
#include <string>

namespace mlxs::cli {

// The exact bytes of the file, or nullopt when it cannot be read.
std::optional<std::string> read_file(const std::string& path);

}  // namespace mlxs::cli
