#include "broker/destination_pattern.h"

namespace ferry::broker {

namespace {
// Walks the '/'-separated segments of a name, without copying (a SEND
// without a `persistent` header is matched against persistent-default).
class Segments {
 public:
  explicit Segments(std::string_view s) : s_(s) {}
  bool done() const { return pos_ == std::string_view::npos; }
  std::string_view next() {
    const auto slash = s_.find('/', pos_);
    const std::string_view segment =
        s_.substr(pos_, slash == std::string_view::npos ? std::string_view::npos : slash - pos_);
    pos_ = slash == std::string_view::npos ? std::string_view::npos : slash + 1;
    return segment;
  }

 private:
  std::string_view s_;
  std::size_t pos_ = 0;  // npos: past the last segment
};
}  // namespace

bool matches_pattern(std::string_view pattern, std::string_view destination) {
  Segments p(pattern), d(destination);
  while (!p.done()) {
    const std::string_view want = p.next();
    if (d.done()) return false;
    const std::string_view got = d.next();
    // `>`: this segment and any after it, but not a lone empty last one.
    if (want == ">") return !(d.done() && got.empty());
    if (want != "*" && want != got) return false;
  }
  return d.done();
}

}  // namespace ferry::broker
