// Stop strings over streamed text. Decoded text arrives in arbitrary pieces, so text that
// might be the start of a stop string is held back until it either completes the stop (and
// is dropped) or diverges (and is released, in order).
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace mlxs {

class StopMatcher {
 public:
  explicit StopMatcher(std::vector<std::string> stops);  // empty strings ignored

  struct Output {
    std::string text;
    bool stopped = false;
  };

  // Appends newly decoded text; returns the text that is now safe to emit. When a stop
  // string completes, returns the text before it (never the stop string itself),
  // stopped = true, and ignores later input (later calls return {"", true}).
  //
  // Overlapping stops: the match that starts earliest in the text wins, however the text
  // was split. So when one stop completes while a longer stop that started earlier is
  // still a possible match, the decision waits for more text (or flush()).
  Output push(std::string_view text);

  // End of generation: releases what is held back, cut before a stop that completed while
  // an earlier-starting one was still pending (which then counts as stopped). Returns ""
  // once stopped.
  std::string flush();

  bool stopped() const { return stopped_; }  // a stop string has matched

 private:
  // Earliest complete match in pending_, or npos.
  size_t earliest_match() const;
  // Earliest position p such that pending_[p, end) is a proper prefix of some stop (a match
  // that may still complete), or pending_.size() if none.
  size_t earliest_partial() const;

  std::vector<std::string> stops_;
  std::string pending_;  // received but not yet released
  bool stopped_ = false;
};

}  // namespace mlxs
