#include "store/journal.h"

#include "store/env.h"
#include "store/journal_impl.h"

namespace ferry::store {

std::unique_ptr<Journal> Journal::open(const JournalOptions& options, std::string& error) {
  return open(options, Env::posix(), error);
}

std::unique_ptr<Journal> Journal::open(const JournalOptions& options, Env& env,
                                       std::string& error) {
  auto journal = std::make_unique<JournalImpl>(options, env);
  if (!journal->open(error)) return nullptr;
  return journal;
}

}  // namespace ferry::store
