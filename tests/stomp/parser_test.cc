#include "stomp/parser.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "stomp/command.h"
#include "feed.h"

namespace ferry::stomp {
namespace {

using testing::bytes;
using testing::expect_error;
using testing::expect_frame;
using testing::expect_frames;
using testing::expect_need_more;
using testing::feed;
using testing::feed_every_way;
using testing::frame;
using testing::kAllVersions;
using testing::Outcome;
using testing::small_limits;

constexpr Command kAllCommands[] = {
    Command::kConnect, Command::kStomp,  Command::kSend,       Command::kSubscribe,
    Command::kUnsubscribe, Command::kAck, Command::kNack,     Command::kBegin,
    Command::kCommit,  Command::kAbort,  Command::kDisconnect, Command::kConnected,
    Command::kMessage, Command::kReceipt, Command::kError,
};

// --- Commands -------------------------------------------------------------

TEST(ParserTest, ParsesEveryCommand) {
  for (const Command c : kAllCommands) {
    SCOPED_TRACE(std::string(to_string(c)));
    expect_frame(std::string(to_string(c)) + bytes("\n\n\0"), frame(c));
    expect_frame(std::string(to_string(c)) + bytes("\nreceipt:7\n\nbody\0"),
                 frame(c, {{"receipt", "7"}}, "body"));
  }
}

TEST(ParserTest, CommandsAreCaseSensitive) {
  expect_error(bytes("send\n\n\0"), ParseError::kUnknownCommand);
  expect_error(bytes("Send\n\n\0"), ParseError::kUnknownCommand);
  expect_error(bytes("connect\n\n\0"), ParseError::kUnknownCommand);
}

TEST(ParserTest, RejectsUnknownCommands) {
  expect_error(bytes("FOO\n\n\0"), ParseError::kUnknownCommand);
  expect_error(bytes("SEND \n\n\0"), ParseError::kUnknownCommand);  // no trimming
  expect_error(bytes(" SEND\n\n\0"), ParseError::kUnknownCommand);
  expect_error(bytes("SENDX\n\n\0"), ParseError::kUnknownCommand);
  expect_error("GET / HTTP/1.1\r\nHost: x\r\n\r\n", ParseError::kUnknownCommand);
  expect_error(bytes("\rSEND\n\n\0"), ParseError::kUnknownCommand);  // bare CR is no EOL
}

// --- Frame structure ------------------------------------------------------

TEST(ParserTest, ParsesHeadersAndBody) {
  expect_frame(bytes("SEND\ndestination:/queue/a\nreceipt:r-1\n\nhello world\0"),
               frame(Command::kSend, {{"destination", "/queue/a"}, {"receipt", "r-1"}},
                     "hello world"));
}

TEST(ParserTest, HeaderValueIsEverythingAfterFirstColonInEveryVersion) {
  for (const Version v : kAllVersions) {
    SCOPED_TRACE(std::string(to_string(v)));
    expect_frame(bytes("SEND\nurl:http://host:80/x\n\n\0"),
                 frame(Command::kSend, {{"url", "http://host:80/x"}}), v);
    expect_frame(bytes("SEND\na::\n\n\0"), frame(Command::kSend, {{"a", ":"}}), v);
  }
}

TEST(ParserTest, KeepsEmptyValuesAndWhitespace) {
  // Spaces are part of names and values: STOMP never trims.
  expect_frame(bytes("SEND\nempty:\n a : b \n\n\0"),
               frame(Command::kSend, {{"empty", ""}, {" a ", " b "}}));
}

TEST(ParserTest, KeepsRepeatedHeadersInOrderAndFirstWins) {
  const std::string wire = bytes("MESSAGE\nfoo:first\nbar:x\nfoo:second\n\n\0");
  expect_frame(wire, frame(Command::kMessage, {{"foo", "first"}, {"bar", "x"}, {"foo", "second"}}));

  std::string buffer = wire;
  Parser parser{Limits{}};
  Frame f;
  ASSERT_EQ(parser.next(buffer, f).status, Parser::Status::kFrame);
  EXPECT_EQ(f.get("foo"), "first");
  EXPECT_EQ(f.get("bar"), "x");
  EXPECT_EQ(f.get("baz"), std::nullopt);
}

TEST(ParserTest, AcceptsCrlfInEveryVersion) {
  for (const Version v : kAllVersions) {
    SCOPED_TRACE(std::string(to_string(v)));
    expect_frame(bytes("SEND\r\ndestination:/q\r\nreceipt:1\r\n\r\nbody\0"),
                 frame(Command::kSend, {{"destination", "/q"}, {"receipt", "1"}}, "body"), v);
    // Mixed line ends within one frame.
    expect_frame(bytes("SEND\na:1\r\nb:2\n\r\n\0"),
                 frame(Command::kSend, {{"a", "1"}, {"b", "2"}}), v);
  }
}

TEST(ParserTest, KeepsCrNotFollowedByLf) {
  expect_frame(bytes("SEND\na:x\ry\n\n\0"), frame(Command::kSend, {{"a", "x\ry"}}));
  // Only the CR immediately before LF belongs to the line end.
  expect_frame(bytes("SEND\na:x\r\r\n\n\0"), frame(Command::kSend, {{"a", "x\r"}}));
}

TEST(ParserTest, BodyWithoutContentLengthRunsToFirstNul) {
  expect_frames(bytes("SEND\n\nab\0SEND\n\ncd\0"),
                {frame(Command::kSend, {}, "ab"), frame(Command::kSend, {}, "cd")});
  // What follows the NUL is the next frame, here not a valid one.
  expect_error(bytes("SEND\n\nab\0cd\n\n\0"), ParseError::kUnknownCommand, Version::k1_0,
               Limits{}, 1);
}

TEST(ParserTest, BodyMayHoldAnyBytesButNul) {
  expect_frame(bytes("SEND\n\n\xff\xfe\n\r\n:\\\0"),
               frame(Command::kSend, {}, bytes("\xff\xfe\n\r\n:\\")), Version::k1_2);
}

TEST(ParserTest, ContentLengthBodyMayHoldNuls) {
  expect_frame(bytes("SEND\ncontent-length:5\n\na\0b\0c\0"),
               frame(Command::kSend, {{"content-length", "5"}}, bytes("a\0b\0c")));
  expect_frame(bytes("SEND\ncontent-length:3\n\n\0\0\0\0"),
               frame(Command::kSend, {{"content-length", "3"}}, bytes("\0\0\0")));
  expect_frame(bytes("SEND\ncontent-length:0\n\n\0"),
               frame(Command::kSend, {{"content-length", "0"}}, ""));
  expect_frame(bytes("SEND\ncontent-length:007\n\n1234567\0"),
               frame(Command::kSend, {{"content-length", "007"}}, "1234567"));
}

TEST(ParserTest, FirstContentLengthWins) {
  expect_frame(bytes("SEND\ncontent-length:2\ncontent-length:4\n\na\0\0"),
               frame(Command::kSend, {{"content-length", "2"}, {"content-length", "4"}},
                     bytes("a\0")));
  // A later occurrence is not even validated.
  expect_frame(bytes("SEND\ncontent-length:1\ncontent-length:x\n\na\0"),
               frame(Command::kSend, {{"content-length", "1"}, {"content-length", "x"}}, "a"));
}

TEST(ParserTest, ContentLengthNameIsExact) {
  // Only the exact lower-case name counts; others are plain headers.
  expect_frame(bytes("SEND\nContent-Length:9\n\nab\0"),
               frame(Command::kSend, {{"Content-Length", "9"}}, "ab"));
}

TEST(ParserTest, ParsesSeveralFramesFromOneBuffer) {
  expect_frames(bytes("SEND\na:1\n\nx\0SUBSCRIBE\nid:0\n\n\0ACK\nid:m\n\n\0"),
                {frame(Command::kSend, {{"a", "1"}}, "x"),
                 frame(Command::kSubscribe, {{"id", "0"}}),
                 frame(Command::kAck, {{"id", "m"}})});
}

// --- Heart-beats ----------------------------------------------------------

TEST(ParserTest, SkipsHeartBeatsBeforeBetweenAndAfterFrames) {
  expect_frames(bytes("\n\r\n\nSEND\n\n1\0\n\n\r\n\nSEND\n\n2\0\r\n\n"),
                {frame(Command::kSend, {}, "1"), frame(Command::kSend, {}, "2")});
}

TEST(ParserTest, ReportsLoneHeartBeatsAsConsumed) {
  Parser parser{Limits{}};
  Frame f;
  std::string beats = "\n\r\n\n";
  Parser::Result r = parser.next(beats, f);
  EXPECT_EQ(r.status, Parser::Status::kNeedMore);
  EXPECT_EQ(r.consumed, 4u);

  // A trailing CR may be half a CRLF: it stays buffered.
  std::string half = "\n\r";
  r = parser.next(half, f);
  EXPECT_EQ(r.status, Parser::Status::kNeedMore);
  EXPECT_EQ(r.consumed, 1u);

  std::string empty;
  r = parser.next(empty, f);
  EXPECT_EQ(r.status, Parser::Status::kNeedMore);
  EXPECT_EQ(r.consumed, 0u);
}

TEST(ParserTest, HeartBeatsBeforeAFrameCountAsItsBytes) {
  Parser parser{Limits{}};
  Frame f;
  std::string buffer = bytes("\n\nSEND\n\n\0");
  const Parser::Result r = parser.next(buffer, f);
  EXPECT_EQ(r.status, Parser::Status::kFrame);
  EXPECT_EQ(r.consumed, buffer.size());
}

TEST(ParserTest, HeartBeatsNeedNotBeDropped) {
  // The caller "may" drop reported heart-beats; keeping them is harmless.
  Parser parser{Limits{}};
  Frame f;
  std::string buffer = "\n\n";
  EXPECT_EQ(parser.next(buffer, f).consumed, 2u);
  buffer += bytes("SEND\n\nx\0");
  const Parser::Result r = parser.next(buffer, f);
  ASSERT_EQ(r.status, Parser::Status::kFrame);
  EXPECT_EQ(f.body, "x");
  EXPECT_EQ(r.consumed, buffer.size());
}

// --- Escaping -------------------------------------------------------------

TEST(ParserTest, Version10NeverUnescapes) {
  expect_frame(bytes("SEND\na\\c:b\\n\\c\\\\\\r\\t\\\n\n\0"),
               frame(Command::kSend, {{"a\\c", "b\\n\\c\\\\\\r\\t\\"}}), Version::k1_0);
}

TEST(ParserTest, Version11UnescapesLfColonBackslash) {
  expect_frame(bytes("SEND\nna\\cme\\n:v\\na\\cl\\\\ue\n\n\0"),
               frame(Command::kSend, {{"na:me\n", "v\na:l\\ue"}}), Version::k1_1);
  expect_frame(bytes("SEND\na:\\\\n\n\n\0"), frame(Command::kSend, {{"a", "\\n"}}),
               Version::k1_1);
}

TEST(ParserTest, Version11RejectsCrEscape) {
  expect_error(bytes("SEND\na:x\\ry\n\n\0"), ParseError::kInvalidEscape, Version::k1_1);
}

TEST(ParserTest, Version12UnescapesCrToo) {
  expect_frame(bytes("SEND\nk\\r:\\r\\n\\c\\\\\n\n\0"),
               frame(Command::kSend, {{"k\r", "\r\n:\\"}}), Version::k1_2);
}

TEST(ParserTest, RejectsUndefinedEscapes) {
  for (const Version v : {Version::k1_1, Version::k1_2}) {
    SCOPED_TRACE(std::string(to_string(v)));
    expect_error(bytes("SEND\na:\\t\n\n\0"), ParseError::kInvalidEscape, v);
    expect_error(bytes("SEND\na:x\\\n\n\0"), ParseError::kInvalidEscape, v);   // trailing '\'
    expect_error(bytes("SEND\na\\:x\n\n\0"), ParseError::kInvalidEscape, v);   // name ends in '\'
    expect_error(bytes("SEND\na:\\C\n\n\0"), ParseError::kInvalidEscape, v);   // case matters
    expect_error(bytes("MESSAGE\na:\\x41\n\n\0"), ParseError::kInvalidEscape, v);
  }
}

TEST(ParserTest, NeverUnescapesConnectStompConnected) {
  for (const Version v : kAllVersions) {
    for (const Command c : {Command::kConnect, Command::kStomp, Command::kConnected}) {
      SCOPED_TRACE(std::string(to_string(v)) + " " + std::string(to_string(c)));
      expect_frame(std::string(to_string(c)) + bytes("\nlogin:a\\nb\\c\\t\\\n\n\0"),
                   frame(c, {{"login", "a\\nb\\c\\t\\"}}), v);
    }
  }
}

TEST(ParserTest, UnescapesEveryOtherCommand) {
  for (const Command c : kAllCommands) {
    if (c == Command::kConnect || c == Command::kStomp || c == Command::kConnected) continue;
    SCOPED_TRACE(std::string(to_string(c)));
    expect_frame(std::string(to_string(c)) + bytes("\nk:a\\cb\n\n\0"), frame(c, {{"k", "a:b"}}),
                 Version::k1_2);
  }
}

TEST(ParserTest, VersionAppliesFromTheNextFrame) {
  // A connection parses CONNECT at 1.0, negotiates, then switches.
  Parser parser{Limits{}};
  Frame f;
  std::string buffer = bytes("CONNECT\naccept-version:1.2\n\n\0SEND\na:x\\cy\n\n\0");
  Parser::Result r = parser.next(buffer, f);
  ASSERT_EQ(r.status, Parser::Status::kFrame);
  EXPECT_EQ(f.command, Command::kConnect);
  parser.set_version(Version::k1_2);
  EXPECT_EQ(parser.version(), Version::k1_2);
  buffer.erase(0, r.consumed);
  r = parser.next(buffer, f);
  ASSERT_EQ(r.status, Parser::Status::kFrame);
  EXPECT_EQ(f.get("a"), "x:y");
}

// --- Malformed input ------------------------------------------------------

TEST(ParserTest, RejectsHeaderWithoutColon) {
  expect_error(bytes("SEND\nnocolon\n\n\0"), ParseError::kMalformedHeader);
  expect_error(bytes("SEND\na:1\nnocolon\n\n\0"), ParseError::kMalformedHeader);
}

TEST(ParserTest, RejectsEmptyHeaderName) {
  for (const Version v : kAllVersions) {
    expect_error(bytes("SEND\n:value\n\n\0"), ParseError::kMalformedHeader, v);
    expect_error(bytes("SEND\n:\n\n\0"), ParseError::kMalformedHeader, v);
  }
}

TEST(ParserTest, RejectsNulBeforeEndOfHeaders) {
  expect_error(bytes("SE\0ND\n\n\0"), ParseError::kNulInHeaders);
  expect_error(bytes("SEND\0"), ParseError::kNulInHeaders);
  expect_error(bytes("SEND\na:b\0"), ParseError::kNulInHeaders);
  expect_error(bytes("SEND\na:b\n\0"), ParseError::kNulInHeaders);
  expect_error(bytes("SEND\na\0:b\n\n\0"), ParseError::kNulInHeaders);
  expect_error(bytes("\n\0"), ParseError::kNulInHeaders);
}

TEST(ParserTest, RejectsInvalidUtf8InCommandAndHeaders) {
  for (const char* bad : {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "\xe2\x82",
                          "\xf4\x90\x80\x80", "\xf8\x88\x80\x80\x80", "\x80", "\xc3"}) {
    SCOPED_TRACE(testing::printable(bad));
    expect_error("SEND" + std::string(bad) + bytes("\n\n\0"), ParseError::kInvalidUtf8);
    expect_error("SEND\nname" + std::string(bad) + bytes(":v\n\n\0"), ParseError::kInvalidUtf8);
    expect_error("SEND\nname:" + std::string(bad) + bytes("\n\n\0"), ParseError::kInvalidUtf8);
    // Validation runs before unescaping, also for unescaped frames.
    expect_error("CONNECT\nlogin:x" + std::string(bad) + bytes("\n\n\0"),
                 ParseError::kInvalidUtf8, Version::k1_2);
  }
}

TEST(ParserTest, AcceptsMultiByteUtf8) {
  expect_frame(bytes("SEND\nd\xc3\xa9st:\xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\n\n\0"),
               frame(Command::kSend,
                     {{"d\xc3\xa9st", "\xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf"}}));
}

TEST(ParserTest, RejectsContentLengthThatIsNotADecimalNumber) {
  for (const char* bad : {"", "abc", "-1", "+1", " 1", "1 ", "0x10", "1.5", "1e3", "12a"}) {
    SCOPED_TRACE(std::string("content-length:") + bad);
    expect_error(bytes("SEND\ncontent-length:") + bad + bytes("\n\nx\0"),
                 ParseError::kInvalidContentLength);
  }
}

TEST(ParserTest, RejectsContentLengthBytesNotFollowedByNul) {
  expect_error(bytes("SEND\ncontent-length:2\n\nabc\0"), ParseError::kMissingNul);
  expect_error(bytes("SEND\ncontent-length:0\n\nx"), ParseError::kMissingNul);
}

TEST(ParserTest, WaitsForIncompleteFrames) {
  expect_need_more("S");
  expect_need_more("SEND");
  expect_need_more("SEND\r");
  expect_need_more("SEND\ndest:/q");
  expect_need_more("SEND\ndest:/q\n");
  expect_need_more("SEND\ndest:/q\n\nbody");
  expect_need_more("SEND\ncontent-length:4\n\nab");
  expect_need_more(bytes("SEND\ncontent-length:4\n\nab\0\0"));
}

TEST(ParserTest, ErrorIsSticky) {
  Parser parser{Limits{}};
  Frame f;
  std::string bad = bytes("FOO\n\n\0");
  EXPECT_EQ(parser.next(bad, f).error, ParseError::kUnknownCommand);
  std::string good = bytes("SEND\n\n\0");
  const Parser::Result r = parser.next(good, f);
  EXPECT_EQ(r.status, Parser::Status::kError);
  EXPECT_EQ(r.error, ParseError::kUnknownCommand);
  EXPECT_EQ(r.consumed, 0u);

  parser.reset();
  EXPECT_EQ(parser.next(good, f).status, Parser::Status::kFrame);
}

TEST(ParserTest, ResetDropsPartialFrame) {
  Parser parser{Limits{}};
  Frame f;
  std::string partial = "SEND\ncontent-length:100\n\nab";
  EXPECT_EQ(parser.next(partial, f).status, Parser::Status::kNeedMore);
  parser.reset();
  std::string fresh = bytes("ACK\nid:1\n\n\0");
  ASSERT_EQ(parser.next(fresh, f).status, Parser::Status::kFrame);
  EXPECT_EQ(f.command, Command::kAck);
  EXPECT_EQ(f.get("id"), "1");
}

// --- Limits ---------------------------------------------------------------

// small_limits(): frame 64, body 16, headers 3, header line 20.

TEST(ParserLimitsTest, AcceptsFrameOfExactlyMaxFrameSize) {
  Limits limits = small_limits();
  limits.max_body_size = 1000;
  const std::string wire = "SEND\n\n" + std::string(57, 'x') + '\0';
  ASSERT_EQ(wire.size(), 64u);
  expect_frame(wire, frame(Command::kSend, {}, std::string(57, 'x')), Version::k1_0, limits);
  expect_error(wire.substr(0, 63) + "x" + '\0', ParseError::kFrameTooLarge, Version::k1_0, limits);
}

TEST(ParserLimitsTest, RefusesOversizeFrameOnceMaxFrameSizeBytesAreBuffered) {
  Limits limits = small_limits();
  limits.max_body_size = 1000;
  const std::string head = "SEND\n\n";
  // max_frame_size bytes without the NUL: refused, nothing more needed.
  expect_error(head + std::string(58, 'x'), ParseError::kFrameTooLarge, Version::k1_0, limits);
  // One byte fewer: could still be a frame of exactly the limit.
  expect_need_more(head + std::string(57, 'x'), Version::k1_0, limits);
}

TEST(ParserLimitsTest, CountsOnlyFrameBytesNotHeartBeats) {
  Limits limits = small_limits();
  limits.max_body_size = 1000;
  const std::string wire = "\n\n\r\n" "SEND\n\n" + std::string(57, 'x') + '\0';
  expect_frame(wire, frame(Command::kSend, {}, std::string(57, 'x')), Version::k1_0, limits);
}

TEST(ParserLimitsTest, FrameLimitAppliesToEachFrameOfAStream) {
  Limits limits = small_limits();
  limits.max_body_size = 1000;
  const std::string one = "SEND\n\n" + std::string(57, 'x') + '\0';
  expect_frames(one + one + one, {frame(Command::kSend, {}, std::string(57, 'x')),
                                  frame(Command::kSend, {}, std::string(57, 'x')),
                                  frame(Command::kSend, {}, std::string(57, 'x'))},
                Version::k1_0, limits);
}

TEST(ParserLimitsTest, RefusesContentLengthFrameOverMaxFrameSizeBeforeItsBody) {
  Limits limits = small_limits();
  limits.max_body_size = 1000;
  // 24 bytes of command and headers + 40 body + NUL = 65.
  const std::string head = "SEND\ncontent-length:40\n\n";
  ASSERT_EQ(head.size(), 24u);
  expect_error(head, ParseError::kFrameTooLarge, Version::k1_0, limits);
  const std::string fits = "SEND\ncontent-length:39\n\n";
  expect_frame(fits + std::string(39, '\0') + '\0',
               frame(Command::kSend, {{"content-length", "39"}}, std::string(39, '\0')),
               Version::k1_0, limits);
}

TEST(ParserLimitsTest, RefusesContentLengthOverMaxBodySizeWhenHeaderIsParsed) {
  const Limits limits = small_limits();
  expect_error("SEND\ncontent-length:17\n", ParseError::kBodyTooLarge, Version::k1_0, limits);
  expect_error("SEND\ncontent-length:99999999999999999999999999\n", ParseError::kBodyTooLarge,
               Version::k1_0, Limits{});
  expect_frame(bytes("SEND\ncontent-length:16\n\n") + std::string(16, 'b') + '\0',
               frame(Command::kSend, {{"content-length", "16"}}, std::string(16, 'b')),
               Version::k1_0, limits);
}

TEST(ParserLimitsTest, RefusesBodyOverMaxBodySizeBeforeItsNul) {
  const Limits limits = small_limits();
  expect_frame("SEND\n\n" + std::string(16, 'b') + '\0',
               frame(Command::kSend, {}, std::string(16, 'b')), Version::k1_0, limits);
  // 17 body bytes without NUL prove the body too large.
  expect_error("SEND\n\n" + std::string(17, 'b'), ParseError::kBodyTooLarge, Version::k1_0,
               limits);
  expect_need_more("SEND\n\n" + std::string(16, 'b'), Version::k1_0, limits);
}

TEST(ParserLimitsTest, RefusesMoreThanMaxHeaders) {
  const Limits limits = small_limits();
  expect_frame(bytes("SEND\na:1\nb:2\nc:3\n\n\0"),
               frame(Command::kSend, {{"a", "1"}, {"b", "2"}, {"c", "3"}}), Version::k1_0, limits);
  expect_error("SEND\na:1\nb:2\nc:3\nd:4\n", ParseError::kTooManyHeaders, Version::k1_0, limits);
  // Repeated headers count as lines too.
  expect_error("SEND\na:1\na:1\na:1\na:1\n", ParseError::kTooManyHeaders, Version::k1_0, limits);
}

TEST(ParserLimitsTest, AcceptsHeaderLineOfExactlyMaxHeaderLength) {
  const Limits limits = small_limits();
  const std::string line = "name:" + std::string(15, 'v');  // 20 bytes
  for (const char* eol : {"\n", "\r\n"}) {
    expect_frame("SEND\n" + line + eol + eol + '\0',
                 frame(Command::kSend, {{"name", std::string(15, 'v')}}), Version::k1_0, limits);
  }
}

TEST(ParserLimitsTest, RefusesLongHeaderLineBeforeItsEol) {
  const Limits limits = small_limits();
  const std::string line = "name:" + std::string(16, 'v');  // 21 bytes
  expect_error("SEND\n" + line, ParseError::kHeaderTooLong, Version::k1_0, limits);
  expect_error("SEND\n" + line + bytes("\n\n\0"), ParseError::kHeaderTooLong, Version::k1_0,
               limits);
  // 20 bytes then CR: may be a CRLF, so wait; anything but LF after it is too long.
  const std::string full = "name:" + std::string(15, 'v');
  expect_need_more("SEND\n" + full + "\r", Version::k1_0, limits);
  expect_error("SEND\n" + full + "\rx", ParseError::kHeaderTooLong, Version::k1_0, limits);
  expect_error("SEND\n" + full + "\r\r\n", ParseError::kHeaderTooLong, Version::k1_0, limits);
}

TEST(ParserLimitsTest, MeasuresHeaderLengthBeforeUnescaping) {
  const Limits limits = small_limits();
  // 21 raw bytes that unescape to 20 are still too long on the wire.
  expect_error(bytes("SEND\nname:\\\\vvvvvvvvvvvvvv\n\n\0"), ParseError::kHeaderTooLong,
               Version::k1_2, limits);
}

TEST(ParserLimitsTest, AppliesMaxHeaderLengthToCommandLine) {
  Limits limits = small_limits();
  limits.max_header_length = 4;
  expect_frame(bytes("SEND\n\n\0"), frame(Command::kSend), Version::k1_0, limits);
  expect_error("MESSAGE", ParseError::kHeaderTooLong, Version::k1_0, limits);
  expect_error(std::string(100, 'A'), ParseError::kHeaderTooLong, Version::k1_0, limits);
}

// --- Incremental parsing --------------------------------------------------

TEST(ParserIncrementalTest, SurvivesBufferMovingBetweenCalls) {
  Parser parser{Limits{}};
  Frame f;
  auto buffer = std::make_unique<std::string>("SEND\ndest:/q\\c1\nrece");
  parser.set_version(Version::k1_2);
  EXPECT_EQ(parser.next(*buffer, f).status, Parser::Status::kNeedMore);
  // The caller reallocates its buffer: same bytes, new address.
  auto moved = std::make_unique<std::string>(*buffer + bytes("ipt:9\n\nhello\0"));
  buffer.reset();
  const Parser::Result r = parser.next(*moved, f);
  ASSERT_EQ(r.status, Parser::Status::kFrame);
  EXPECT_EQ(f.get("dest"), "/q:1");
  EXPECT_EQ(f.get("receipt"), "9");
  EXPECT_EQ(f.body, "hello");
  EXPECT_EQ(r.consumed, moved->size());
}

TEST(ParserIncrementalTest, DoesNotRescanBytesAlreadyExamined) {
  // White-box: bytes are examined once. If the parser rescanned, the NULs
  // planted in already-examined positions (which the contract forbids the
  // caller to change) would show up as errors or a shorter body.
  Parser parser{Limits{}};
  Frame f;
  std::string buffer = "SEND\na:b\n\nbody";
  EXPECT_EQ(parser.next(buffer, f).status, Parser::Status::kNeedMore);
  buffer[6] = '\0';   // inside completed header line "a:b"
  buffer[11] = '\0';  // inside body bytes already searched for NUL
  buffer += bytes("more\0");
  ASSERT_EQ(parser.next(buffer, f).status, Parser::Status::kFrame);
  EXPECT_EQ(f.body, bytes("b\0dymore"));
}

TEST(ParserIncrementalTest, EveryFrameOfAMixedStreamSplitsAnywhere) {
  // One stream using every feature; expect_frames feeds it whole, byte by
  // byte and split at every offset.
  const std::string wire = bytes(
      "\r\n\n"
      "CONNECT\naccept-version:1.2\nhost:a\\c\r\n\r\n\0\n"
      "SEND\r\ndestination:/queue/\\ca\ncontent-length:3\nx:1\nx:2\n\n\0\0\0\0\n\n"
      "SUBSCRIBE\nid:\\\\0\nack:client\n\n\0"
      "MESSAGE\nk\\r:v\\n\n\nno length\0");
  expect_frames(wire,
                {frame(Command::kConnect, {{"accept-version", "1.2"}, {"host", "a\\c"}}),
                 frame(Command::kSend,
                       {{"destination", "/queue/:a"}, {"content-length", "3"}, {"x", "1"},
                        {"x", "2"}},
                       bytes("\0\0\0")),
                 frame(Command::kSubscribe, {{"id", "\\0"}, {"ack", "client"}}),
                 frame(Command::kMessage, {{"k\r", "v\n"}}, "no length")},
                Version::k1_2);
}

TEST(ParserIncrementalTest, ErrorsDoNotDependOnHowBytesArrive) {
  // Each of these contains several violations; the earliest in the byte
  // stream wins however the bytes are split.
  const Limits limits = small_limits();
  expect_error(bytes("SEND\nab\0cdefghijklmnopqrstuvwxyz\n"), ParseError::kNulInHeaders,
               Version::k1_0, limits);
  expect_error(bytes("SEND\nabcdefghijklmnopqrstu\0"), ParseError::kHeaderTooLong, Version::k1_0,
               limits);
  expect_error(bytes("SEND\na:\\t\nnocolon\n\n\0"), ParseError::kInvalidEscape, Version::k1_1,
               limits);
  expect_error(bytes("SEND\nnocolon\na:\\t\n\n\0"), ParseError::kMalformedHeader, Version::k1_1,
               limits);
  expect_error(bytes("SEND\n\n\0FOO\n\n\0"), ParseError::kUnknownCommand, Version::k1_0, limits,
               1);
}

}  // namespace
}  // namespace ferry::stomp
