#include "qos/admission.h"

#include <algorithm>

namespace mlxs::qos {
namespace {

using std::chrono::milliseconds;

int64_t remaining_ms(Clock::time_point until, Clock::time_point now) {
  return now < until ? std::chrono::duration_cast<milliseconds>(until - now).count() : 0;
}

// Whole seconds for Retry-After, rounded up so a client never retries too early.
int retry_after_seconds(Clock::time_point until, Clock::time_point now) {
  const int64_t ms = remaining_ms(until, now);
  return static_cast<int>(std::max<int64_t>(1, (ms + 999) / 1000));
}

}  // namespace

const char* circuit_state_name(CircuitState s) {
  switch (s) {
    case CircuitState::kClosed: return "closed";
    case CircuitState::kOpen: return "open";
    case CircuitState::kHalfOpen: return "half_open";
  }
  return "unknown";
}

AdmissionController::AdmissionController(int half_open_requests)
    : half_open_requests_(std::max(half_open_requests, 1)) {}

void AdmissionController::set_half_open_requests(int n) {
  std::lock_guard<std::mutex> lock(mu_);
  half_open_requests_ = std::max(n, 1);
}

void AdmissionController::set_shed(const std::string& owner, double percentage) {
  std::lock_guard<std::mutex> lock(mu_);
  shed_[owner] = std::clamp(percentage, 0.0, 100.0);
}

void AdmissionController::clear_shed(const std::string& owner) {
  std::lock_guard<std::mutex> lock(mu_);
  shed_.erase(owner);
  // Nobody asks for shedding any more: the next episode starts from an even share.
  if (shed_.empty()) shed_accumulator_ = 0;
}

double AdmissionController::shed_percentage() const {
  std::lock_guard<std::mutex> lock(mu_);
  double pct = 0;
  for (const auto& [owner, p] : shed_) pct = std::max(pct, p);
  return pct;
}

void AdmissionController::open_circuit(milliseconds duration, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  duration = std::max(duration, milliseconds(0));
  state_ = CircuitState::kOpen;
  open_until_ = std::max(open_until_, now + duration);
  last_duration_ = duration;
  // Probes admitted before the circuit opened again no longer decide anything.
  probes_in_flight_ = 0;
}

AdmissionVerdict AdmissionController::admit(Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  AdmissionVerdict v;
  if (state_ == CircuitState::kOpen && now >= open_until_) state_ = CircuitState::kHalfOpen;
  if (state_ == CircuitState::kOpen) {
    v.kind = AdmissionVerdict::kCircuitOpen;
    v.retry_after_s = retry_after_seconds(open_until_, now);
    ++rejected_open_;
    return v;
  }
  if (state_ == CircuitState::kHalfOpen) {
    if (probes_in_flight_ < half_open_requests_) {
      ++probes_in_flight_;
      v.probe = true;
      ++admitted_;
      return v;
    }
    v.kind = AdmissionVerdict::kCircuitOpen;
    v.retry_after_s = 1;  // the probes' outcome decides soon
    ++rejected_open_;
    return v;
  }

  double pct = 0;
  for (const auto& [owner, p] : shed_) pct = std::max(pct, p);
  if (pct > 0) {
    // Error diffusion: the accumulator gains the share per request and sheds one request
    // each time it reaches a whole one, so exactly pct % of any run is rejected.
    shed_accumulator_ += pct;
    if (shed_accumulator_ >= 100) {
      shed_accumulator_ -= 100;
      v.kind = AdmissionVerdict::kShed;
      v.retry_after_s = 1;
      ++shed_count_;
      return v;
    }
  }
  ++admitted_;
  return v;
}

void AdmissionController::on_probe_result(bool success, Clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  // A result from a probe of an earlier half-open period (or none) changes nothing.
  if (state_ != CircuitState::kHalfOpen || probes_in_flight_ == 0) return;
  --probes_in_flight_;
  if (success) {
    state_ = CircuitState::kClosed;
    open_until_ = Clock::time_point{};
    probes_in_flight_ = 0;
  } else {
    state_ = CircuitState::kOpen;
    open_until_ = now + last_duration_;
    probes_in_flight_ = 0;
  }
}

AdmissionStats AdmissionController::stats(Clock::time_point now) const {
  std::lock_guard<std::mutex> lock(mu_);
  AdmissionStats s;
  for (const auto& [owner, p] : shed_) s.shed_percentage = std::max(s.shed_percentage, p);
  s.circuit = state_;
  if (state_ == CircuitState::kOpen && now >= open_until_) s.circuit = CircuitState::kHalfOpen;
  s.admitted = admitted_;
  s.shed = shed_count_;
  s.rejected_open = rejected_open_;
  if (s.circuit == CircuitState::kOpen)
    s.circuit_open_remaining_ms = remaining_ms(open_until_, now);
  return s;
}

}  // namespace mlxs::qos
