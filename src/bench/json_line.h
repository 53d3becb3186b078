#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::bench {

// Builds one JSON object on one line, keys in the order added. Strings are
// escaped; doubles are printed with up to 6 significant decimals and never
// as NaN/inf (those become 0), so every line parses.
class JsonLine {
 public:
  JsonLine& add(std::string_view key, std::string_view value);
  JsonLine& add(std::string_view key, const char* value) { return add(key, std::string_view(value)); }
  JsonLine& add(std::string_view key, const std::string& value) { return add(key, std::string_view(value)); }
  JsonLine& add(std::string_view key, bool value);
  JsonLine& add(std::string_view key, std::int64_t value);
  JsonLine& add(std::string_view key, std::uint64_t value);
  JsonLine& add(std::string_view key, int value) { return add(key, static_cast<std::int64_t>(value)); }
  JsonLine& add(std::string_view key, double value);
  // `object` is another JsonLine's str().
  JsonLine& add_raw(std::string_view key, std::string_view json);

  std::string str() const { return text_ + "}"; }

 private:
  void key(std::string_view k);
  std::string text_ = "{";
};

}  // namespace ferry::bench
