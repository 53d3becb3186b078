#pragma once

#include <string_view>

namespace ferry::http {

// The web console's static files, embedded in the binary. This declaration
// is the interface between the HTTP server (which serves `/` and
// `/assets/...` through it) and the console build, which generates
// console_assets.cc from the built files.
struct ConsoleAsset {
  std::string_view content_type;
  std::string_view body;
};

// nullptr when no such file; "/" maps to "/index.html".
const ConsoleAsset* find_console_asset(std::string_view path);

}  // namespace ferry::http
