#pragma once

#include <optional>
#include <string_view>

namespace ferry::stomp {

// Every STOMP command, client and server side.
enum class Command {
  kConnect,
  kStomp,
  kSend,
  kSubscribe,
  kUnsubscribe,
  kAck,
  kNack,
  kBegin,
  kCommit,
  kAbort,
  kDisconnect,
  kConnected,
  kMessage,
  kReceipt,
  kError,
};

std::string_view to_string(Command c);  // "SEND", ...
std::optional<Command> parse_command(std::string_view text);

}  // namespace ferry::stomp
