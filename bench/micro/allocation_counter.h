#pragma once

#include <benchmark/benchmark.h>

#include <cstdint>

namespace ferry::micro {

// Heap allocations (operator new calls) made by this process so far. The
// benchmark binary replaces the global operator new to count them.
std::uint64_t allocations();

// Sets state.counters["allocs/op"] to the allocations made since `before`
// divided by the iterations: 0 proves the loop allocated nothing per item.
inline void report_allocations(benchmark::State& state, std::uint64_t before, double items_per_iteration = 1) {
  const double items = static_cast<double>(state.iterations()) * items_per_iteration;
  state.counters["allocs/op"] = items > 0 ? static_cast<double>(allocations() - before) / items : 0;
}

}  // namespace ferry::micro
