#include "http/paging.h"

#include <re2/re2.h>

#include <algorithm>
#include <charconv>

namespace ferry::http {

namespace {

Result<std::size_t> positive(const Request& req, const char* name, std::size_t fallback, std::size_t max) {
  const auto text = req.param(name);
  if (!text) return fallback;
  std::size_t n = 0;
  auto [p, ec] = std::from_chars(text->data(), text->data() + text->size(), n);
  if (ec != std::errc() || p != text->data() + text->size() || n == 0 || n > max)
    return failure(std::string(name) + " must be a whole number from 1 to " + std::to_string(max));
  return n;
}

// The value at a dotted path ("message_stats.publish"), or null.
const Json* field(const Json& item, const std::string& path) {
  const Json* at = &item;
  std::size_t start = 0;
  while (true) {
    const auto dot = path.find('.', start);
    const std::string part = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    if (!at->is_object()) return nullptr;
    auto it = at->find(part);
    if (it == at->end()) return nullptr;
    at = &*it;
    if (dot == std::string::npos) return at;
    start = dot + 1;
  }
}

// Missing values sort first; numbers by value, strings by bytes, otherwise
// by their JSON text.
bool less(const Json* a, const Json* b) {
  if (a == nullptr || b == nullptr) return a == nullptr && b != nullptr;
  if (a->is_number() && b->is_number()) return a->get<double>() < b->get<double>();
  if (a->is_string() && b->is_string()) return a->get_ref<const std::string&>() < b->get_ref<const std::string&>();
  return a->dump() < b->dump();
}

}  // namespace

Result<Json> page_of(Json items, const Request& req) {
  const std::size_t total = items.size();
  if (auto name = req.param("name"); name && !name->empty()) {
    const bool regex = req.param("use_regex").value_or("false") == "true";
    RE2::Options options;
    options.set_log_errors(false);
    options.set_max_mem(1 << 20);  // a user's pattern: bounded
    std::unique_ptr<RE2> re;
    if (regex) {
      re = std::make_unique<RE2>(*name, options);
      if (!re->ok()) return failure("use_regex: invalid regular expression", re->error());
    }
    Json kept = Json::array();
    for (auto& item : items) {
      const Json* n = field(item, "name");
      if (n == nullptr || !n->is_string()) continue;
      const auto& s = n->get_ref<const std::string&>();
      if (regex ? RE2::PartialMatch(s, *re) : s.find(*name) != std::string::npos) kept.push_back(std::move(item));
    }
    items = std::move(kept);
  }
  if (auto sort = req.param("sort"); sort && !sort->empty()) {
    std::stable_sort(items.begin(), items.end(),
                     [&](const Json& a, const Json& b) { return less(field(a, *sort), field(b, *sort)); });
  }
  if (req.param("sort_reverse").value_or("false") == "true") std::reverse(items.begin(), items.end());
  if (auto columns = req.param("columns"); columns && !columns->empty()) {
    // Only the fields named ("name,message_stats.publish"), nested as they were.
    std::vector<std::string> wanted;
    for (std::size_t start = 0; start <= columns->size();) {
      const auto comma = std::min(columns->find(',', start), columns->size());
      if (comma > start) wanted.push_back(columns->substr(start, comma - start));
      start = comma + 1;
    }
    for (auto& item : items) {
      Json kept = Json::object();
      for (const std::string& c : wanted) {
        const Json* v = field(item, c);
        if (v == nullptr) continue;
        Json* at = &kept;  // "a.b" -> kept["a"]["b"]
        for (std::size_t start = 0;;) {
          const auto dot = c.find('.', start);
          Json& next = (*at)[c.substr(start, dot == std::string::npos ? std::string::npos : dot - start)];
          if (dot == std::string::npos) {
            next = *v;
            break;
          }
          if (!next.is_object()) next = Json::object();
          at = &next;
          start = dot + 1;
        }
      }
      item = std::move(kept);
    }
  }
  if (!req.param("page")) return items;

  auto page = positive(req, "page", 1, SIZE_MAX);
  if (!page) return page.error();
  auto size = positive(req, "page_size", kDefaultPageSize, kMaxPageSize);
  if (!size) return size.error();
  const std::size_t filtered = items.size();
  const std::size_t pages = std::max<std::size_t>(1, (filtered + *size - 1) / *size);
  if (*page > pages) return failure("page " + std::to_string(*page) + " is past the last page (" +
                                    std::to_string(pages) + ")");
  Json slice = Json::array();
  const std::size_t from = (*page - 1) * *size;
  for (std::size_t i = from; i < filtered && i < from + *size; ++i) slice.push_back(std::move(items[i]));
  const std::size_t count = slice.size();
  return Json{{"items", std::move(slice)}, {"page", *page},          {"page_size", *size},
              {"page_count", pages},       {"item_count", count},     {"filtered_count", filtered},
              {"total_count", total}};
}

Response paged(Json items, const Request& req) {
  auto page = page_of(std::move(items), req);
  if (!page) return error_response(400, "bad_request", page.error().text());
  return json_ok(*page);
}

}  // namespace ferry::http
