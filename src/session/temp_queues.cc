#include "session/temp_queues.h"

#include <array>
#include <random>

#include <fmt/format.h>

#include "broker/destination.h"
#include "session/errors.h"

namespace ferry::session {

// 128 random bits in 22 characters of base64url, after RabbitMQ's prefix.
std::string generate_temporary_queue_name() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  std::string name(broker::kTemporaryQueuePrefix);
  std::uint64_t a = random(), b = random();
  for (int i = 0; i < 22; ++i) {
    const std::uint64_t& word = i < 11 ? a : b;
    name += kAlphabet[(word >> ((i % 11) * 6)) & 63];
  }
  return name;
}

Result<TempQueues::Entry*> TempQueues::resolve(std::string_view name) {
  if (name.empty())
    return failure(std::string(errors::kUnknownDestination), fmt::format("{0} needs a name: {0}NAME", form_));
  if (auto it = by_name_.find(name); it != by_name_.end()) return &it->second;
  if (by_name_.size() >= max_)
    return failure(fmt::format("too many temporary {} on this connection (max-subscriptions)",
                               form_ == "/temp-topic/" ? "topics" : "queues"));
  Entry& e = by_name_[std::string(name)];
  e.queue = generate_temporary_queue_name();
  return &e;
}

TempQueues::Entry* TempQueues::find_by_queue(std::string_view queue) {
  for (auto& [name, e] : by_name_)
    if (e.queue == queue) return &e;
  return nullptr;
}

std::vector<std::string> TempQueues::queues() const {
  std::vector<std::string> out;
  for (const auto& [name, e] : by_name_) out.push_back(e.queue);
  return out;
}

}  // namespace ferry::session
