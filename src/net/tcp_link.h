#pragma once

#include <boost/asio/ip/tcp.hpp>

#include <sys/uio.h>

#include <vector>

#include "common/handler_memory.h"
#include "net/link.h"

namespace ferry::net {

// "address:port" of a connected socket's peer, "?" if unknown.
std::string peer_text(const boost::asio::ip::tcp::socket& socket);
// The socket's own "address:port" ("?" if unknown).
std::string local_text(const boost::asio::ip::tcp::socket& socket);

// A Link over a plain TCP socket. Idle connections hold no buffer: reads
// wait for readiness and then read into the caller's buffer.
class TcpLink final : public Link {
 public:
  explicit TcpLink(boost::asio::ip::tcp::socket socket);

  std::string_view name() const override { return "tcp"; }
  boost::asio::any_io_executor executor() override { return socket_.get_executor(); }
  std::string peer() const override { return peer_; }
  std::string local() const override { return local_text(socket_); }
  void start(Handler done) override;
  void wait_readable(Handler done) override;
  std::size_t read_some(std::span<char> into, boost::system::error_code& ec) override;
  void async_write(const std::vector<boost::asio::const_buffer>& buffers, WriteHandler done) override;
  void linger(Handler done) override;
  void close() override;

 private:
  void discard(Handler done);
  void write_more(WriteHandler done);

  boost::asio::ip::tcp::socket socket_;
  std::string peer_;
  // One wait and one write at a time: their operation state lives here.
  HandlerMemory read_memory_;
  HandlerMemory write_memory_;
  // The write in progress, written by sendmsg directly (see write_more);
  // unwritten_ is reused, [next_, end) still to go.
  static constexpr std::size_t kMaxIov = 1024;  // IOV_MAX on Linux
  std::vector<iovec> unwritten_;
  std::size_t next_ = 0;
  std::size_t written_ = 0;
};

}  // namespace ferry::net
