<?php
// url_roundtrip.php URL DEST [N] : connect to URL (tcp://... or ssl://...),
// send N messages (receipts), subscribe, read N frames (ack auto). The
// connection error, if any, is reported as "error".
require __DIR__ . "/common.php";
$url = $argv[1]; $dest = $argv[2]; $n = (int)($argv[3] ?? 1);
$res = ["error" => null, "sent" => 0, "bodies" => []];
try {
    $s = new Stomp($url);
    for ($i = 0; $i < $n; $i++) {
        if ($s->send($dest, "php-$i", ["receipt" => "r$i"])) $res["sent"]++;
    }
    $s->subscribe($dest, ["ack" => "auto", "receipt" => "s"]);
    $s->setReadTimeout(5);
    for ($i = 0; $i < $n; $i++) {
        $f = $s->readFrame();
        if (!$f) break;
        $res["bodies"][] = $f->body;
    }
} catch (StompException $e) {
    $res["error"] = $e->getMessage();
}
out($res);
