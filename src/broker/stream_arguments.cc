#include "broker/stream_arguments.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "stream/retention.h"
#include "stream/stream_format.h"

namespace ferry::broker {

namespace {

constexpr std::string_view kMaxAge = "x-max-age";
constexpr std::string_view kMaxLengthBytes = "x-max-length-bytes";
constexpr std::string_view kMaxSegmentBytes = "x-stream-max-segment-size-bytes";
// RabbitMQ has no queue argument for a super stream's partition count (its
// CLI says `--partitions`); x-stream-partitions is that count in the
// x-stream-* family users already type.
constexpr std::string_view kPartitions = "x-stream-partitions";
// Kafka's topic configs in RabbitMQ's x- form; Kafka users' own spellings
// (kAliases) mean the same.
constexpr std::string_view kCleanupPolicy = "x-cleanup-policy";
constexpr std::string_view kDeleteRetention = "x-delete-retention-ms";
constexpr std::array<std::string_view, 6> kNames{kMaxAge,    kMaxLengthBytes, kMaxSegmentBytes,
                                                 kPartitions, kCleanupPolicy, kDeleteRetention};
constexpr std::array<std::pair<std::string_view, std::string_view>, 2> kAliases{
    {{"cleanup.policy", kCleanupPolicy}, {"delete.retention.ms", kDeleteRetention}}};
constexpr std::array<std::string_view, 8> kSpellings{kMaxAge,        kMaxLengthBytes,  kMaxSegmentBytes,
                                                     kPartitions,    kCleanupPolicy,   kDeleteRetention,
                                                     "cleanup.policy", "delete.retention.ms"};
// What the x-name `name` is (itself, or the one a Kafka spelling stands for).
std::string_view canonical(std::string_view name) {
  for (const auto& [alias, n] : kAliases)
    if (name == alias) return n;
  return name;
}
constexpr std::string_view kFirstLine = "ferry-stream-arguments 1";
constexpr std::uint64_t kMinSegmentBytes = 4096;

std::optional<std::uint64_t> whole_number(std::string_view v) {
  std::uint64_t n = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (v.empty() || ec != std::errc() || p != v.data() + v.size()) return std::nullopt;
  return n;
}

std::optional<std::string> value_of(const StreamArguments& a, std::string_view name) {
  if (name == kMaxAge) return a.max_age;
  if (name == kMaxLengthBytes && a.max_length_bytes) return std::to_string(*a.max_length_bytes);
  if (name == kMaxSegmentBytes && a.max_segment_bytes) return std::to_string(*a.max_segment_bytes);
  if (name == kPartitions && a.partitions) return std::to_string(*a.partitions);
  if (name == kCleanupPolicy) return a.cleanup_policy;
  if (name == kDeleteRetention && a.delete_retention_ms) return std::to_string(*a.delete_retention_ms);
  return std::nullopt;
}

}  // namespace

std::span<const std::string_view> StreamArguments::names() { return kNames; }
std::span<const std::string_view> StreamArguments::spellings() { return kSpellings; }

bool StreamArguments::is_argument(std::string_view name) {
  name = canonical(name);
  for (std::string_view n : kNames)
    if (n == name) return true;
  return false;
}

Status StreamArguments::set(std::string_view name, std::string_view value) {
  auto bad = [&](std::string_view expected) {
    return failure("invalid stream argument",
                   fmt::format("{}: '{}': expected {}", name, value.substr(0, 64), expected));
  };
  if (name == kMaxAge) {
    auto ms = stream::parse_max_age(value);
    if (!ms) return bad("a number and one unit Y, M, D, h, m or s, such as 7D");
    max_age = std::string(value);
    max_age_ms = *ms;
    return {};
  }
  if (name == kMaxLengthBytes) {
    auto n = whole_number(value);
    if (!n || *n == 0) return bad("a positive whole number of bytes");
    max_length_bytes = *n;
    return {};
  }
  if (name == kMaxSegmentBytes) {
    auto n = whole_number(value);
    if (!n || *n < kMinSegmentBytes || *n > stream::format::kMaxSegmentBytesLimit)
      return bad(fmt::format("a whole number of bytes from {} to {}", kMinSegmentBytes,
                             stream::format::kMaxSegmentBytesLimit));
    max_segment_bytes = *n;
    return {};
  }
  if (canonical(name) == kCleanupPolicy) {
    // Kafka's values; "delete,compact" is the same as "compact,delete".
    if (value == "delete" || value == "compact") cleanup_policy = std::string(value);
    else if (value == "compact,delete" || value == "delete,compact") cleanup_policy = "compact,delete";
    else return bad("delete, compact or compact,delete");
    return {};
  }
  if (canonical(name) == kDeleteRetention) {
    auto n = whole_number(value);
    if (!n || *n > 1000ull * 365 * 86'400'000) return bad("a whole number of milliseconds (at most 1000 years)");
    delete_retention_ms = *n;
    return {};
  }
  if (name == kPartitions) {
    auto n = whole_number(value);
    if (!n || *n == 0 || *n > kMaxPartitions)
      return bad(fmt::format("a whole number of partitions from 1 to {}", kMaxPartitions));
    partitions = static_cast<std::uint32_t>(*n);
    return {};
  }
  return failure("invalid stream argument", fmt::format("unknown argument {}", name));
}

std::string StreamArguments::encode() const {
  std::string out(kFirstLine);
  out += '\n';
  for (std::string_view n : kNames)
    if (auto v = value_of(*this, n)) out.append(n).append(1, ' ').append(*v).append(1, '\n');
  return out;
}

Result<StreamArguments> StreamArguments::decode(std::string_view text) {
  StreamArguments out;
  std::size_t line_no = 0;
  while (!text.empty()) {
    ++line_no;
    const std::size_t nl = text.find('\n');
    if (nl == std::string_view::npos)
      return failure("corrupt stream arguments", fmt::format("line {}: no end of line", line_no));
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl + 1);
    if (line_no == 1) {
      if (line != kFirstLine) return failure("corrupt stream arguments", "not a stream arguments file");
      continue;
    }
    const std::size_t sp = line.find(' ');
    if (sp == std::string_view::npos || !is_argument(line.substr(0, sp)) || value_of(out, line.substr(0, sp)))
      return failure("corrupt stream arguments", fmt::format("line {}: expected '<argument> <value>'", line_no));
    if (Status st = out.set(line.substr(0, sp), line.substr(sp + 1)); !st)
      return failure("corrupt stream arguments", fmt::format("line {}: {}", line_no, st.error().text()));
  }
  if (line_no == 0) return failure("corrupt stream arguments", "empty file");
  return out;
}

std::optional<std::string> StreamArguments::mismatch(const StreamArguments& requested, const StreamArguments& current,
                                                     const Destination& stream) {
  for (std::string_view n : kNames) {
    auto r = value_of(requested, n);
    if (!r) continue;  // only what the frame names is checked (docs/streams.md)
    auto c = value_of(current, n);
    const bool same = n == kMaxAge ? (c && requested.max_age_ms == current.max_age_ms) : r == c;
    if (same) continue;
    return "PRECONDITION_FAILED - inequivalent arg '" + std::string(n) + "' for stream '" + stream.name +
           "' in vhost '" + stream.vhost + "': received '" + *r + "' but current is " +
           (c ? "'" + *c + "'" : std::string("none"));
  }
  return std::nullopt;
}

}  // namespace ferry::broker
