#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/stream.hpp>

#include <memory>
#include <vector>

#include "common/handler_memory.h"
#include "net/link.h"
#include "net/tcp_link.h"

namespace ferry::net {

// A Link over TLS (Boost.Asio ssl::stream on a TCP socket). Unlike TcpLink
// it owns a read buffer of one TLS record (16 KiB) while a read is pending:
// OpenSSL may hold decrypted bytes the socket's readiness does not show, so
// reads go through the stream. wait_readable() completes when that buffer
// has bytes; read_some() copies from it.
//
// Writes gather the connection's many small buffers (each frame's headers,
// its body) into records of up to 16 KiB: asio's ssl::stream encrypts one
// buffer per call, so handing it the buffer list made a TLS record and a
// send() per buffer, three per small message.
class TlsLink final : public Link {
 public:
  TlsLink(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& context);

  std::string_view name() const override { return "tls"; }
  boost::asio::any_io_executor executor() override { return stream_.get_executor(); }
  std::string peer() const override { return peer_; }
  std::string local() const override { return local_text(stream_.next_layer()); }
  std::string certificate_name() const override { return certificate_name_; }
  void start(Handler done) override;
  void wait_readable(Handler done) override;
  std::size_t read_some(std::span<char> into, boost::system::error_code& ec) override;
  void async_write(const std::vector<boost::asio::const_buffer>& buffers, WriteHandler done) override;
  void linger(Handler done) override;
  void close() override;

 private:
  void shutdown(Handler done);
  void write_more(WriteHandler done);

  boost::asio::ssl::stream<boost::asio::ip::tcp::socket> stream_;
  std::string peer_;
  std::string certificate_name_;  // CN of the verified client certificate
  std::unique_ptr<char[]> buffer_;  // decrypted bytes [begin_, end_)
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  boost::system::error_code read_error_;  // reported once the buffer is empty
  bool reading_ = false;
  Handler linger_after_read_;  // linger() arrived while a read was pending
  // One read and one write at a time: their operation state lives here
  // (asio's ssl operation wrapped in the socket's: 352 and 400 bytes).
  SizedHandlerMemory<512> read_memory_;
  SizedHandlerMemory<512> write_memory_;
  // The write in progress: what is left of the caller's buffers from
  // next_buffer_ on, and the record being written (`record_`): either
  // gathered into staging_ or, for a buffer of a record or more, the
  // caller's own bytes (`direct_`).
  std::vector<boost::asio::const_buffer> unwritten_;  // reused
  std::size_t next_buffer_ = 0;
  boost::asio::const_buffer record_;
  bool direct_ = false;
  std::unique_ptr<char[]> staging_;  // one record, from the first write on
  std::size_t written_ = 0;
};

}  // namespace ferry::net
