#include "http/startup_responder.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <unistd.h>

#include <string>
#include <thread>

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

std::string read_all(boost::asio::ip::tcp::socket& s) {
  std::string out;
  boost::system::error_code ec;
  boost::asio::read(s, boost::asio::dynamic_buffer(out), ec);  // until the responder closes
  return out;
}

// A request the responder accepted before recovery ended gets its answer
// (503 "starting"), not a reset: hand_over() stops accepting and lets it
// finish. Before, hand_over() closed it mid-request.
TEST(StartupResponder, ARequestAcceptedBeforeTheHandOverIsAnswered) {
  auto started = StartupResponder::start("127.0.0.1", 0, [] { return 0.5; });
  ASSERT_TRUE(started) << started.error().text();
  const auto at = (*started)->local_endpoint();
  boost::asio::io_context io;
  // A: half a request. B, connected after it, gets a whole answer, so the
  // responder (accepting in order) has accepted A too.
  boost::asio::ip::tcp::socket a(io), b(io);
  a.connect(at);
  boost::asio::write(a, boost::asio::buffer(std::string("GET /api/overview HTTP/1.1\r\nHost: x\r\n")));
  b.connect(at);
  boost::asio::write(b, boost::asio::buffer(std::string("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n")));
  EXPECT_NE(read_all(b).find("recovering"), std::string::npos);
  int fd = -1;
  std::thread handing([&] { fd = (*started)->hand_over(); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // hand_over is waiting for A (or already past)
  boost::asio::write(a, boost::asio::buffer(std::string("\r\n")));
  handing.join();
  started->reset();  // as serve.cc does once the real server has the socket
  const std::string answer = read_all(a);
  EXPECT_EQ(answer.rfind("HTTP/1.1 503", 0), 0u) << answer;
  EXPECT_NE(answer.find("recovering the journal"), std::string::npos) << answer;
  EXPECT_GE(fd, 0);
  ::close(fd);
}

}  // namespace
}  // namespace ferry::http
