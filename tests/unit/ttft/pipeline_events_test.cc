// PipelineEvents: names, delivery to subscribers, unsubscribe, counts, and that a
// throwing subscriber neither escapes emit nor keeps others from the event.
#include "ttft/pipeline_events.h"

#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

namespace mlxs::ttft {
namespace {

TEST(PipelineEvents, NamesAreTheSpecs) {
  EXPECT_STREQ(event_name(EventType::kQueued), "stage:queued");
  EXPECT_STREQ(event_name(EventType::kWarmed), "stage:warmed");
  EXPECT_STREQ(event_name(EventType::kSpeculated), "stage:speculated");
  EXPECT_STREQ(event_name(EventType::kFirstToken), "stage:firstToken");
  EXPECT_STREQ(event_name(EventType::kSpeculationHit), "speculation:hit");
  EXPECT_STREQ(event_name(EventType::kSpeculationMiss), "speculation:miss");
  EXPECT_STREQ(event_name(static_cast<EventType>(42)), "unknown");
}

TEST(PipelineEvents, SubscribersReceiveEventsUntilUnsubscribed) {
  PipelineEvents events;
  std::vector<std::string> a, b;
  const int id_a = events.subscribe([&](const Event& e) { a.push_back(e.stream_id); });
  const int id_b = events.subscribe([&](const Event& e) {
    b.push_back(std::string(event_name(e.type)) + "/" + e.prompt_hash);
  });
  EXPECT_NE(id_a, id_b);
  EXPECT_GT(id_a, 0);

  Event queued;
  queued.type = EventType::kQueued;
  queued.stream_id = "req-1";
  queued.duration_ms = 1.5;
  events.emit(queued);
  Event hit;
  hit.type = EventType::kSpeculationHit;
  hit.prompt_hash = "00112233aabbccdd";
  hit.confidence = 0.92;
  events.emit(hit);

  EXPECT_EQ(a, (std::vector<std::string>{"req-1", ""}));
  EXPECT_EQ(b, (std::vector<std::string>{"stage:queued/", "speculation:hit/00112233aabbccdd"}));

  events.unsubscribe(id_a);
  events.unsubscribe(id_a);  // twice is harmless
  events.unsubscribe(12345);  // unknown is harmless
  events.emit(queued);
  EXPECT_EQ(a.size(), 2u);
  EXPECT_EQ(b.size(), 3u);

  events.unsubscribe(id_b);
  events.emit(queued);
  EXPECT_EQ(b.size(), 3u);
}

TEST(PipelineEvents, EventFieldsArriveIntact) {
  PipelineEvents events;
  Event seen;
  events.subscribe([&](const Event& e) { seen = e; });
  Event e;
  e.type = EventType::kFirstToken;
  e.stream_id = "req-9";
  e.duration_ms = 123.25;
  events.emit(e);
  EXPECT_EQ(seen.type, EventType::kFirstToken);
  EXPECT_EQ(seen.stream_id, "req-9");
  EXPECT_DOUBLE_EQ(seen.duration_ms, 123.25);
}

TEST(PipelineEvents, CountsPerTypeWithOrWithoutSubscribers) {
  PipelineEvents events;
  auto emit = [&](EventType t) {
    Event e;
    e.type = t;
    events.emit(e);
  };
  emit(EventType::kQueued);
  emit(EventType::kQueued);
  emit(EventType::kWarmed);
  emit(EventType::kSpeculationMiss);
  emit(static_cast<EventType>(-1));  // outside the enum: ignored, not out of bounds
  const auto c = events.counts();
  EXPECT_EQ(c[static_cast<int>(EventType::kQueued)], 2u);
  EXPECT_EQ(c[static_cast<int>(EventType::kWarmed)], 1u);
  EXPECT_EQ(c[static_cast<int>(EventType::kSpeculated)], 0u);
  EXPECT_EQ(c[static_cast<int>(EventType::kFirstToken)], 0u);
  EXPECT_EQ(c[static_cast<int>(EventType::kSpeculationHit)], 0u);
  EXPECT_EQ(c[static_cast<int>(EventType::kSpeculationMiss)], 1u);
}

TEST(PipelineEvents, ThrowingSubscriberDoesNotStopOthers) {
  PipelineEvents events;
  int calls = 0;
  events.subscribe([](const Event&) { throw std::runtime_error("broken subscriber"); });
  events.subscribe([&](const Event&) { ++calls; });
  Event e;
  EXPECT_NO_THROW(events.emit(e));
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(events.counts()[0], 1u);
}

TEST(PipelineEvents, EmptyHandlerIsRefused) {
  PipelineEvents events;
  EXPECT_EQ(events.subscribe(nullptr), 0);
  EXPECT_NO_THROW(events.emit(Event{}));
}

}  // namespace
}  // namespace mlxs::ttft
