#include "net/tcp_link.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

// TcpLink::async_write: every byte of every buffer, in order, however many
// buffers (more than one sendmsg takes) and however often the socket fills.
namespace ferry::net {
namespace {

using boost::asio::ip::tcp;

struct Pair {
  boost::asio::io_context io;
  tcp::socket reader{io};
  std::unique_ptr<TcpLink> link;

  Pair() {
    tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket writer(io);
    writer.connect(acceptor.local_endpoint());
    acceptor.accept(reader);
    // A small send buffer: a write of a few hundred KB fills it.
    writer.set_option(boost::asio::socket_base::send_buffer_size(32 * 1024));
    link = std::make_unique<TcpLink>(std::move(writer));
  }
};

TEST(TcpLink, WritesManyBuffersInOrderThroughAFullSocket) {
  Pair p;
  // 3,000 buffers (three sendmsg calls' worth) of 1 KB and 40 bytes taking
  // turns, 1.6 MB: more than the socket buffers hold, so the write
  // waits for the reader several times and resumes inside a buffer.
  std::vector<std::string> pieces;
  std::string expected;
  for (int i = 0; i < 3000; ++i) {
    pieces.push_back(i % 2 == 0 ? std::string(1024, static_cast<char>('a' + i % 26))
                                : "header " + std::to_string(i) + std::string(30, '-'));
    expected += pieces.back();
  }
  std::vector<boost::asio::const_buffer> buffers;
  for (const auto& s : pieces) buffers.emplace_back(s.data(), s.size());
  buffers.emplace_back(nullptr, 0);  // an empty buffer is skipped

  bool done = false;
  std::size_t reported = 0;
  boost::system::error_code result = boost::asio::error::would_block;
  p.link->async_write(buffers, [&](const boost::system::error_code& ec, std::size_t n) {
    done = true;
    result = ec;
    reported = n;
  });
  EXPECT_FALSE(done) << "completes through the loop, never inline";
  std::string received(expected.size(), '\0');
  std::size_t got = 0;
  std::function<void()> read = [&] {
    p.reader.async_read_some(boost::asio::buffer(received.data() + got, received.size() - got),
                             [&](const boost::system::error_code& ec, std::size_t n) {
                               ASSERT_FALSE(ec) << ec.message();
                               got += n;
                               if (got < received.size()) read();
                             });
  };
  read();
  p.io.run();
  EXPECT_TRUE(done);
  EXPECT_FALSE(result) << result.message();
  EXPECT_EQ(reported, expected.size());
  ASSERT_EQ(got, expected.size());
  EXPECT_TRUE(received == expected);
}

TEST(TcpLink, AWriteToAClosedPeerEndsWithAnError) {
  Pair p;
  p.reader.close();
  std::string block(256 * 1024, 'x');
  std::vector<boost::asio::const_buffer> buffers{boost::asio::buffer(block)};
  boost::system::error_code result;
  int writes = 0;
  // The first writes may still be accepted by the kernel; the error comes
  // once the peer's reset arrived.
  std::function<void()> write = [&] {
    p.link->async_write(buffers, [&](const boost::system::error_code& ec, std::size_t) {
      ++writes;
      result = ec;
      if (!ec && writes < 100) write();
    });
  };
  write();
  p.io.run();
  EXPECT_TRUE(result) << "after " << writes << " writes";
}

}  // namespace
}  // namespace ferry::net
