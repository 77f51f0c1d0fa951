// Executes a parsed template: scopes as jinja2 frames them, statements,
// expressions, calls and the sandbox's attribute rules. Bounded in output
// size, call depth and steps so bad templates fail instead of hanging.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/status.h"
#include "chat/ast.h"
#include "chat/lexer.h"
#include "chat/value.h"

namespace mlxs::chat {

struct Scope {
  std::unordered_map<std::string, Value> vars;
  std::shared_ptr<Scope> parent;
  const Value* find(const std::string& name) const;
};
using ScopePtr = std::shared_ptr<Scope>;

struct RenderLimits {
  size_t max_output_bytes = 32u << 20;
  int max_call_depth = 100;
  uint64_t max_steps = 5'000'000;  // real templates use well under 1e5
};

class Evaluator {
 public:
  Evaluator(const SourceMap& map, RenderLimits limits, std::optional<int64_t> now_unix)
      : map_(map), limits_(limits), now_unix_(now_unix) {}

  // Renders `body` with `globals` as the outermost scope.
  Status render(const Body& body, const ScopePtr& globals, std::string& out);

  // Services for builtins.
  Result<Value> call(const Value& callee, CallArgs& args);
  Result<Value> apply_filter(const std::string& name, const Value& input, CallArgs& args);
  Result<bool> apply_test(const std::string& name, const Value& input, CallArgs& args);
  // jinja2's sandboxed getattr (obj.name) and getitem (obj[key]).
  Result<Value> getattr(const Value& obj, const std::string& name);
  Result<Value> getitem(const Value& obj, const Value& key);
  // Python iter(): lists, tuples, dict keys, string characters; undefined is empty.
  Result<std::vector<Value>> iterate(const Value& v);
  std::optional<int64_t> now_unix() const { return now_unix_; }
  // raise_exception(): the message reaches the caller unchanged.
  Status raise_user_error(std::string message);

 private:
  enum class Flow { kNormal, kBreak, kContinue };

  Status exec(const Body& body, const ScopePtr& scope, std::string& out);
  Status exec_stmt(const Stmt& s, const ScopePtr& scope, std::string& out);
  Status exec_for(const Stmt& s, const ScopePtr& scope, std::string& out);
  Status assign(const Expr& target, const Value& v, const ScopePtr& scope);
  Result<Value> eval(const Expr& e, const ScopePtr& scope);
  Result<Value> eval_call(const Expr& e, const ScopePtr& scope, std::optional<Value> caller);
  Status eval_args(const Expr& e, const ScopePtr& scope, CallArgs& args);
  Result<Value> eval_filter(const Expr& e, const ScopePtr& scope, const Value* block_input);
  Result<Value> eval_compare(const Expr& e, const ScopePtr& scope);
  Value make_macro(const Stmt& s, const ScopePtr& scope, const std::string& name);
  Result<Value> call_macro(const Stmt& s, const ScopePtr& closure, const std::string& name, CallArgs& args);
  Status step();
  Status located(Status st, size_t offset);
  Status append(std::string& out, const std::string& text);

  const SourceMap& map_;
  RenderLimits limits_;
  std::optional<int64_t> now_unix_;
  uint64_t steps_ = 0;
  int call_depth_ = 0;
  Flow flow_ = Flow::kNormal;
  bool user_error_ = false;
  bool error_located_ = false;
  size_t total_out_ = 0;
};

}  // namespace mlxs::chat
