#include "broker/policy_store.h"

#include <nlohmann/json.hpp>

#include <fstream>
#include <sstream>

#include "store/env.h"
#include "store/replace_file.h"

namespace ferry::broker {

PolicyStore::PolicyStore(std::string data_dir, std::uint32_t max_per_vhost)
    : path_(data_dir.empty() ? std::string() : data_dir + "/policies.json"),
      dir_(std::move(data_dir)),
      max_per_vhost_(max_per_vhost) {}

Status PolicyStore::load() {
  if (path_.empty()) return {};
  std::ifstream in(path_);
  if (!in) return {};  // none set yet
  std::stringstream text;
  text << in.rdbuf();
  auto j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded() || !j.is_array()) return failure(path_ + ": not a JSON array of policies");
  std::map<Key, Policy> next;
  for (const auto& e : j) {
    if (!e.is_object() || !e.contains("vhost") || !e["vhost"].is_string() || !e.contains("name") ||
        !e["name"].is_string())
      return failure(path_ + ": a policy without \"vhost\" and \"name\"");
    auto p = Policy::from_json(e["vhost"].get<std::string>(), e["name"].get<std::string>(), e);
    if (!p) return failure(path_ + ": policy '" + e["name"].get<std::string>() + "'", p.error().text());
    next[{p->vhost, p->name}] = std::move(*p);
  }
  policies_ = std::move(next);
  return {};
}

std::vector<Policy> PolicyStore::all() const {
  std::vector<Policy> out;
  for (const auto& [k, p] : policies_) out.push_back(p);
  return out;
}

const Policy* PolicyStore::find(const std::string& vhost, const std::string& name) const {
  auto it = policies_.find({vhost, name});
  return it == policies_.end() ? nullptr : &it->second;
}

Status PolicyStore::check_limit(const std::map<Key, Policy>& next) const {
  if (max_per_vhost_ == 0) return {};
  std::map<std::string, std::uint32_t> per_vhost;
  for (const auto& [k, p] : next)
    if (++per_vhost[k.first] > max_per_vhost_)
      return failure("policy limit reached", "max-policies " + std::to_string(max_per_vhost_) + " in vhost '" +
                                                 k.first + "'");
  return {};
}

Status PolicyStore::put(Policy p) {
  std::vector<Policy> one;
  one.push_back(std::move(p));
  return put_all(std::move(one));
}

Status PolicyStore::put_all(std::vector<Policy> ps) {
  auto next = policies_;
  for (Policy& p : ps) next[{p.vhost, p.name}] = std::move(p);
  if (next == policies_) return {};
  if (Status s = check_limit(next); !s) return s;
  if (Status s = save(next); !s) return s;
  policies_ = std::move(next);
  return {};
}

Result<bool> PolicyStore::remove(const std::string& vhost, const std::string& name) {
  auto next = policies_;
  if (next.erase({vhost, name}) == 0) return false;
  if (Status s = save(next); !s) return s.error();
  policies_ = std::move(next);
  return true;
}

std::shared_ptr<const PolicySet> PolicyStore::snapshot() const { return std::make_shared<const PolicySet>(all()); }

Status PolicyStore::save(const std::map<Key, Policy>& next) const {
  if (path_.empty()) return {};
  auto j = nlohmann::json::array();
  for (const auto& [k, p] : next) j.push_back(p.to_json());
  const std::string data = j.dump(1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  if (store::IoStatus st = store::replace_file(store::Env::posix(), path_, dir_, data, true); !st.ok())
    return failure("cannot write " + st.to_string());
  return {};
}

}  // namespace ferry::broker
