#include "app/config.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace ferry::app {
namespace {

using Cli = std::vector<std::pair<std::string, std::string>>;

TEST(TransportOptionsTest, ListenersAreOffByDefault) {
  Config o = *load_options("", {});
  EXPECT_FALSE(o.listen.ws_listen.enabled());
  EXPECT_FALSE(o.listen.tls_listen.enabled());
  EXPECT_FALSE(o.listen.wss_listen.enabled());
  EXPECT_FALSE(o.http.https_listen.enabled());
  EXPECT_EQ(o.listen.ws_path, "/ws");
  EXPECT_EQ(o.listen.tls.verify_client, net::TlsVerifyClient::kNone);
  EXPECT_TRUE(o.listen.tls.cert_file.empty() && o.listen.tls.key_file.empty() && o.listen.tls.ca_file.empty());
}

TEST(TransportOptionsTest, ListenersParseHostAndPort) {
  Config o = *load_options("", Cli{{"ws-listen", "127.0.0.1:15674"},
                                              {"tls-listen", "0.0.0.0:61614"},
                                              {"wss-listen", "[::1]:0"}});
  EXPECT_EQ(o.listen.ws_listen.host, "127.0.0.1");
  EXPECT_EQ(o.listen.ws_listen.port, 15674);
  EXPECT_EQ(o.listen.tls_listen.host, "0.0.0.0");
  EXPECT_EQ(o.listen.tls_listen.port, 61614);
  EXPECT_EQ(o.listen.wss_listen.host, "::1");
  EXPECT_EQ(o.listen.wss_listen.port, 0);
  EXPECT_TRUE(o.listen.wss_listen.enabled());
  o = *load_options("", Cli{{"https-listen", "0.0.0.0:15671"}});
  EXPECT_TRUE(o.http.https_listen.enabled());
  EXPECT_EQ(o.http.https_listen.host, "0.0.0.0");
  EXPECT_EQ(o.http.https_listen.port, 15671);
  EXPECT_TRUE(o.http.enabled);  // the plain listener stays as configured
  o = *load_options("", Cli{{"https-listen", "[::1]:0"}, {"http-listen", ""}});
  EXPECT_EQ(o.http.https_listen.host, "::1");
  EXPECT_EQ(o.http.https_listen.port, 0);
  EXPECT_FALSE(o.http.enabled);
  // "" switches a listener off again (a flag over the file).
  o = *load_options("", Cli{{"ws-listen", "127.0.0.1:1"}, {"ws-listen", ""}});
  EXPECT_FALSE(o.listen.ws_listen.enabled());
}

TEST(TransportOptionsTest, BadValuesNameTheOption) {
  const std::pair<std::string, std::string> bad[] = {
      {"ws-listen", "15674"},        {"tls-listen", "host:port"}, {"wss-listen", ":1"},
      {"ws-path", "ws"},             {"ws-path", "/a b"},         {"ws-path", "/x?y"},
      {"tls-verify-client", "yes"},  {"https-listen", "15671"},    {"https-listen", "[::1]"},
  };
  for (const auto& [name, value] : bad) {
    SCOPED_TRACE(name + "=" + value);
    auto loaded = load_options("", Cli{{name, value}});
    ASSERT_FALSE(loaded) << "accepted";
    EXPECT_NE(loaded.error().text().find(name), std::string::npos) << loaded.error().text();
  }
}

TEST(TransportOptionsTest, TlsOptions) {
  Config o = *load_options("", Cli{{"tls-cert-file", "/c.pem"},
                                              {"tls-key-file", "/k.pem"},
                                              {"tls-ca-file", "/ca.pem"},
                                              {"tls-verify-client", "required"},
                                              {"ws-path", "/stomp"}});
  EXPECT_EQ(o.listen.tls.cert_file, "/c.pem");
  EXPECT_EQ(o.listen.tls.key_file, "/k.pem");
  EXPECT_EQ(o.listen.tls.ca_file, "/ca.pem");
  EXPECT_EQ(o.listen.tls.verify_client, net::TlsVerifyClient::kRequired);
  EXPECT_EQ(o.listen.ws_path, "/stomp");
  o = *load_options("", Cli{{"tls-verify-client", "optional"}});
  EXPECT_EQ(o.listen.tls.verify_client, net::TlsVerifyClient::kOptional);
}

}  // namespace
}  // namespace ferry::app
