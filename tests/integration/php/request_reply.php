<?php
// request_reply.php PORT SERVICE_QUEUE [REPLY_TO] : a PHP front end's
// request/reply over a temporary reply queue, as with RabbitMQ: SEND the
// request with reply-to:/temp-queue/reply (the broker subscribes this
// connection to its private reply queue), then read the reply. REPLY_TO:
// another temporary destination (ActiveMQ's /temp-topic/reply).
require __DIR__ . "/common.php";
[$_, $port, $service] = $argv;
$reply_to = $argv[3] ?? "/temp-queue/reply";
$s = connect_broker($port);
$res = [];
$res["sent"] = $s->send($service, "what time is it?", ["reply-to" => $reply_to,
                                                       "correlation-id" => "php-1", "receipt" => "req-1"]);
$s->setReadTimeout(10);
$f = $s->readFrame();
$res["reply"] = $f ? frame_data($f) : null;
out($res);
