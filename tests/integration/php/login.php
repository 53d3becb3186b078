<?php
// login.php PORT LOGIN PASSCODE DEST : connect with login/passcode, send one
// message with a receipt and read it back; report what happened.
require __DIR__ . "/common.php";
[$_, $port, $login, $passcode, $dest] = $argv;
$res = ["connected" => false, "sent" => null, "body" => null, "exception" => null];
try {
    $s = new Stomp("tcp://127.0.0.1:" . $port, $login, $passcode);
    $res["connected"] = true;
    $res["sent"] = $s->send($dest, "from php as " . $login, ["receipt" => "p1"]);
    $s->subscribe($dest, ["ack" => "client", "receipt" => "p2"]);
    $s->setReadTimeout(5);
    $f = $s->readFrame();
    if ($f) {
        $res["body"] = $f->body;
        $s->ack($f);
    }
} catch (StompException $e) {
    $res["exception"] = $e->getMessage();
    $res["details"] = $e->getDetails();
}
out($res);
