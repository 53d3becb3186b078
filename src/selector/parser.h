#pragma once

#include "common/result.h"

#include <memory>
#include <string>
#include <string_view>

#include "selector/expression.h"
#include "selector/lexer.h"
#include "selector/selector.h"

namespace ferry::selector {

// Recursive descent over the JMS selector grammar, lowest precedence first:
//   or        := and (OR and)*
//   and       := not (AND not)*
//   not       := NOT not | predicate
//   predicate := sum [ cmp sum | [NOT] LIKE string [ESCAPE string]
//                    | [NOT] IN '(' literal (',' literal)* ')'
//                    | [NOT] BETWEEN sum AND sum | IS [NOT] NULL ]
//   sum       := product (('+' | '-') product)*
//   product   := unary (('*' | '/') unary)*
//   unary     := ('+' | '-') unary | primary
//   primary   := literal | identifier | '(' or ')'
// The first error stops it (its position and message).
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text), lexer_(text) {}
  // The whole text as one condition, or null with error() set.
  std::unique_ptr<Node> parse();
  // Why parse() failed (kInvalidSelector at the first error's position).
  Error error() const;

 private:
  using NodePtr = std::unique_ptr<Node>;
  NodePtr parse_or();
  NodePtr parse_and();
  NodePtr parse_not();
  NodePtr parse_predicate();
  NodePtr parse_sum();
  NodePtr parse_product();
  NodePtr parse_unary();
  NodePtr parse_primary();
  bool parse_literal(Node::Literal& out);
  NodePtr binary(Node::Op op, NodePtr l, NodePtr r, std::size_t at);
  NodePtr condition(NodePtr n, std::size_t at);

  void advance() { tok_ = lexer_.next(); }
  bool accept(TokenKind k) {
    if (tok_.kind != k) return false;
    advance();
    return true;
  }
  // Records the first error; returns null for `return fail(...)`.
  NodePtr fail(std::size_t offset, std::string what);
  NodePtr expected(std::string what);
  bool enter();  // one nesting level deeper; false (error set) past kMaxDepth

  std::string_view text_;
  Lexer lexer_;
  Token tok_;
  std::size_t depth_ = 0;
  bool failed_ = false;
  std::size_t error_position_ = 0;  // 1-based characters
  std::string error_detail_;
};

}  // namespace ferry::selector
