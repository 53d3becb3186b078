<?php
// consume.php PORT DEST N [HEADERS_JSON] : subscribe and read up to N frames (5 s each), ack each.
require __DIR__ . "/common.php";
$port = $argv[1]; $dest = $argv[2]; $n = (int)$argv[3];
$hdrs = isset($argv[4]) ? json_decode($argv[4], true) : [];
$s = connect_broker($port);
$s->subscribe($dest, $hdrs + ["receipt" => "s"]);
$s->setReadTimeout(5);
$frames = [];
for ($i = 0; $i < $n; $i++) {
    $f = $s->readFrame();
    if (!$f) break;
    $frames[] = frame_data($f);
    $s->ack($f);
}
out(["frames" => $frames]);
