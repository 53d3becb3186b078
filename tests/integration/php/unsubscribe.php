<?php
// unsubscribe.php PORT DEST : subscribe, get one, unsubscribe (1.0 style, by
// destination) without acking; a second connection then receives it again.
require __DIR__ . "/common.php";
[$_, $port, $dest] = $argv;
$res = [];
$s = connect_broker($port);
$s->send($dest, "one", ["receipt" => "r"]);
$s->subscribe($dest, ["receipt" => "s"]);
$s->setReadTimeout(5);
$f = $s->readFrame();
$res["got"] = $f ? $f->body : null;
$res["unsubscribed"] = $s->unsubscribe($dest, ["receipt" => "u"]);
$t = connect_broker($port);
$t->subscribe($dest, ["receipt" => "s2"]);
$t->setReadTimeout(5);
$g = $t->readFrame();
$res["again"] = $g ? frame_data($g) : null;
if ($g) $t->ack($g);
out($res);
