#pragma once

#include <set>
#include <string>
#include <utility>

#include "common/result.h"

// The queues created through the management API (PUT /api/queues/..., `ferry
// create-queue`), remembered across restarts as RabbitMQ remembers a durable
// queue: `<data-dir>/declared-queues.json`, a JSON array of {"vhost",
// "name"}. Messages live in the journal; this file holds only names, so an
// empty declared queue comes back after a restart.
//
// Written whole through a temporary file, fsync and rename (and an fsync of
// the directory) on every change; changes are rare (an operator's action).
// Used on shard 0 only (the management API's handlers) and at start.
namespace ferry::broker {

class DeclaredQueues {
 public:
  using Entry = std::pair<std::string, std::string>;  // vhost, name

  explicit DeclaredQueues(std::string data_dir);

  // Reads the file (missing: none). An Error names the file.
  Status load();
  const std::set<Entry>& entries() const { return entries_; }

  // An Error says why the file could not be written (then nothing changed).
  Status add(const std::string& vhost, const std::string& name);
  Status remove(const std::string& vhost, const std::string& name);

 private:
  Status save(const std::set<Entry>& entries) const;
  std::string path_, dir_;
  std::set<Entry> entries_;
};

}  // namespace ferry::broker
