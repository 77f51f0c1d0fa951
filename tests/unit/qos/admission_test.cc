// Admission control under an injected clock: exact shedding shares, several owners, the
// circuit breaker's open / half-open / closed cycle, Retry-After, and a concurrent smoke
// test.
#include "qos/admission.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace mlxs::qos {
namespace {

using std::chrono::milliseconds;

const Clock::time_point t0 = Clock::time_point(std::chrono::hours(1000));
Clock::time_point at_ms(int64_t ms) { return t0 + milliseconds(ms); }

// The 0-based indices of shed requests among `n`.
std::vector<int> shed_indices(AdmissionController& ac, int n) {
  std::vector<int> shed;
  for (int i = 0; i < n; ++i) {
    AdmissionVerdict v = ac.admit(t0);
    EXPECT_NE(v.kind, AdmissionVerdict::kCircuitOpen);
    EXPECT_FALSE(v.probe);
    if (v.kind == AdmissionVerdict::kShed) shed.push_back(i);
  }
  return shed;
}

TEST(Admission, Names) {
  EXPECT_STREQ(circuit_state_name(CircuitState::kClosed), "closed");
  EXPECT_STREQ(circuit_state_name(CircuitState::kOpen), "open");
  EXPECT_STREQ(circuit_state_name(CircuitState::kHalfOpen), "half_open");
}

TEST(Admission, AdmitsEverythingByDefault) {
  AdmissionController ac;
  EXPECT_TRUE(shed_indices(ac, 1000).empty());
  AdmissionStats s = ac.stats(t0);
  EXPECT_EQ(s.admitted, 1000u);
  EXPECT_EQ(s.shed, 0u);
  EXPECT_EQ(s.circuit, CircuitState::kClosed);
  EXPECT_EQ(s.shed_percentage, 0);
}

TEST(Admission, TwentyFivePercentShedsEveryFourthRequest) {
  AdmissionController ac;
  ac.set_shed("p/ttft_p95", 25);
  EXPECT_EQ(ac.shed_percentage(), 25);
  EXPECT_EQ(shed_indices(ac, 12), (std::vector<int>{3, 7, 11}));
  AdmissionStats s = ac.stats(t0);
  EXPECT_EQ(s.shed, 3u);
  EXPECT_EQ(s.admitted, 9u);
  EXPECT_EQ(s.shed_percentage, 25);
}

TEST(Admission, ExactSharesOverAnyRun) {
  for (double pct : {10.0, 25.0, 50.0, 100.0, 33.0, 1.0}) {
    AdmissionController ac;
    ac.set_shed("owner", pct);
    const int n = 10000;
    const auto shed = shed_indices(ac, n);
    EXPECT_NEAR(static_cast<double>(shed.size()), n * pct / 100, 1.0) << pct;
    // Evenly spread: no two sheds closer than the share allows (except at 100 %).
    if (pct <= 50) {
      for (size_t i = 1; i < shed.size(); ++i)
        ASSERT_GE(shed[i] - shed[i - 1], static_cast<int>(100 / pct)) << pct;
    }
  }
  AdmissionController ten;
  ten.set_shed("o", 10);
  EXPECT_EQ(shed_indices(ten, 30), (std::vector<int>{9, 19, 29}));
  AdmissionController half;
  half.set_shed("o", 50);
  EXPECT_EQ(shed_indices(half, 6), (std::vector<int>{1, 3, 5}));
  AdmissionController all;
  all.set_shed("o", 100);
  EXPECT_EQ(shed_indices(all, 3), (std::vector<int>{0, 1, 2}));
}

TEST(Admission, HighestOwnerAppliesAndClearingLiftsIt) {
  AdmissionController ac;
  ac.set_shed("a/ttft", 10);
  ac.set_shed("b/errors", 50);
  EXPECT_EQ(ac.shed_percentage(), 50);
  EXPECT_EQ(shed_indices(ac, 4), (std::vector<int>{1, 3}));
  ac.clear_shed("b/errors");
  EXPECT_EQ(ac.shed_percentage(), 10);
  ac.clear_shed("a/ttft");
  EXPECT_EQ(ac.shed_percentage(), 0);
  EXPECT_TRUE(shed_indices(ac, 100).empty());
  // Clearing an owner that asked for nothing is harmless.
  ac.clear_shed("nobody");
  // The accumulator was reset: a new episode sheds its first at the full period.
  ac.set_shed("a/ttft", 25);
  EXPECT_EQ(shed_indices(ac, 4), (std::vector<int>{3}));
}

TEST(Admission, OutOfRangePercentagesAreClamped) {
  AdmissionController ac;
  ac.set_shed("o", 250);
  EXPECT_EQ(ac.shed_percentage(), 100);
  ac.set_shed("o", -5);
  EXPECT_EQ(ac.shed_percentage(), 0);
  EXPECT_TRUE(shed_indices(ac, 10).empty());
}

TEST(Admission, OpenCircuitRejectsWithRetryAfter) {
  AdmissionController ac(2);
  ac.open_circuit(milliseconds(30000), t0);
  AdmissionVerdict v = ac.admit(t0);
  EXPECT_EQ(v.kind, AdmissionVerdict::kCircuitOpen);
  EXPECT_EQ(v.retry_after_s, 30);
  EXPECT_EQ(ac.admit(at_ms(28500)).retry_after_s, 2);  // 1.5 s rounds up
  EXPECT_EQ(ac.admit(at_ms(29999)).retry_after_s, 1);
  AdmissionStats s = ac.stats(at_ms(10000));
  EXPECT_EQ(s.circuit, CircuitState::kOpen);
  EXPECT_EQ(s.circuit_open_remaining_ms, 20000);
  EXPECT_EQ(s.rejected_open, 3u);
  EXPECT_EQ(s.admitted, 0u);
}

TEST(Admission, OpeningAgainExtendsButNeverShortens) {
  AdmissionController ac;
  ac.open_circuit(milliseconds(30000), t0);
  ac.open_circuit(milliseconds(5000), at_ms(1000));  // ends earlier: the later end holds
  EXPECT_EQ(ac.admit(at_ms(20000)).kind, AdmissionVerdict::kCircuitOpen);
  ac.open_circuit(milliseconds(30000), at_ms(20000));  // ends later: extended
  EXPECT_EQ(ac.admit(at_ms(40000)).kind, AdmissionVerdict::kCircuitOpen);
  EXPECT_EQ(ac.stats(at_ms(40000)).circuit_open_remaining_ms, 10000);
  EXPECT_TRUE(ac.admit(at_ms(50000)).probe);
}

TEST(Admission, HalfOpenLetsAFewProbesThroughAndSuccessCloses) {
  AdmissionController ac(2);
  ac.open_circuit(milliseconds(1000), t0);
  EXPECT_EQ(ac.stats(at_ms(1000)).circuit, CircuitState::kHalfOpen);
  AdmissionVerdict p1 = ac.admit(at_ms(1000));
  AdmissionVerdict p2 = ac.admit(at_ms(1001));
  AdmissionVerdict p3 = ac.admit(at_ms(1002));
  EXPECT_EQ(p1.kind, AdmissionVerdict::kAdmit);
  EXPECT_TRUE(p1.probe);
  EXPECT_TRUE(p2.probe);
  EXPECT_EQ(p3.kind, AdmissionVerdict::kCircuitOpen);
  EXPECT_EQ(p3.retry_after_s, 1);
  ac.on_probe_result(true, at_ms(1500));
  EXPECT_EQ(ac.stats(at_ms(1500)).circuit, CircuitState::kClosed);
  AdmissionVerdict after = ac.admit(at_ms(1500));
  EXPECT_EQ(after.kind, AdmissionVerdict::kAdmit);
  EXPECT_FALSE(after.probe);
  // The other probe's late result changes nothing.
  ac.on_probe_result(false, at_ms(1600));
  EXPECT_EQ(ac.stats(at_ms(1600)).circuit, CircuitState::kClosed);
}

TEST(Admission, FailedProbeReopensForTheLastDuration) {
  AdmissionController ac(1);
  ac.open_circuit(milliseconds(2000), t0);
  EXPECT_TRUE(ac.admit(at_ms(2000)).probe);
  ac.on_probe_result(false, at_ms(2500));
  AdmissionStats s = ac.stats(at_ms(2500));
  EXPECT_EQ(s.circuit, CircuitState::kOpen);
  EXPECT_EQ(s.circuit_open_remaining_ms, 2000);
  AdmissionVerdict v = ac.admit(at_ms(3000));
  EXPECT_EQ(v.kind, AdmissionVerdict::kCircuitOpen);
  EXPECT_EQ(v.retry_after_s, 2);  // 1.5 s left
  // Open again until 4500, then half-open with a fresh probe.
  EXPECT_EQ(ac.admit(at_ms(4499)).kind, AdmissionVerdict::kCircuitOpen);
  AdmissionVerdict probe = ac.admit(at_ms(4500));
  EXPECT_TRUE(probe.probe);
  ac.on_probe_result(true, at_ms(4600));
  EXPECT_EQ(ac.stats(at_ms(4600)).circuit, CircuitState::kClosed);
}

TEST(Admission, ShedsOnlyWhileTheCircuitIsClosed) {
  AdmissionController ac(1);
  ac.set_shed("o", 100);
  ac.open_circuit(milliseconds(1000), t0);
  EXPECT_EQ(ac.admit(t0).kind, AdmissionVerdict::kCircuitOpen);
  // The half-open probe is admitted although every request would be shed.
  AdmissionVerdict probe = ac.admit(at_ms(1000));
  EXPECT_EQ(probe.kind, AdmissionVerdict::kAdmit);
  EXPECT_TRUE(probe.probe);
  ac.on_probe_result(true, at_ms(1100));
  EXPECT_EQ(ac.admit(at_ms(1100)).kind, AdmissionVerdict::kShed);
  AdmissionStats s = ac.stats(at_ms(1100));
  EXPECT_EQ(s.shed, 1u);
  EXPECT_EQ(s.rejected_open, 1u);
  EXPECT_EQ(s.admitted, 1u);
}

TEST(Admission, ConcurrentAdmitsKeepTheShare) {
  AdmissionController ac;
  ac.set_shed("o", 25);
  std::atomic<int> shed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) {
        if (ac.admit(t0).kind == AdmissionVerdict::kShed) shed.fetch_add(1);
        if (i % 1000 == 0) ac.set_shed("other", 10);  // a second owner below the first
        (void)ac.stats(t0);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(shed.load(), 10000);
  AdmissionStats s = ac.stats(t0);
  EXPECT_EQ(s.shed + s.admitted, 40000u);
}

}  // namespace
}  // namespace mlxs::qos
