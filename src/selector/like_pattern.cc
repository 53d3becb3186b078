#include "selector/like_pattern.h"

#include "selector/utf8.h"

namespace ferry::selector {

Result<LikePattern> LikePattern::compile(std::string_view pattern, std::optional<char32_t> escape) {
  LikePattern p;
  std::size_t i = 0;
  while (i < pattern.size()) {
    const std::size_t len = utf8_length(pattern, i);
    const std::string_view ch = pattern.substr(i, len);
    if (escape && decode_utf8(ch) == *escape) {
      i += len;
      if (i >= pattern.size()) {
        return failure("LIKE pattern ends with its ESCAPE character");
      }
      const std::size_t next = utf8_length(pattern, i);
      for (char c : pattern.substr(i, next)) p.elems_.push_back(Elem{Kind::kByte, c});
      i += next;
      continue;
    }
    if (ch == "%") {
      // Consecutive %s are one.
      if (p.elems_.empty() || p.elems_.back().kind != Kind::kMany) p.elems_.push_back(Elem{Kind::kMany, 0});
    } else if (ch == "_") {
      p.elems_.push_back(Elem{Kind::kOne, 0});
    } else {
      for (char c : ch) p.elems_.push_back(Elem{Kind::kByte, c});
    }
    i += len;
  }
  return p;
}

bool LikePattern::matches(std::string_view text) const {
  const std::size_t m = elems_.size();
  std::size_t p = 0, t = 0;
  // The last % seen and the text position it is assumed to stop at: a
  // mismatch lets that % take one more character and retries from there.
  std::size_t star = m, star_t = 0;
  while (t < text.size()) {
    if (p < m && elems_[p].kind == Kind::kByte && elems_[p].byte == text[t]) {
      ++p;
      ++t;
    } else if (p < m && elems_[p].kind == Kind::kOne) {
      t += utf8_length(text, t);
      ++p;
    } else if (p < m && elems_[p].kind == Kind::kMany) {
      star = p++;
      star_t = t;
    } else if (star != m) {
      p = star + 1;
      star_t += utf8_length(text, star_t);
      t = star_t;
    } else {
      return false;
    }
  }
  while (p < m && elems_[p].kind == Kind::kMany) ++p;
  return p == m;
}

}  // namespace ferry::selector
