<?php
// transactions.php PORT DEST : begin/send/abort, begin/send/commit, and an
// ack inside an aborted transaction (the message comes back).
require __DIR__ . "/common.php";
[$_, $port, $dest] = $argv;
$res = [];
$p = connect_broker($port);
$res["begin1"] = $p->begin("tx1", ["receipt" => "b1"]);
$p->send($dest, "aborted", ["transaction" => "tx1"]);
$res["abort1"] = $p->abort("tx1", ["receipt" => "x1"]);
$res["begin2"] = $p->begin("tx2", ["receipt" => "b2"]);
$p->send($dest, "committed", ["transaction" => "tx2"]);
$res["commit2"] = $p->commit("tx2", ["receipt" => "c2"]);

$c = connect_broker($port);
$c->subscribe($dest, ["activemq.prefetchSize" => "1", "receipt" => "s"]);
$c->setReadTimeout(5);
$f = $c->readFrame();
$res["first"] = $f ? $f->body : null;
$c->begin("tx3");
$c->ack($f, ["transaction" => "tx3"]);
$res["abort3"] = $c->abort("tx3", ["receipt" => "x3"]);
$g = $c->readFrame();   // the ack was undone: redelivered
$res["again"] = $g ? frame_data($g) : null;
$c->begin("tx4");
$c->ack($g, ["transaction" => "tx4"]);
$res["commit4"] = $c->commit("tx4", ["receipt" => "c4"]);
$c->setReadTimeout(0, 400000);
$res["extra"] = $c->hasFrame() ? frame_data($c->readFrame()) : null;
out($res);
