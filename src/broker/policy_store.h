#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "broker/policy.h"
#include "common/result.h"

// The policies (policy.h), remembered across restarts:
// `<data-dir>/policies.json`, a JSON array of RabbitMQ's policy objects
// (Policy::to_json; docs/journal.md). Written whole through a temporary
// file, fsync and rename on every change (an operator's action, rare).
// Used on shard 0 only (the management API's handlers) and at start.
namespace ferry::broker {

class PolicyStore {
 public:
  // Empty data_dir: nothing persists (tests).
  PolicyStore(std::string data_dir, std::uint32_t max_per_vhost);

  // Reads the file (missing: none). An Error names the file and the policy.
  Status load();
  std::vector<Policy> all() const;
  const Policy* find(const std::string& vhost, const std::string& name) const;

  // Adds or replaces; an Error (nothing changed): past max-policies in its
  // vhost, or the file could not be written.
  Status put(Policy p);
  // Several at once (definitions import), written once; all or none.
  Status put_all(std::vector<Policy> ps);
  // false: there was none of that name.
  Result<bool> remove(const std::string& vhost, const std::string& name);
  // What the shards match queues against now.
  std::shared_ptr<const PolicySet> snapshot() const;

 private:
  using Key = std::pair<std::string, std::string>;  // vhost, name
  Status check_limit(const std::map<Key, Policy>& next) const;
  Status save(const std::map<Key, Policy>& next) const;
  std::string path_, dir_;
  std::uint32_t max_per_vhost_;
  std::map<Key, Policy> policies_;
};

}  // namespace ferry::broker
