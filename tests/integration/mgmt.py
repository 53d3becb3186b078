"""A small client of Ferry's management HTTP API for the integration tests
(urllib from the standard library: a real HTTP client over TCP)."""
from __future__ import annotations

import base64
import http.client
import json
import urllib.parse

GUEST = ("guest", "guest")


class Api:
    def __init__(self, broker, auth=GUEST):
        assert broker.http_port, "broker started without its HTTP listener"
        self.port = broker.http_port
        self.auth = auth

    def raw(self, method: str, path: str, body: bytes | str | None = None, headers=None,
            auth=True) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        h = dict(headers or {})
        if auth and self.auth is not None:
            token = base64.b64encode(("%s:%s" % self.auth).encode()).decode()
            h["Authorization"] = "Basic " + token
        if isinstance(body, str):
            body = body.encode()
        if body is not None:
            h.setdefault("Content-Type", "application/json")
        try:
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, data
        finally:
            conn.close()

    def call(self, method: str, path: str, body=None, expect: int | tuple = 200):
        if body is not None and not isinstance(body, (bytes, str)):
            body = json.dumps(body)
        status, headers, data = self.raw(method, path, body)
        expected = expect if isinstance(expect, tuple) else (expect,)
        assert status in expected, "%s %s: HTTP %d (expected %s): %r" % (method, path, status, expect, data)
        if not data:
            return None
        if headers.get("content-type", "").startswith("application/json"):
            return json.loads(data)
        return data

    def get(self, path, expect=200):
        return self.call("GET", path, expect=expect)

    # Paths of one queue in the default vhost.
    @staticmethod
    def q(name: str, vhost: str = "/") -> str:
        return "/api/queues/%s/%s" % (urllib.parse.quote(vhost, safe=""), urllib.parse.quote(name, safe=""))

    def queue(self, name, expect=200):
        return self.get(self.q(name), expect)

    def queues(self):
        return {q["name"]: q for q in self.get("/api/queues")}
