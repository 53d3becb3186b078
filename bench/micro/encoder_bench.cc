// The frame encoder on MESSAGE frames as a delivery writes them: headers
// into a reused write buffer, the body copied after them (large bodies are
// written by reference in the broker; here the copy is included).
#include <benchmark/benchmark.h>

#include <string>

#include "allocation_counter.h"
#include "stomp/encoder.h"

namespace ferry::micro {
namespace {

void BM_EncodeMessage(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  const std::string body(size, 'x');
  std::string out;
  out.reserve(64 * 1024 + size);
  constexpr int kFrames = 64;  // frames per write buffer, as a busy connection batches them
  using stomp::Command;
  const auto v = stomp::Version::k1_2;
  const std::uint64_t before = allocations();
  for (auto _ : state) {
    out.clear();
    for (int i = 0; i < kFrames; ++i) {
      stomp::Encoder::begin_frame(out, Command::kMessage);
      stomp::Encoder::add_header(out, "destination", "/queue/orders", v, Command::kMessage);
      stomp::Encoder::add_header(out, "message-id", "ID:ferry-0-1795742469537-1:42", v, Command::kMessage);
      stomp::Encoder::add_header(out, "subscription", "sub-0", v, Command::kMessage);
      stomp::Encoder::add_header(out, "ack", "T-42", v, Command::kMessage);
      stomp::Encoder::add_header(out, "persistent", "true", v, Command::kMessage);
      stomp::Encoder::end_headers(out, body.size());
      out += body;
      stomp::Encoder::end_frame(out);
      if (out.size() + size + 512 > out.capacity()) out.clear();  // a write went out
    }
    benchmark::DoNotOptimize(out.data());
  }
  report_allocations(state, before, kFrames);
  state.SetItemsProcessed(state.iterations() * kFrames);
}

void BM_EncodeMessageEscaped(benchmark::State& state) {
  // A header value that needs STOMP 1.2 escaping (':' and '\n').
  std::string out;
  out.reserve(4096);
  using stomp::Command;
  const std::uint64_t before = allocations();
  for (auto _ : state) {
    out.clear();
    stomp::Encoder::begin_frame(out, Command::kMessage);
    stomp::Encoder::add_header(out, "destination", "/queue/orders", stomp::Version::k1_2, Command::kMessage);
    stomp::Encoder::add_header(out, "x-note", "a:b\nc:d\\e", stomp::Version::k1_2, Command::kMessage);
    stomp::Encoder::end_headers(out, 0);
    stomp::Encoder::end_frame(out);
    benchmark::DoNotOptimize(out.data());
  }
  report_allocations(state, before);
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_EncodeMessage)->Arg(128)->Arg(1024);
BENCHMARK(BM_EncodeMessageEscaped);

}  // namespace
}  // namespace ferry::micro
