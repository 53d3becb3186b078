#include "cluster/coordinator.h"

namespace ferry::cluster {

Result<std::optional<KeyValue>> Coordinator::get(const std::string& key) {
  auto read = range(key);
  if (!read) return read.error();
  for (KeyValue& kv : read->kvs)
    if (kv.key == key) return std::optional<KeyValue>(std::move(kv));
  return std::optional<KeyValue>();
}

Result<Revision> Coordinator::put(const std::string& key, const std::string& value, LeaseId lease) {
  Txn t;
  t.puts.push_back({key, value, lease});
  auto done = txn(t);
  if (!done) return done.error();
  return done->revision;
}

std::string prefix_end(const std::string& prefix) {
  std::string end = prefix;
  while (!end.empty()) {
    if (static_cast<unsigned char>(end.back()) < 0xff) {
      end.back() = static_cast<char>(static_cast<unsigned char>(end.back()) + 1);
      return end;
    }
    end.pop_back();  // 0xff cannot be incremented: the range ends after a shorter prefix
  }
  return std::string(1, '\0');
}

}  // namespace ferry::cluster
