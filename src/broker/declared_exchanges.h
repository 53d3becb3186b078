#pragma once

#include <string>
#include <utility>
#include <vector>

#include "broker/exchanges.h"
#include "common/result.h"

// Durable exchanges and their durable bindings, remembered across restarts
// (and kill -9) as RabbitMQ remembers them: `<data-dir>/declared-exchanges.json`,
// {"exchanges": [{"vhost", "name", "type", "durable", "auto_delete",
// "internal", "arguments"}], "bindings": [{"vhost", "source", "destination",
// "destination_type", "routing_key", "arguments"}]}.
//
// Which are kept: exchanges declared durable (never the predeclared ones,
// which every vhost has anyway), and bindings whose source is durable
// (predeclared ones included) and whose destination is a durable exchange or
// a queue that is not temporary (amq.gen-..., a subscription's). The whole
// file is rewritten through a temporary file, fsync and rename (and an fsync
// of the directory) after each change that touches them, before the change
// is answered (changes are an operator's rare actions; subscriptions to
// /exchange/ bind temporary queues and never write it).
//
// Used on shard 0 only (Broker::change_exchanges) and at start.
namespace ferry::broker {

class DeclaredExchanges {
 public:
  struct DeclaredExchange {
    std::string vhost, name;
    ExchangeProperties properties;
  };
  struct State {
    std::vector<DeclaredExchange> exchanges;
    std::vector<BindingInfo> bindings;
  };

  explicit DeclaredExchanges(std::string data_dir);

  // Reads the file (missing: nothing declared). An Error names the file.
  Result<State> load() const;
  // What of `replica` is kept (see above).
  static State durable_part(const ExchangeReplica& replica);
  // An Error says why the file could not be written.
  Status save(const State& state) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_, dir_;
};

}  // namespace ferry::broker
