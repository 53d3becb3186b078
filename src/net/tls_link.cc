#include "net/tls_link.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/post.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cstring>

#include "net/buffer_view.h"
#include "net/tcp_link.h"

namespace ferry::net {

namespace {

// The subject CN of the client certificate, if the peer sent one and it
// verified against tls-ca-file; "" otherwise.
std::string verified_certificate_name(SSL* ssl) {
  X509* cert = SSL_get1_peer_certificate(ssl);
  if (cert == nullptr) return "";
  std::string name;
  if (SSL_get_verify_result(ssl) == X509_V_OK) {
    X509_NAME* subject = X509_get_subject_name(cert);
    const int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (i >= 0) {
      ASN1_STRING* data = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, i));
      unsigned char* utf8 = nullptr;
      const int n = ASN1_STRING_to_UTF8(&utf8, data);
      if (n > 0) name.assign(reinterpret_cast<const char*>(utf8), static_cast<std::size_t>(n));
      OPENSSL_free(utf8);
    }
  }
  X509_free(cert);
  return name;
}
constexpr std::size_t kRecordSize = 16 * 1024;
}

TlsLink::TlsLink(boost::asio::ip::tcp::socket socket, boost::asio::ssl::context& context)
    : stream_(std::move(socket), context) {
  peer_ = peer_text(stream_.next_layer());
  boost::system::error_code ec;
  stream_.next_layer().set_option(boost::asio::ip::tcp::no_delay(true), ec);
}

void TlsLink::start(Handler done) {
  stream_.async_handshake(boost::asio::ssl::stream_base::server,
                          [this, done = std::move(done)](const boost::system::error_code& ec) {
                            if (!ec) certificate_name_ = verified_certificate_name(stream_.native_handle());
                            done(ec);
                          });
}

void TlsLink::wait_readable(Handler done) {
  if (begin_ < end_ || read_error_) {
    boost::asio::post(stream_.get_executor(), [done = std::move(done)] { done({}); });
    return;
  }
  if (!buffer_) buffer_.reset(new char[kRecordSize]);
  reading_ = true;
  stream_.async_read_some(boost::asio::buffer(buffer_.get(), kRecordSize),
                          with_memory(read_memory_, [this, done = std::move(done)](
                                                        const boost::system::error_code& ec, std::size_t n) mutable {
                            reading_ = false;
                            begin_ = 0;
                            end_ = n;
                            if (ec == boost::asio::ssl::error::stream_truncated)
                              read_error_ = boost::asio::error::eof;  // FIN without close_notify
                            else
                              read_error_ = ec;
                            if (linger_after_read_) {
                              // Closing: what was read is discarded.
                              Handler h = std::move(linger_after_read_);
                              linger_after_read_ = nullptr;
                              shutdown(std::move(h));
                            }
                            if (ec == boost::asio::error::operation_aborted) {
                              done(ec);
                              return;
                            }
                            done({});
                          }));
}

std::size_t TlsLink::read_some(std::span<char> into, boost::system::error_code& ec) {
  if (begin_ == end_) {
    ec = read_error_ ? read_error_ : boost::system::error_code(boost::asio::error::would_block);
    return 0;
  }
  std::size_t n = std::min(into.size(), end_ - begin_);
  std::memcpy(into.data(), buffer_.get() + begin_, n);
  begin_ += n;
  if (begin_ == end_) begin_ = end_ = 0;
  ec = {};
  return n;
}

void TlsLink::async_write(const std::vector<boost::asio::const_buffer>& buffers, WriteHandler done) {
  unwritten_.assign(buffers.begin(), buffers.end());
  next_buffer_ = 0;
  record_ = {};
  written_ = 0;
  write_more(std::move(done));
}

void TlsLink::write_more(WriteHandler done) {
  if (record_.size() == 0) {
    while (next_buffer_ < unwritten_.size() && unwritten_[next_buffer_].size() == 0) ++next_buffer_;
    if (next_buffer_ == unwritten_.size()) {
      unwritten_.clear();
      // Nothing (left) to write: complete as a write would, never inline.
      boost::asio::post(stream_.get_executor(),
                        [n = written_, done = std::move(done)]() mutable { done({}, n); });
      return;
    }
    const boost::asio::const_buffer& first = unwritten_[next_buffer_];
    direct_ = first.size() >= kRecordSize;
    if (direct_) {
      record_ = boost::asio::const_buffer(first.data(), kRecordSize);
    } else {
      if (!staging_) staging_.reset(new char[kRecordSize]);
      std::size_t n = 0;
      while (next_buffer_ < unwritten_.size() && n < kRecordSize) {
        boost::asio::const_buffer& b = unwritten_[next_buffer_];
        const std::size_t k = std::min(b.size(), kRecordSize - n);
        std::memcpy(staging_.get() + n, b.data(), k);
        n += k;
        b += k;
        if (b.size() == 0) ++next_buffer_;
      }
      record_ = boost::asio::const_buffer(staging_.get(), n);
    }
  }
  // `done` travels in the operation, as in TcpLink::write_more.
  stream_.async_write_some(
      record_, with_memory(write_memory_, [this, done = std::move(done)](const boost::system::error_code& ec,
                                                                         std::size_t n) mutable {
        written_ += n;
        record_ += n;
        if (direct_) {
          unwritten_[next_buffer_] += n;
          if (unwritten_[next_buffer_].size() == 0) ++next_buffer_;
        }
        if (ec) {
          record_ = {};
          unwritten_.clear();
          done(ec, written_);
          return;
        }
        if (record_.size() == 0 && next_buffer_ == unwritten_.size()) {
          unwritten_.clear();
          done({}, written_);
          return;
        }
        write_more(std::move(done));
      }));
}

void TlsLink::linger(Handler done) {
  begin_ = end_ = 0;
  if (reading_) {
    // One read at a time on an ssl::stream: shut down once it completed.
    linger_after_read_ = std::move(done);
    return;
  }
  shutdown(std::move(done));
}

void TlsLink::shutdown(Handler done) {
  // Sends close_notify and waits for the peer's (or its FIN).
  stream_.async_shutdown([this, done = std::move(done)](const boost::system::error_code& ec) {
    boost::system::error_code ignored;
    stream_.next_layer().shutdown(boost::asio::ip::tcp::socket::shutdown_send, ignored);
    done(ec);
  });
}

void TlsLink::close() {
  boost::system::error_code ec;
  stream_.next_layer().shutdown(boost::asio::ip::tcp::socket::shutdown_both, ec);
  stream_.next_layer().close(ec);
}

}  // namespace ferry::net
