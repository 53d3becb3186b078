#pragma once

#include <functional>
#include <memory>
#include <string>

#include "auth/user_store.h"
#include "common/result.h"
#include "http/context.h"
#include "http/request.h"

// Changing users, vhosts and permissions from the management API (users and
// definitions endpoints): edits of the users file on the authenticator's
// thread, answered on shard 0.
namespace ferry::http {

// The users as they are now; without a users file (unit tests), the built-in
// guest alone.
std::shared_ptr<const auth::UserStore> snapshot(ApiContext& ctx);

// How an edit ended: the status to answer, or an error.
struct Outcome {
  unsigned status = 204;
  unsigned error_status = 400;
  std::string error_code = "bad_request";
};

// Runs `edit` on the users file and answers: `outcome` (filled in by the
// edit on the authenticator's thread) on success, its error status with the
// edit's text otherwise. Then `after` (if any) runs on shard 0. Without a
// users file: 409 no_users_file.
void edit_users(ApiContext& ctx, Reply reply, std::shared_ptr<Outcome> outcome,
                std::function<Status(auth::UserStore&, Outcome&)> edit, std::function<void()> after = {});

}  // namespace ferry::http
