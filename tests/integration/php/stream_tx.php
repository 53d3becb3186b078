<?php
// stream_tx.php PORT DEST : to a stream, begin/send x2/abort, then
// begin/send x3/commit (docs/streams.md "Transactions").
require __DIR__ . "/common.php";
[$_, $port, $dest] = $argv;
$res = [];
$p = connect_broker($port);
$p->begin("tx1", ["receipt" => "b1"]);
$p->send($dest, "aborted-0", ["transaction" => "tx1"]);
$p->send($dest, "aborted-1", ["transaction" => "tx1"]);
$res["abort1"] = $p->abort("tx1", ["receipt" => "x1"]);
$p->begin("tx2", ["receipt" => "b2"]);
for ($i = 0; $i < 3; $i++) $p->send($dest, "committed-$i", ["transaction" => "tx2"]);
$res["commit2"] = $p->commit("tx2", ["receipt" => "c2"]);
out($res);
