#include "http/startup_responder.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

#include <chrono>
#include <cmath>
#include <thread>

#include "http/json.h"
#include "net/open_acceptor.h"

namespace ferry::http {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

// One request, one answer, then close; bounded by a 5 s deadline and an
// 8 KiB header.
class StartupResponder::Exchange : public std::enable_shared_from_this<Exchange> {
 public:
  Exchange(tcp::socket socket, std::function<double()>& progress)
      : stream_(std::move(socket)), progress_(progress) {
    parser_.header_limit(8 * 1024);
    parser_.body_limit(0);
  }
  void start() {
    stream_.expires_after(std::chrono::seconds(5));
    bhttp::async_read(stream_, buffer_, parser_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (!ec) self->answer();
    });
  }

 private:
  void answer() {
    const auto& req = parser_.get();
    const std::string target(req.target());
    const std::string path = target.substr(0, target.find('?'));
    const double p = std::floor(progress_() * 100) / 100;
    unsigned status = 503;
    Json body;
    if (path == "/healthz") {
      status = 200;
      body = {{"status", "ok"}};
    } else if (path == "/readyz") {
      body = {{"status", "recovering"}, {"progress", p}};
    } else {
      body = {{"error", "starting"},
              {"reason", "recovering the journal: " + std::to_string(static_cast<int>(p * 100)) + "% done"}};
    }
    res_.result(status);
    res_.set(bhttp::field::content_type, "application/json");
    res_.set(bhttp::field::retry_after, "1");
    res_.keep_alive(false);
    res_.body() = dump(body);
    res_.prepare_payload();
    bhttp::async_write(stream_, res_, [self = shared_from_this()](beast::error_code, std::size_t) {
      beast::error_code ignored;
      self->stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    });
  }

  beast::tcp_stream stream_;
  std::function<double()>& progress_;
  beast::flat_buffer buffer_;
  bhttp::request_parser<bhttp::empty_body> parser_;
  bhttp::response<bhttp::string_body> res_;
};

StartupResponder::StartupResponder(std::function<double()> progress) : acceptor_(io_), progress_(std::move(progress)) {}

Result<std::unique_ptr<StartupResponder>> StartupResponder::start(const std::string& host, std::uint16_t port,
                                                                  std::function<double()> progress) {
  std::unique_ptr<StartupResponder> r(new StartupResponder(std::move(progress)));
  auto acceptor = net::open_acceptor(r->io_, host, port);
  if (!acceptor) return acceptor.error();
  r->acceptor_ = std::move(**acceptor);
  r->accept();
  StartupResponder* self = r.get();
  r->thread_ = std::thread([self] { self->io_.run(); });
  return r;
}

StartupResponder::~StartupResponder() {
  io_.stop();
  if (thread_.joinable()) thread_.join();
}

tcp::endpoint StartupResponder::local_endpoint() const { return acceptor_.local_endpoint(); }

void StartupResponder::accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (!ec) std::make_shared<Exchange>(std::move(socket), progress_)->start();
    accept();
  });
}

int StartupResponder::hand_over() {
  // Stop accepting first: connections still in the listen backlog go to the
  // real server with the socket. Then the exchanges already accepted get a
  // moment to answer (one small request each): closing one mid-request
  // resets the client's connection, which a health check polling at the
  // moment recovery ends saw. The loop runs out of work once they are done;
  // a client that sends nothing is cut after kHandOverGrace.
  asio::post(io_, [this] {
    beast::error_code ignored;
    acceptor_.cancel(ignored);
  });
  const auto deadline = std::chrono::steady_clock::now() + kHandOverGrace;
  while (!io_.stopped() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  // Then nothing else touches the acceptor. What is left (an exchange past
  // the grace) is destroyed (closed) with the io_context when this object goes.
  io_.stop();
  if (thread_.joinable()) thread_.join();
  return acceptor_.release();
}

}  // namespace ferry::http
