#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/buffer.hpp>

#include <cstddef>
#include <string>
#include <span>
#include <string_view>
#include <vector>

#include "common/inline_function.h"

namespace ferry::net {

// The byte stream under a Connection: plain TCP (TcpLink) or TLS over TCP
// (TlsLink). Connection keeps every STOMP concern (parsing, heart-beats,
// flow control, closing); a Link only moves bytes. Owned by its Connection,
// used on the connection's shard only. Handlers run on that shard's loop;
// the caller keeps itself alive through them.
//
// Reads are readiness-based so that an idle connection holds no read
// buffer (TCP): wait_readable() completes when read_some() has bytes (or an
// error) to give; read_some() never blocks and reports would_block when the
// bytes are not there yet.
class Link {
 public:
  // Move-only, with room for a connection's captures: a read or write per
  // message must not allocate (see also common/handler_memory.h).
  using Handler = InlineFunction<void(const boost::system::error_code&), 48>;
  using WriteHandler = InlineFunction<void(const boost::system::error_code&, std::size_t), 48>;

  virtual ~Link() = default;

  // "tcp" or "tls".
  virtual std::string_view name() const = 0;
  virtual boost::asio::any_io_executor executor() = 0;
  // The peer's "address:port" ("?" if unknown).
  virtual std::string peer() const = 0;
  // This end's "address:port" ("?" if unknown); asked of the socket when
  // called (the management API), not kept per connection.
  virtual std::string local() const = 0;
  // The common name (CN) of the client certificate the peer presented and
  // the TLS handshake verified (tls-verify-client); "" if none. Valid once
  // start() succeeded.
  virtual std::string certificate_name() const { return ""; }

  // Brings the link up (the TLS handshake); `done` runs once, with an
  // error if the link failed. Nothing else is called before it ran.
  virtual void start(Handler done) = 0;

  // At most one wait at a time.
  virtual void wait_readable(Handler done) = 0;
  // Non-blocking: bytes read, or 0 with `ec` set (would_block: wait again;
  // eof: the peer finished sending).
  virtual std::size_t read_some(std::span<char> into, boost::system::error_code& ec) = 0;

  // Writes all of `buffers` (they stay valid until `done`). One at a time.
  virtual void async_write(const std::vector<boost::asio::const_buffer>& buffers, WriteHandler done) = 0;

  // Everything was written: tell the peer we are done (FIN / TLS close_notify),
  // discard what it still sends, and call `done` once it finished too (or the
  // link failed). The caller bounds the wait with its own timer.
  virtual void linger(Handler done) = 0;

  // Closes the socket at once; pending handlers complete with errors.
  virtual void close() = 0;
};

}  // namespace ferry::net
