<?php
// produce.php PORT DEST N [PREFIX] : send N messages, each with a receipt.
require __DIR__ . "/common.php";
$port = $argv[1]; $dest = $argv[2]; $n = (int)$argv[3]; $prefix = $argv[4] ?? "msg";
$s = connect_broker($port);
$ok = 0;
for ($i = 0; $i < $n; $i++) {
    if ($s->send($dest, "$prefix-$i", ["receipt" => "p$i"])) $ok++;
}
out(["sent" => $ok]);
