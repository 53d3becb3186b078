#include "net/websocket/handshake.h"

#include <gtest/gtest.h>

#include <functional>
#include <string>

namespace ferry::net::websocket {
namespace {

std::string request(std::string_view path = "/ws", std::string_view protocols = "v10.stomp, v11.stomp, v12.stomp",
                    std::string_view extra = "") {
  std::string r = "GET " + std::string(path) + " HTTP/1.1\r\nHost: localhost:15674\r\n" +
                  "Upgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" +
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n";
  if (!protocols.empty()) r += "Sec-WebSocket-Protocol: " + std::string(protocols) + "\r\n";
  r += std::string(extra) + "\r\n";
  return r;
}

// Feeds `text` whole, byte by byte and split at every offset; every way
// must end the same.
void expect_every_way(const std::string& text, Handshake::Status status, const std::function<void(const Handshake&)>& check) {
  auto run = [&](std::size_t step, std::size_t first) {
    Handshake h("/ws");
    std::size_t at = 0;
    Handshake::Result r;
    while (at < text.size()) {
      std::size_t n = at == 0 ? first : step;
      n = std::min(n, text.size() - at);
      r = h.feed(std::string_view(text).substr(at, n));
      ASSERT_LE(r.consumed, n);
      at += r.consumed;
      if (r.status != Handshake::Status::kNeedMore) break;
      ASSERT_EQ(r.consumed, n);
    }
    ASSERT_EQ(r.status, status);
    if (status == Handshake::Status::kDone) {
      EXPECT_EQ(at, text.size());
    }
    check(h);
  };
  run(text.size(), text.size());
  run(1, 1);
  for (std::size_t i = 1; i < text.size(); ++i) run(text.size(), i);
}

TEST(HandshakeTest, AcceptKeyFromTheRfc) {
  EXPECT_EQ(accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(HandshakeTest, PrefersTheHighestStompVersion) {
  expect_every_way(request(), Handshake::Status::kDone, [](const Handshake& h) {
    EXPECT_EQ(h.protocol(), "v12.stomp");
    EXPECT_NE(h.response().find("HTTP/1.1 101 Switching Protocols\r\n"), std::string::npos);
    EXPECT_NE(h.response().find("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"), std::string::npos);
    EXPECT_NE(h.response().find("Sec-WebSocket-Protocol: v12.stomp\r\n"), std::string::npos);
  });
  Handshake h("/ws");
  ASSERT_EQ(h.feed(request("/ws", "mqtt, v10.stomp,v11.stomp")).status, Handshake::Status::kDone);
  EXPECT_EQ(h.protocol(), "v11.stomp");
}

TEST(HandshakeTest, NoSubprotocolIsAccepted) {
  Handshake h("/ws");
  ASSERT_EQ(h.feed(request("/ws", "")).status, Handshake::Status::kDone);
  EXPECT_EQ(h.protocol(), "");
  EXPECT_EQ(h.response().find("Sec-WebSocket-Protocol"), std::string::npos);
}

TEST(HandshakeTest, OnlyForeignSubprotocolsAreRejected) {
  Handshake h("/ws");
  ASSERT_EQ(h.feed(request("/ws", "mqtt, chat")).status, Handshake::Status::kRejected);
  EXPECT_EQ(h.response().rfind("HTTP/1.1 400 ", 0), 0u);
}

// The MQTT listeners serve subprotocol "mqtt" only (docs/mqtt.md): STOMP's
// are foreign there, and the 400 names what is served.
TEST(HandshakeTest, AListenerServesItsOwnSubprotocols) {
  Handshake mqtt("/mqtt", {"mqtt"});
  ASSERT_EQ(mqtt.feed(request("/mqtt", "mqttv3.1, mqtt")).status, Handshake::Status::kDone);
  EXPECT_EQ(mqtt.protocol(), "mqtt");
  EXPECT_NE(mqtt.response().find("Sec-WebSocket-Protocol: mqtt\r\n"), std::string::npos);
  Handshake stomp_offer("/mqtt", {"mqtt"});
  ASSERT_EQ(stomp_offer.feed(request("/mqtt", "v12.stomp")).status, Handshake::Status::kRejected);
  EXPECT_EQ(stomp_offer.response().rfind("HTTP/1.1 400 ", 0), 0u);
  EXPECT_NE(stomp_offer.reason().find("(mqtt)"), std::string::npos) << stomp_offer.reason();
  Handshake none("/mqtt", {"mqtt"});
  ASSERT_EQ(none.feed(request("/mqtt", "")).status, Handshake::Status::kDone);
  EXPECT_EQ(none.protocol(), "");
}

// MQTT at /mqtt on a STOMP listener (Server::add_ws_route): each path with
// its own subprotocols; endpoint() says which path was asked for.
TEST(HandshakeTest, AnotherPathWithItsOwnSubprotocols) {
  auto both = [] {
    Handshake h("/ws");
    h.add_endpoint("/mqtt", {"mqtt"});
    return h;
  };
  Handshake stomp = both();
  ASSERT_EQ(stomp.feed(request("/ws")).status, Handshake::Status::kDone);
  EXPECT_EQ(stomp.endpoint(), 0u);
  EXPECT_EQ(stomp.protocol(), "v12.stomp");
  Handshake mqtt = both();
  ASSERT_EQ(mqtt.feed(request("/mqtt?x=1", "mqtt")).status, Handshake::Status::kDone);
  EXPECT_EQ(mqtt.endpoint(), 1u);
  EXPECT_EQ(mqtt.protocol(), "mqtt");
  Handshake stomp_at_mqtt = both();
  EXPECT_EQ(stomp_at_mqtt.feed(request("/mqtt", "v12.stomp")).status, Handshake::Status::kRejected);
  EXPECT_EQ(stomp_at_mqtt.response().rfind("HTTP/1.1 400 ", 0), 0u);
  Handshake mqtt_at_ws = both();
  EXPECT_EQ(mqtt_at_ws.feed(request("/ws", "mqtt")).status, Handshake::Status::kRejected);
  Handshake other = both();
  EXPECT_EQ(other.feed(request("/other", "mqtt")).status, Handshake::Status::kRejected);
  EXPECT_EQ(other.response().rfind("HTTP/1.1 404 ", 0), 0u);
}

TEST(HandshakeTest, QueryStringIsIgnoredOtherPathsGet404) {
  Handshake ok("/ws");
  EXPECT_EQ(ok.feed(request("/ws?token=1")).status, Handshake::Status::kDone);
  expect_every_way(request("/other"), Handshake::Status::kRejected, [](const Handshake& h) {
    EXPECT_EQ(h.response().rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u);
  });
}

TEST(HandshakeTest, HeaderNamesAreCaseInsensitive) {
  std::string r = "GET /ws HTTP/1.1\r\nhost: x\r\nUPGRADE: WebSocket\r\nconnection: upgrade\r\n"
                  "sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n";
  Handshake h("/ws");
  EXPECT_EQ(h.feed(r).status, Handshake::Status::kDone);
}

TEST(HandshakeTest, BytesAfterTheRequestAreNotConsumed) {
  std::string r = request() + "\x81\x85";
  Handshake h("/ws");
  auto res = h.feed(r);
  EXPECT_EQ(res.status, Handshake::Status::kDone);
  EXPECT_EQ(res.consumed, r.size() - 2);
}

TEST(HandshakeTest, BadRequestsAreRejected) {
  struct Case {
    std::string text;
    std::string status;
  };
  const Case cases[] = {
      {"POST /ws HTTP/1.1\r\nHost: x\r\n\r\n", "405"},
      {"GET /ws HTTP/1.0\r\nHost: x\r\n\r\n", "400"},
      {"GARBAGE\r\n\r\n", "400"},
      {std::string("CONNECT\naccept-version:1.2\n\n\0", 29), "400"},  // STOMP on the wrong port
      {request("/ws", "v12.stomp", "Sec-WebSocket-Version: 8\r\n").replace(
           request().find("Sec-WebSocket-Version: 13"), 25, "Sec-WebSocket-Version: 8 "), "426"},
      {"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n", "400"},  // no key
      {"GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
       "Sec-WebSocket-Version: 13\r\n\r\n", "400"},  // no Upgrade
      {"GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", "400"},  // no Host
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.text);
    Handshake h("/ws");
    auto r = h.feed(c.text);
    ASSERT_EQ(r.status, Handshake::Status::kRejected);
    EXPECT_EQ(h.response().substr(0, 12), "HTTP/1.1 " + c.status);
    EXPECT_FALSE(h.reason().empty());
  }
}

// Issue 18.7: a NUL (or another control character) in a header and
// obsolete line folding are refused with 400, however the bytes arrive.
TEST(HandshakeTest, ControlCharactersAndFoldingAreRejected) {
  const std::string cases[] = {
      request("/ws", "v12.stomp", std::string("X-Evil: a\0b\r\n", 13)),
      request("/ws", "v12.stomp", std::string("X-Evil: a\x01b\r\n")),
      request("/ws", "v12.stomp", "X-Evil: a\rb\r\n"),           // bare CR
      request("/ws", "v12.stomp", "X-Evil: a\r\n folded\r\n"),  // obs-fold, SP
      request("/ws", "v12.stomp", "X-Evil: a\r\n\tfolded\r\n"),  // obs-fold, HTAB
      request("/ws", "v12.stomp", "X-Evil : a\r\n"),              // space before the colon
      std::string("GET /w") + '\0' + "s HTTP/1.1\r\nHost: x\r\n\r\n",
  };
  for (const std::string& text : cases) {
    SCOPED_TRACE(text);
    expect_every_way(text, Handshake::Status::kRejected, [](const Handshake& h) {
      EXPECT_EQ(h.response().substr(0, 12), "HTTP/1.1 400");
    });
  }
  // A tab inside a value is allowed.
  expect_every_way(request("/ws", "v12.stomp", "X-Tab: a\tb\r\n"), Handshake::Status::kDone, [](const Handshake&) {});
}

TEST(HandshakeTest, OversizeRequestIsRejected) {
  Handshake h("/ws");
  std::string big = "GET /ws HTTP/1.1\r\nX: " + std::string(Handshake::kMaxRequestBytes, 'a');
  auto r = h.feed(big);
  EXPECT_EQ(r.status, Handshake::Status::kRejected);
  EXPECT_EQ(h.response().substr(0, 12), "HTTP/1.1 431");
  // Byte by byte it fails at the same point.
  Handshake h2("/ws");
  Handshake::Result r2;
  for (std::size_t i = 0; i < big.size() && r2.status == Handshake::Status::kNeedMore; ++i)
    r2 = h2.feed(big.substr(i, 1));
  EXPECT_EQ(r2.status, Handshake::Status::kRejected);
}

}  // namespace
}  // namespace ferry::net::websocket
