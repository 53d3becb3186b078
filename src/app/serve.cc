#include "app/serve.h"

#include <boost/asio/signal_set.hpp>
#include <spdlog/spdlog.h>

#include "broker/broker.h"
#include "common/clock.h"
#include "net/server.h"
#include "shard/shard_set.h"
#include "store/journal.h"

namespace ferry::app {

int serve(const net::ServerOptions& options) {
  store::JournalOptions journal_options = options.journal;
  journal_options.directory = options.data_dir;
  std::string error;
  std::unique_ptr<store::Journal> journal = store::Journal::open(journal_options, error);
  if (!journal) {
    spdlog::error("cannot open the journal: {}", error);
    return 1;
  }
  shard::ShardSet shards(options.broker.shards);
  broker::Broker broker(options.broker, shards, journal.get());
  spdlog::info("recovering from {}", options.data_dir);
  spdlog::info("{}", broker.recover());
  net::Server server(options, shards, broker);
  // Handle signals before announcing the listener: a supervisor may stop us
  // the moment it sees "listening on".
  boost::asio::signal_set signals(shards.io(ShardId(0)), SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& ec, int sig) {
    if (ec) return;
    spdlog::info("signal {} received: shutting down", sig);
    shards.stop();
  });
  try {
    server.start();
  } catch (const std::exception& e) {
    spdlog::error("cannot start the listeners: {}", e.what());
    return 1;
  }
  spdlog::info("Ferry 0.1.0: {} shard(s), memory-limit {} bytes, max-connections {}",
               options.broker.shards, options.broker.memory_limit, options.max_connections);
  // The other listeners first: a test harness that waits for the STOMP line
  // then knows every port.
  auto listening = server.listening();
  for (std::size_t i = 1; i < listening.size(); ++i)
    spdlog::info("listening on {}", net::Server::describe(listening[i]));
  spdlog::info("listening on {}", net::Server::describe(listening.front()));

  shards.on_tick(100, [&](ShardId s) {
    const std::int64_t now = mono_ms();
    server.tick(s, now);
    broker.tick(s, wall_ms());
  });

  shards.run();
  // Every loop has stopped and its thread joined: tear down on this thread.
  server.stop();
  // Everything accepted was handed to the journal; wait for it to be written.
  journal->close();
  spdlog::info("journal: {} fsyncs, {} bytes in {} segments", journal->fsync_count(), journal->disk_bytes(),
               journal->segment_count());
  spdlog::info("stopped");
  return 0;
}

}  // namespace ferry::app
