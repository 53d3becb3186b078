// Topic routing with many wildcard bindings (issue 12): binds B patterns
// (default 10,000; `*` and `#` in various places) on amq.topic, one queue
// each, then routes K keys (default 1,000,000) through RoutingTable::route()
// and prints the rate. As the peer in the same run, a naive linear matcher
// (every pattern pre-split once, each key tried against all of them) routes a
// subset of the same keys (default 5,000: at B patterns a key it costs B
// matches). Both are checked to find the same number of queues on that
// subset. Also counts the heap allocations made while routing (operator new
// is replaced below): route() is meant to make none once warm. Prints
// figures; asserts no timing.
//
//   ferry_routing_bench [--bindings B] [--keys K] [--naive-keys N] [--seed S]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <new>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "broker/routing_table.h"

namespace {
std::atomic<std::uint64_t> g_allocations{0};
}  // namespace

void* operator new(std::size_t n) {
  g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) { return ::operator new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

namespace {

using namespace ferry::broker;
using Clock = std::chrono::steady_clock;

const char* const kCategories[] = {"orders", "payments", "stock", "users", "audit",
                                   "mail",   "search",   "cart",  "news",  "logs"};
const char* const kRegions[] = {"eu", "us", "asia"};

// Patterns of four shapes, so that a key meets literal words, `*` and `#`.
std::string pattern(std::size_t i) {
  const std::string r = "region" + std::to_string(i % 100);
  const std::string cat = kCategories[(i / 100) % 10];
  const std::string item = "item" + std::to_string(i);
  switch (i % 4) {
    case 0: return r + ".*.*." + item;
    case 1: return r + "." + cat + ".#";
    case 2: return "*." + cat + ".*." + item + ".#";
    default: return "#." + item;
  }
}

std::vector<std::string_view> split(std::string_view s) {
  std::vector<std::string_view> w;
  if (s.empty()) return w;
  for (std::size_t start = 0;;) {
    const std::size_t dot = s.find('.', start);
    w.push_back(s.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start));
    if (dot == std::string_view::npos) return w;
    start = dot + 1;
  }
}

// Backtracking over words: what a broker without a trie does per binding.
bool naive_match(const std::vector<std::string_view>& p, std::size_t pi, const std::vector<std::string_view>& k,
                 std::size_t ki) {
  for (;;) {
    if (pi == p.size()) return ki == k.size();
    if (p[pi] == "#") {
      for (std::size_t j = ki; j <= k.size(); ++j) {
        if (naive_match(p, pi + 1, k, j)) return true;
      }
      return false;
    }
    if (ki == k.size() || (p[pi] != "*" && p[pi] != k[ki])) return false;
    ++pi;
    ++ki;
  }
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

std::size_t arg(int argc, char** argv, const char* name, std::size_t fallback) {
  for (int i = 1; i + 1 < argc; ++i) {
    if (std::strcmp(argv[i], name) == 0) return std::strtoull(argv[i + 1], nullptr, 10);
  }
  return fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t bindings = arg(argc, argv, "--bindings", 10'000);
  const std::size_t keys = arg(argc, argv, "--keys", 1'000'000);
  const std::size_t naive_keys = std::min(keys, arg(argc, argv, "--naive-keys", 5'000));
  std::mt19937_64 rng(arg(argc, argv, "--seed", 1));

  RoutingTable table("/", 10, bindings + 10);
  std::vector<std::string> patterns;
  auto t0 = Clock::now();
  for (std::size_t i = 0; i < bindings; ++i) {
    const std::string q = "q" + std::to_string(i);
    table.add_queue(q);
    patterns.push_back(pattern(i));
    const ferry::Status o = table.bind("amq.topic", BindingDestination::queue(q), patterns.back());
    if (!o.ok()) {
      std::fprintf(stderr, "bind failed: %s\n", o.error().text().c_str());
      return 1;
    }
  }
  std::printf("bound %zu wildcard patterns in %.3f s\n", bindings, seconds_since(t0));

  // Keys: region, category, place, item, sometimes one more word.
  std::vector<std::string> key_list;
  key_list.reserve(keys);
  for (std::size_t i = 0; i < keys; ++i) {
    std::string k = "region" + std::to_string(rng() % 100) + "." + kCategories[rng() % 10] + "." +
                    kRegions[rng() % 3] + ".item" + std::to_string(rng() % (bindings + bindings / 10 + 1));
    if (rng() % 4 == 0) k += ".extra";
    key_list.push_back(std::move(k));
  }

  std::vector<std::string_view> out;
  std::size_t routed = 0;
  for (std::size_t i = 0; i < std::min<std::size_t>(keys, 1000); ++i) {  // warm the scratch space
    (void)table.route("amq.topic", key_list[i], NoHeaders(), out);
  }
  const std::uint64_t allocations_before = g_allocations.load();
  t0 = Clock::now();
  for (const std::string& k : key_list) {
    (void)table.route("amq.topic", k, NoHeaders(), out);
    routed += out.size();
  }
  const double trie_s = seconds_since(t0);
  const std::uint64_t route_allocations = g_allocations.load() - allocations_before;
  const double trie_rate = static_cast<double>(keys) / trie_s;
  std::printf("trie (RoutingTable::route): %zu keys in %.3f s = %.0f keys/s, %.2f queues per key\n", keys, trie_s,
              trie_rate, static_cast<double>(routed) / static_cast<double>(keys));
  std::printf("heap allocations while routing: %llu (%.4f per key)\n",
              static_cast<unsigned long long>(route_allocations),
              static_cast<double>(route_allocations) / static_cast<double>(keys));

  std::vector<std::vector<std::string_view>> split_patterns;
  for (const std::string& p : patterns) split_patterns.push_back(split(p));
  std::size_t naive_routed = 0, trie_routed_subset = 0;
  t0 = Clock::now();
  for (std::size_t i = 0; i < naive_keys; ++i) {
    const std::vector<std::string_view> k = split(key_list[i]);
    for (const auto& p : split_patterns) naive_routed += naive_match(p, 0, k, 0) ? 1 : 0;
  }
  const double naive_s = seconds_since(t0);
  const double naive_rate = static_cast<double>(naive_keys) / naive_s;
  std::printf("naive linear matcher: %zu keys in %.3f s = %.0f keys/s (%zu patterns tried per key)\n", naive_keys,
              naive_s, naive_rate, bindings);
  std::printf("trie / naive: %.0fx\n", trie_rate / naive_rate);

  for (std::size_t i = 0; i < naive_keys; ++i) {
    (void)table.route("amq.topic", key_list[i], NoHeaders(), out);
    trie_routed_subset += out.size();
  }
  if (trie_routed_subset != naive_routed) {
    std::fprintf(stderr, "MISMATCH: trie routed %zu, naive %zu on the same %zu keys\n", trie_routed_subset,
                 naive_routed, naive_keys);
    return 1;
  }
  std::printf("same answers on the %zu keys both routed (%zu queues)\n", naive_keys, naive_routed);
  return 0;
}
