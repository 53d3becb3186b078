#include "broker/message_selector.h"

#include <gtest/gtest.h>

#include <string>

namespace ferry::broker {
namespace {

MessageRef message(std::uint8_t priority, bool persistent) {
  MessageRef ref = make_message();
  Message* m = &ref.writable();
  m->id_text = "ID:ferry-1";
  m->destination = "/queue/work";
  m->priority = priority;
  m->persistent = persistent;
  m->headers = {{"type", "order"}, {"priority", "12"}};
  return ref;
}

bool selects_text(std::string_view text, const Message& m) {
  auto r = selector::Selector::parse(text);
  EXPECT_TRUE(r.ok()) << text;
  return r.ok() && broker::selects(r.value(), m);
}

TEST(MessageSelector, NullSelectorSelectsEverything) { EXPECT_TRUE(broker::selects(SelectorRef(), *message(4, false))); }

TEST(MessageSelector, FieldsWinOverTheSendsHeaders) {
  // The SEND said priority:12; the broker delivers it as 9.
  const MessageRef m = message(9, true);
  EXPECT_TRUE(selects_text("JMSPriority = 9", *m));
  EXPECT_TRUE(selects_text("JMSMessageID = 'ID:ferry-1'", *m));
  EXPECT_TRUE(selects_text("destination = '/queue/work'", *m));
  EXPECT_TRUE(selects_text("type = 'order'", *m));
  EXPECT_TRUE(selects_text("missing IS NULL", *m));
}

TEST(MessageSelector, PersistenceReadsTheFlag) {
  EXPECT_TRUE(selects_text("JMSDeliveryMode = 'PERSISTENT' AND persistent", *message(4, true)));
  EXPECT_TRUE(selects_text("JMSDeliveryMode = 'NON_PERSISTENT' AND persistent = false", *message(4, false)));
}

}  // namespace
}  // namespace ferry::broker
