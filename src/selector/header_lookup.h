#pragma once

#include <optional>
#include <string_view>
#include <utility>

namespace ferry::selector {

// Where a selector reads a message's headers from: the value of header
// `name`, or nullopt when the message has none. The view must stay valid
// until matches() returns (it is never kept). Names are STOMP header names
// (a selector's JMS names are mapped first, see identifier.h).
class HeaderLookup {
 public:
  virtual std::optional<std::string_view> get(std::string_view name) const = 0;

 protected:
  ~HeaderLookup() = default;
};

// A HeaderLookup over any callable `std::optional<std::string_view>(std::string_view)`,
// kept by reference (build it on the stack around a matches() call).
template <typename Fn>
class LookupFn final : public HeaderLookup {
 public:
  explicit LookupFn(Fn& fn) : fn_(fn) {}
  std::optional<std::string_view> get(std::string_view name) const override { return fn_(name); }

 private:
  Fn& fn_;
};

}  // namespace ferry::selector
