// libFuzzer target for `ferry serve`'s configuration: the input is a
// ferry.toml, loaded by app::load_options() exactly as --config loads it
// (defaults, then the file's values through each option's parser).
//
// Contract checked: any text either yields options or an Error with a
// message; no crash, no hang, no exception.
// Options that load are usable: the frame limits and counts are not zero, and
// the heart-beat grace times any interval (a uint32 of ms) is a finite
// number of ms that fits the int64 it is converted to (net/connection.cc).

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "app/config.h"

namespace {

namespace fs = std::filesystem;

[[noreturn]] void fail(const char* what) {
  std::fprintf(stderr, "config_fuzz: %s\n", what);
  std::abort();
}

std::string& config_path() {
  static std::string path;
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // load_options() reads a file, as `ferry serve --config` does; tmpfs keeps
  // that cheap where there is one.
  fs::path base = fs::exists("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
  config_path() = (base / ("ferry-config-fuzz-" + std::to_string(getpid()) + ".toml")).string();
  std::atexit([] { std::remove(config_path().c_str()); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::FILE* f = std::fopen(config_path().c_str(), "wb");
  if (f == nullptr) fail("cannot write the config file");
  if (size > 0 && std::fwrite(data, 1, size, f) != size) fail("short write");
  std::fclose(f);
  // Every way a file can be wrong is an Error: nothing may throw.
  const auto loaded = ferry::app::load_options(config_path(), {});
  if (!loaded) {
    if (loaded.error().text().empty()) fail("error without a message");
  } else {
    const auto& o = *loaded;
    if (o.stomp.limits.max_frame_size == 0 || o.stomp.limits.max_body_size == 0 || o.stomp.limits.max_headers == 0 ||
        o.stomp.limits.max_header_length == 0)
      fail("a zero frame limit was accepted");
    if (o.broker.shards == 0) fail("zero shards accepted");
    if (o.data_dir.empty()) fail("empty data-dir accepted");
    const double longest = o.listen.heart_beat_grace * static_cast<double>(UINT32_MAX);
    if (!(o.listen.heart_beat_grace >= 1.0) || !std::isfinite(longest) || longest >= 9.2e18)
      fail("a heart-beat grace that overflows the silence check was accepted");
  }
  return 0;
}
