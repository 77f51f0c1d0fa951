#include "engine/pending_prompt.h"

#include <utility>

namespace mlxs {

void PendingPrompt::fulfil(Resolved resolved) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kPending) return;
  resolved_ = std::move(resolved);
  state_ = State::kReady;
  if (waker_) waker_();
}

void PendingPrompt::fail(std::string error) {
  std::lock_guard<std::mutex> lock(mu_);
  if (state_ != State::kPending) return;
  error_ = std::move(error);
  state_ = State::kFailed;
  if (waker_) waker_();
}

PendingPrompt::State PendingPrompt::state() const {
  std::lock_guard<std::mutex> lock(mu_);
  return state_;
}

PendingPrompt::Resolved PendingPrompt::take() {
  std::lock_guard<std::mutex> lock(mu_);
  return std::move(resolved_);
}

std::string PendingPrompt::error() const {
  std::lock_guard<std::mutex> lock(mu_);
  return error_;
}

void PendingPrompt::set_waker(std::function<void()> waker) {
  std::lock_guard<std::mutex> lock(mu_);
  waker_ = std::move(waker);
}

void PendingPrompt::set_on_taken(std::function<void(bool)> on_taken) {
  std::lock_guard<std::mutex> lock(mu_);
  on_taken_ = std::move(on_taken);
}

void PendingPrompt::taken(bool ready_when_wanted) {
  std::function<void(bool)> f;
  {
    std::lock_guard<std::mutex> lock(mu_);
    f = std::move(on_taken_);
    on_taken_ = nullptr;
  }
  if (f) f(ready_when_wanted);
}

}  // namespace mlxs
