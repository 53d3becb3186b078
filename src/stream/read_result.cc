#include "stream/read_result.h"

#include <algorithm>

namespace ferry::stream {

void ReadResult::for_each(const std::function<bool(const EntryView&)>& visit) const {
  std::size_t pos = 0;
  bool go_on = true;
  for (const BatchHeader& h : batches) {
    if (!go_on || h.base >= next) break;
    const std::span<const char> batch(bytes.data() + pos, static_cast<std::size_t>(h.size));
    (void)for_each_entry(batch, h, [&](const EntryView& e) {
      if (e.offset >= next) return false;
      if (e.offset < from) return true;
      go_on = visit(e);
      return go_on;
    });
    pos += static_cast<std::size_t>(h.size);
  }
}

}  // namespace ferry::stream
