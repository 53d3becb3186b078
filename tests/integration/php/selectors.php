<?php
// selectors.php PORT DEST MODE : selectors as ActiveMQ users write them from PHP.
//   consume SELECTOR [N] : subscribe with `selector`, read until N frames or a
//                          1 s silence, ack each; report the bodies.
//   send BODY HEADERS_JSON : one SEND with those headers (and a receipt).
//   invalid SELECTOR     : subscribe with a selector that must be refused;
//                          report the StompException.
require __DIR__ . "/common.php";
$port = $argv[1]; $dest = $argv[2]; $mode = $argv[3];
$res = ["exception" => null];
try {
    $s = connect_broker($port);
    if ($mode === "send") {
        $hdrs = json_decode($argv[5], true);
        $res["sent"] = $s->send($dest, $argv[4], $hdrs + ["receipt" => "p"]);
    } elseif ($mode === "consume") {
        $n = isset($argv[5]) ? (int)$argv[5] : 100;
        $s->subscribe($dest, ["selector" => $argv[4], "ack" => "client", "receipt" => "s"]);
        $s->setReadTimeout(1);
        $bodies = [];
        while (count($bodies) < $n) {
            $f = $s->readFrame();
            if (!$f) break;
            $bodies[] = $f->body;
            $s->ack($f);
        }
        $res["bodies"] = $bodies;
    } elseif ($mode === "invalid") {
        $res["subscribed"] = $s->subscribe($dest, ["selector" => $argv[4], "receipt" => "s"]);
        $res["error"] = $s->error();
    }
} catch (StompException $e) {
    $res["exception"] = $e->getMessage();
    $res["details"] = $e->getDetails();
}
out($res);
