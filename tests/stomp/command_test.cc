#include "stomp/command.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace ferry::stomp {
namespace {

constexpr Command kAllCommands[] = {
    Command::kConnect, Command::kStomp,  Command::kSend,       Command::kSubscribe,
    Command::kUnsubscribe, Command::kAck, Command::kNack,     Command::kBegin,
    Command::kCommit,  Command::kAbort,  Command::kDisconnect, Command::kConnected,
    Command::kMessage, Command::kReceipt, Command::kError,
};

TEST(CommandTest, NamesEveryCommandAsOnTheWire) {
  EXPECT_EQ(to_string(Command::kConnect), "CONNECT");
  EXPECT_EQ(to_string(Command::kStomp), "STOMP");
  EXPECT_EQ(to_string(Command::kSend), "SEND");
  EXPECT_EQ(to_string(Command::kSubscribe), "SUBSCRIBE");
  EXPECT_EQ(to_string(Command::kUnsubscribe), "UNSUBSCRIBE");
  EXPECT_EQ(to_string(Command::kAck), "ACK");
  EXPECT_EQ(to_string(Command::kNack), "NACK");
  EXPECT_EQ(to_string(Command::kBegin), "BEGIN");
  EXPECT_EQ(to_string(Command::kCommit), "COMMIT");
  EXPECT_EQ(to_string(Command::kAbort), "ABORT");
  EXPECT_EQ(to_string(Command::kDisconnect), "DISCONNECT");
  EXPECT_EQ(to_string(Command::kConnected), "CONNECTED");
  EXPECT_EQ(to_string(Command::kMessage), "MESSAGE");
  EXPECT_EQ(to_string(Command::kReceipt), "RECEIPT");
  EXPECT_EQ(to_string(Command::kError), "ERROR");
}

TEST(CommandTest, ParsesEveryCommandBack) {
  std::set<std::string_view> names;
  for (const Command c : kAllCommands) {
    EXPECT_EQ(parse_command(to_string(c)), c) << to_string(c);
    names.insert(to_string(c));
  }
  EXPECT_EQ(names.size(), std::size(kAllCommands));
}

TEST(CommandTest, IsCaseSensitive) {
  EXPECT_EQ(parse_command("send"), std::nullopt);
  EXPECT_EQ(parse_command("Send"), std::nullopt);
  EXPECT_EQ(parse_command("sTOMP"), std::nullopt);
}

TEST(CommandTest, RejectsEverythingElse) {
  EXPECT_EQ(parse_command(""), std::nullopt);
  EXPECT_EQ(parse_command("SEN"), std::nullopt);
  EXPECT_EQ(parse_command("SENDX"), std::nullopt);
  EXPECT_EQ(parse_command("SEND "), std::nullopt);
  EXPECT_EQ(parse_command("SEND\r"), std::nullopt);
  EXPECT_EQ(parse_command("GET"), std::nullopt);
  EXPECT_EQ(parse_command(std::string_view("SEND\0", 5)), std::nullopt);
}

}  // namespace
}  // namespace ferry::stomp
