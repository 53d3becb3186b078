<?php
// durable_client.php PORT CONFIG_JSON : one durable-subscriber session of php-stomp.
// CONFIG: {"client_id": "c1"|null, "topic": "/topic/x", "sub": {headers}|null,
//          "read": N, "quiet": seconds, "unsub": {headers}|null}
// Connects (client-id in the CONNECT headers), subscribes with "sub" (+ a
// receipt), reads up to N frames (10 s each), acks each, then checks that
// nothing more arrives within "quiet" seconds, optionally UNSUBSCRIBEs with
// "unsub" (+ receipt) and disconnects. Prints one JSON line.
require __DIR__ . "/common.php";
$port = $argv[1];
$cfg = json_decode($argv[2], true);
$res = ["connected" => false, "subscribed" => null, "frames" => [], "extra" => null,
        "unsubscribed" => null, "error" => null];
try {
    $hdrs = [];
    if (!empty($cfg["client_id"])) $hdrs["client-id"] = $cfg["client_id"];
    $s = new Stomp("tcp://127.0.0.1:" . $port, null, null, $hdrs);
    $res["connected"] = true;
    if ($cfg["sub"] !== null) {
        $res["subscribed"] = $s->subscribe($cfg["topic"], $cfg["sub"] + ["receipt" => "sub-r"]);
        $s->setReadTimeout(10);
        $n = isset($cfg["read"]) ? (int)$cfg["read"] : 0;
        for ($i = 0; $i < $n; $i++) {
            $f = $s->readFrame();
            if (!$f) break;
            $res["frames"][] = frame_data($f);
            $s->ack($f, ["receipt" => "ack-r-" . $i]);
        }
        $quiet = isset($cfg["quiet"]) ? (float)$cfg["quiet"] : 0;
        if ($quiet > 0) {
            $s->setReadTimeout((int)$quiet, (int)(($quiet - (int)$quiet) * 1000000));
            $f = $s->readFrame();
            if ($f) $res["extra"] = frame_data($f);
        }
    }
    if (isset($cfg["unsub"]) && $cfg["unsub"] !== null) {
        $res["unsubscribed"] = $s->unsubscribe($cfg["topic"], $cfg["unsub"] + ["receipt" => "unsub-r"]);
    }
    unset($s);
} catch (StompException $e) {
    $res["error"] = $e->getMessage() . " | " . $e->getDetails();
}
out($res);
