#include "broker/declared_exchanges.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "broker/arguments_json.h"
#include "broker/destination.h"
#include "store/env.h"
#include "store/replace_file.h"

namespace ferry::broker {

namespace {

using Json = nlohmann::json;

// The file holds what arguments_to_json wrote: an object of strings.
bool read_arguments(const Json& j, Arguments& out) {
  if (!j.is_object()) return false;
  auto read = arguments_from_json(j);
  if (!read) return false;
  out = std::move(*read);
  return true;
}

bool is_string(const Json& o, const char* k) { return o.contains(k) && o[k].is_string(); }
bool is_bool(const Json& o, const char* k) { return o.contains(k) && o[k].is_boolean(); }

}  // namespace

DeclaredExchanges::DeclaredExchanges(std::string data_dir)
    : path_(data_dir + "/declared-exchanges.json"), dir_(std::move(data_dir)) {}

DeclaredExchanges::State DeclaredExchanges::durable_part(const ExchangeReplica& replica) {
  State st;
  for (const std::string& vhost : replica.vhosts()) {
    const RoutingTable* t = replica.find(vhost);
    for (const Exchange* x : t->exchanges()) {
      if (!x->properties().durable || x->name().empty() || x->name().starts_with("amq.")) continue;
      st.exchanges.push_back(DeclaredExchange{vhost, x->name(), x->properties()});
    }
    for (BindingInfo& b : replica.bindings(vhost)) {
      const Exchange* source = t->find(b.source);
      if (source == nullptr || !source->properties().durable) continue;
      if (b.destination.kind == BindingDestination::Kind::kQueue) {
        if (b.destination.name.starts_with(kTemporaryQueuePrefix)) continue;
      } else {
        const Exchange* to = t->find(b.destination.name);
        if (to == nullptr || !to->properties().durable) continue;
      }
      st.bindings.push_back(std::move(b));
    }
  }
  return st;
}

Result<DeclaredExchanges::State> DeclaredExchanges::load() const {
  State st;
  std::ifstream in(path_);
  if (!in) return st;  // none declared yet
  std::stringstream text;
  text << in.rdbuf();
  const Json j = Json::parse(text.str(), nullptr, false);
  const Error bad{path_ + ": not {\"exchanges\": [...], \"bindings\": [...]} as Ferry writes it", {}};
  if (j.is_discarded() || !j.is_object() || !j.contains("exchanges") || !j["exchanges"].is_array() ||
      !j.contains("bindings") || !j["bindings"].is_array())
    return bad;
  for (const Json& e : j["exchanges"]) {
    if (!e.is_object() || !is_string(e, "vhost") || !is_string(e, "name") || !is_string(e, "type") ||
        !is_bool(e, "durable") || !is_bool(e, "auto_delete") || !is_bool(e, "internal") || !e.contains("arguments"))
      return bad;
    DeclaredExchange x{e["vhost"].get<std::string>(), e["name"].get<std::string>(), {}};
    if (!parse_exchange_type(e["type"].get<std::string>(), x.properties.type)) return bad;
    x.properties.durable = e["durable"].get<bool>();
    x.properties.auto_delete = e["auto_delete"].get<bool>();
    x.properties.internal = e["internal"].get<bool>();
    if (!read_arguments(e["arguments"], x.properties.arguments)) return bad;
    st.exchanges.push_back(std::move(x));
  }
  for (const Json& b : j["bindings"]) {
    if (!b.is_object() || !is_string(b, "vhost") || !is_string(b, "source") || !is_string(b, "destination") ||
        !is_string(b, "destination_type") || !is_string(b, "routing_key") || !b.contains("arguments"))
      return bad;
    BindingInfo info;
    info.vhost = b["vhost"].get<std::string>();
    info.source = b["source"].get<std::string>();
    const std::string type = b["destination_type"].get<std::string>();
    if (type == "queue") info.destination = BindingDestination::queue(b["destination"].get<std::string>());
    else if (type == "exchange") info.destination = BindingDestination::exchange(b["destination"].get<std::string>());
    else return bad;
    info.key = b["routing_key"].get<std::string>();
    if (!read_arguments(b["arguments"], info.arguments)) return bad;
    st.bindings.push_back(std::move(info));
  }
  return st;
}

Status DeclaredExchanges::save(const State& state) const {
  Json exchanges = Json::array(), bindings = Json::array();
  for (const DeclaredExchange& x : state.exchanges)
    exchanges.push_back({{"vhost", x.vhost},
                         {"name", x.name},
                         {"type", exchange_type_name(x.properties.type)},
                         {"durable", x.properties.durable},
                         {"auto_delete", x.properties.auto_delete},
                         {"internal", x.properties.internal},
                         {"arguments", arguments_to_json(x.properties.arguments)}});
  for (const BindingInfo& b : state.bindings)
    bindings.push_back({{"vhost", b.vhost},
                        {"source", b.source},
                        {"destination", b.destination.name},
                        {"destination_type", b.destination.kind == BindingDestination::Kind::kQueue ? "queue" : "exchange"},
                        {"routing_key", b.key},
                        {"arguments", arguments_to_json(b.arguments)}});
  const Json j{{"exchanges", exchanges}, {"bindings", bindings}};
  const std::string data = j.dump(1, ' ', false, Json::error_handler_t::replace) + "\n";
  // The journal's file layer: short writes retried, fdatasync, rename,
  // directory sync.
  if (store::IoStatus st = store::replace_file(store::Env::posix(), path_, dir_, data, true); !st.ok())
    return failure("cannot write " + st.to_string());
  return {};
}

}  // namespace ferry::broker
