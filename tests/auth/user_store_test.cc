#include "auth/user_store.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "auth/password_hash.h"

namespace ferry::auth {
namespace {

// The Error's text, or "" for success: the tests compare texts.
std::string text(const Status& s) { return s ? std::string() : s.error().text(); }

class UserStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ferry-users-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/users.toml";
  }
  void TearDown() override {
    ::unlink(path_.c_str());
    ::rmdir(dir_.c_str());
  }
  void write(const std::string& text) {
    std::ofstream(path_) << text;
  }
  std::string load_error(const std::string& text) {
    write(text);
    auto loaded = UserStore::load(path_);
    return loaded ? "" : loaded.error().text();
  }
  std::string dir_, path_;
};

TEST_F(UserStoreTest, BuiltinIsGuestWithFullPermissionsOnSlash) {
  UserStore s = UserStore::builtin();
  ASSERT_NE(s.find_user("guest"), nullptr);
  EXPECT_TRUE(s.has_vhost("/"));
  EXPECT_TRUE(s.check_password("guest", "guest"));
  EXPECT_FALSE(s.check_password("guest", "Guest"));
  const Permissions* p = s.permissions("guest", "/");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->allows(Access::kConfigure, "/queue/x"));
  EXPECT_EQ(s.permissions("guest", "other"), nullptr);
}

TEST_F(UserStoreTest, SaveAndLoadRoundTrip) {
  UserStore s = UserStore::builtin();
  ASSERT_EQ(text(s.add_vhost("prod")), "");
  ASSERT_EQ(text(s.add_user("alice", *hash_password("wonder", kMinIterations), {"administrator", "ops"})), "");
  ASSERT_EQ(text(s.set_permissions("alice", "prod", "^/queue/a", "^/queue/", ".*")), "");
  ASSERT_TRUE(s.save(path_).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u) << "the users file holds hashes: owner only";

  UserStore back = *UserStore::load(path_);
  EXPECT_TRUE(back.has_vhost("prod"));
  EXPECT_TRUE(back.has_vhost("/"));
  ASSERT_NE(back.find_user("alice"), nullptr);
  EXPECT_EQ(back.find_user("alice")->tags, (std::vector<std::string>{"administrator", "ops"}));
  EXPECT_TRUE(back.check_password("alice", "wonder"));
  EXPECT_FALSE(back.check_password("alice", "wander"));
  const Permissions* p = back.permissions("alice", "prod");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->allows(Access::kConfigure, "/queue/abc"));
  EXPECT_FALSE(p->allows(Access::kConfigure, "/queue/b"));
  EXPECT_TRUE(p->allows(Access::kWrite, "/queue/b"));
  EXPECT_FALSE(p->allows(Access::kWrite, "/topic/b"));
  EXPECT_EQ(back.permissions("alice", "/"), nullptr);
}

TEST_F(UserStoreTest, HandWrittenFile) {
  write(R"(
vhosts = ["/", "shop"]
[users.bob]
password-hash = ")" + *hash_password("builder", kMinIterations) + R"("
tags = []
[[permissions]]
user = "bob"
vhost = "shop"
configure = ""
write = "^/queue/orders$"
read = ""
)");
  UserStore s = *UserStore::load(path_);
  EXPECT_EQ(s.find_user("guest"), nullptr) << "a users file is the whole truth: no implicit guest";
  const Permissions* p = s.permissions("bob", "shop");
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(p->allows(Access::kWrite, "/queue/orders"));
  EXPECT_FALSE(p->allows(Access::kRead, "/queue/orders"));
  EXPECT_FALSE(p->allows(Access::kConfigure, "/queue/orders"));
}

TEST_F(UserStoreTest, FileWithoutVhostsHasSlash) {
  write("[users]\n");
  EXPECT_TRUE(UserStore::load(path_)->has_vhost("/"));
}

