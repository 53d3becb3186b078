"""ActiveMQ's virtual topics with its default naming (docs/dialects.md,
"Virtual topics"): a SEND to /topic/VirtualTopic.X also goes to every queue
/queue/Consumer.<NAME>.VirtualTopic.X that has been subscribed to; consumers
sharing NAME share the messages as a queue's, each NAME gets every message.
Raw frames, stomp.py and a restart."""
from __future__ import annotations

from support import QUIET, client, py_connect, py_rid, restart, unique


def test_each_consumer_group_gets_every_message_and_shares_it(broker):
    x = unique("Orders")
    a1, a2, b = client(broker.port), client(broker.port), client(broker.port)
    a1.subscribe("/queue/Consumer.A.VirtualTopic.%s" % x, "a", headers={"activemq.prefetchSize": "1"}, ack="client")
    a2.subscribe("/queue/Consumer.A.VirtualTopic.%s" % x, "a", headers={"activemq.prefetchSize": "1"}, ack="client")
    b.subscribe("/queue/Consumer.B.VirtualTopic.%s" % x, "b")
    plain = client(broker.port)
    plain.subscribe("/topic/VirtualTopic.%s" % x, "t")
    p = client(broker.port)
    p.send("/topic/VirtualTopic.%s" % x, "one")
    p.send("/topic/VirtualTopic.%s" % x, "two")
    # Group A shares them: two messages between its two consumers.
    m1 = a1.read_message()
    m2 = a2.read_message()
    assert sorted([m1.body, m2.body]) == [b"one", b"two"]
    a1.ack(m1)
    a2.ack(m2)
    # Group B gets both; the topic's own subscriber too.
    assert [m.body for m in b.read_messages(2)] == [b"one", b"two"]
    assert [m.body for m in plain.read_messages(2)] == [b"one", b"two"]
    for c in (a1, a2, b, plain):
        c.assert_no_frame(QUIET)


def test_the_consumer_queue_keeps_messages_while_no_one_reads_it(broker):
    x = unique("Jobs")
    q = "/queue/Consumer.Workers.VirtualTopic.%s" % x
    c = client(broker.port)
    c.subscribe(q, "w")
    c.unsubscribe("w")
    client(broker.port).send("/topic/VirtualTopic.%s" % x, "waiting")
    later = client(broker.port)
    later.subscribe(q, "w")
    assert later.read_message().body == b"waiting"


def test_other_queue_names_are_not_consumer_queues(broker):
    x = unique("T")
    c = client(broker.port)
    for q in ("Consumer.VirtualTopic.%s" % x, "Consumer.A.B.VirtualTopic.%s" % x, "VirtualTopic.%s" % x):
        c.subscribe("/queue/" + q, q)
    client(broker.port).send("/topic/VirtualTopic.%s" % x, "not for queues")
    c.assert_no_frame(QUIET)


def test_stomp_py_consumer_queue(broker):
    x = unique("Py")
    conn, lst = py_connect(broker.port)
    rid = py_rid()
    conn.subscribe("/queue/Consumer.py.VirtualTopic.%s" % x, id="v", headers={"receipt": rid})
    lst.wait_receipt(rid)
    client(broker.port).send("/topic/VirtualTopic.%s" % x, "hello")
    m = lst.get()
    assert m.body == "hello"
    conn.disconnect()


def test_a_consumer_queue_still_gets_the_topic_after_a_restart(broker_factory, tmp_path):
    b = broker_factory(data_dir=str(tmp_path / "data"))
    x = unique("Durable")
    q = "/queue/Consumer.A.VirtualTopic.%s" % x
    c = client(b.port)
    c.subscribe(q, "a")
    c.disconnect()
    b2 = restart(broker_factory, b)
    client(b2.port).send("/topic/VirtualTopic.%s" % x, "after restart", headers={"persistent": "true"})
    r = client(b2.port)
    r.subscribe(q, "a")
    assert r.read_message().body == b"after restart"
