<?php
// request_reply.php PORT SERVICE_QUEUE : a PHP front end's request/reply over
// a temporary reply queue, as with RabbitMQ: SEND the request with
// reply-to:/temp-queue/reply (the broker subscribes this connection to its
// private reply queue), then read the reply.
require __DIR__ . "/common.php";
[$_, $port, $service] = $argv;
$s = connect_broker($port);
$res = [];
$res["sent"] = $s->send($service, "what time is it?", ["reply-to" => "/temp-queue/reply",
                                                       "correlation-id" => "php-1", "receipt" => "req-1"]);
$s->setReadTimeout(10);
$f = $s->readFrame();
$res["reply"] = $f ? frame_data($f) : null;
out($res);
