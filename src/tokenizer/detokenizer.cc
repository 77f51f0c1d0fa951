#include "tokenizer/tokenizer.h"
#include "tokenizer/utf8.h"

namespace mlxs {

StreamingDetokenizer::StreamingDetokenizer(const Tokenizer& tok, bool skip_leading_space)
    : tok_(tok), skip_leading_space_(skip_leading_space) {}

std::string StreamingDetokenizer::push(TokenId id) {
  std::string piece = tok_.token_to_piece(id);
  if (piece.empty()) return std::string();
  if (first_ && skip_leading_space_ && tok_.adds_space_prefix() && piece[0] == ' ')
    piece.erase(0, 1);
  first_ = false;
  pending_ += piece;

  // Emit every complete character. A sequence cut off by the end of the buffer waits for
  // the next token; bytes that can never form a character become U+FFFD now, so one bad
  // byte cannot hold back the rest of the stream.
  std::string out;
  const std::string_view p = pending_;
  size_t i = 0;
  while (i < p.size()) {
    const size_t n = utf8::valid_char_length(p, i);
    if (n > 0) {
      out.append(p.substr(i, n));
      i += n;
    } else if (utf8::is_incomplete_prefix(p, i)) {
      break;
    } else {
      out.append(utf8::kReplacementChar);
      ++i;
    }
  }
  pending_.erase(0, i);
  return out;
}

std::string StreamingDetokenizer::flush() {
  std::string out = pending_.empty() ? std::string() : std::string(utf8::kReplacementChar);
  pending_.clear();
  return out;
}

}  // namespace mlxs
