#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace re2 {
class RE2;
}

// What a user may do in one vhost, as RabbitMQ grants it: three regular
// expressions over destination names (docs/security.md):
//   configure  create (and delete) a destination: the first SEND or SUBSCRIBE
//              to a queue or topic that does not exist yet, creating or
//              deleting a durable subscription;
//   write      SEND;
//   read       SUBSCRIBE (consume, browse).
// A pattern is matched against the destination in its canonical form
// ("/queue/orders", "/topic/news"; "/amq/queue/x" is "/queue/x"), unanchored
// like RabbitMQ's (write ^...$ to anchor). The empty pattern matches nothing.
//
// Patterns are RE2 syntax, matched by RE2 in time linear in the name (no
// backtracking): they are matched on a shard's event loop, where a
// backtracking engine (std::regex) let `^/queue/(a*)*b$` hold a shard for
// minutes. What RE2 refuses (backreferences, lookaround) is refused when the
// permission is set (users file, management API, `ferry user`), with an
// error naming the pattern; it never matches everything or nothing silently.
//
// Immutable once built; safe to read from every shard (RE2 matching is
// thread-safe on a const object).
namespace ferry::auth {

enum class Access { kConfigure, kWrite, kRead };
std::string_view to_string(Access a);

class Pattern {
 public:
  Pattern() = default;  // matches nothing
  // An Error naming the pattern and what is wrong: not a regular
  // expression RE2 accepts.
  static Result<Pattern> compile(const std::string& text);
  bool matches(std::string_view destination) const;
  const std::string& text() const { return text_; }

 private:
  std::string text_;
  bool all_ = false;                    // ".*" and friends: no regex run
  std::shared_ptr<const re2::RE2> re_;
};

struct Permissions {
  Pattern configure, write, read;
  bool allows(Access a, std::string_view destination) const;
  // ".*" for all three.
  static Permissions full();
};

}  // namespace ferry::auth
