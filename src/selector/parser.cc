#include "selector/parser.h"

#include <algorithm>

#include "selector/jms_headers.h"
#include "selector/utf8.h"

namespace ferry::selector {

std::unique_ptr<Node> Parser::parse() {
  advance();
  const std::size_t start = tok_.offset;
  if (tok_.kind == TokenKind::kEnd) return fail(tok_.offset, "empty selector");
  NodePtr root = parse_or();
  if (!root) return nullptr;
  if (tok_.kind != TokenKind::kEnd) {
    if (tok_.kind == TokenKind::kRParen) return fail(tok_.offset, "unexpected ')' without its '('");
    return expected("AND, OR or end of selector");
  }
  return condition(std::move(root), start);
}

Error Parser::error() const {
  return failure(std::string(kInvalidSelector) + " at position " + std::to_string(error_position_), error_detail_);
}

Parser::NodePtr Parser::fail(std::size_t offset, std::string what) {
  if (!failed_) {
    failed_ = true;
    error_position_ = char_position(text_, offset);
    error_detail_ = what + " at position " + std::to_string(error_position_);
  }
  return nullptr;
}

Parser::NodePtr Parser::expected(std::string what) {
  if (tok_.kind == TokenKind::kError) return fail(tok_.offset, tok_.text);
  return fail(tok_.offset, "expected " + what + ", found " + describe(tok_.kind));
}

bool Parser::enter() {
  if (++depth_ > Selector::kMaxDepth) {
    fail(tok_.offset, "nested more than " + std::to_string(Selector::kMaxDepth) + " deep");
    return false;
  }
  return true;
}

// AND, OR, NOT and the whole selector take conditions: `a + 1` or a string
// literal there is a mistake found now, not a selector that never matches.
Parser::NodePtr Parser::condition(NodePtr n, std::size_t at) {
  if (!n) return nullptr;
  if (!n->is_condition()) return fail(at, "expected a condition (a comparison, LIKE, IN, BETWEEN, IS NULL, TRUE or FALSE)");
  return n;
}

Parser::NodePtr Parser::binary(Node::Op op, NodePtr l, NodePtr r, std::size_t at) {
  if (!l || !r) return nullptr;
  auto n = std::make_unique<Node>();
  n->op = op;
  n->height = 1 + std::max(l->height, r->height);
  if (n->height > Selector::kMaxHeight)
    return fail(at, "expression more than " + std::to_string(Selector::kMaxHeight) + " deep");
  n->kids.push_back(std::move(l));
  n->kids.push_back(std::move(r));
  return n;
}

Parser::NodePtr Parser::parse_or() {
  const std::size_t at = tok_.offset;
  NodePtr first = parse_and();
  if (!first || tok_.kind != TokenKind::kOr) return first;
  auto n = std::make_unique<Node>();
  n->op = Node::Op::kOr;
  n->kids.push_back(condition(std::move(first), at));
  if (!n->kids.back()) return nullptr;
  while (accept(TokenKind::kOr)) {
    const std::size_t here = tok_.offset;
    NodePtr k = condition(parse_and(), here);
    if (!k) return nullptr;
    n->kids.push_back(std::move(k));
  }
  for (const auto& k : n->kids) n->height = std::max(n->height, k->height + 1);
  return n;
}

Parser::NodePtr Parser::parse_and() {
  const std::size_t at = tok_.offset;
  NodePtr first = parse_not();
  if (!first || tok_.kind != TokenKind::kAnd) return first;
  auto n = std::make_unique<Node>();
  n->op = Node::Op::kAnd;
  n->kids.push_back(condition(std::move(first), at));
  if (!n->kids.back()) return nullptr;
  while (accept(TokenKind::kAnd)) {
    const std::size_t here = tok_.offset;
    NodePtr k = condition(parse_not(), here);
    if (!k) return nullptr;
    n->kids.push_back(std::move(k));
  }
  for (const auto& k : n->kids) n->height = std::max(n->height, k->height + 1);
  return n;
}

Parser::NodePtr Parser::parse_not() {
  if (tok_.kind != TokenKind::kNot) return parse_predicate();
  const std::size_t at = tok_.offset;
  if (!enter()) return nullptr;
  advance();
  const std::size_t operand = tok_.offset;
  NodePtr k = condition(parse_not(), operand);
  --depth_;
  if (!k) return nullptr;
  auto n = std::make_unique<Node>();
  n->op = Node::Op::kNot;
  n->height = k->height + 1;
  if (n->height > Selector::kMaxHeight)
    return fail(at, "expression more than " + std::to_string(Selector::kMaxHeight) + " deep");
  n->kids.push_back(std::move(k));
  return n;
}

Parser::NodePtr Parser::parse_predicate() {
  const std::size_t at = tok_.offset;
  NodePtr left = parse_sum();
  if (!left) return nullptr;
  auto wrap = [&](Node::Op op, bool negated) {
    auto n = std::make_unique<Node>();
    n->op = op;
    n->negated = negated;
    n->height = left->height + 1;
    n->kids.push_back(std::move(left));
    return n;
  };
  Node::Op cmp;
  switch (tok_.kind) {
    case TokenKind::kEq: cmp = Node::Op::kEq; break;
    case TokenKind::kNe: cmp = Node::Op::kNe; break;
    case TokenKind::kLt: cmp = Node::Op::kLt; break;
    case TokenKind::kGt: cmp = Node::Op::kGt; break;
    case TokenKind::kLe: cmp = Node::Op::kLe; break;
    case TokenKind::kGe: cmp = Node::Op::kGe; break;
    case TokenKind::kIs: {
      advance();
      const bool negated = accept(TokenKind::kNot);
      if (!accept(TokenKind::kNull)) return expected(negated ? "NULL" : "NULL or NOT NULL after IS");
      return wrap(Node::Op::kIsNull, negated);
    }
    case TokenKind::kNot:
    case TokenKind::kLike:
    case TokenKind::kIn:
    case TokenKind::kBetween: {
      const bool negated = accept(TokenKind::kNot);
      if (accept(TokenKind::kLike)) {
        if (tok_.kind != TokenKind::kString) return expected("a string literal pattern after LIKE");
        const std::string pattern = tok_.text;
        const std::size_t pattern_at = tok_.offset;
        advance();
        std::optional<char32_t> escape;
        if (accept(TokenKind::kEscape)) {
          if (tok_.kind != TokenKind::kString) return expected("a string literal after ESCAPE");
          const std::string& e = tok_.text;
          if (e.empty() || utf8_length(e, 0) != e.size())
            return fail(tok_.offset, "ESCAPE takes exactly one character");
          escape = decode_utf8(e);
          advance();
        }
        auto like = LikePattern::compile(pattern, escape);
        if (!like) return fail(pattern_at, like.error().message);
        auto n = wrap(Node::Op::kLike, negated);
        n->like = std::move(*like);
        return n;
      }
      if (accept(TokenKind::kIn)) {
        if (!accept(TokenKind::kLParen)) return expected("'(' after IN");
        auto n = wrap(Node::Op::kIn, negated);
        do {
          Node::Literal l;
          if (!parse_literal(l)) return expected("a string or number in the IN list");
          n->list.push_back(std::move(l));
        } while (accept(TokenKind::kComma));
        if (!accept(TokenKind::kRParen)) return expected("',' or ')'");
        return n;
      }
      if (accept(TokenKind::kBetween)) {
        NodePtr lo = parse_sum();
        if (!lo) return nullptr;
        if (!accept(TokenKind::kAnd)) return expected("AND in BETWEEN ... AND ...");
        NodePtr hi = parse_sum();
        if (!hi) return nullptr;
        auto n = wrap(Node::Op::kBetween, negated);
        n->height = 1 + std::max({n->kids[0]->height, lo->height, hi->height});
        n->kids.push_back(std::move(lo));
        n->kids.push_back(std::move(hi));
        if (n->height > Selector::kMaxHeight)
          return fail(at, "expression more than " + std::to_string(Selector::kMaxHeight) + " deep");
        return n;
      }
      return expected("LIKE, IN or BETWEEN after NOT");
    }
    default: return left;
  }
  const std::size_t op_at = tok_.offset;
  advance();
  NodePtr right = parse_sum();
  if (!right) return nullptr;
  NodePtr n = binary(cmp, std::move(left), std::move(right), op_at);
  if (n && (tok_.kind >= TokenKind::kEq && tok_.kind <= TokenKind::kGe))
    return fail(tok_.offset, "comparisons do not chain: combine them with AND");
  return n;
}

Parser::NodePtr Parser::parse_sum() {
  NodePtr left = parse_product();
  while (left && (tok_.kind == TokenKind::kPlus || tok_.kind == TokenKind::kMinus)) {
    const Node::Op op = tok_.kind == TokenKind::kPlus ? Node::Op::kAdd : Node::Op::kSub;
    const std::size_t at = tok_.offset;
    advance();
    left = binary(op, std::move(left), parse_product(), at);
  }
  return left;
}

Parser::NodePtr Parser::parse_product() {
  NodePtr left = parse_unary();
  while (left && (tok_.kind == TokenKind::kStar || tok_.kind == TokenKind::kSlash)) {
    const Node::Op op = tok_.kind == TokenKind::kStar ? Node::Op::kMul : Node::Op::kDiv;
    const std::size_t at = tok_.offset;
    advance();
    left = binary(op, std::move(left), parse_unary(), at);
  }
  return left;
}

Parser::NodePtr Parser::parse_unary() {
  if (tok_.kind != TokenKind::kPlus && tok_.kind != TokenKind::kMinus) return parse_primary();
  const bool minus = tok_.kind == TokenKind::kMinus;
  if (!enter()) return nullptr;
  advance();
  NodePtr k = parse_unary();
  --depth_;
  if (!k) return nullptr;
  if (!minus) return k;
  // -literal is a literal (so -9223372036854775808 and IN-free folding).
  if (k->op == Node::Op::kLiteral && k->literal.kind == Value::Kind::kInt && k->literal.i != INT64_MIN) {
    k->literal.i = -k->literal.i;
    return k;
  }
  if (k->op == Node::Op::kLiteral && k->literal.kind == Value::Kind::kFloat) {
    k->literal.d = -k->literal.d;
    return k;
  }
  auto n = std::make_unique<Node>();
  n->op = Node::Op::kNeg;
  n->height = k->height + 1;
  n->kids.push_back(std::move(k));
  return n;
}

bool Parser::parse_literal(Node::Literal& out) {
  bool minus = false;
  if (tok_.kind == TokenKind::kMinus || tok_.kind == TokenKind::kPlus) {
    minus = tok_.kind == TokenKind::kMinus;
    advance();
    if (tok_.kind != TokenKind::kInteger && tok_.kind != TokenKind::kFloat) return false;
  }
  switch (tok_.kind) {
    case TokenKind::kString:
      out.kind = Value::Kind::kString;
      out.s = tok_.text;
      break;
    case TokenKind::kInteger:
      out.kind = Value::Kind::kInt;
      out.i = minus ? -tok_.integer : tok_.integer;
      break;
    case TokenKind::kFloat:
      out.kind = Value::Kind::kFloat;
      out.d = minus ? -tok_.number : tok_.number;
      break;
    case TokenKind::kTrue:
    case TokenKind::kFalse:
      out.kind = Value::Kind::kBool;
      out.b = tok_.kind == TokenKind::kTrue;
      break;
    default: return false;
  }
  advance();
  return true;
}

Parser::NodePtr Parser::parse_primary() {
  if (tok_.kind == TokenKind::kLParen) {
    if (!enter()) return nullptr;
    advance();
    NodePtr inner = parse_or();
    --depth_;
    if (!inner) return nullptr;
    if (!accept(TokenKind::kRParen)) return expected("')'");
    return inner;
  }
  auto n = std::make_unique<Node>();
  if (tok_.kind == TokenKind::kIdentifier) {
    n->op = Node::Op::kHeader;
    n->name = tok_.text;
    if (n->name == kJmsDeliveryMode) {
      n->op = Node::Op::kDeliveryMode;
    } else {
      for (const auto& [jms, stomp] : kJmsHeaders)
        if (n->name == jms) n->name = std::string(stomp);
    }
    advance();
    return n;
  }
  if (tok_.kind == TokenKind::kNull) return fail(tok_.offset, "NULL is not a value: write IS NULL or IS NOT NULL");
  n->op = Node::Op::kLiteral;
  if (!parse_literal(n->literal)) return expected("an identifier, a literal or '('");
  return n;
}

}  // namespace ferry::selector
