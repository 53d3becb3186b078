#include "stomp/command.h"

namespace ferry::stomp {

std::string_view to_string(Command c) {
  switch (c) {
    case Command::kConnect: return "CONNECT";
    case Command::kStomp: return "STOMP";
    case Command::kSend: return "SEND";
    case Command::kSubscribe: return "SUBSCRIBE";
    case Command::kUnsubscribe: return "UNSUBSCRIBE";
    case Command::kAck: return "ACK";
    case Command::kNack: return "NACK";
    case Command::kBegin: return "BEGIN";
    case Command::kCommit: return "COMMIT";
    case Command::kAbort: return "ABORT";
    case Command::kDisconnect: return "DISCONNECT";
    case Command::kConnected: return "CONNECTED";
    case Command::kMessage: return "MESSAGE";
    case Command::kReceipt: return "RECEIPT";
    case Command::kError: return "ERROR";
  }
  return "?";
}

std::optional<Command> parse_command(std::string_view text) {
  // Case-sensitive, as the spec requires. Dispatch on length first so a
  // command costs at most three comparisons.
  switch (text.size()) {
    case 3:
      if (text == "ACK") return Command::kAck;
      break;
    case 4:
      if (text == "SEND") return Command::kSend;
      if (text == "NACK") return Command::kNack;
      break;
    case 5:
      if (text == "BEGIN") return Command::kBegin;
      if (text == "ABORT") return Command::kAbort;
      if (text == "STOMP") return Command::kStomp;
      if (text == "ERROR") return Command::kError;
      break;
    case 6:
      if (text == "COMMIT") return Command::kCommit;
      break;
    case 7:
      if (text == "CONNECT") return Command::kConnect;
      if (text == "MESSAGE") return Command::kMessage;
      if (text == "RECEIPT") return Command::kReceipt;
      break;
    case 9:
      if (text == "SUBSCRIBE") return Command::kSubscribe;
      if (text == "CONNECTED") return Command::kConnected;
      break;
    case 10:
      if (text == "DISCONNECT") return Command::kDisconnect;
      break;
    case 11:
      if (text == "UNSUBSCRIBE") return Command::kUnsubscribe;
      break;
    default:
      break;
  }
  return std::nullopt;
}

}  // namespace ferry::stomp
