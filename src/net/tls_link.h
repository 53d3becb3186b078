#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>

#include "common/handler_memory.h"
#include "net/link.h"

namespace ferry::net {

// A Link over TLS (Boost.Asio ssl::stream on a TCP socket). Unlike TcpLink
// it owns a read buffer of one TLS record (16 KiB) while a read is pending:
// OpenSSL may hold decrypted bytes the socket's readiness does not show, so
// reads go through the stream. wait_readable() completes when that buffer
// has bytes; read_some() copies from it.
class TlsLink final : public Link {
 public:
  TlsLink(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& context);

  std::string_view name() const override { return "tls"; }
  boost::asio::any_io_executor executor() override { return stream_.get_executor(); }
  std::string peer() const override { return peer_; }
  std::string certificate_name() const override { return certificate_name_; }
  void start(Handler done) override;
  void wait_readable(Handler done) override;
  std::size_t read_some(std::span<char> into, boost::system::error_code& ec) override;
  void async_write(const std::vector<boost::asio::const_buffer>& buffers, WriteHandler done) override;
  void linger(Handler done) override;
  void close() override;

 private:
  void shutdown(Handler done);

  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  std::string peer_;
  std::string certificate_name_;  // CN of the verified client certificate
  std::unique_ptr<char[]> buffer_;  // decrypted bytes [begin_, end_)
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  boost::system::error_code read_error_;  // reported once the buffer is empty
  bool reading_ = false;
  Handler linger_after_read_;  // linger() arrived while a read was pending
  // One read and one write at a time: their operation state lives here.
  HandlerMemory read_memory_;
  HandlerMemory write_memory_;
};

}  // namespace ferry::net
