#pragma once

#include <boost/asio/ip/tcp.hpp>

#include "net/link.h"

namespace ferry::net {

// A Link over a plain TCP socket. Idle connections hold no buffer: reads
// wait for readiness and then read into the caller's buffer.
class TcpLink final : public Link {
 public:
  explicit TcpLink(boost::asio::ip::tcp::socket socket);

  std::string_view name() const override { return "tcp"; }
  boost::asio::any_io_executor executor() override { return socket_.get_executor(); }
  std::string peer() const override { return peer_; }
  void start(Handler done) override;
  void wait_readable(Handler done) override;
  std::size_t read_some(std::span<char> into, boost::system::error_code& ec) override;
  void async_write(const std::vector<boost::asio::const_buffer>& buffers, WriteHandler done) override;
  void linger(Handler done) override;
  void close() override;

 private:
  void discard(Handler done);

  boost::asio::ip::tcp::socket socket_;
  std::string peer_;
};

// "address:port" of a connected socket's peer, "?" if unknown.
std::string peer_text(const boost::asio::ip::tcp::socket& socket);

}  // namespace ferry::net
