#include "net/tcp_link.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <sys/socket.h>
#include <sys/uio.h>

#include <algorithm>
#include <cerrno>


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
  unwritten_.clear();
  for (const auto& b : buffers)
    if (b.size() != 0) unwritten_.push_back({const_cast<void*>(b.data()), b.size()});
  next_ = 0;
  written_ = 0;
  write_more(std::move(done));
}

void TcpLink::write_more(WriteHandler done) {
  // sendmsg on the (non-blocking) socket itself, up to kMaxIov buffers a
  // call: asio's writes pass at most 64 buffers per call and take a loop
  // turn each, and a batch of gathered message bodies has two buffers per
  // message. Only when the socket is full do we wait.
  boost::system::error_code ec;
  while (next_ < unwritten_.size()) {
    msghdr msg{};
    msg.msg_iov = unwritten_.data() + next_;
    msg.msg_iovlen = std::min(unwritten_.size() - next_, kMaxIov);
    const ssize_t sent = ::sendmsg(socket_.native_handle(), &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        // `done` travels in the operation (it keeps the Connection, and so
        // this link, alive; an operation destroyed unrun at shutdown
        // releases it).
        socket_.async_wait(boost::asio::ip::tcp::socket::wait_write,
                           with_memory(write_memory_, [this, done = std::move(done)](
                                                          const boost::system::error_code& wec) mutable {
                             if (wec) {
                               unwritten_.clear();
                               done(wec, written_);
                               return;
                             }
                             write_more(std::move(done));
                           }));
        return;
      }
      ec.assign(errno, boost::system::system_category());
      break;
    }
    auto n = static_cast<std::size_t>(sent);
    written_ += n;
    // Drop what went out; a partly written buffer keeps its rest.
    while (next_ < unwritten_.size() && n >= unwritten_[next_].iov_len) n -= unwritten_[next_++].iov_len;
    if (n > 0) {
      unwritten_[next_].iov_base = static_cast<char*>(unwritten_[next_].iov_base) + n;
      unwritten_[next_].iov_len -= n;
    }
  }
  unwritten_.clear();
  // Completes as an asio write does: never inline. Posted through the
  // loop's own executor type: the type-erased one ignores the handler's
  // allocator (write_memory_) and would allocate per write.
  auto task = with_memory(write_memory_, [ec, n = written_, done = std::move(done)]() mutable { done(ec, n); });
  auto executor = socket_.get_executor();
  if (auto* io = executor.target<boost::asio::io_context::executor_type>()) {
    boost::asio::post(*io, std::move(task));
  } else {
    boost::asio::post(executor, std::move(task));
  }
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
