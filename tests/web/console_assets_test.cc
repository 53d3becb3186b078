// The embedded console (build/src/http/console_assets.cc, generated from
// web/dist/ by scripts/embed_console.py) serves every file of web/dist/ byte
// for byte, with the content type of its extension.
#include "http/console_assets.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace fs = std::filesystem;
using ferry::http::find_console_asset;

namespace {

std::string read_file(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

TEST(ConsoleAssets, RootIsIndexHtml) {
  const auto* root = find_console_asset("/");
  const auto* index = find_console_asset("/index.html");
  ASSERT_NE(root, nullptr);
  EXPECT_EQ(root, index);
  EXPECT_EQ(root->content_type, "text/html; charset=utf-8");
  EXPECT_NE(root->body.find("<div id=\"app\">"), std::string_view::npos);
}

TEST(ConsoleAssets, QueryAndFragmentAreIgnored) {
  EXPECT_EQ(find_console_asset("/?x=1"), find_console_asset("/index.html"));
  EXPECT_EQ(find_console_asset("/index.html#/queues"), find_console_asset("/index.html"));
}

TEST(ConsoleAssets, UnknownPathsAreNull) {
  EXPECT_EQ(find_console_asset("/nope.js"), nullptr);
  EXPECT_EQ(find_console_asset("/assets"), nullptr);
  EXPECT_EQ(find_console_asset("/assets/"), nullptr);
  EXPECT_EQ(find_console_asset("index.html"), nullptr);  // paths start with "/"
  EXPECT_EQ(find_console_asset("/../index.html"), nullptr);
  EXPECT_EQ(find_console_asset("/INDEX.HTML"), nullptr);
}

TEST(ConsoleAssets, EveryDistFileIsEmbeddedByteForByte) {
  const fs::path dist = FERRY_WEB_DIST;
  std::size_t files = 0;
  bool saw_js = false, saw_css = false;
  for (const auto& e : fs::recursive_directory_iterator(dist)) {
    if (!e.is_regular_file()) continue;
    ++files;
    const std::string rel = "/" + fs::relative(e.path(), dist).generic_string();
    const auto* a = find_console_asset(rel);
    ASSERT_NE(a, nullptr) << rel;
    EXPECT_EQ(a->body, read_file(e.path())) << rel;
    const std::string ext = e.path().extension().string();
    if (ext == ".js") {
      saw_js = true;
      EXPECT_EQ(a->content_type, "text/javascript; charset=utf-8") << rel;
    } else if (ext == ".css") {
      saw_css = true;
      EXPECT_EQ(a->content_type, "text/css; charset=utf-8") << rel;
    }
  }
  EXPECT_GE(files, 3u);
  EXPECT_TRUE(saw_js);
  EXPECT_TRUE(saw_css);
}

}  // namespace
