<?php
// Shared helpers for the PHP integration scripts. Each script prints ONE line of
// JSON on stdout as its last line; the Python test asserts on it.
error_reporting(E_ALL);

function out($data) {
    echo json_encode($data, JSON_UNESCAPED_SLASHES), "\n";
}

function connect_broker($port) {
    $s = new Stomp("tcp://127.0.0.1:" . $port);
    return $s;
}

function frame_data($f) {
    return ["command" => $f->command, "headers" => $f->headers, "body" => $f->body];
}
