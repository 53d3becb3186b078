#pragma once

#include <cstdint>

#include "common/strong_id.h"

namespace ferry::broker {

// One binding of an exchange (source, destination, key, arguments), numbered
// by the routing table that holds it; the topic trie stores these numbers,
// not the bindings. 64 bits, never reused within one routing table (a
// subscription churning 1,000 times a second would wrap 32 bits in 50 days).
using BindingId = StrongId<struct BindingIdTag>;

}  // namespace ferry::broker
