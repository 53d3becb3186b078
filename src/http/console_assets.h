#pragma once

#include <cstddef>
#include <string_view>

// The web console's static files (web/dist/), embedded in the binary at
// build time: src/http/console_assets.cc is generated into the build
// directory by scripts/embed_console.py (web/CMakeLists.txt). The views
// point into static storage and stay valid for the life of the process;
// any thread may call these.
namespace ferry::http {

struct ConsoleAsset {
  std::string_view content_type;
  std::string_view body;
};

// The asset at `path` ("/assets/index-1a2b.js"); "/" maps to "/index.html";
// a query or fragment is ignored. nullptr when no such file.
const ConsoleAsset* find_console_asset(std::string_view path);

// How many files are embedded (for a startup log line and the tests).
std::size_t console_asset_count();

}  // namespace ferry::http
