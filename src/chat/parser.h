// Recursive-descent parser following jinja2's grammar and operator precedence.
#pragma once

#include <string>
#include <vector>

#include "base/status.h"
#include "chat/ast.h"
#include "chat/lexer.h"

namespace mlxs::chat {

// Errors read "line:col: what is wrong". Unknown filters and tests are
// reported here, as jinja2 reports them when compiling.
Result<Body> parse_template(const std::vector<Token>& tokens, const SourceMap& map);

}  // namespace mlxs::chat
