#include "net/tcp_link.h"

#include <boost/asio/post.hpp>
#include <boost/asio/write.hpp>

#include "net/buffer_view.h"

namespace ferry::net {

std::string peer_text(const boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string local_text(const boost::asio::ip::tcp::socket& socket) {
  boost::system::error_code ec;
  auto ep = socket.local_endpoint(ec);
  return ec ? std::string("?") : ep.address().to_string() + ":" + std::to_string(ep.port());
}

TcpLink::TcpLink(boost::asio::ip::tcp::socket socket) : socket_(std::move(socket)) {
  peer_ = peer_text(socket_);
  boost::system::error_code ec;
  socket_.set_option(boost::asio::ip::tcp::no_delay(true), ec);
  socket_.non_blocking(true, ec);
}

void TcpLink::start(Handler done) {
  boost::asio::post(socket_.get_executor(), [done = std::move(done)] { done({}); });
}

void TcpLink::wait_readable(Handler done) {
  socket_.async_wait(boost::asio::ip::tcp::socket::wait_read, with_memory(read_memory_, std::move(done)));
}

std::size_t TcpLink::read_some(std::span<char> into, boost::system::error_code& ec) {
  return socket_.read_some(boost::asio::buffer(into.data(), into.size()), ec);
}

void TcpLink::async_write(const std::vector<boost::asio::const_buffer>& buffers, WriteHandler done) {
  unwritten_.assign(buffers.begin(), buffers.end());
  written_ = 0;
  write_more(std::move(done));
}

void TcpLink::write_more(WriteHandler done) {
  // `done` travels in the operation (it keeps the Connection, and so this
  // link, alive; an operation destroyed unrun at shutdown releases it).
  socket_.async_write_some(
      BufferView(unwritten_),
      with_memory(write_memory_, [this, done = std::move(done)](const boost::system::error_code& ec,
                                                                std::size_t n) mutable {
        written_ += n;
        if (!ec) {
          // Drop what went out; a partly written buffer keeps its rest.
          std::size_t i = 0;
          while (i < unwritten_.size() && n >= unwritten_[i].size()) n -= unwritten_[i++].size();
          unwritten_.erase(unwritten_.begin(), unwritten_.begin() + static_cast<std::ptrdiff_t>(i));
          if (!unwritten_.empty()) {
            unwritten_.front() += n;
            write_more(std::move(done));
            return;
          }
        }
        unwritten_.clear();
        done(ec, written_);
      }));
}

void TcpLink::linger(Handler done) {
  // Closing a socket with unread input makes the kernel send RST, which can
  // destroy the last frame before the client reads it. So: FIN after the
  // last frame, then discard input until the client closes.
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_send, ec);
  discard(std::move(done));
}

void TcpLink::discard(Handler done) {
  thread_local char sink[16 * 1024];
  boost::system::error_code ec;
  for (;;) {
    socket_.read_some(boost::asio::buffer(sink), ec);
    if (ec) break;
  }
  if (ec != boost::asio::error::would_block && ec != boost::asio::error::try_again) {
    done(ec);  // EOF (the client closed) or an error
    return;
  }
  socket_.async_wait(boost::asio::ip::tcp::socket::wait_read,
                     [this, done = std::move(done)](const boost::system::error_code& wec) mutable {
                       if (wec) {
                         done(wec);
                         return;
                       }
                       discard(std::move(done));
                     });
}

void TcpLink::close() {
  boost::system::error_code ec;
  socket_.shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  socket_.close(ec);
}

}  // namespace ferry::net
