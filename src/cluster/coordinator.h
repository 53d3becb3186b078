#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/strong_id.h"

namespace ferry::cluster {

// etcd's numbers, each its own type: a lease (0 = none) and a revision of
// the store (every change makes a new one; 0 = "the key does not exist" in a
// comparison).
using LeaseId = StrongId<struct LeaseIdTag, std::int64_t>;
using Revision = StrongId<struct RevisionTag, std::int64_t>;

// One key as the store holds it (etcd's mvccpb.KeyValue).
struct KeyValue {
  std::string key;
  std::string value;
  Revision create_revision;  // the revision that created it (since its last deletion)
  Revision mod_revision;     // the revision of its last change
  std::int64_t version = 0;  // changes since creation
  LeaseId lease;             // 0: not bound to a lease
};

// An etcd transaction reduced to what coordination needs: if every compare
// holds, every put and delete is applied, atomically, as one revision;
// otherwise nothing is. A compare is on a key's mod_revision, and
// mod_revision 0 means "the key does not exist" (etcd compares a missing
// key as all zeroes). That is compare-and-swap fenced by revision: a change
// made on a view of the store that is no longer current is refused.
struct Txn {
  struct Compare {
    std::string key;
    Revision mod_revision;  // must equal; 0: must not exist
  };
  struct Put {
    std::string key;
    std::string value;
    LeaseId lease;  // 0: none (the key outlives every broker)
  };
  std::vector<Compare> compares;
  std::vector<Put> puts;
  std::vector<std::string> deletes;
};

struct TxnResult {
  bool succeeded = false;
  Revision revision;  // the store's revision after the transaction
};

// A range of keys and the store's revision at the time of reading.
struct RangeResult {
  std::vector<KeyValue> kvs;  // in key order
  Revision revision;
};

// The coordination store (etcd v3 or the in-memory fake). Calls block until
// the store answers or a timeout passes, so they are made from the cluster
// thread (cluster::ClusterService), never from a shard's event loop. An
// Error means "no answer" (unreachable, timed out, not understood): the
// caller cannot tell whether a write happened and must read again.
class Coordinator {
 public:
  virtual ~Coordinator() = default;

  // A lease that ends `ttl_s` seconds after its last keep-alive; the store
  // may grant a longer TTL than asked (etcd has a minimum).
  struct Lease {
    LeaseId id;
    std::int64_t ttl_s = 0;
  };
  virtual Result<Lease> grant_lease(std::int64_t ttl_s) = 0;
  // Restarts the lease's TTL. The TTL it now has, or 0 when the lease no
  // longer exists (expired or revoked: its keys are gone).
  virtual Result<std::int64_t> keep_alive(LeaseId lease) = 0;
  // Ends the lease now and deletes its keys (a clean shutdown).
  virtual Status revoke_lease(LeaseId lease) = 0;

  // Every key that starts with `prefix` ("" = every key).
  virtual Result<RangeResult> range(const std::string& prefix) = 0;
  virtual Result<TxnResult> txn(const Txn& t) = 0;

  // Conveniences over range() and txn().
  Result<std::optional<KeyValue>> get(const std::string& key);
  Result<Revision> put(const std::string& key, const std::string& value, LeaseId lease = LeaseId(0));
};

// The end of the prefix range: `prefix` with its last byte incremented (the
// first key after every key that starts with it); "\0" for "" (every key).
// etcd's range_end convention.
std::string prefix_end(const std::string& prefix);

}  // namespace ferry::cluster
