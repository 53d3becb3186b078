// The pure pieces of http/: base64, percent-coding, routing, and the rate
// window the management API reports.
#include <gtest/gtest.h>

#include "common/rate_window.h"
#include "http/base64.h"
#include "http/request.h"
#include "http/router.h"

using namespace ferry;
using namespace ferry::http;

TEST(Base64, RoundTripsEveryLength) {
  std::string bytes;
  for (int n = 0; n < 40; ++n) {
    auto back = base64_decode(base64_encode(bytes));
    ASSERT_TRUE(back.has_value()) << n;
    EXPECT_EQ(*back, bytes);
    bytes.push_back(static_cast<char>(n * 37));
  }
  EXPECT_EQ(base64_encode("guest:guest"), "Z3Vlc3Q6Z3Vlc3Q=");
}

TEST(Base64, RejectsBadInput) {
  EXPECT_FALSE(base64_decode("abc").has_value());      // length
  EXPECT_FALSE(base64_decode("ab!d").has_value());     // alphabet
  EXPECT_FALSE(base64_decode("a=bc").has_value());     // padding inside
  EXPECT_FALSE(base64_decode("ab==cdef").has_value()); // padding before the end
}

TEST(Percent, DecodesAndEncodes) {
  EXPECT_EQ(percent_decode("%2F"), "/");
  EXPECT_EQ(percent_decode("a%20b+c", true), "a b c");
  EXPECT_EQ(percent_decode("a+b"), "a+b");
  EXPECT_FALSE(percent_decode("%").has_value());
  EXPECT_FALSE(percent_decode("%2").has_value());
  EXPECT_FALSE(percent_decode("%zz").has_value());
  EXPECT_EQ(percent_encode("/"), "%2F");
  EXPECT_EQ(percent_encode("DLQ.orders-1_x~"), "DLQ.orders-1_x~");
  EXPECT_EQ(*percent_decode(percent_encode("a b/c\n\xff")), "a b/c\n\xff");
}

TEST(Router, MatchesCapturesAndMethods) {
  Router r;
  int hit = 0;
  r.add("GET", "/api/queues/{vhost}/{name}", [&](const Request&, const std::vector<std::string>&, Reply) { hit = 1; });
  r.add("DELETE", "/api/queues/{vhost}/{name}", [&](const Request&, const std::vector<std::string>&, Reply) { hit = 2; });
  r.add("GET", "/metrics", [&](const Request&, const std::vector<std::string>&, Reply) { hit = 3; }, Router::Access::kOpen);
  r.add("PUT", "/api/users/{name}", [&](const Request&, const std::vector<std::string>&, Reply) { hit = 4; },
        Router::Access::kAdministrator);
  auto f = r.find("GET", {"api", "queues", "/", "orders"});
  ASSERT_EQ(f.match, Router::Match::kFound);
  EXPECT_EQ(f.captures, (std::vector<std::string>{"/", "orders"}));
  EXPECT_EQ(f.need, Role::kMonitoring);  // GET: any management user
  (*f.handler)(Request{}, f.captures, nullptr);
  EXPECT_EQ(hit, 1);
  f = r.find("DELETE", {"api", "queues", "/", "orders"});
  EXPECT_EQ(f.need, Role::kManagement);  // a change: management or administrator
  (*f.handler)(Request{}, f.captures, nullptr);
  EXPECT_EQ(hit, 2);
  f = r.find("POST", {"api", "queues", "/", "orders"});
  EXPECT_EQ(f.match, Router::Match::kWrongMethod);
  EXPECT_EQ(f.allowed, "GET, DELETE");
  EXPECT_EQ(r.find("GET", {"api", "queues", "/"}).match, Router::Match::kNoPath);
  EXPECT_EQ(r.find("GET", {"api", "queues", "", "x"}).match, Router::Match::kNoPath);  // empty capture
  f = r.find("HEAD", {"metrics"});
  EXPECT_EQ(f.match, Router::Match::kFound);
  EXPECT_EQ(f.need, Role::kNone);  // open
  EXPECT_EQ(r.find("PUT", {"api", "users", "bob"}).need, Role::kAdministrator);
}

TEST(Roles, FollowTheStrongestManagementTag) {
  EXPECT_EQ(role_of({}), Role::kNone);
  EXPECT_EQ(role_of({"app"}), Role::kNone);
  EXPECT_EQ(role_of({"monitoring"}), Role::kMonitoring);
  EXPECT_EQ(role_of({"policymaker"}), Role::kManagement);
  EXPECT_EQ(role_of({"monitoring", "management"}), Role::kManagement);
  EXPECT_EQ(role_of({"administrator", "monitoring"}), Role::kAdministrator);
  EXPECT_EQ(tag_of(Role::kManagement), "management");
}

TEST(RateWindow, AveragesOverTheLastFiveSeconds) {
  RateWindow w;
  EXPECT_EQ(w.per_second(), 0.0);
  w.sample(0, 1000);
  EXPECT_EQ(w.per_second(), 0.0);  // one sample: no rate yet
  w.sample(100, 2000);
  EXPECT_DOUBLE_EQ(w.per_second(), 100.0);
  for (int s = 3; s <= 10; ++s) w.sample(100 + (s - 2) * 10, s * 1000);  // 10/s from t=2
  EXPECT_DOUBLE_EQ(w.per_second(), 10.0);  // the burst has left the window
  w.sample(180, 11000);                    // nothing new
  EXPECT_DOUBLE_EQ(w.per_second(), 8.0);   // (180 - 140) / 5 s
}
