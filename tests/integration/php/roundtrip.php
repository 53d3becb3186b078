<?php
// roundtrip.php PORT DEST : send (with receipt + custom headers), subscribe,
// readFrame, ack($frame), then check the queue is empty on a new connection.
require __DIR__ . "/common.php";
[$_, $port, $dest] = $argv;
$res = [];
$s = connect_broker($port);
$res["session"] = $s->getSessionId();
$res["sent"] = $s->send($dest, "hello from php", ["receipt" => "php-r1", "x-php" => "yes",
                                                    "content-type" => "text/plain"]);
$res["subscribed"] = $s->subscribe($dest, ["receipt" => "php-r2", "activemq.prefetchSize" => "1"]);
$s->setReadTimeout(5);
$f = $s->readFrame();
$res["frame"] = $f ? frame_data($f) : null;
$res["acked"] = $f ? $s->ack($f, ["receipt" => "php-r3"]) : false;
unset($s);
$t = connect_broker($port);
$t->subscribe($dest, ["ack" => "auto"]);
$t->setReadTimeout(0, 400000);
$res["left"] = $t->hasFrame() ? frame_data($t->readFrame()) : null;
out($res);
