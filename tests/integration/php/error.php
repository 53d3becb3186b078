<?php
// error.php PORT MODE : provoke an ERROR and report the StompException.
require __DIR__ . "/common.php";
[$_, $port, $mode] = $argv;
$res = ["exception" => null];
try {
    $s = connect_broker($port);
    if ($mode === "bad-destination") {
        $res["sent"] = $s->send("/nowhere/at-all", "x", ["receipt" => "e1"]);
        $res["error"] = $s->error();
    } elseif ($mode === "bad-destination-noreceipt") {
        $s->send("/nowhere/at-all", "x");
        $s->setReadTimeout(5);
        $res["read"] = $s->readFrame();
    }
} catch (StompException $e) {
    $res["exception"] = $e->getMessage();
    $res["details"] = $e->getDetails();
}
out($res);
