#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "selector/header_lookup.h"
#include "selector/like_pattern.h"
#include "selector/value.h"

namespace ferry::selector {

// One node of a compiled selector. Built by the Parser, immutable after,
// evaluated by evaluate(). Children are owned; a node's strings are the
// views its Values hand out, so nodes never move once built (unique_ptr).
struct Node {
  enum class Op : std::uint8_t {
    kLiteral,       // literal
    kHeader,        // name: the STOMP header read
    kDeliveryMode,  // JMSDeliveryMode: 'PERSISTENT' / 'NON_PERSISTENT' from the persistent header
    kNeg,           // -kids[0]
    kAdd, kSub, kMul, kDiv,
    kEq, kNe, kLt, kGt, kLe, kGe,
    kAnd, kOr,      // n-ary: kids
    kNot,
    kLike,          // kids[0] [NOT] LIKE like
    kIn,            // kids[0] [NOT] IN list
    kBetween,       // kids[0] [NOT] BETWEEN kids[1] AND kids[2]
    kIsNull,        // kids[0] IS [NOT] NULL
  };
  struct Literal {
    Value::Kind kind = Value::Kind::kNull;
    bool b = false;
    std::int64_t i = 0;
    double d = 0;
    std::string s;
    Value value() const;
  };

  Op op = Op::kLiteral;
  bool negated = false;  // NOT LIKE, NOT IN, NOT BETWEEN, IS NOT NULL
  Literal literal;
  std::string name;
  std::vector<std::unique_ptr<Node>> kids;
  std::vector<Literal> list;
  std::optional<LikePattern> like;
  std::uint32_t height = 1;  // of the subtree (bounds evaluate()'s recursion)

  // A condition (its value is a truth), as opposed to a number or string:
  // what AND, OR, NOT and a whole selector take.
  bool is_condition() const;
};

Value evaluate(const Node& n, const HeaderLookup& headers);
Truth test(const Node& n, const HeaderLookup& headers);

}  // namespace ferry::selector
