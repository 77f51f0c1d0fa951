// Syntax tree of a parsed template. One generic node type per category keeps
// the evaluator a single switch; fields unused by a kind stay empty.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "chat/value.h"

namespace mlxs::chat {

enum class ExprKind {
  kConst,    // value
  kName,     // name
  kGetattr,  // target.name
  kGetitem,  // target[args[0]]
  kSlice,    // args: start, stop, step (each may be null)
  kCall,     // target(args, kwargs)
  kFilter,   // target|name(args, kwargs); target null inside filter blocks
  kTest,     // target is name(args)
  kNeg,
  kPos,
  kNot,
  kBinary,   // target <name> args[0]: + - * / // % **
  kCompare,  // target ops[i] args[i] ...
  kAnd,
  kOr,
  kCond,     // args: test, then, else (may be null)
  kConcat,   // args joined with ~
  kList,
  kTuple,
  kDict,     // args: k0, v0, k1, v1, ...
};

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  ExprKind kind;
  size_t offset = 0;
  Value value;
  std::string name;
  ExprPtr target;
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  ExprPtr dyn_args, dyn_kwargs;  // *args / **kwargs in calls
  std::vector<std::string> ops;
};

enum class StmtKind {
  kText,         // text
  kPrint,        // {{ expr }}
  kIf,           // branches (else: null condition)
  kFor,          // target in expr [if cond]; body, else_body
  kSet,          // target = expr
  kSetBlock,     // target (filter) body
  kMacro,        // name(params=defaults) body
  kCallBlock,    // expr is the call; params; body becomes caller()
  kFilterBlock,  // filter applied to the rendered body
  kWith,         // with_targets = values; body
  kBreak,
  kContinue,
  kBody,         // body rendered inline (HF's {% generation %})
};

struct Stmt;
using Body = std::vector<Stmt>;

struct Branch {
  ExprPtr cond;
  Body body;
};

struct Stmt {
  StmtKind kind;
  size_t offset = 0;
  std::string text;
  ExprPtr expr, target, cond, filter;
  Body body, else_body;
  std::vector<Branch> branches;
  // Macros and call blocks.
  std::string name;
  std::vector<std::string> params;
  std::vector<ExprPtr> defaults;  // aligned to the last params
  bool uses_varargs = false, uses_kwargs = false, uses_caller = false;
  bool uses_loop = true;  // for loops: whether the body names `loop`
  // With blocks.
  std::vector<std::pair<ExprPtr, ExprPtr>> assigns;
};

}  // namespace mlxs::chat
