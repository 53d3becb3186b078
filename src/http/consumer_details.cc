#include "http/consumer_details.h"

#include <string>

#include "http/connection_names.h"
#include "http/process_stats.h"

namespace ferry::http {

namespace {

const char* ack_name(broker::AckMode m) {
  switch (m) {
    case broker::AckMode::kAuto: return "auto";
    case broker::AckMode::kClient: return "client";
    case broker::AckMode::kClientIndividual: return "client-individual";
  }
  return "auto";
}

}  // namespace

Json consumer_details(const broker::Destination& queue, const std::vector<broker::ConsumerStats>& consumers,
                      const std::vector<net::ConnectionInfo>& connections) {
  Json out = Json::array();
  for (const broker::ConsumerStats& c : consumers) {
    const net::ConnectionInfo* conn = nullptr;
    for (const auto& info : connections)
      if (info.id == c.key.connection) conn = &info;
    const net::SubscriptionInfo* sub = nullptr;
    if (conn != nullptr)
      for (const auto& s : conn->subscription_list)
        if (s.number == c.key.subscription.value) sub = &s;
    // A STOMP connection is one channel (number 1), as in RabbitMQ's plugin.
    Json channel = Json::object();
    if (conn != nullptr) {
      const auto [peer_host, peer_port] = split_address(conn->client_address);
      const std::string name = connection_name(*conn);
      channel = Json{{"connection_name", name}, {"name", name + " (1)"},  {"number", 1},
                     {"node", node_name()},     {"peer_host", peer_host}, {"peer_port", peer_port},
                     {"user", conn->user ? Json(*conn->user) : Json(nullptr)}};
    }
    out.push_back(Json{
        {"consumer_tag", sub != nullptr ? sub->id : std::string()},
        {"channel_details", std::move(channel)},
        {"queue", {{"name", queue.name}, {"vhost", queue.vhost}}},
        {"ack_required", c.mode != broker::AckMode::kAuto},
        {"prefetch_count", c.prefetch},
        {"exclusive", c.exclusive},
        {"active", c.active},
        {"activity_status", c.active ? "up" : "waiting"},
        {"arguments", Json::object()},
        // Ferry's
        {"connection", std::to_string(c.key.connection.value)},
        {"ack", ack_name(c.mode)},
        {"unacked", c.unacked},
        {"window_bytes", c.window_bytes},
        {"selector", c.selector},
    });
  }
  return out;
}

}  // namespace ferry::http
