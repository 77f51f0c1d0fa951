// Admission control for new generation requests, acted on by the QoS remediations:
// load shedding (reject a share of new requests while an SLO is violated) and a circuit
// breaker (reject all new requests for a time, then let a few probes through: a
// successful probe closes it, a failed one opens it again). Running streams are never
// touched. Thread-safe; time is passed in.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace mlxs::qos {

using Clock = std::chrono::steady_clock;

enum class CircuitState { kClosed, kOpen, kHalfOpen };
const char* circuit_state_name(CircuitState s);  // "closed", "open", "half_open"

struct AdmissionVerdict {
  enum Kind { kAdmit, kShed, kCircuitOpen } kind = kAdmit;
  bool probe = false;  // admitted as a half-open probe: report its outcome with on_probe_result
  int retry_after_s = 1;  // for the 503's Retry-After when not admitted
};

struct AdmissionStats {
  double shed_percentage = 0;
  CircuitState circuit = CircuitState::kClosed;
  uint64_t admitted = 0, shed = 0, rejected_open = 0;
  int64_t circuit_open_remaining_ms = 0;
};

class AdmissionController {
 public:
  explicit AdmissionController(int half_open_requests = 3);
  void set_half_open_requests(int n);

  // Shedding asked for by `owner` (a policy's SLO: "policy/slo"); the highest request
  // in force applies. Cleared when that SLO recovers.
  void set_shed(const std::string& owner, double percentage);
  void clear_shed(const std::string& owner);
  double shed_percentage() const;

  // Opens the circuit for `duration` from `now` (extends it when already open).
  void open_circuit(std::chrono::milliseconds duration, Clock::time_point now);

  // Decides one new request. Shedding rejects exactly the configured share over any run
  // of requests (an error-diffusion accumulator, not a coin), so 25 % rejects 1 in 4.
  AdmissionVerdict admit(Clock::time_point now);
  // The outcome of a half-open probe: success closes the circuit, failure re-opens it for
  // the last duration.
  void on_probe_result(bool success, Clock::time_point now);

  AdmissionStats stats(Clock::time_point now) const;

 private:
  mutable std::mutex mu_;
  int half_open_requests_;
  std::map<std::string, double> shed_;
  double shed_accumulator_ = 0;
  CircuitState state_ = CircuitState::kClosed;
  Clock::time_point open_until_{};
  std::chrono::milliseconds last_duration_{0};
  int probes_in_flight_ = 0;
  uint64_t admitted_ = 0, shed_count_ = 0, rejected_open_ = 0;
};

}  // namespace mlxs::qos
