<?php
// worker.php PORT DEST IDLE_SECONDS [MAX] [WORK_MS] : a one-at-a-time worker
// with activemq.prefetchSize:1. Prints READY once subscribed. For each message:
// check that NO other frame is already waiting (window 1), "work" WORK_MS
// (default 2), then ack($frame). Exits after IDLE seconds without a message
// (or MAX messages).
require __DIR__ . "/common.php";
$port = $argv[1]; $dest = $argv[2]; $idle = (float)$argv[3]; $max = (int)($argv[4] ?? 0);
$work_ms = (int)($argv[5] ?? 2);
$s = connect_broker($port);
if (!$s->subscribe($dest, ["activemq.prefetchSize" => "1", "ack" => "client", "receipt" => "sub"])) {
    fwrite(STDERR, "subscribe failed: " . var_export($s->error(), true) . "\n");
    exit(2);
}
echo "READY\n";
fflush(STDOUT);
$bodies = []; $early = 0; $acked = 0; $redelivered = 0;
$sec = (int)floor($idle); $usec = (int)(($idle - $sec) * 1000000);
while (true) {
    $s->setReadTimeout($sec, $usec);
    $f = $s->readFrame();
    if (!$f) break;
    if ($f->command !== "MESSAGE") continue;
    $bodies[] = $f->body;
    if (($f->headers["redelivered"] ?? "") === "true") $redelivered++;
    // a second message must not have been pushed while this one is unacked
    $s->setReadTimeout(0, 50000);
    if ($s->hasFrame()) $early++;
    usleep($work_ms * 1000); // "work"
    // ack() waits for its RECEIPT as long as the read timeout: not the 50 ms
    // above, or a slow broker's late RECEIPT counts as an early frame next time.
    $s->setReadTimeout(10, 0);
    if ($s->ack($f, ["receipt" => "a" . count($bodies)])) $acked++;
    if ($max && count($bodies) >= $max) break;
}
out(["bodies" => $bodies, "early" => $early, "acked" => $acked, "redelivered" => $redelivered]);