TEST_F(UserStoreTest, BadFilesAreErrorsNamingTheProblem) {
  EXPECT_NE(load_error("vhosts = 3").find("vhosts"), std::string::npos);
  EXPECT_NE(load_error("[users.x]\ntags=[]\n").find("password-hash"), std::string::npos);
  EXPECT_NE(load_error("[users.x]\npassword-hash = \"plain\"\n").find("users.x"), std::string::npos);
  EXPECT_NE(load_error("[[permissions]]\nuser=\"nobody\"\nvhost=\"/\"\nconfigure=\"\"\nwrite=\"\"\nread=\"\"\n")
                .find("nobody"),
            std::string::npos);
  EXPECT_NE(load_error("[[permissions]]\nuser=\"x\"\n").find("vhost"), std::string::npos);
  EXPECT_NE(load_error("this is = not toml [").find(path_), std::string::npos);
  std::string e = load_error(R"(
[users.x]
password-hash = ")" + *hash_password("p", kMinIterations) + R"("
[[permissions]]
user = "x"
vhost = "/"
configure = "(["
write = ""
read = ""
)");
  EXPECT_NE(e.find("(["), std::string::npos) << e;
}

TEST_F(UserStoreTest, EditsAndTheirErrors) {
  UserStore s = UserStore::builtin();
  EXPECT_NE(text(s.add_user("guest", *hash_password("x", kMinIterations), {})), "");
  EXPECT_NE(text(s.add_user("", *hash_password("x", kMinIterations), {})), "");
  EXPECT_NE(text(s.add_user("bad\nname", *hash_password("x", kMinIterations), {})), "");
  EXPECT_NE(text(s.add_user("plain", "not-a-hash", {})), "");
  EXPECT_NE(text(s.set_permissions("nobody", "/", "", "", "")), "");
  EXPECT_NE(text(s.set_permissions("guest", "nowhere", "", "", "")), "");
  EXPECT_NE(text(s.add_vhost("/")), "");
  EXPECT_EQ(text(s.add_vhost("v2")), "");
  EXPECT_EQ(text(s.set_permissions("guest", "v2", "", ".*", "")), "");
  EXPECT_EQ(text(s.delete_vhost("v2")), "");
  EXPECT_EQ(s.permissions("guest", "v2"), nullptr) << "deleting a vhost deletes its grants";
  EXPECT_EQ(text(s.delete_user("guest")), "");
  EXPECT_EQ(s.find_user("guest"), nullptr);
  EXPECT_EQ(s.permissions("guest", "/"), nullptr);
  EXPECT_NE(text(s.delete_user("guest")), "");
}

TEST_F(UserStoreTest, PatternsRe2RefusesAreRefusedWhereTheyAreSet) {
  // issue 18.4: patterns are RE2 (linear time); a backreference is an error
  // in the users file and in an edit (the management API and `ferry user
  // set-permissions` edit through set_permissions), and the grant before
  // stays as it was.
  UserStore s = UserStore::builtin();
  const std::string e = text(s.set_permissions("guest", "/", ".*", "^/queue/(a)\\1$", ".*"));
  EXPECT_NE(e.find("^/queue/(a)\\1$"), std::string::npos) << e;
  ASSERT_NE(s.permissions("guest", "/"), nullptr);
  EXPECT_TRUE(s.permissions("guest", "/")->allows(Access::kWrite, "/queue/x")) << "the old grant stays";
  const std::string file_error = load_error(R"(
[users.x]
password-hash = ")" + *hash_password("p", kMinIterations) + R"x("
[[permissions]]
user = "x"
vhost = "/"
configure = ""
write = "^/queue/(?!tmp)"
read = ""
)x");
  EXPECT_NE(file_error.find(path_), std::string::npos) << file_error;
  EXPECT_NE(file_error.find("(?!tmp)"), std::string::npos) << file_error;
}

TEST_F(UserStoreTest, SetPermissionsReplacesTheGrant) {
  UserStore s = UserStore::builtin();
  ASSERT_EQ(text(s.set_permissions("guest", "/", "", "", "^/topic/")), "");
  const Permissions* p = s.permissions("guest", "/");
  ASSERT_NE(p, nullptr);
  EXPECT_FALSE(p->allows(Access::kWrite, "/queue/a"));
  EXPECT_TRUE(p->allows(Access::kRead, "/topic/a"));
  EXPECT_EQ(s.permission_entries().size(), 1u);
}

TEST_F(UserStoreTest, UnknownUserIsCheckedAgainstADummy) {
  UserStore s = UserStore::builtin();
  EXPECT_FALSE(s.check_password("nobody", "guest"));
  EXPECT_FALSE(s.check_password("", ""));
}

}  // namespace
}  // namespace ferry::auth
