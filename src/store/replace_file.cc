#include "store/replace_file.h"

#include <memory>

namespace ferry::store {

IoStatus replace_file(Env& env, const std::string& path, const std::string& dir, std::span<const char> data,
                      bool durable) {
  const std::string tmp = path + ".tmp";
  std::unique_ptr<File> file;
  IoStatus st = env.open_file(tmp, true, file);
  if (st.ok()) st = file->truncate(0);
  if (st.ok()) st = file->write_at(0, data);
  if (st.ok() && durable) st = file->sync();
  file.reset();
  if (st.ok()) st = env.rename_file(tmp, path);
  if (!st.ok()) {
    (void)env.remove_file(tmp);
    return st;
  }
  if (durable) (void)env.sync_dir(dir);
  return {};
}

}  // namespace ferry::store
