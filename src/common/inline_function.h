#pragma once

#include <cstddef>
#include <new>
#include <type_traits>
#include <utility>

namespace ferry {

template <typename Signature, std::size_t Inline>
class InlineFunction;

// A move-only callable like std::function, but with room for kInline bytes
// of captures inside itself (libstdc++'s std::function has 16): a
// cross-shard publish or delivery captures a destination, a message
// reference and a ticket, and passing it on must not cost a heap allocation
// per message. Larger callables, or ones whose move may throw, are kept on
// the heap.
template <typename R, typename... Args, std::size_t Inline>
class InlineFunction<R(Args...), Inline> {
 public:
  static constexpr std::size_t kInline = Inline;

  InlineFunction() noexcept = default;
  InlineFunction(std::nullptr_t) noexcept {}  // NOLINT(google-explicit-constructor)

  template <typename F, typename Fn = std::decay_t<F>,
            typename = std::enable_if_t<!std::is_same_v<Fn, InlineFunction> &&
                                        std::is_invocable_r_v<R, Fn&, Args...>>>
  InlineFunction(F&& f) {  // NOLINT(google-explicit-constructor): lambdas convert, as to std::function
    if constexpr (fits_inline<Fn>()) {
      ::new (static_cast<void*>(storage_)) Fn(std::forward<F>(f));
      ops_ = &kInlineOps<Fn>;
    } else {
      *reinterpret_cast<Fn**>(storage_) = new Fn(std::forward<F>(f));
      ops_ = &kHeapOps<Fn>;
    }
  }

  InlineFunction(InlineFunction&& other) noexcept { take(other); }
  InlineFunction& operator=(InlineFunction&& other) noexcept {
    if (this != &other) {
      reset();
      take(other);
    }
    return *this;
  }
  InlineFunction(const InlineFunction&) = delete;
  InlineFunction& operator=(const InlineFunction&) = delete;
  ~InlineFunction() { reset(); }

  // Const like std::function's: the callable itself is invoked as non-const.
  R operator()(Args... args) const { return ops_->call(storage_, std::forward<Args>(args)...); }
  explicit operator bool() const noexcept { return ops_ != nullptr; }

  // Whether a callable of type F is kept inside (no allocation).
  template <typename F>
  static constexpr bool fits_inline() {
    return sizeof(F) <= kInline && alignof(F) <= alignof(std::max_align_t) &&
           std::is_nothrow_move_constructible_v<F>;
  }

 private:
  struct Ops {
    R (*call)(void* storage, Args&&... args);
    // Move-constructs into `to` from `from` and destroys `from`.
    void (*relocate)(void* to, void* from) noexcept;
    void (*destroy)(void* storage) noexcept;
  };

  template <typename Fn>
  static constexpr Ops kInlineOps{
      [](void* s, Args&&... args) -> R { return (*static_cast<Fn*>(s))(std::forward<Args>(args)...); },
      [](void* to, void* from) noexcept {
        ::new (to) Fn(std::move(*static_cast<Fn*>(from)));
        static_cast<Fn*>(from)->~Fn();
      },
      [](void* s) noexcept { static_cast<Fn*>(s)->~Fn(); },
  };
  template <typename Fn>
  static constexpr Ops kHeapOps{
      [](void* s, Args&&... args) -> R { return (**static_cast<Fn**>(s))(std::forward<Args>(args)...); },
      [](void* to, void* from) noexcept { *static_cast<Fn**>(to) = *static_cast<Fn**>(from); },
      [](void* s) noexcept { delete *static_cast<Fn**>(s); },
  };

  void take(InlineFunction& other) noexcept {
    ops_ = std::exchange(other.ops_, nullptr);
    if (ops_ != nullptr) ops_->relocate(storage_, other.storage_);
  }
  void reset() noexcept {
    if (ops_ != nullptr) std::exchange(ops_, nullptr)->destroy(storage_);
  }

  alignas(std::max_align_t) mutable unsigned char storage_[kInline];
  const Ops* ops_ = nullptr;
};

// The unit of work one shard posts to another (Executor::post).
using Task = InlineFunction<void(), 152>;

}  // namespace ferry
