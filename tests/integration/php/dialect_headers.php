<?php
// dialect_headers.php PORT DEST MODE : RabbitMQ/ActiveMQ headers as their
// users write them from PHP.
//   send BODY HEADERS_JSON : one SEND with those headers (and a receipt).
//   consume SUB_HEADERS_JSON [N] : subscribe with those headers (ack client),
//                          read until N frames or a 1 s silence, ack each;
//                          report bodies and the headers of each.
//   exclusive N          : subscribe with activemq.exclusive:true, send N
//                          messages, read them back (report the bodies).
require __DIR__ . "/common.php";
$port = $argv[1]; $dest = $argv[2]; $mode = $argv[3];
$res = ["exception" => null];

function read_bodies($s, $n) {
    $s->setReadTimeout(1);
    $bodies = []; $headers = [];
    while (count($bodies) < $n) {
        $f = $s->readFrame();
        if (!$f) break;
        $bodies[] = $f->body;
        $headers[] = $f->headers;
        $s->ack($f);
    }
    return [$bodies, $headers];
}

try {
    $s = connect_broker($port);
    if ($mode === "send") {
        $hdrs = json_decode($argv[5], true);
        $res["sent"] = $s->send($dest, $argv[4], $hdrs + ["receipt" => "p"]);
        $res["error"] = $s->error();
    } elseif ($mode === "consume") {
        $hdrs = json_decode($argv[4], true);
        $n = isset($argv[5]) ? (int)$argv[5] : 100;
        $s->subscribe($dest, $hdrs + ["ack" => "client", "receipt" => "s"]);
        [$res["bodies"], $res["headers"]] = read_bodies($s, $n);
    } elseif ($mode === "exclusive") {
        $n = (int)$argv[4];
        $s->subscribe($dest, ["activemq.exclusive" => "true", "ack" => "client", "receipt" => "s"]);
        for ($i = 0; $i < $n; $i++) $s->send($dest, "php-$i", ["receipt" => "p$i"]);
        [$res["bodies"], $res["headers"]] = read_bodies($s, $n);
    }
} catch (StompException $e) {
    $res["exception"] = $e->getMessage();
    $res["details"] = $e->getDetails();
}
out($res);
