// Placeholder until the console build generates this file: one page saying
// that the console assets were not built into this binary.
#include "http/console_assets.h"

namespace ferry::http {

namespace {
constexpr std::string_view kIndex =
    "<!doctype html><html><head><meta charset=\"utf-8\"><title>Ferry</title></head>"
    "<body><h1>Ferry</h1><p>The web console assets are not built into this binary. "
    "The management API is at <a href=\"/api/overview\">/api/overview</a> and metrics at "
    "<a href=\"/metrics\">/metrics</a> (docs/management.md).</p></body></html>\n";
const ConsoleAsset kIndexAsset{"text/html; charset=utf-8", kIndex};
}  // namespace

const ConsoleAsset* find_console_asset(std::string_view path) {
  if (path == "/" || path == "/index.html") return &kIndexAsset;
  return nullptr;
}

}  // namespace ferry::http
