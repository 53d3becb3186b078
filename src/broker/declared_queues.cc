#include "broker/declared_queues.h"

#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>

#include "store/env.h"
#include "store/replace_file.h"

namespace ferry::broker {

DeclaredQueues::DeclaredQueues(std::string data_dir)
    : path_(data_dir + "/declared-queues.json"), dir_(std::move(data_dir)) {}

Status DeclaredQueues::load() {
  std::ifstream in(path_);
  if (!in) return {};  // none declared yet
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_array()) return failure(path_ + ": not a JSON array of {\"vhost\", \"name\"}");
  std::set<Entry> entries;
  std::map<Entry, QueueArguments> arguments;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("vhost") || !e.contains("name") || !e["vhost"].is_string() ||
        !e["name"].is_string())
      return failure(path_ + ": an entry is not {\"vhost\": string, \"name\": string}");
    Entry entry(e["vhost"].get<std::string>(), e["name"].get<std::string>());
    if (e.contains("arguments")) {
      auto args = QueueArguments::from_json(e["arguments"]);
      if (!args) return failure(path_ + ": queue '" + entry.second + "'", args.error().text());
      if (!args->empty()) arguments.emplace(entry, std::move(*args));
    }
    entries.insert(std::move(entry));
  }
  entries_ = std::move(entries);
  arguments_ = std::move(arguments);
  return {};
}

Status DeclaredQueues::add(const std::string& vhost, const std::string& name) {
  if (entries_.contains({vhost, name})) return {};
  auto next = entries_;
  next.emplace(vhost, name);
  if (Status saved = save(next, arguments_); !saved) return saved;
  entries_ = std::move(next);
  return {};
}

Status DeclaredQueues::add(const std::string& vhost, const std::string& name, const QueueArguments& arguments) {
  const Entry e(vhost, name);
  if (entries_.contains(e) && arguments_of(e) == arguments) return {};
  auto next = entries_;
  next.insert(e);
  auto next_args = arguments_;
  next_args.erase(e);
  if (!arguments.empty()) next_args.emplace(e, arguments);
  if (Status saved = save(next, next_args); !saved) return saved;
  entries_ = std::move(next);
  arguments_ = std::move(next_args);
  return {};
}

Status DeclaredQueues::remove(const std::string& vhost, const std::string& name) {
  if (!entries_.contains({vhost, name})) return {};
  auto next = entries_;
  next.erase({vhost, name});
  auto next_args = arguments_;
  next_args.erase({vhost, name});
  if (Status saved = save(next, next_args); !saved) return saved;
  entries_ = std::move(next);
  arguments_ = std::move(next_args);
  return {};
}

Status DeclaredQueues::apply(const std::vector<Change>& changes) {
  auto next = entries_;
  auto next_args = arguments_;
  for (const Change& c : changes) {
    const Entry e(c.vhost, c.name);
    next_args.erase(e);
    if (!c.arguments) {
      next.erase(e);
      continue;
    }
    next.insert(e);
    if (!c.arguments->empty()) next_args.emplace(e, *c.arguments);
  }
  if (next == entries_ && next_args == arguments_) return {};
  if (Status saved = save(next, next_args); !saved) return saved;
  entries_ = std::move(next);
  arguments_ = std::move(next_args);
  return {};
}

Status DeclaredQueues::save(const std::set<Entry>& entries, const std::map<Entry, QueueArguments>& arguments) const {
  auto j = nlohmann::json::array();
  for (const auto& e : entries) {
    nlohmann::json entry = {{"vhost", e.first}, {"name", e.second}};
    if (auto it = arguments.find(e); it != arguments.end()) entry["arguments"] = it->second.to_json();
    j.push_back(std::move(entry));
  }
  const std::string data = j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  // The journal's file layer: short writes retried, fdatasync, rename,
  // directory sync.
  if (store::IoStatus st = store::replace_file(store::Env::posix(), path_, dir_, data, true); !st.ok())
    return failure("cannot write " + st.to_string());
  return {};
}

}  // namespace ferry::broker
