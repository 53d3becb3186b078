// What an idle queue (and a queue holding one small message) costs in heap
// bytes: creates N queues the way a shard does (Queue objects in an
// unordered_map keyed by "vhost\nname") and reads glibc's heap counters
// (mallinfo2) before and after. Prints one line per case. Issue 18 item 9.
//
//   ferry_queue_footprint [N]      (default 100000)
#include <malloc.h>

#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <unordered_map>

#include "broker/message.h"
#include "broker/queue.h"

namespace {

using namespace ferry::broker;

class NullHost : public QueueHost {
 public:
  void deliver(const ConsumerKey&, Delivery) override {}
  void dead_letter(const Queue&, const QueueEntry&, std::string_view) override {}
  void removed(const Queue&, const QueueEntry&) override {}
  void returned(const Queue&, const QueueEntry&) override {}
  void memory_changed(std::int64_t) override {}
  void space_freed(Queue&) override {}
  std::int64_t now_ms() const override { return 0; }
};

std::size_t heap_in_use() {
  struct mallinfo2 mi = mallinfo2();
  return mi.uordblks + mi.hblkhd;
}

void run(const char* what, std::size_t n, bool one_message) {
  NullHost host;
  MessageRef body = make_message();
  body.writable().body = "x";
  const std::size_t before = heap_in_use();
  {
    std::unordered_map<std::string, std::unique_ptr<Queue>> queues;
    for (std::size_t i = 0; i < n; ++i) {
      Destination d;
      d.kind = DestinationKind::kQueue;
      d.vhost = "/";
      d.name = "footprint." + std::to_string(i);
      const std::string key = d.vhost + "\n" + d.name;
      QueueSettings s;
      s.durable = true;
      s.journal_key = d.journal_key();
      auto q = std::make_unique<Queue>(d, s, host);
      if (one_message) q->enqueue(body);  // the same message: only the queue's share counts
      queues.emplace(key, std::move(q));
    }
    const std::size_t after = heap_in_use();
    std::printf("%-28s %8zu queues  %7.0f bytes/queue  (sizeof(Queue) %zu)\n", what, n,
                static_cast<double>(after - before) / static_cast<double>(n), sizeof(Queue));
  }
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t n = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 100000;
  run("idle queue", n, false);
  run("queue with one message", n, true);
  return 0;
}
