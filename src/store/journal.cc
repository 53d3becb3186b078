#include "store/journal.h"

#include "store/env.h"
#include "store/journal_impl.h"

namespace ferry::store {

Result<std::unique_ptr<Journal>> Journal::open(const JournalOptions& options) {
  return open(options, Env::posix());
}

Result<std::unique_ptr<Journal>> Journal::open(const JournalOptions& options, Env& env) {
  auto journal = std::make_unique<JournalImpl>(options, env);
  if (Status s = journal->open(); !s) return s.error();
  return {std::unique_ptr<Journal>(std::move(journal))};
}

}  // namespace ferry::store
