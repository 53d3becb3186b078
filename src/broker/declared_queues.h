#pragma once

#include <map>
#include <optional>
#include <vector>
#include <set>
#include <string>
#include <utility>

#include "broker/queue_arguments.h"
#include "common/result.h"

// The queues created through the management API (PUT /api/queues/..., `ferry
// create-queue`), remembered across restarts as RabbitMQ remembers a durable
// queue: `<data-dir>/declared-queues.json`, a JSON array of {"vhost",
// "name"} with, for a queue declared with RabbitMQ's queue arguments (by
// the API or by STOMP headers), "arguments": {...} (QueueArguments::
// to_json; docs/journal.md). Messages live in the journal; this file holds
// only names and arguments, so an empty declared queue comes back after a
// restart, with its arguments.
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
  // With its arguments (replacing those remembered before).
  Status add(const std::string& vhost, const std::string& name, const QueueArguments& arguments);
  Status remove(const std::string& vhost, const std::string& name);
  // Several changes, written once: each entry added with its arguments
  // (nullopt: removed). Either all or none apply.
  struct Change {
    std::string vhost, name;
    std::optional<QueueArguments> arguments;
  };
  Status apply(const std::vector<Change>& changes);
  // The arguments an entry was declared with (none: empty).
  QueueArguments arguments_of(const Entry& e) const {
    auto it = arguments_.find(e);
    return it == arguments_.end() ? QueueArguments() : it->second;
  }

 private:
  Status save(const std::set<Entry>& entries, const std::map<Entry, QueueArguments>& arguments) const;
  std::string path_, dir_;
  std::set<Entry> entries_;
  std::map<Entry, QueueArguments> arguments_;  // only entries that have some
};

}  // namespace ferry::broker
