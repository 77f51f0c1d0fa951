// A prompt still being tokenized elsewhere (the TTFT warm queue) while its request already
// waits in the scheduler's queue. The producer fulfils it once (the tokens, the max_tokens
// resolved for them, and optionally a speculated first token) or fails it with the
// request's error; the scheduler admits the request only once it is fulfilled, never
// blocking on it. Thread-safe.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace mlxs {

class PendingPrompt {
 public:
  enum class State { kPending, kReady, kFailed };

  struct Resolved {
    std::vector<TokenId> tokens;
    int max_tokens = 0;
    TokenId speculated = -1;  // >= 0: streamed at once, then checked by the engine
  };

  // Producer side; the first call of either wins, later ones are ignored.
  void fulfil(Resolved resolved);
  void fail(std::string error);

  State state() const;
  // kReady: the result, moved out (once).
  Resolved take();
  std::string error() const;

  // The scheduler's wake-up call, run (under this object's lock) when the state leaves
  // kPending; replaced by nullptr once the scheduler no longer waits for it.
  void set_waker(std::function<void()> waker);

  // Called once by the scheduler when it takes the prompt: whether the tokens were ready
  // when it first wanted them (a batch slot was free). Forwarded to `on_taken`.
  void set_on_taken(std::function<void(bool ready_when_wanted)> on_taken);
  void taken(bool ready_when_wanted);

 private:
  mutable std::mutex mu_;
  State state_ = State::kPending;
  Resolved resolved_;
  std::string error_;
  std::function<void()> waker_;
  std::function<void(bool)> on_taken_;
};

}  // namespace mlxs
