// parse_url: what the serving benchmark and the alert webhooks accept as a URL.
#include "http/http_client.h"

#include <gtest/gtest.h>

namespace mlxs::http {
namespace {

TEST(ParseUrl, HostPortAndPathAsWritten) {
  auto u = parse_url("http://127.0.0.1:9000/hooks/v1");
  ASSERT_TRUE(u.ok()) << u.status().message();
  EXPECT_EQ(u->host, "127.0.0.1");
  EXPECT_EQ(u->port, "9000");
  EXPECT_EQ(u->prefix, "/hooks/v1");  // kept: a webhook path may end in /v1

  u = parse_url("http://example.internal");
  ASSERT_TRUE(u.ok());
  EXPECT_EQ(u->host, "example.internal");
  EXPECT_EQ(u->port, "80");
  EXPECT_EQ(u->prefix, "");
}

TEST(ParseUrl, RejectsWhatItCannotReach) {
  for (const char* bad : {"https://127.0.0.1/x", "127.0.0.1:80/x", "ftp://h/", "http://",
                          "http://h:notaport/", "http://h:70000/"}) {
    EXPECT_FALSE(parse_url(bad).ok()) << bad;
  }
}

}  // namespace
}  // namespace mlxs::http
