#include "server/metrics.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace mlxs::metrics {
namespace {

TEST(MetricsTest, CounterRendersHelpTypeAndValue) {
  Registry r;
  r.counter("mlxs_requests_total", "Requests served.").get().inc();
  r.counter("mlxs_requests_total", "Requests served.").get().inc(2);
  EXPECT_EQ(r.render(),
            "# HELP mlxs_requests_total Requests served.\n"
            "# TYPE mlxs_requests_total counter\n"
            "mlxs_requests_total 3\n");
}

TEST(MetricsTest, UnlabelledMetricReadsZeroBeforeFirstEvent) {
  Registry r;
  r.gauge("mlxs_waiting", "Queued requests.");
  EXPECT_EQ(r.render(),
            "# HELP mlxs_waiting Queued requests.\n"
            "# TYPE mlxs_waiting gauge\n"
            "mlxs_waiting 0\n");
}

TEST(MetricsTest, LabelledChildrenInLabelOrder) {
  Registry r;
  auto& f = r.counter("mlxs_http_requests_total", "HTTP requests.", {"code", "path"});
  f.with({"500", "/v1/completions"}).inc();
  f.with({"200", "/v1/models"}).inc(4);
  f.with({"200", "/v1/completions"}).inc(2);
  EXPECT_EQ(r.render(),
            "# HELP mlxs_http_requests_total HTTP requests.\n"
            "# TYPE mlxs_http_requests_total counter\n"
            "mlxs_http_requests_total{code=\"200\",path=\"/v1/completions\"} 2\n"
            "mlxs_http_requests_total{code=\"200\",path=\"/v1/models\"} 4\n"
            "mlxs_http_requests_total{code=\"500\",path=\"/v1/completions\"} 1\n");
}

TEST(MetricsTest, LabelledFamilyWithoutChildrenRendersOnlyHeader) {
  Registry r;
  r.counter("mlxs_errors_total", "Errors.", {"kind"});
  EXPECT_EQ(r.render(),
            "# HELP mlxs_errors_total Errors.\n"
            "# TYPE mlxs_errors_total counter\n");
}

TEST(MetricsTest, GaugeSetIncDec) {
  Registry r;
  auto& g = r.gauge("mlxs_active", "Active.").get();
  g.set(5);
  g.inc();
  g.dec(2.5);
  EXPECT_DOUBLE_EQ(g.value(), 3.5);
  EXPECT_NE(r.render().find("mlxs_active 3.5\n"), std::string::npos);
}

TEST(MetricsTest, ValuesRoundTripAndIntegersHaveNoExponent) {
  Registry r;
  auto& g = r.gauge("g", "G.", {"k"});
  g.with({"a"}).set(0.1);
  g.with({"b"}).set(1e20);
  g.with({"c"}).set(1.0 / 3.0);
  g.with({"d"}).set(std::numeric_limits<double>::infinity());
  g.with({"e"}).set(-std::numeric_limits<double>::infinity());
  g.with({"f"}).set(std::numeric_limits<double>::quiet_NaN());
  g.with({"g"}).set(-42);
  g.with({"h"}).set(1e-7);
  std::string text = r.render();
  EXPECT_NE(text.find("g{k=\"a\"} 0.1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("g{k=\"b\"} 100000000000000000000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("g{k=\"d\"} +Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("g{k=\"e\"} -Inf\n"), std::string::npos) << text;
  EXPECT_NE(text.find("g{k=\"f\"} NaN\n"), std::string::npos) << text;
  EXPECT_NE(text.find("g{k=\"g\"} -42\n"), std::string::npos) << text;
  // 1/3 and 1e-7 must parse back to the very same double.
  using Case = std::pair<const char*, double>;
  for (auto [key, expected] : {Case{"g{k=\"c\"} ", 1.0 / 3.0}, Case{"g{k=\"h\"} ", 1e-7}}) {
    size_t at = text.find(key);
    ASSERT_NE(at, std::string::npos) << key;
    EXPECT_EQ(std::strtod(text.c_str() + at + std::string(key).size(), nullptr), expected);
  }
}

TEST(MetricsTest, LabelValuesAndHelpAreEscaped) {
  Registry r;
  r.counter("mlxs_odd_total", "Line one\nback\\slash \"quoted\"", {"v"})
      .with({"a\"b\\c\nd"})
      .inc();
  EXPECT_EQ(r.render(),
            "# HELP mlxs_odd_total Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE mlxs_odd_total counter\n"
            "mlxs_odd_total{v=\"a\\\"b\\\\c\\nd\"} 1\n");
}

TEST(MetricsTest, HistogramIsCumulativeWithInfSumAndCount) {
  Registry r;
  auto& h = r.histogram("mlxs_latency_seconds", "Latency.", {0.1, 0.5, 1}).get();
  for (double v : {0.05, 0.1, 0.3, 0.7, 2.0, 100.0}) h.observe(v);
  EXPECT_EQ(r.render(),
            "# HELP mlxs_latency_seconds Latency.\n"
            "# TYPE mlxs_latency_seconds histogram\n"
            "mlxs_latency_seconds_bucket{le=\"0.1\"} 2\n"
            "mlxs_latency_seconds_bucket{le=\"0.5\"} 3\n"
            "mlxs_latency_seconds_bucket{le=\"1\"} 4\n"
            "mlxs_latency_seconds_bucket{le=\"+Inf\"} 6\n"
            "mlxs_latency_seconds_sum 103.15\n"
            "mlxs_latency_seconds_count 6\n");
}

TEST(MetricsTest, HistogramLabelsPrecedeLe) {
  Registry r;
  auto& f = r.histogram("mlxs_ttft_seconds", "TTFT.", {1}, {"model"});
  f.with({"tiny"}).observe(0.5);
  std::string text = r.render();
  EXPECT_NE(text.find("mlxs_ttft_seconds_bucket{model=\"tiny\",le=\"1\"} 1\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("mlxs_ttft_seconds_bucket{model=\"tiny\",le=\"+Inf\"} 1\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("mlxs_ttft_seconds_sum{model=\"tiny\"} 0.5\n"), std::string::npos);
  EXPECT_NE(text.find("mlxs_ttft_seconds_count{model=\"tiny\"} 1\n"), std::string::npos);
}

TEST(MetricsTest, HistogramSnapshot) {
  Histogram h({1, 2, std::numeric_limits<double>::infinity()});  // explicit +Inf is dropped
  h.observe(1);
  h.observe(1.5);
  h.observe(3);
  auto s = h.snapshot();
  EXPECT_EQ(s.bounds, (std::vector<double>{1, 2}));
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(s.sum, 5.5);
  EXPECT_EQ(s.count, 3u);
}

TEST(MetricsTest, BucketHelpersFollowVllm) {
  auto ttft = ttft_buckets_seconds();
  auto itl = inter_token_buckets_seconds();
  auto e2e = request_latency_buckets_seconds();
  EXPECT_EQ(ttft.size(), 19u);
  EXPECT_EQ(ttft.front(), 0.001);
  EXPECT_EQ(ttft.back(), 80.0);
  EXPECT_EQ(itl.size(), 19u);
  EXPECT_EQ(itl.front(), 0.01);
  EXPECT_EQ(itl[1], 0.025);
  EXPECT_EQ(itl.back(), 80.0);
  EXPECT_EQ(e2e.size(), 19u);
  EXPECT_EQ(e2e.front(), 0.3);
  EXPECT_EQ(e2e.back(), 960.0);
  for (const auto* b : {&ttft, &itl, &e2e}) EXPECT_TRUE(std::is_sorted(b->begin(), b->end()));
  Histogram h(ttft);  // accepted as bounds
  EXPECT_EQ(h.snapshot().cumulative.size(), 20u);
}

TEST(MetricsTest, InvalidNamesThrow) {
  Registry r;
  EXPECT_THROW(r.counter("", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("9lives_total", "x"), std::invalid_argument);
  EXPECT_THROW(r.counter("has-dash_total", "x"), std::invalid_argument);
  EXPECT_THROW(r.gauge("has space", "x"), std::invalid_argument);
  EXPECT_THROW(r.gauge("ok", "x", {"__reserved"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("ok", "x", {"a:b"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("ok", "x", {"1a"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("ok", "x", {"a", "a"}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "x", {1}, {"le"}), std::invalid_argument);
  EXPECT_NO_THROW(r.gauge("ns:sub_name", "x", {"_a1"}));
  EXPECT_EQ(r.render(), "# HELP ns:sub_name x\n# TYPE ns:sub_name gauge\n");
}

TEST(MetricsTest, BadBoundsThrow) {
  Registry r;
  EXPECT_THROW(r.histogram("h", "x", {1, 1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "x", {2, 1}), std::invalid_argument);
  EXPECT_THROW(r.histogram("h", "x", {std::numeric_limits<double>::quiet_NaN()}),
               std::invalid_argument);
}

TEST(MetricsTest, ReRegistrationReturnsSameFamilyOrThrows) {
  Registry r;
  auto& a = r.counter("c_total", "C.", {"x"});
  EXPECT_EQ(&a, &r.counter("c_total", "C.", {"x"}));
  EXPECT_THROW(r.counter("c_total", "C.", {"y"}), std::invalid_argument);
  EXPECT_THROW(r.gauge("c_total", "C."), std::invalid_argument);
  auto& h = r.histogram("h_seconds", "H.", {1, 2});
  EXPECT_EQ(&h, &r.histogram("h_seconds", "H.", {1, 2}));
  EXPECT_THROW(r.histogram("h_seconds", "H.", {1, 3}), std::invalid_argument);
  // A histogram writes h_seconds_count; a gauge of that name would collide.
  EXPECT_THROW(r.gauge("h_seconds_count", "X."), std::invalid_argument);
}

TEST(MetricsTest, WrongLabelCountOrNegativeCounterStepThrows) {
  Registry r;
  auto& f = r.counter("c_total", "C.", {"a", "b"});
  EXPECT_THROW(f.with({"1"}), std::invalid_argument);
  EXPECT_THROW(f.get(), std::invalid_argument);
  EXPECT_THROW(f.with({"1", "2"}).inc(-1), std::invalid_argument);
  EXPECT_EQ(f.with({"1", "2"}).value(), 0.0);
}

TEST(MetricsTest, CollectHooksRunBeforeEveryRender) {
  Registry r;
  int queue_length = 3;
  auto& g = r.gauge("mlxs_queue", "Queue.").get();
  r.add_collect_hook([&] { g.set(queue_length); });
  EXPECT_NE(r.render().find("mlxs_queue 3\n"), std::string::npos);
  queue_length = 7;
  EXPECT_NE(r.render().find("mlxs_queue 7\n"), std::string::npos);
}

TEST(MetricsTest, HookMayRegisterMetrics) {
  Registry r;
  r.add_collect_hook([&] { r.gauge("late", "Registered by a hook.").get().set(1); });
  EXPECT_NE(r.render().find("late 1\n"), std::string::npos);
}

TEST(MetricsTest, ExpositionSourcesRenderAfterFamiliesAtEveryScrape) {
  Registry r;
  r.counter("first_total", "Registered.").get().inc();
  std::string prefix = "dyn";
  r.add_exposition_source([&](Exposition& out) {
    out.family(prefix + "_decisions_total", "Decided at scrape time.", "counter");
    out.sample(prefix + "_decisions_total", {{"feature", "a\"b"}, {"enabled", "true"}}, 3);
    out.family(prefix + "_state", "A gauge without labels.", "gauge");
    out.sample(prefix + "_state", {}, 0.5);
  });
  std::string text = r.render();
  EXPECT_LT(text.find("first_total 1\n"), text.find("# TYPE dyn_decisions_total counter\n"));
  EXPECT_NE(text.find("dyn_decisions_total{feature=\"a\\\"b\",enabled=\"true\"} 3\n"),
            std::string::npos) << text;
  EXPECT_NE(text.find("dyn_state 0.5\n"), std::string::npos);
  prefix = "other";
  text = r.render();
  EXPECT_EQ(text.find("dyn_"), std::string::npos);
  EXPECT_NE(text.find("# HELP other_state A gauge without labels.\n"), std::string::npos);
}

TEST(MetricsTest, ExpositionRejectsBadNamesAndTypes) {
  std::string out;
  Exposition e(out);
  EXPECT_THROW(e.family("1bad", "x", "gauge"), std::invalid_argument);
  EXPECT_THROW(e.family("ok", "x", "histogram"), std::invalid_argument);
  EXPECT_THROW(e.sample("ok", {{"__reserved", "v"}}, 1), std::invalid_argument);
}

TEST(MetricsTest, ConcurrentUpdatesAreAllCounted) {
  Registry r;
  auto& counters = r.counter("c_total", "C.", {"t"});
  auto& gauge = r.gauge("g", "G.").get();
  auto& hist = r.histogram("h_seconds", "H.", {0.5}).get();
  constexpr int kThreads = 4, kIters = 20000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kIters; ++i) {
        counters.with({i % 2 ? "odd" : "even"}).inc();
        gauge.inc();
        hist.observe(t % 2 ? 1.0 : 0.25);
      }
    });
  }
  // Renders while writers run: every snapshot must be self-consistent.
  std::thread reader([&] {
    for (int i = 0; i < 50; ++i) {
      auto s = hist.snapshot();
      EXPECT_EQ(s.count, s.cumulative.back());
      EXPECT_LE(s.cumulative[0], s.cumulative[1]);
      r.render();
    }
  });
  for (auto& th : threads) th.join();
  reader.join();
  EXPECT_EQ(counters.with({"odd"}).value(), kThreads * kIters / 2);
  EXPECT_EQ(counters.with({"even"}).value(), kThreads * kIters / 2);
  EXPECT_EQ(gauge.value(), kThreads * kIters);
  auto s = hist.snapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kIters);
  EXPECT_EQ(s.cumulative[0], uint64_t{kThreads / 2} * kIters);
  EXPECT_DOUBLE_EQ(s.sum, (kThreads / 2) * kIters * (1.0 + 0.25));
}

// The exposition must pass Prometheus's own parser and linter.
TEST(MetricsTest, PromtoolAcceptsEveryKind) {
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) GTEST_SKIP() << "promtool not installed";

  Registry r;
  r.counter("mlxs_requests_total", "Requests served.").get().inc(12);
  auto& http = r.counter("mlxs_http_responses_total", "Responses by code.\nSecond line \\.",
                         {"code", "path"});
  http.with({"200", "/v1/chat/completions"}).inc();
  http.with({"400", "/weird\"path\\with\nnewline"}).inc(2);
  r.counter("mlxs_rejections_total", "Rejections by reason.", {"reason"});  // no children
  r.gauge("mlxs_active_streams", "Live streams.").get().set(3);
  r.gauge("mlxs_kv_usage_ratio", "KV cache fill.", {"model"}).with({"tiny"}).set(1.0 / 3);
  r.histogram("mlxs_time_to_first_token_seconds", "TTFT.", ttft_buckets_seconds(),
              {"model"})
      .with({"tiny"})
      .observe(0.042);
  auto& itl = r.histogram("mlxs_inter_token_latency_seconds", "ITL.",
                          inter_token_buckets_seconds())
                  .get();
  itl.observe(0.01);
  itl.observe(1e-9);
  r.histogram("mlxs_e2e_request_latency_seconds", "E2E.", request_latency_buckets_seconds())
      .get()
      .observe(1000);
  r.gauge("mlxs_big", "Large values.").get().set(1e300);

  auto dir = std::filesystem::temp_directory_path() /
             ("mlxs_metrics_" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  auto input = dir / "metrics.txt", output = dir / "promtool.out";
  std::ofstream(input) << r.render();
  std::string cmd = std::string(promtool) + " check metrics < " + input.string() + " > " +
                    output.string() + " 2>&1";
  int status = std::system(cmd.c_str());
  std::ifstream in(output);
  std::string lint((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove_all(dir);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << lint;
  EXPECT_EQ(lint, "");
}

}  // namespace
}  // namespace mlxs::metrics
