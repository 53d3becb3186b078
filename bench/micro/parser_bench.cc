// The STOMP parser on SEND frames as producers send them: many frames in one
// read buffer, parsed in place (no copy, no allocation per frame).
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "allocation_counter.h"
#include "stomp/parser.h"

namespace ferry::micro {
namespace {

// `count` SEND frames with a `size`-byte body, back to back.
std::string send_frames(std::size_t count, std::size_t size, bool content_length) {
  std::string one = "SEND\ndestination:/queue/orders\npersistent:true\nreceipt:r-12345\n";
  if (content_length) one += "content-length:" + std::to_string(size) + "\n";
  one += "content-type:text/plain\n\n" + std::string(size, 'x') + '\0';
  std::string all;
  for (std::size_t i = 0; i < count; ++i) all += one;
  return all;
}

void parse_sends(benchmark::State& state, bool content_length) {
  const auto size = static_cast<std::size_t>(state.range(0));
  constexpr std::size_t kFrames = 256;
  const std::string pristine = send_frames(kFrames, size, content_length);
  std::string buf = pristine;
  stomp::Limits limits;
  stomp::Parser parser(limits);
  parser.set_version(stomp::Version::k1_2);
  stomp::Frame frame;
  const std::uint64_t before = allocations();
  for (auto _ : state) {
    std::size_t off = 0, frames = 0;
    while (off < buf.size()) {
      const auto r = parser.next(std::span<char>(buf.data() + off, buf.size() - off), frame);
      off += r.consumed;
      if (r.status != stomp::Parser::Status::kFrame) break;
      ++frames;
      benchmark::DoNotOptimize(frame.body.data());
    }
    if (frames != kFrames) state.SkipWithError("parser did not return every frame");
  }
  report_allocations(state, before, kFrames);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * kFrames));
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * pristine.size()));
}

void BM_ParseSend(benchmark::State& state) { parse_sends(state, true); }
void BM_ParseSendNoContentLength(benchmark::State& state) { parse_sends(state, false); }

BENCHMARK(BM_ParseSend)->Arg(128)->Arg(1024)->Arg(65536);
BENCHMARK(BM_ParseSendNoContentLength)->Arg(1024);

}  // namespace
}  // namespace ferry::micro
