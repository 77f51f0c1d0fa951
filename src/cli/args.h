// A small command-line parser: "--name value", "--flag", "-x value" and positionals.
// Unknown options and missing values are errors that name the option.
#pragma once

#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace mlxs::cli {

class Args {
 public:
  // `with_value`: options that take a value; `flags`: options that do not. Aliases map a
  // short name to its long one ("-m" -> "--model").
  Args(std::set<std::string> with_value, std::set<std::string> flags,
       std::map<std::string, std::string> aliases = {});
  // Returns "" or an error message.
  std::string parse(int argc, char** argv, int first);

  bool has(const std::string& name) const { return values_.count(name) || flags_set_.count(name); }
  std::optional<std::string> get(const std::string& name) const;
  std::string get_or(const std::string& name, const std::string& def) const;
  // Numeric getters append to `error` when the value is not a number in range.
  int get_int(const std::string& name, int def, std::string* error) const;
  double get_double(const std::string& name, double def, std::string* error) const;
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::set<std::string> with_value_, flags_;
  std::map<std::string, std::string> aliases_;
  std::map<std::string, std::string> values_;
  std::set<std::string> flags_set_;
  std::vector<std::string> positionals_;
};

}  // namespace mlxs::cli
