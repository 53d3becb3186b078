#include "selector/expression.h"

#include <cmath>

namespace ferry::selector {

namespace {

constexpr std::string_view kPersistent = "PERSISTENT";
constexpr std::string_view kNonPersistent = "NON_PERSISTENT";

Truth of(bool b) { return b ? Truth::kTrue : Truth::kFalse; }
Truth negate(Truth t) {
  return t == Truth::kUnknown ? t : t == Truth::kTrue ? Truth::kFalse : Truth::kTrue;
}

double as_double(const Value& v) { return v.kind == Value::Kind::kInt ? static_cast<double>(v.i) : v.d; }

// -1, 0, 1 for two numbers.
int compare_numbers(const Value& a, const Value& b) {
  if (a.kind == Value::Kind::kInt && b.kind == Value::Kind::kInt) return a.i < b.i ? -1 : a.i > b.i ? 1 : 0;
  const double x = as_double(a), y = as_double(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

// Brings a and b to comparable forms: a number next to a header string makes
// that string a number (if it is one). nullopt: they cannot be compared
// (JMS: a comparison of unlike types is false).
enum class Common : std::uint8_t { kNumbers, kStrings, kBooleans, kNone };
Common common(Value& a, Value& b) {
  if (a.is_number() || b.is_number()) {
    auto x = to_number(a), y = to_number(b);
    if (!x || !y) return Common::kNone;
    a = *x;
    b = *y;
    return Common::kNumbers;
  }
  if (a.kind == Value::Kind::kBool || b.kind == Value::Kind::kBool) {
    const Truth x = to_truth(a), y = to_truth(b);
    if (x == Truth::kUnknown || y == Truth::kUnknown) return Common::kNone;
    a = Value::boolean(x == Truth::kTrue);
    b = Value::boolean(y == Truth::kTrue);
    return Common::kBooleans;
  }
  if (a.kind == Value::Kind::kString && b.kind == Value::Kind::kString) return Common::kStrings;
  return Common::kNone;
}

Truth compare(Node::Op op, Value a, Value b) {
  if (a.is_null() || b.is_null()) return Truth::kUnknown;
  const Common c = common(a, b);
  if (c == Common::kNone) return Truth::kFalse;
  int cmp = 0;
  if (c == Common::kNumbers) {
    // NaN is unordered: every comparison but <> is false.
    if ((a.kind == Value::Kind::kFloat && std::isnan(a.d)) || (b.kind == Value::Kind::kFloat && std::isnan(b.d)))
      return of(op == Node::Op::kNe);
    cmp = compare_numbers(a, b);
  } else if (c == Common::kStrings) {
    cmp = a.s.compare(b.s);
    cmp = cmp < 0 ? -1 : cmp > 0 ? 1 : 0;
  } else {
    // Booleans: only = and <> mean something.
    if (op == Node::Op::kEq) return of(a.b == b.b);
    if (op == Node::Op::kNe) return of(a.b != b.b);
    return Truth::kFalse;
  }
  switch (op) {
    case Node::Op::kEq: return of(cmp == 0);
    case Node::Op::kNe: return of(cmp != 0);
    case Node::Op::kLt: return of(cmp < 0);
    case Node::Op::kGt: return of(cmp > 0);
    case Node::Op::kLe: return of(cmp <= 0);
    case Node::Op::kGe: return of(cmp >= 0);
    default: return Truth::kUnknown;
  }
}

Value arithmetic(Node::Op op, const Value& l, const Value& r) {
  if (l.is_null() || r.is_null()) return Value::null();
  auto a = to_number(l), b = to_number(r);
  if (!a || !b) return Value::null();
  if (a->kind == Value::Kind::kInt && b->kind == Value::Kind::kInt) {
    std::int64_t out = 0;
    bool overflow = false;
    switch (op) {
      case Node::Op::kAdd: overflow = __builtin_add_overflow(a->i, b->i, &out); break;
      case Node::Op::kSub: overflow = __builtin_sub_overflow(a->i, b->i, &out); break;
      case Node::Op::kMul: overflow = __builtin_mul_overflow(a->i, b->i, &out); break;
      case Node::Op::kDiv:
        // Integer division by zero has no value (Java throws; a selector
        // cannot, so it is NULL).
        if (b->i == 0) return Value::null();
        if (a->i == INT64_MIN && b->i == -1) overflow = true;
        else out = a->i / b->i;
        break;
      default: return Value::null();
    }
    if (!overflow) return Value::integer(out);
    // Beyond 64 bits: an approximate result, as a float.
  }
  const double x = as_double(*a), y = as_double(*b);
  switch (op) {
    case Node::Op::kAdd: return Value::floating(x + y);
    case Node::Op::kSub: return Value::floating(x - y);
    case Node::Op::kMul: return Value::floating(x * y);
    case Node::Op::kDiv: return y == 0 ? Value::null() : Value::floating(x / y);
    default: return Value::null();
  }
}

}  // namespace

Value Node::Literal::value() const {
  switch (kind) {
    case Value::Kind::kNull: return Value::null();
    case Value::Kind::kBool: return Value::boolean(b);
    case Value::Kind::kInt: return Value::integer(i);
    case Value::Kind::kFloat: return Value::floating(d);
    case Value::Kind::kString: return Value::string(s, false);
  }
  return Value::null();
}

bool Node::is_condition() const {
  switch (op) {
    case Op::kLiteral: return literal.kind == Value::Kind::kBool;
    case Op::kHeader: return true;  // a header "true"/"false"
    case Op::kDeliveryMode:
    case Op::kNeg:
    case Op::kAdd:
    case Op::kSub:
    case Op::kMul:
    case Op::kDiv: return false;
    default: return true;
  }
}

Value evaluate(const Node& n, const HeaderLookup& headers) {
  switch (n.op) {
    case Node::Op::kLiteral: return n.literal.value();
    case Node::Op::kHeader: {
      auto v = headers.get(n.name);
      return v ? Value::string(*v, true) : Value::null();
    }
    case Node::Op::kDeliveryMode: {
      auto v = headers.get("persistent");
      return Value::string(v && to_truth(Value::string(*v, true)) == Truth::kTrue ? kPersistent : kNonPersistent,
                           false);
    }
    case Node::Op::kNeg: {
      const Value v = evaluate(*n.kids[0], headers);
      auto x = to_number(v);
      if (!x) return Value::null();
      if (x->kind == Value::Kind::kInt) {
        if (x->i == INT64_MIN) return Value::floating(-static_cast<double>(x->i));
        return Value::integer(-x->i);
      }
      return Value::floating(-x->d);
    }
    case Node::Op::kAdd:
    case Node::Op::kSub:
    case Node::Op::kMul:
    case Node::Op::kDiv: return arithmetic(n.op, evaluate(*n.kids[0], headers), evaluate(*n.kids[1], headers));
    default: return Value::truth(test(n, headers));
  }
}

Truth test(const Node& n, const HeaderLookup& headers) {
  switch (n.op) {
    case Node::Op::kEq:
    case Node::Op::kNe:
    case Node::Op::kLt:
    case Node::Op::kGt:
    case Node::Op::kLe:
    case Node::Op::kGe: return compare(n.op, evaluate(*n.kids[0], headers), evaluate(*n.kids[1], headers));
    case Node::Op::kAnd: {
      // False wins over unknown; evaluation stops at the first false.
      Truth out = Truth::kTrue;
      for (const auto& k : n.kids) {
        const Truth t = test(*k, headers);
        if (t == Truth::kFalse) return Truth::kFalse;
        if (t == Truth::kUnknown) out = Truth::kUnknown;
      }
      return out;
    }
    case Node::Op::kOr: {
      Truth out = Truth::kFalse;
      for (const auto& k : n.kids) {
        const Truth t = test(*k, headers);
        if (t == Truth::kTrue) return Truth::kTrue;
        if (t == Truth::kUnknown) out = Truth::kUnknown;
      }
      return out;
    }
    case Node::Op::kNot: return negate(test(*n.kids[0], headers));
    case Node::Op::kLike: {
      const Value v = evaluate(*n.kids[0], headers);
      if (v.is_null()) return Truth::kUnknown;
      if (v.kind != Value::Kind::kString) return Truth::kFalse;
      const bool m = n.like->matches(v.s);
      return of(m != n.negated);
    }
    case Node::Op::kIn: {
      const Value v = evaluate(*n.kids[0], headers);
      if (v.is_null()) return Truth::kUnknown;
      bool found = false;
      for (const Node::Literal& l : n.list) {
        if (compare(Node::Op::kEq, v, l.value()) == Truth::kTrue) {
          found = true;
          break;
        }
      }
      return of(found != n.negated);
    }
    case Node::Op::kBetween: {
      const Value v = evaluate(*n.kids[0], headers);
      const Truth lo = compare(Node::Op::kGe, v, evaluate(*n.kids[1], headers));
      const Truth hi = compare(Node::Op::kLe, v, evaluate(*n.kids[2], headers));
      Truth t = Truth::kTrue;
      if (lo == Truth::kFalse || hi == Truth::kFalse) t = Truth::kFalse;
      else if (lo == Truth::kUnknown || hi == Truth::kUnknown) t = Truth::kUnknown;
      return n.negated ? negate(t) : t;
    }
    case Node::Op::kIsNull: return of(evaluate(*n.kids[0], headers).is_null() != n.negated);
    default: return to_truth(evaluate(n, headers));
  }
}

}  // namespace ferry::selector
