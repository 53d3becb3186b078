#include "auth/authenticator.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <thread>

#include "auth/password_hash.h"

namespace ferry::auth {
namespace {

// The Error's text, or "" for success: the tests compare texts.
std::string text(const Status& s) { return s ? std::string() : s.error().text(); }

UserStore store_with_alice() {
  UserStore s = UserStore::builtin();
  EXPECT_EQ(text(s.add_vhost("prod")), "");
  EXPECT_EQ(text(s.add_user("alice", *hash_password("wonder", kMinIterations), {})), "");
  EXPECT_EQ(text(s.set_permissions("alice", "prod", "", ".*", ".*")), "");
  return s;
}

TEST(AuthenticatorTest, PeerAddresses) {
  EXPECT_EQ(address_of_peer("127.0.0.1:5000"), "127.0.0.1");
  EXPECT_EQ(address_of_peer("::1:5000"), "::1");
  EXPECT_EQ(address_of_peer("[::1]:5000"), "::1");
  EXPECT_TRUE(is_loopback_address("127.0.0.1"));
  EXPECT_TRUE(is_loopback_address("127.1.2.3"));
  EXPECT_TRUE(is_loopback_address("::1"));
  EXPECT_TRUE(is_loopback_address("::ffff:127.0.0.1"));
  EXPECT_FALSE(is_loopback_address("192.0.2.2"));
  EXPECT_FALSE(is_loopback_address("::ffff:192.0.2.2"));
  EXPECT_FALSE(is_loopback_address("fd00::2"));
  EXPECT_FALSE(is_loopback_address("?"));
  EXPECT_FALSE(is_loopback_address(""));
}

TEST(AuthenticatorTest, HostHeaderNamingAVhostSelectsIt) {
  Authenticator a(store_with_alice(), AuthOptions{});
  EXPECT_EQ(a.vhost_for_host("prod"), "prod");
  EXPECT_EQ(a.vhost_for_host("/"), "/");
  EXPECT_EQ(a.vhost_for_host("localhost"), "/");
  EXPECT_EQ(a.vhost_for_host("broker.example.com"), "/");
  EXPECT_EQ(a.vhost_for_host(std::nullopt), "/");
}

TEST(AuthenticatorTest, VerifyChecksPasswordThenLoopbackThenVhost) {
  Authenticator a(store_with_alice(), AuthOptions{});
  EXPECT_EQ(a.verify("alice", "wonder", "192.0.2.9", "prod").status, LoginStatus::kOk);
  EXPECT_NE(a.verify("alice", "wonder", "192.0.2.9", "prod").permissions, nullptr);
  EXPECT_EQ(a.verify("alice", "wander", "192.0.2.9", "prod").status, LoginStatus::kBadCredentials);
  EXPECT_EQ(a.verify("nobody", "wonder", "192.0.2.9", "prod").status, LoginStatus::kBadCredentials);
  EXPECT_EQ(a.verify("alice", "wonder", "192.0.2.9", "/").status, LoginStatus::kNoVhostAccess);
  EXPECT_EQ(a.verify("guest", "guest", "127.0.0.1", "/").status, LoginStatus::kOk);
  EXPECT_EQ(a.verify("guest", "guest", "192.0.2.9", "/").status, LoginStatus::kLoopbackOnly);
  // A wrong password for guest from afar says nothing about loopback.
  EXPECT_EQ(a.verify("guest", "nope", "192.0.2.10", "/").status, LoginStatus::kBadCredentials);
  // HTTP Basic: no vhost asked, any grant is enough.
  EXPECT_EQ(a.verify("alice", "wonder", "192.0.2.9", std::nullopt).status, LoginStatus::kOk);
}

TEST(AuthenticatorTest, LoopbackUsersEmptyLiftsTheRestriction) {
  AuthOptions o;
  o.loopback_users.clear();
  Authenticator a(UserStore::builtin(), o);
  EXPECT_EQ(a.authorize("guest", "/", "192.0.2.9").status, LoginStatus::kOk);
}

TEST(AuthenticatorTest, AuthorizeIsTheDefaultUserPath) {
  Authenticator a(UserStore::builtin(), AuthOptions{});
  EXPECT_EQ(a.authorize("guest", "/", "127.0.0.1").status, LoginStatus::kOk);
  EXPECT_EQ(a.authorize("guest", "/", "192.0.2.2").status, LoginStatus::kLoopbackOnly);
  EXPECT_EQ(a.authorize("ghost", "/", "127.0.0.1").status, LoginStatus::kBadCredentials);
}

TEST(AuthenticatorTest, FailuresPerAddressAreLimited) {
  AuthOptions o;
  o.max_login_failures = 3;
  Authenticator a(store_with_alice(), o);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(a.verify("alice", "x", "192.0.2.50", "prod").status, LoginStatus::kBadCredentials);
  // Even the right password is refused unchecked now, from that address only.
  EXPECT_EQ(a.verify("alice", "wonder", "192.0.2.50", "prod").status, LoginStatus::kThrottled);
  EXPECT_EQ(a.verify("alice", "wonder", "192.0.2.51", "prod").status, LoginStatus::kOk);
}

TEST(AuthenticatorTest, LimiterCoversLoginsWithoutPassword) {
  // issue 18.8: a blocked address got in as default-user (and by client
  // certificate), both through authorize().
  AuthOptions o;
  o.max_login_failures = 3;
  Authenticator a(store_with_alice(), o);
  EXPECT_EQ(a.authorize("guest", "/", "127.0.0.1").status, LoginStatus::kOk);
  for (int i = 0; i < 3; ++i)
    EXPECT_EQ(a.verify("alice", "x", "127.0.0.1", "prod").status, LoginStatus::kBadCredentials);
  EXPECT_EQ(a.authorize("guest", "/", "127.0.0.1").status, LoginStatus::kThrottled);
  EXPECT_EQ(a.authorize("alice", "prod", "127.0.0.1").status, LoginStatus::kThrottled);
  // Another address is not affected, and logins without password add no
  // failures of their own.
  EXPECT_EQ(a.authorize("guest", "/", "127.0.0.2").status, LoginStatus::kOk);
  for (int i = 0; i < 5; ++i) EXPECT_EQ(a.authorize("ghost", "/", "127.0.0.3").status, LoginStatus::kBadCredentials);
  EXPECT_EQ(a.authorize("guest", "/", "127.0.0.3").status, LoginStatus::kOk);
}

TEST(AuthenticatorTest, SubmitAnswersOnItsThread) {
  Authenticator a(store_with_alice(), AuthOptions{});
  std::promise<LoginResult> got;
  a.submit("alice", "wonder", "127.0.0.1", "prod", [&](LoginResult r) { got.set_value(r); });
  LoginResult r = got.get_future().get();
  EXPECT_EQ(r.status, LoginStatus::kOk);
  EXPECT_EQ(r.user, "alice");
  std::promise<LoginResult> http;
  a.submit("alice", "wander", "127.0.0.1", std::nullopt, [&](LoginResult r) { http.set_value(r); });
  EXPECT_EQ(http.get_future().get().status, LoginStatus::kBadCredentials);
}

TEST(LoginLimiterTest, WindowSlides) {
  LoginLimiter l(2);
  l.failed("a", 0);
  l.failed("a", 1000);
  EXPECT_TRUE(l.blocked("a", 1001));
  EXPECT_FALSE(l.blocked("b", 1001));
  EXPECT_TRUE(l.blocked("a", 59999));
  EXPECT_FALSE(l.blocked("a", 60000)) << "the first failure aged out";
  EXPECT_FALSE(l.blocked("a", 61000));
}

TEST(LoginLimiterTest, ZeroMeansNoLimit) {
  LoginLimiter l(0);
  for (int i = 0; i < 100; ++i) l.failed("a", i);
  EXPECT_FALSE(l.blocked("a", 100));
}

// A users file in a fresh temporary directory, removed afterwards.
struct TempUsersFile {
  TempUsersFile() {
    char tmpl[] = "/tmp/ferry-users-XXXXXX";
    dir = ::mkdtemp(tmpl);
    path = dir + "/users.toml";
  }
  ~TempUsersFile() { std::filesystem::remove_all(dir); }
  std::string dir, path;
};

std::string edit_and_wait(Authenticator& a, Authenticator::Edit edit) {
  std::promise<std::string> done;
  a.submit_edit(std::move(edit), [&done](Status e) { done.set_value(text(e)); });
  return done.get_future().get();
}

TEST(AuthenticatorTest, EditsAreSavedAndReplaceTheSnapshot) {
  TempUsersFile f;
  AuthOptions o;
  o.users_file = f.path;
  Authenticator a(UserStore::builtin(), o);
  const std::uint64_t g0 = a.generation();
  LoginResult before = a.authorize("guest", "/", "127.0.0.1");
  ASSERT_EQ(before.status, LoginStatus::kOk);

  EXPECT_EQ(edit_and_wait(a, [](UserStore& s) {
              Status added = s.add_user("zed", *hash_password("pw", kMinIterations), {"monitoring"});
              return added ? s.clear_permissions("guest", "/") : added;
            }), "");
  EXPECT_GT(a.generation(), g0);
  EXPECT_NE(a.store()->find_user("zed"), nullptr);
  EXPECT_EQ(UserStore::load(f.path)->find_user("zed")->tags, std::vector<std::string>{"monitoring"});
  EXPECT_EQ(a.authorize("guest", "/", "127.0.0.1").status, LoginStatus::kNoVhostAccess);
  // A login decided before keeps its grants (and they stay valid).
  EXPECT_TRUE(before.permissions->allows(Access::kWrite, "/queue/x"));

  // A refused edit changes nothing; default-vhost cannot go.
  const std::uint64_t g1 = a.generation();
  EXPECT_EQ(edit_and_wait(a, [](UserStore& s) { return s.delete_user("nobody"); }), "no user 'nobody'");
  EXPECT_NE(edit_and_wait(a, [](UserStore& s) { return s.delete_vhost("/"); }), "");
  EXPECT_EQ(a.generation(), g1);
  EXPECT_TRUE(a.store()->has_vhost("/"));
}

TEST(AuthenticatorTest, EditsNeedAUsersFile) {
  Authenticator a(UserStore::builtin(), AuthOptions{});
  EXPECT_NE(edit_and_wait(a, [](UserStore&) { return Status(); }).find("users-file"), std::string::npos);
}

TEST(AuthenticatorTest, AChangedFileIsReadAgain) {
  TempUsersFile f;
  ASSERT_TRUE(UserStore::builtin().save(f.path).ok());
  AuthOptions o;
  o.users_file = f.path;
  Authenticator a(*UserStore::load(f.path), o);
  UserStore edited = *UserStore::load(f.path);
  ASSERT_EQ(text(edited.add_vhost("shop")), "");
  ASSERT_TRUE(edited.save(f.path).ok());
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!a.store()->has_vhost("shop") && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_TRUE(a.store()->has_vhost("shop"));
  EXPECT_EQ(a.vhost_for_host("shop"), "shop");
}

}  // namespace
}  // namespace ferry::auth
