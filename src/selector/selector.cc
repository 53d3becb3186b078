#include "selector/selector.h"

#include "selector/expression.h"
#include "selector/parser.h"

namespace ferry::selector {

Selector::Selector(std::string text, std::unique_ptr<Node> root) : text_(std::move(text)), root_(std::move(root)) {}
Selector::~Selector() = default;

Result<std::shared_ptr<const Selector>> Selector::parse(std::string_view text) {
  if (text.size() > kMaxLength) {
    const std::string at = " at position " + std::to_string(kMaxLength + 1);
    return failure(std::string(kInvalidSelector) + at, "longer than " + std::to_string(kMaxLength) + " bytes" + at);
  }
  if (text.find_first_not_of(" \t\r\n\f") == std::string_view::npos)
    return std::shared_ptr<const Selector>();
  Parser p(text);
  std::unique_ptr<Node> root = p.parse();
  if (!root) return p.error();
  return std::shared_ptr<const Selector>(std::make_shared<Selector>(std::string(text), std::move(root)));
}

bool Selector::matches(const HeaderLookup& headers) const { return test(*root_, headers) == Truth::kTrue; }

}  // namespace ferry::selector
