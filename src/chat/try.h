// MLXS_TRY(var, expr): evaluate a Result-returning expr, return its Status on
// error, else bind the value to `var`. Keeps the interpreter's error plumbing short.
#pragma once

#include <utility>

#define MLXS_TRY(var, expr)                   \
  auto var##_r = (expr);                      \
  if (!var##_r.ok()) return var##_r.status(); \
  auto var = std::move(var##_r.value())
