#include "http/startup_responder.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <unistd.h>

#include <string>

// The management port during recovery: a port in use is an Error with
// asio's words (serve.cc logs it with the option), never an exception.
namespace ferry::http {
namespace {

TEST(StartupResponder, APortInUseIsAnError) {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor taken(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  auto started = StartupResponder::start("127.0.0.1", taken.local_endpoint().port(), [] { return 0.5; });
  ASSERT_FALSE(started);
  EXPECT_EQ(started.error().text(), "bind: Address already in use");
}

TEST(StartupResponder, AFreePortStartsAndHandsOver) {
  auto started = StartupResponder::start("127.0.0.1", 0, [] { return 0.5; });
  ASSERT_TRUE(started) << started.error().text();
  EXPECT_NE((*started)->local_endpoint().port(), 0);
  const int fd = (*started)->hand_over();
  EXPECT_GE(fd, 0);
  ::close(fd);
}

}  // namespace
}  // namespace ferry::http
