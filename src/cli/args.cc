#include "cli/args.h"

#include <cerrno>
#include <cstdlib>

namespace mlxs::cli {

Args::Args(std::set<std::string> with_value, std::set<std::string> flags,
           std::map<std::string, std::string> aliases)
    : with_value_(std::move(with_value)), flags_(std::move(flags)), aliases_(std::move(aliases)) {}

std::string Args::parse(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--") {
      for (++i; i < argc; ++i) positionals_.push_back(argv[i]);
      break;
    }
    if (a.size() < 2 || a[0] != '-' || (a[1] >= '0' && a[1] <= '9')) {
      positionals_.push_back(a);
      continue;
    }
    std::string value;
    bool inline_value = false;
    if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
      value = a.substr(eq + 1);
      a = a.substr(0, eq);
      inline_value = true;
    }
    if (auto it = aliases_.find(a); it != aliases_.end()) a = it->second;
    if (flags_.count(a)) {
      if (inline_value) return "option " + a + " takes no value";
      flags_set_.insert(a);
    } else if (with_value_.count(a)) {
      if (!inline_value) {
        if (i + 1 >= argc) return "option " + a + " needs a value";
        value = argv[++i];
      }
      values_[a] = value;
    } else {
      return "unknown option " + a;
    }
  }
  return "";
}

std::optional<std::string> Args::get(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end()) return std::nullopt;
  return it->second;
}

std::string Args::get_or(const std::string& name, const std::string& def) const {
  return get(name).value_or(def);
}

int Args::get_int(const std::string& name, int def, std::string* error) const {
  auto v = get(name);
  if (!v) return def;
  char* end = nullptr;
  errno = 0;
  long x = std::strtol(v->c_str(), &end, 10);
  if (v->empty() || *end != '\0' || errno != 0 || x < -2147483647L || x > 2147483647L) {
    if (error->empty()) *error = "option " + name + " needs an integer, got '" + *v + "'";
    return def;
  }
  return static_cast<int>(x);
}

double Args::get_double(const std::string& name, double def, std::string* error) const {
  auto v = get(name);
  if (!v) return def;
  char* end = nullptr;
  errno = 0;
  double x = std::strtod(v->c_str(), &end);
  if (v->empty() || *end != '\0' || errno != 0) {
    if (error->empty()) *error = "option " + name + " needs a number, got '" + *v + "'";
    return def;
  }
  return x;
}

}  // namespace mlxs::cli
