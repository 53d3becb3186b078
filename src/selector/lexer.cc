#include "selector/lexer.h"

#include "common/ascii.h"

#include <array>
#include <cerrno>
#include <cstdlib>
#include <utility>

namespace ferry::selector {

namespace {

bool ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$'; }
bool ident_part(char c) { return ident_start(c) || (c >= '0' && c <= '9'); }
bool digit(char c) { return c >= '0' && c <= '9'; }
bool hex_digit(char c) { return digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

constexpr std::array<std::pair<std::string_view, TokenKind>, 11> kKeywords{{
    {"AND", TokenKind::kAnd},
    {"OR", TokenKind::kOr},
    {"NOT", TokenKind::kNot},
    {"LIKE", TokenKind::kLike},
    {"ESCAPE", TokenKind::kEscape},
    {"IN", TokenKind::kIn},
    {"BETWEEN", TokenKind::kBetween},
    {"IS", TokenKind::kIs},
    {"NULL", TokenKind::kNull},
    {"TRUE", TokenKind::kTrue},
    {"FALSE", TokenKind::kFalse},
}};

Token make(TokenKind k, std::size_t at) {
  Token t;
  t.kind = k;
  t.offset = at;
  return t;
}

Token error(std::size_t at, std::string text) {
  Token t = make(TokenKind::kError, at);
  t.text = std::move(text);
  return t;
}

}  // namespace

Token Lexer::next() {
  while (pos_ < in_.size() && (in_[pos_] == ' ' || in_[pos_] == '\t' || in_[pos_] == '\n' || in_[pos_] == '\r' ||
                               in_[pos_] == '\f'))
    ++pos_;
  const std::size_t start = pos_;
  if (pos_ >= in_.size()) return make(TokenKind::kEnd, start);
  const char c = in_[pos_];
  if (ident_start(c)) {
    while (pos_ < in_.size() && ident_part(in_[pos_])) ++pos_;
    const std::string_view word = in_.substr(start, pos_ - start);
    for (const auto& [name, kind] : kKeywords)
      if (equals_ignoring_case(word, name)) return make(kind, start);
    Token t = make(TokenKind::kIdentifier, start);
    t.text = std::string(word);
    return t;
  }
  if (digit(c) || (c == '.' && pos_ + 1 < in_.size() && digit(in_[pos_ + 1]))) return number(start);
  if (c == '\'') return string(start);
  ++pos_;
  auto two = [&](char second, TokenKind both, TokenKind one) {
    if (pos_ < in_.size() && in_[pos_] == second) {
      ++pos_;
      return make(both, start);
    }
    return make(one, start);
  };
  switch (c) {
    case '=': return make(TokenKind::kEq, start);
    case '<':
      if (pos_ < in_.size() && in_[pos_] == '>') {
        ++pos_;
        return make(TokenKind::kNe, start);
      }
      return two('=', TokenKind::kLe, TokenKind::kLt);
    case '>': return two('=', TokenKind::kGe, TokenKind::kGt);
    case '+': return make(TokenKind::kPlus, start);
    case '-': return make(TokenKind::kMinus, start);
    case '*': return make(TokenKind::kStar, start);
    case '/': return make(TokenKind::kSlash, start);
    case '(': return make(TokenKind::kLParen, start);
    case ')': return make(TokenKind::kRParen, start);
    case ',': return make(TokenKind::kComma, start);
    default: break;
  }
  if (c == '"') return error(start, "double quotes: string literals take single quotes ('text')");
  if (c == '!') return error(start, "unexpected '!': write <> for not equal, NOT for negation");
  if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7F)
    return error(start, "unexpected character");
  return error(start, std::string("unexpected '") + c + "'");
}

Token Lexer::number(std::size_t start) {
  // Hexadecimal integer: 0x1F.
  if (in_[pos_] == '0' && pos_ + 1 < in_.size() && (in_[pos_ + 1] == 'x' || in_[pos_ + 1] == 'X')) {
    pos_ += 2;
    const std::size_t digits = pos_;
    while (pos_ < in_.size() && hex_digit(in_[pos_])) ++pos_;
    if (pos_ == digits) return error(start, "hexadecimal number without digits");
    if (pos_ - digits > 16) return error(start, "number out of range");
    Token t = make(TokenKind::kInteger, start);
    t.integer = static_cast<std::int64_t>(std::strtoull(std::string(in_.substr(digits, pos_ - digits)).c_str(), nullptr, 16));
    if (pos_ < in_.size() && (in_[pos_] == 'l' || in_[pos_] == 'L')) ++pos_;
    if (pos_ < in_.size() && ident_part(in_[pos_])) return error(pos_, "unexpected character in a number");
    return t;
  }
  bool is_float = false;
  while (pos_ < in_.size() && digit(in_[pos_])) ++pos_;
  if (pos_ < in_.size() && in_[pos_] == '.') {
    is_float = true;
    ++pos_;
    while (pos_ < in_.size() && digit(in_[pos_])) ++pos_;
  }
  if (pos_ < in_.size() && (in_[pos_] == 'e' || in_[pos_] == 'E')) {
    is_float = true;
    ++pos_;
    if (pos_ < in_.size() && (in_[pos_] == '+' || in_[pos_] == '-')) ++pos_;
    const std::size_t digits = pos_;
    while (pos_ < in_.size() && digit(in_[pos_])) ++pos_;
    if (pos_ == digits) return error(start, "exponent without digits");
  }
  const std::string text(in_.substr(start, pos_ - start));
  // Java's suffixes: 10L, 1.5f, 2d.
  if (pos_ < in_.size()) {
    const char s = in_[pos_];
    if (!is_float && (s == 'l' || s == 'L')) ++pos_;
    else if (s == 'f' || s == 'F' || s == 'd' || s == 'D') {
      is_float = true;
      ++pos_;
    }
  }
  if (pos_ < in_.size() && (ident_part(in_[pos_]) || in_[pos_] == '.'))
    return error(pos_, "unexpected character in a number");
  if (!is_float) {
    errno = 0;
    const unsigned long long v = std::strtoull(text.c_str(), nullptr, 10);
    // Too large for a 64-bit integer: an approximate number, as Java's
    // parser does for a literal without L.
    if (errno == 0 && v <= static_cast<unsigned long long>(INT64_MAX)) {
      Token t = make(TokenKind::kInteger, start);
      t.integer = static_cast<std::int64_t>(v);
      return t;
    }
  }
  Token t = make(TokenKind::kFloat, start);
  t.number = std::strtod(text.c_str(), nullptr);
  return t;
}

Token Lexer::string(std::size_t start) {
  ++pos_;  // the opening quote
  std::string value;
  for (;;) {
    if (pos_ >= in_.size()) return error(start, "string literal without its closing quote");
    const char c = in_[pos_++];
    if (c == '\'') {
      if (pos_ < in_.size() && in_[pos_] == '\'') {
        value.push_back('\'');
        ++pos_;
        continue;
      }
      break;
    }
    value.push_back(c);
  }
  Token t = make(TokenKind::kString, start);
  t.text = std::move(value);
  return t;
}

std::string describe(TokenKind k) {
  switch (k) {
    case TokenKind::kEnd: return "end of selector";
    case TokenKind::kIdentifier: return "identifier";
    case TokenKind::kString: return "string";
    case TokenKind::kInteger:
    case TokenKind::kFloat: return "number";
    case TokenKind::kAnd: return "AND";
    case TokenKind::kOr: return "OR";
    case TokenKind::kNot: return "NOT";
    case TokenKind::kLike: return "LIKE";
    case TokenKind::kEscape: return "ESCAPE";
    case TokenKind::kIn: return "IN";
    case TokenKind::kBetween: return "BETWEEN";
    case TokenKind::kIs: return "IS";
    case TokenKind::kNull: return "NULL";
    case TokenKind::kTrue: return "TRUE";
    case TokenKind::kFalse: return "FALSE";
    case TokenKind::kEq: return "'='";
    case TokenKind::kNe: return "'<>'";
    case TokenKind::kLt: return "'<'";
    case TokenKind::kGt: return "'>'";
    case TokenKind::kLe: return "'<='";
    case TokenKind::kGe: return "'>='";
    case TokenKind::kPlus: return "'+'";
    case TokenKind::kMinus: return "'-'";
    case TokenKind::kStar: return "'*'";
    case TokenKind::kSlash: return "'/'";
    case TokenKind::kLParen: return "'('";
    case TokenKind::kRParen: return "')'";
    case TokenKind::kComma: return "','";
    case TokenKind::kError: return "error";
  }
  return "token";
}

}  // namespace ferry::selector
