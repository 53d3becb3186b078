#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "common/assert.h"

namespace ferry {

// An expected failure: bad input, a limit reached, a refused permission, a
// file that cannot be read. It is a value, returned up to the one place
// that tells the user (an ERROR frame, an HTTP status, a log line and exit
// code). Bugs are FERRY_ASSERTs, not Errors.
struct Error {
  std::string message;  // one line, stable (clients and alert rules match it)
  std::string detail;   // what exactly, for a person; may be empty
  // "message: detail", or the message alone.
  std::string text() const { return detail.empty() ? message : message + ": " + detail; }
};

inline Error failure(std::string message, std::string detail = {}) {
  return Error{std::move(message), std::move(detail)};
}

// A value or the Error that prevented it (std::expected, which C++20 lacks).
template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::in_place_index<0>, std::move(value)) {}  // NOLINT: implicit on purpose
  Result(Error e) : v_(std::in_place_index<1>, std::move(e)) {}      // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() {
    FERRY_ASSERT(ok());
    return std::get<0>(v_);
  }
  const T& value() const {
    FERRY_ASSERT(ok());
    return std::get<0>(v_);
  }
  T& operator*() { return value(); }
  const T& operator*() const { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const {
    FERRY_ASSERT(!ok());
    return std::get<1>(v_);
  }

 private:
  std::variant<T, Error> v_;
};

// Success, or the Error of a step that returns nothing.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : error_(std::move(e)) {}  // NOLINT: implicit on purpose

  bool ok() const { return !error_.has_value(); }
  explicit operator bool() const { return ok(); }
  const Error& error() const {
    FERRY_ASSERT(!ok());
    return *error_;
  }

 private:
  std::optional<Error> error_;
};

using Status = Result<void>;

}  // namespace ferry
