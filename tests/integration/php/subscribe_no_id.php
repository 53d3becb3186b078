<?php
// subscribe_no_id.php PORT DEST VERSION : what stomp-php does -- CONNECT with
// accept-version VERSION, subscribe($destination) with no id, read, ack($frame),
// unsubscribe($destination) -- then a second connection checks the queue is empty.
require __DIR__ . "/common.php";
[$_, $port, $dest, $version] = $argv;
$res = ["exception" => null];
try {
    $s = new Stomp("tcp://127.0.0.1:" . $port, "", "", ["accept-version" => $version]);
    $s->send($dest, "no id", ["receipt" => "r1"]);
    $res["subscribed"] = $s->subscribe($dest, ["receipt" => "r2", "ack" => "client"]);
    $s->setReadTimeout(5);
    $f = $s->readFrame();
    $res["frame"] = $f ? frame_data($f) : null;
    $res["acked"] = $f ? $s->ack($f, ["receipt" => "r3"]) : false;
    $res["unsubscribed"] = $s->unsubscribe($dest, ["receipt" => "r4"]);
    unset($s);
    $t = connect_broker($port);
    $t->subscribe($dest, ["ack" => "auto"]);
    $t->setReadTimeout(0, 400000);
    $res["left"] = $t->hasFrame() ? frame_data($t->readFrame()) : null;
} catch (StompException $e) {
    $res["exception"] = $e->getMessage();
    $res["details"] = $e->getDetails();
}
out($res);
