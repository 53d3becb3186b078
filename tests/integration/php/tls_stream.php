<?php
// tls_stream.php PORT DEST CAFILE [CERT KEY] : STOMP 1.2 by hand over PHP's
// own TLS streams (stream_socket_client("tls://...")), verifying the server
// against CAFILE and presenting CERT/KEY if given: CONNECT, SEND (receipt),
// SUBSCRIBE, read the MESSAGE. (Debian's php-stomp is built without SSL.)
require __DIR__ . "/common.php";
[$_, $port, $dest, $ca] = $argv;
$ssl = ["cafile" => $ca, "verify_peer" => true, "verify_peer_name" => true, "peer_name" => "localhost"];
if (isset($argv[5])) { $ssl["local_cert"] = $argv[4]; $ssl["local_pk"] = $argv[5]; }
$ctx = stream_context_create(["ssl" => $ssl]);
$res = ["error" => null, "frames" => []];
$s = @stream_socket_client("tls://127.0.0.1:$port", $errno, $errstr, 5, STREAM_CLIENT_CONNECT, $ctx);
if (!$s) { $res["error"] = "connect: $errstr"; out($res); exit(0); }
stream_set_timeout($s, 5);
function send_frame($s, $cmd, $headers, $body = "") {
    $f = "$cmd\n";
    foreach ($headers as $k => $v) $f .= "$k:$v\n";
    fwrite($s, $f . "\n" . $body . "\0");
}
function read_frame($s) {
    $buf = "";
    while (true) {
        $c = fread($s, 1);
        if ($c === false || $c === "") return null;
        if ($c === "\n" && $buf === "") continue;  // heart-beat
        if ($c === "\0") break;
        $buf .= $c;
    }
    [$head, $body] = array_pad(explode("\n\n", $buf, 2), 2, "");
    $lines = explode("\n", $head);
    return ["command" => array_shift($lines), "body" => $body];
}
send_frame($s, "CONNECT", ["accept-version" => "1.2", "host" => "/"]);
$res["frames"][] = read_frame($s);
send_frame($s, "SEND", ["destination" => $dest, "receipt" => "r1"], "php over tls");
$res["frames"][] = read_frame($s);
send_frame($s, "SUBSCRIBE", ["destination" => $dest, "id" => "1", "ack" => "auto"]);
$res["frames"][] = read_frame($s);
out($res);
