// The CONNECT frame of a StompSession: version and heart-beat negotiation,
// the login (checked on the authenticator's thread), the client-id, and
// CONNECTED.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>

#include "common/clock.h"
#include "common/log.h"
#include "session/errors.h"
#include "session/stomp_session.h"
#include "stomp/encoder.h"

namespace ferry::session {

using stomp::Command;
using stomp::Encoder;

namespace {

std::optional<std::uint32_t> parse_ms(std::string_view s) {
  while (!s.empty() && s.front() == ' ') s.remove_prefix(1);
  while (!s.empty() && s.back() == ' ') s.remove_suffix(1);
  std::uint32_t v = 0;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || p != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

void StompSession::handle_connect(const stomp::Frame& f) {
  auto version = stomp::negotiate(f.get("accept-version"));
  if (!version) {
    std::string& out = transport_.output();
    Encoder::begin_frame(out, Command::kError);
    Encoder::add_header(out, "version", "1.0,1.1,1.2", stomp::Version::k1_0, Command::kError);
    Encoder::add_header(out, "message", errors::kUnsupportedVersion, stomp::Version::k1_0,
                        Command::kError);
    Encoder::add_header(out, "content-type", "text/plain", stomp::Version::k1_0, Command::kError);
    std::string body = "Supported protocol versions are 1.0, 1.1 and 1.2";
    Encoder::end_headers(out, body.size());
    out += body;
    Encoder::end_frame(out);
    closing_ = true;
    transport_.close_after_flush();
    return;
  }
  std::uint32_t cx = 0, cy = 0;  // client: can send every cx, wants every cy
  if (auto hb = f.get("heart-beat")) {
    auto comma = hb->find(',');
    auto a = comma == std::string_view::npos ? std::nullopt : parse_ms(hb->substr(0, comma));
    auto b = comma == std::string_view::npos ? std::nullopt : parse_ms(hb->substr(comma + 1));
    if (!a || !b) return fail(errors::kBadHeartBeat, "expected heart-beat:<ms>,<ms>", f.get("receipt"));
    cx = *a;
    cy = *b;
  }
  version_ = *version;
  parser_.set_version(version_);
  if (auto host = f.get("host")) host_header_ = std::string(*host);
  if (auto cid = f.get("client-id")) login_.set_client_id(std::string(*cid));
  // STOMP 1.2: each direction beats at the larger of what the sender can
  // do and the receiver wants, none if either says 0. The server's side is
  // its floor: heart-beat-min, or a smaller heart-beat value (0 there turns
  // the direction off), so a client asking 1000,1000 gets 1000,1000 as it
  // would from RabbitMQ or ActiveMQ, not a fixed 10 s that takes 20 s to
  // notice a dead peer.
  const std::uint32_t sx = std::min(options_.heart_beat_send_ms, options_.heart_beat_min_ms);
  const std::uint32_t sy = std::min(options_.heart_beat_recv_ms, options_.heart_beat_min_ms);
  ConnectReply reply;
  reply.send_ms = (options_.heart_beat_send_ms == 0 || cy == 0) ? 0 : std::max(sx, cy);
  reply.recv_ms = (options_.heart_beat_recv_ms == 0 || cx == 0) ? 0 : std::max(sy, cx);
  if (auto r = f.get("receipt")) reply.receipt = std::string(*r);

  if (authenticator_ == nullptr) {  // no authentication (unit tests): everyone in vhost "/"
    finish_connect(reply);
    return;
  }
  // The host header selects a vhost by name; anything else (a host name,
  // "localhost", an address, no header) means default-vhost, since
  // stomp.py and others send the server's host name there by default.
  login_.set_vhost(authenticator_->vhost_for_host(f.get("host")));
  const std::string peer = auth::address_of_peer(transport_.peer());
  auto login = f.get("login");
  if (!login || login->empty()) {
    // As RabbitMQ's stomp.ssl_cert_login: over TLS, a verified client
    // certificate names the user (its CN), with no password to check.
    if (authenticator_->options().ssl_cert_login) {
      if (std::string cn = transport_.certificate_name(); !cn.empty()) {
        spdlog::debug("connection {} ({}): login '{}' from its client certificate", id_.value,
                      transport_.peer(), log_safe(cn));
        return on_login(authenticator_->authorize(cn, login_.vhost(), peer), std::move(reply));
      }
    }
    // As RabbitMQ's stomp.default_user: no login means default-user, with
    // no password to check (the server's own setting names it).
    const std::string& user = authenticator_->options().default_user;
    if (user.empty()) {
      return refuse_later(errors::kAccessRefused, "a login header is required (default-user is empty)",
                          reply.receipt);
    }
    return on_login(authenticator_->authorize(user, login_.vhost(), peer), std::move(reply));
  }
  // The password check is slow on purpose: it runs on the authenticator's
  // thread, and the answer comes back to this shard. Frames that follow
  // CONNECT wait unread until then.
  authenticating_ = true;
  transport_.pause_reading();
  // The answer runs on the authenticator's thread: it touches nothing of
  // this session there (the session may be gone), only posts to our shard,
  // where `alive` tells whether the session still exists.
  std::weak_ptr<int> alive = alive_;
  broker::Broker* broker = &broker_;
  const ShardId shard = shard_;
  authenticator_->submit(std::string(*login), std::string(f.get("passcode").value_or("")), peer, login_.vhost(),
                         [this, alive, broker, shard, reply = std::move(reply)](auth::LoginResult r) mutable {
                           broker->post(shard, [this, alive, r = std::move(r), reply = std::move(reply)]() mutable {
                             if (alive.expired()) return;
                             on_login(r, std::move(reply));
                           });
                         });
}

void StompSession::on_login(const auth::LoginResult& r, ConnectReply reply) {
  authenticating_ = false;
  if (closing_) return;
  using auth::LoginStatus;
  switch (r.status) {
    case LoginStatus::kOk:
      login_.logged_in(r.user, r.permissions);
      finish_connect(reply);
      if (connected_) transport_.resume_reading();  // else waiting for the client-id, or refused
      return;
    case LoginStatus::kBadCredentials:
      // One text for an unknown user and a wrong password (the log, for
      // the operator, names the login tried).
      if (static LogRate rate("refused logins"); rate.allow())
        spdlog::info("connection {} ({}): login '{}' refused: unknown user or wrong passcode", id_.value,
                     transport_.peer(), log_safe(r.user));
      return refuse_later(errors::kAccessRefused, {}, std::move(reply.receipt));
    case LoginStatus::kLoopbackOnly:
      return refuse_later(errors::kLoopbackOnly, fmt::format("user '{}' is in loopback-users", r.user),
                          std::move(reply.receipt));
    case LoginStatus::kNoVhostAccess:
      return refuse_later(errors::kNoVhostAccess,
                          fmt::format("user '{}' has no permissions on vhost '{}'", r.user, login_.vhost()),
                          std::move(reply.receipt));
    case LoginStatus::kThrottled:
      if (static LogRate rate("logins refused for too many failures"); rate.allow())
        spdlog::warn("connection {} ({}): login refused, too many failures from this address", id_.value,
                     transport_.peer());
      return fail(errors::kTooManyLoginFailures, {}, reply.receipt);
    case LoginStatus::kBusy:
      return fail(errors::kLoginBusy, {}, reply.receipt);
  }
}

void StompSession::refuse_later(std::string_view message, std::string detail, std::optional<std::string> receipt) {
  spdlog::debug("connection {} ({}): login refused{}{}; ERROR follows after login-failure-delay", id_.value,
                transport_.peer(), detail.empty() ? "" : ": ", log_safe(detail));
  const std::uint32_t delay = authenticator_ ? authenticator_->options().login_failure_delay_ms : 0;
  if (delay == 0) return fail(message, detail, receipt);
  // Not blocking: the connection waits (unread) and tick() sends the ERROR.
  transport_.pause_reading();
  login_.refuse_at(mono_ms() + delay, Login::Refusal{Error{std::string(message), std::move(detail)}, std::move(receipt)});
}

void StompSession::tick(std::int64_t now_ms) {
  if (login_.waiting_for_client_id() && !closing_) {
    const ConnectReply reply = *client_id_reply_;
    finish_connect(reply);  // claims again: connects, waits on, or refuses
    if (connected_) transport_.resume_reading();
  }
  if (auto refusal = login_.due_refusal(now_ms)) fail(refusal->error, refusal->receipt);
}

void StompSession::finish_connect(const ConnectReply& reply) {
  Status claimed = login_.claim_client_id(broker_.client_ids(), shard_, id_, transport_.peer(), mono_ms());
  if (!claimed) {
    if (claimed.error().message.empty()) {  // wait for the holder to let go (tick() tries again)
      if (!client_id_reply_) transport_.pause_reading();
      client_id_reply_ = reply;
      return;
    }
    client_id_reply_.reset();
    return fail(claimed.error(), reply.receipt);
  }
  client_id_reply_.reset();
  transport_.set_heart_beat(reply.send_ms, reply.recv_ms, "\n");
  connected_ = true;

  std::string& out = transport_.output();
  Encoder::begin_frame(out, Command::kConnected);
  Encoder::add_header(out, "version", stomp::to_string(version_), version_, Command::kConnected);
  Encoder::add_header(out, "heart-beat", fmt::format("{},{}", reply.send_ms, reply.recv_ms), version_,
                      Command::kConnected);
  // server-header: some clients pick their dialect from it (docs/dialects.md);
  // empty hides it, as RabbitMQ's hide_server_info.
  if (!options_.server_header.empty())
    Encoder::add_header(out, "server", options_.server_header, version_, Command::kConnected);
  Encoder::add_header(out, "session", fmt::format("ferry-{}-{}", shard_.value, id_.value), version_,
                      Command::kConnected);
  Encoder::end_headers(out, 0, false);
  Encoder::end_frame(out);
  transport_.flush();
  spdlog::debug("connection {} CONNECT from {}: STOMP {}, user '{}', host '{}' (vhost {}), heart-beat {},{}",
                id_.value, transport_.peer(), stomp::to_string(version_), log_safe(login_.user()),
                log_safe(host_header_), log_safe(login_.vhost()), reply.send_ms, reply.recv_ms);
  if (reply.receipt) write_receipt(*reply.receipt);
}

}  // namespace ferry::session
