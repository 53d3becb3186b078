#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace ferry::selector {

enum class TokenKind : std::uint8_t {
  kEnd,
  kIdentifier,
  kString,   // text: the value, '' already made '
  kInteger,  // integer
  kFloat,    // number
  // Keywords (case-insensitive).
  kAnd, kOr, kNot, kLike, kEscape, kIn, kBetween, kIs, kNull, kTrue, kFalse,
  // Operators.
  kEq, kNe, kLt, kGt, kLe, kGe, kPlus, kMinus, kStar, kSlash, kLParen, kRParen, kComma,
  kError,  // text: what is wrong
};

struct Token {
  TokenKind kind = TokenKind::kEnd;
  std::size_t offset = 0;  // byte offset of its first character
  std::string text;        // identifier name, string value, or error text
  std::int64_t integer = 0;
  double number = 0;
};

// Splits a selector into tokens, one at a time. The input view must outlive
// the lexer.
class Lexer {
 public:
  explicit Lexer(std::string_view in) : in_(in) {}
  Token next();

 private:
  Token number(std::size_t start);
  Token string(std::size_t start);
  std::string_view in_;
  std::size_t pos_ = 0;
};

// How a token is named in an error message ("')'", "end of selector").
std::string describe(TokenKind k);

}  // namespace ferry::selector
