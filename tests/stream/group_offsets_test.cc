// Consumer groups' committed offsets file (stream/group_offsets.h,
// docs/streams.md "Consumer groups"); the wire behaviour is
// tests/integration/test_streams.py's group tests.
#include "stream/group_offsets.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <string>
#include <vector>

#include "store/fault_env.h"
#include "stream_test_util.h"

namespace ferry::stream {
namespace {

using store::testing::FaultEnv;

TEST(GroupOffsets, EncodesOneLinePerGroupAndDecodesBack) {
  GroupOffsets t{{"billing", StreamOffset{42}}, {"a b%c/\n\xff", StreamOffset{0}}, {"x", StreamOffset{1ull << 60}}};
  const std::string text = encode_group_offsets(t);
  EXPECT_EQ(text, "ferry-stream-offsets 1\n0 a%20b%25c/%0A%FF\n42 billing\n1152921504606846976 x\n");
  auto back = decode_group_offsets(text);
  ASSERT_TRUE(back.ok()) << back.error().text();
  EXPECT_EQ(*back, t);
  auto empty = decode_group_offsets(encode_group_offsets({}));
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
}

TEST(GroupOffsets, RefusesWhatEncodeNeverWrites) {
  for (const char* bad : {"", "ferry-stream-offsets 2\n", "ferry-stream-offsets 1",  // no end of line
                          "ferry-stream-offsets 1\n5 g",                             // cut short
                          "ferry-stream-offsets 1\n5\n", "ferry-stream-offsets 1\nx g\n",
                          "ferry-stream-offsets 1\n-1 g\n", "ferry-stream-offsets 1\n5 \n",
                          "ferry-stream-offsets 1\n5 a b\n", "ferry-stream-offsets 1\n5 a%2\n",
                          "ferry-stream-offsets 1\n5 a%zz\n", "ferry-stream-offsets 1\n5 g\n6 g\n",
                          "ferry-stream-offsets 1\n99999999999999999999 g\n"}) {
    auto r = decode_group_offsets(bad);
    EXPECT_FALSE(r.ok()) << bad;
    if (!r.ok()) {
      EXPECT_EQ(r.error().message, "corrupt group offsets") << bad;
    }
  }
}

TEST(GroupOffsetFile, MissingFileIsNoGroups) {
  testing::TempDir dir;
  GroupOffsetFile f(store::Env::posix(), dir.path());
  auto t = f.load();
  ASSERT_TRUE(t.ok()) << t.error().text();
  EXPECT_TRUE(t->empty());
}

TEST(GroupOffsetFile, WritesAreCoalescedAndEachDoneRunsAfterTheWrite) {
  testing::TempDir dir;
  FaultEnv env;
  GroupOffsetFile f(env, dir.path());
  std::vector<std::string> done;
  // The first submit arranges the write; later ones ride on it.
  EXPECT_TRUE(f.submit(encode_group_offsets({{"g", StreamOffset{1}}}), [&](const Status& s) {
    EXPECT_TRUE(s.ok());
    done.push_back("1");
  }));
  EXPECT_FALSE(f.submit(encode_group_offsets({{"g", StreamOffset{2}}}), [&](const Status& s) {
    EXPECT_TRUE(s.ok());
    done.push_back("2");
  }));
  EXPECT_TRUE(done.empty());
  f.write_pending();
  EXPECT_EQ(done, (std::vector<std::string>{"1", "2"}));
  // One write, of the newest table, synced before it replaced the file.
  int renames = 0;
  for (const auto& e : env.events()) renames += e.rfind("rename ", 0) == 0;
  EXPECT_EQ(renames, 1);
  EXPECT_EQ(env.unsynced_bytes(), 0u);
  auto t = GroupOffsetFile(store::Env::posix(), dir.path()).load();
  ASSERT_TRUE(t.ok()) << t.error().text();
  EXPECT_EQ(*t, (GroupOffsets{{"g", StreamOffset{2}}}));
  // Nothing queued now: the next submit arranges a write again.
  EXPECT_TRUE(f.submit(encode_group_offsets({{"g", StreamOffset{3}}}), nullptr));
}

TEST(GroupOffsetFile, AFailedWriteIsAnErrorAndKeepsTheOldTable) {
  testing::TempDir dir;
  FaultEnv env;
  GroupOffsetFile f(env, dir.path());
  ASSERT_TRUE(f.submit(encode_group_offsets({{"g", StreamOffset{7}}}), nullptr));
  f.write_pending();
  env.fail_syncs(EIO);
  std::optional<Status> result;
  ASSERT_TRUE(f.submit(encode_group_offsets({{"g", StreamOffset{9}}}), [&](const Status& s) { result = s; }));
  f.write_pending();
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->error().message, "cannot write group offsets");
  env.clear_faults();
  auto t = f.load();
  ASSERT_TRUE(t.ok()) << t.error().text();
  EXPECT_EQ(*t, (GroupOffsets{{"g", StreamOffset{7}}}));  // a RECEIPT was never promised for 9
}

TEST(GroupOffsetFile, CorruptFileIsAnErrorNamingIt) {
  testing::TempDir dir;
  std::ofstream(dir.path() + "/group-offsets") << "ferry-stream-offsets 1\n12 g\n13";
  auto t = GroupOffsetFile(store::Env::posix(), dir.path()).load();
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.error().message, "corrupt group offsets");
  EXPECT_NE(t.error().detail.find("group-offsets"), std::string::npos) << t.error().detail;
  EXPECT_NE(t.error().detail.find("line 3"), std::string::npos) << t.error().detail;
}

}  // namespace
}  // namespace ferry::stream
