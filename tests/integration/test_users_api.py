"""Users, vhosts and permissions through the management API
(docs/management.md): an administrator creates a user over HTTP and a real
STOMP client then logs in with it and is held to its grants; edits are saved
to the users file (read back with `ferry user list`), applied at once, and
close the connections they revoke; `ferry user` edits made while the broker
runs are applied within seconds; the management tags decide what a user may
do over HTTP; bad input gets 400/404 and changes nothing."""
from __future__ import annotations

import json
import re
import threading
import time
import tomllib

import pytest

from mgmt import Api
from support import RawClient, client, run_ferry, unique

COST = "1000"  # PBKDF2 iterations for CLI-made users: the minimum, quick tests
ADMIN = ("root", "r00t")


def ferry_ok(*args):
    r = run_ferry(*args)
    assert r.returncode == 0, "ferry %s failed: %s" % (" ".join(args), r.stderr.decode())
    return r.stdout.decode()


@pytest.fixture
def users_file(tmp_path):
    """vhosts / and shop; root: administrator with everything in /; ops:
    management with everything in /; watch: monitoring (no grants); guest as
    built in."""
    path = str(tmp_path / "users.toml")
    ferry_ok("vhost", "add", "shop", "--users-file", path)
    for name, pw, tags in (("root", "r00t", "administrator"), ("ops", "0ps", "management"),
                           ("watch", "eyes", "monitoring")):
        ferry_ok("user", "add", name, "--password", pw, "--tags", tags, "--iterations", COST,
                 "--users-file", path)
    for name in ("root", "ops"):
        ferry_ok("user", "set-permissions", name, "--vhost", "/", "--configure", ".*", "--write", ".*",
                 "--read", ".*", "--users-file", path)
    return path


def login(port: int, user: str, passcode: str, host: str = "/"):
    """CONNECT with login/passcode; (client, CONNECTED or ERROR frame)."""
    c = RawClient(port)
    c.send_frame("CONNECT", [("accept-version", "1.2"), ("host", host), ("login", user), ("passcode", passcode)])
    c.version = "1.2"
    f = c.read_frame(5.0)
    if f.command == "CONNECTED":
        c.connected = f
    return c, f


def wait_for(predicate, timeout=8.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def cli_users(path: str) -> str:
    return ferry_ok("user", "list", "--users-file", path)


# ------------------------------------------------------------------ users

def test_without_a_users_file_the_api_lists_guest_and_refuses_changes(broker):
    api = Api(broker)
    assert api.get("/api/users") == [{"name": "guest", "tags": ["administrator"]}]
    assert [v["name"] for v in api.get("/api/vhosts")] == ["/"]
    assert api.get("/api/permissions") == [
        {"user": "guest", "vhost": "/", "configure": ".*", "write": ".*", "read": ".*"}]
    assert api.get("/api/whoami") == {"name": "guest", "tags": ["administrator"], "role": "administrator"}
    status, _, body = api.raw("PUT", "/api/users/bob", body=json.dumps({"password": "x"}))
    assert status == 409 and json.loads(body)["error"] == "no_users_file"
    assert "users-file" in json.loads(body)["reason"]


def test_a_user_made_over_http_logs_in_over_stomp_and_is_held_to_its_grants(broker_factory, users_file):
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    api = Api(b, auth=ADMIN)
    api.call("PUT", "/api/users/dora", {"password": "expl0re", "tags": "monitoring"}, expect=201)
    assert api.get("/api/users/dora") == {"name": "dora", "tags": ["monitoring"]}
    # No grant in any vhost yet: the login is refused for the vhost.
    c, f = login(b.port, "dora", "expl0re", host="shop")
    assert f.command == "ERROR" and "vhost" in f.get("message", ""), f
    c.close()
    api.call("PUT", "/api/permissions/shop/dora", {"configure": "^/queue/dora-", "write": "^/queue/dora-",
                                                   "read": "^/queue/dora-"}, expect=201)
    assert api.get("/api/users/dora/permissions") == [
        {"user": "dora", "vhost": "shop", "configure": "^/queue/dora-", "write": "^/queue/dora-",
         "read": "^/queue/dora-"}]
    c, f = login(b.port, "dora", "expl0re", host="shop")
    assert f.command == "CONNECTED", f
    c.send("/queue/dora-inbox", "hello")  # receipted
    err = c.expect_error("SEND", [("destination", "/queue/elsewhere")])
    assert "write permission" in err.get("message", ""), err
    # Saved: the CLI reads the new user and grant from the file.
    listed = cli_users(users_file)
    assert "dora [monitoring]" in listed and "vhost shop: configure '^/queue/dora-'" in listed
    # A wrong password is refused like any other.
    c, f = login(b.port, "dora", "wrong", host="shop")
    assert f.command == "ERROR"
    c.close()


def test_a_user_can_be_made_from_a_password_hash(broker_factory, users_file, tmp_path):
    """PUT with password_hash (RabbitMQ's field; Ferry's pbkdf2 form, here
    made by `ferry user add` in another file): no password in clear."""
    other = str(tmp_path / "other.toml")
    ferry_ok("user", "add", "hal", "--password", "op3n-the-pod", "--iterations", COST, "--users-file", other)
    with open(other, "rb") as f:
        digest = tomllib.load(f)["users"]["hal"]["password-hash"]
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    api = Api(b, auth=ADMIN)
    api.call("PUT", "/api/users/hal", {"password_hash": digest, "tags": "monitoring"}, expect=201)
    assert Api(b, auth=("hal", "op3n-the-pod")).get("/api/whoami")["name"] == "hal"
    for body in ({"password_hash": "md5$abc"}, {"password_hash": digest, "password": "x"}):
        status, _, data = api.raw("PUT", "/api/users/hal2", body=json.dumps(body))
        assert status == 400 and json.loads(data)["error"] == "bad_request", data


def test_put_on_an_existing_user_changes_tags_and_password(broker_factory, users_file):
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    root = Api(b, auth=ADMIN)
    # ops may not list users (management, not administrator) ...
    assert Api(b, auth=("ops", "0ps")).raw("GET", "/api/users")[0] == 403
    # ... until it is made an administrator; its password stays.
    root.call("PUT", "/api/users/ops", {"tags": ["administrator", "management"]}, expect=204)
    assert Api(b, auth=("ops", "0ps")).get("/api/users")  # the remembered login saw the change
    root.call("PUT", "/api/users/ops", {"password": "n3w"}, expect=204)
    assert Api(b, auth=("ops", "0ps")).raw("GET", "/api/overview")[0] == 401
    assert Api(b, auth=("ops", "n3w")).get("/api/whoami")["tags"] == ["administrator", "management"]


def test_deleting_a_user_closes_its_connections_and_refuses_it(broker_factory, users_file):
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    api = Api(b, auth=ADMIN)
    api.call("PUT", "/api/users/eve", {"password": "pw", "tags": ""}, expect=201)
    api.call("PUT", "/api/permissions/%2F/eve", {"configure": ".*", "write": ".*", "read": ".*"}, expect=201)
    c, f = login(b.port, "eve", "pw")
    assert f.command == "CONNECTED", f
    bystander = client(b.port)  # guest: not touched
    api.call("DELETE", "/api/users/eve", expect=204)
    c.read_until_closed()
    bystander.send("/queue/" + unique(), "still here")
    c2, f = login(b.port, "eve", "pw")
    assert f.command == "ERROR"
    c2.close()
    assert "eve" not in cli_users(users_file)
    status, _, body = api.raw("DELETE", "/api/users/eve")
    assert status == 404 and json.loads(body)["error"] == "not_found"


def test_clearing_a_grant_closes_the_users_connections_in_that_vhost(broker_factory, users_file):
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    api = Api(b, auth=ADMIN)
    api.call("PUT", "/api/users/fin", {"password": "pw"}, expect=201)
    for vhost in ("%2F", "shop"):
        api.call("PUT", "/api/permissions/%s/fin" % vhost, {"configure": ".*", "write": ".*", "read": ".*"},
                 expect=201)
    in_root, f1 = login(b.port, "fin", "pw", host="/")
    in_shop, f2 = login(b.port, "fin", "pw", host="shop")
    assert f1.command == f2.command == "CONNECTED"
    api.call("DELETE", "/api/permissions/shop/fin", expect=204)
    in_shop.read_until_closed()
    in_root.send("/queue/" + unique(), "the grant in / stays")
    assert api.get("/api/permissions/%2F/fin")["write"] == ".*"
    assert api.raw("GET", "/api/permissions/shop/fin")[0] == 404
    assert api.raw("DELETE", "/api/permissions/shop/fin")[0] == 404


# ------------------------------------------------------------------ vhosts

def test_vhosts_are_created_and_deleted(broker_factory, users_file):
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    api = Api(b, auth=ADMIN)
    api.call("PUT", "/api/vhosts/lab", expect=201)
    api.call("PUT", "/api/vhosts/lab", expect=204)
    assert "lab" in [v["name"] for v in api.get("/api/vhosts")]
    assert api.get("/api/vhosts/lab")["name"] == "lab"
    api.call("PUT", "/api/permissions/lab/root", {"configure": ".*", "write": ".*", "read": ".*"}, expect=201)
    c, f = login(b.port, "root", "r00t", host="lab")
    assert f.command == "CONNECTED", f
    api.call("DELETE", "/api/vhosts/lab", expect=204)
    c.read_until_closed()  # its connections go with it
    assert "lab" not in [v["name"] for v in api.get("/api/vhosts")]
    assert api.raw("GET", "/api/vhosts/lab")[0] == 404
    assert api.raw("GET", "/api/permissions/lab/root")[0] == 404
    assert "lab" not in ferry_ok("vhost", "list", "--users-file", users_file).split()
    # The default vhost stays.
    status, _, body = api.raw("DELETE", "/api/vhosts/%2F")
    assert status == 400 and "default-vhost" in json.loads(body)["reason"]
    assert "/" in [v["name"] for v in api.get("/api/vhosts")]


# ------------------------------------------------------------------ who may

def test_tags_decide_what_a_management_user_may_do(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    q = unique("tags")
    c = client(b.port)
    c.send("/queue/" + q, "one")
    watch, ops, root = Api(b, auth=("watch", "eyes")), Api(b, auth=("ops", "0ps")), Api(b, auth=ADMIN)
    assert watch.get("/api/whoami") == {"name": "watch", "tags": ["monitoring"], "role": "monitoring"}
    assert watch.queue(q)["depth"] == 1
    # monitoring reads only.
    status, _, body = watch.raw("DELETE", Api.q(q) + "/contents")
    assert status == 403 and json.loads(body)["error"] == "access_refused"
    assert "management" in json.loads(body)["reason"]
    assert watch.queue(q)["depth"] == 1
    assert watch.raw("PUT", Api.q(unique("new")))[0] == 403
    # management changes destinations, but not users.
    assert ops.call("DELETE", Api.q(q) + "/contents") == {"purged": 1}
    assert ops.queue(q)["depth"] == 0
    for method, path, body in (("GET", "/api/users", None), ("PUT", "/api/users/x", {"password": "y"}),
                               ("GET", "/api/permissions", None), ("PUT", "/api/vhosts/v", None)):
        status, _, data = ops.raw(method, path, body=json.dumps(body) if body else None)
        assert status == 403 and "administrator" in json.loads(data)["reason"], (method, path)
    assert "x" not in cli_users(users_file).split()
    # Every management user may list the vhosts (the console's choices).
    assert "shop" in [v["name"] for v in watch.get("/api/vhosts")]
    assert len(root.get("/api/users")) == 4


def test_a_management_user_sees_only_the_vhosts_it_has_permissions_in(broker_factory, users_file):
    """As in RabbitMQ: `management` sees its vhosts; `monitoring` and
    `administrator` see all."""
    ferry_ok("user", "set-permissions", "root", "--vhost", "shop", "--configure", ".*", "--write", ".*",
             "--read", ".*", "--users-file", users_file)
    b = broker_factory(users_file=users_file, login_failure_delay=0)
    mine, theirs = unique("mine"), unique("theirs")
    c = client(b.port)
    c.send("/queue/" + mine, "1")
    c.subscribe("/topic/" + mine, "t1")
    s, f = login(b.port, "root", "r00t", host="shop")
    assert f.command == "CONNECTED", f
    s.send("/queue/" + theirs, "2")
    s.subscribe("/topic/" + theirs, "t2")
    ops, watch = Api(b, auth=("ops", "0ps")), Api(b, auth=("watch", "eyes"))

    def names(api, path, key="name"):
        return {x[key] for x in api.get(path)}
    assert mine in names(ops, "/api/queues") and theirs not in names(ops, "/api/queues")
    assert {mine, theirs} <= names(watch, "/api/queues")
    assert theirs not in names(ops, "/api/topics") and theirs in names(watch, "/api/topics")
    assert names(ops, "/api/vhosts") == {"/"} and names(watch, "/api/vhosts") == {"/", "shop"}
    assert names(ops, "/api/connections", "vhost") == {"/"}
    assert names(watch, "/api/connections", "vhost") == {"/", "shop"}
    assert names(ops, "/api/subscriptions", "vhost") == {"/"}
    for method, path in (("GET", "/api/queues/shop"), ("GET", "/api/queues/shop/" + theirs),
                         ("DELETE", "/api/queues/shop/%s/contents" % theirs)):
        status, _, body = ops.raw(method, path)
        assert status == 403 and "shop" in json.loads(body)["reason"], (method, path, status)
    assert watch.get("/api/queues/shop/" + theirs)["depth"] == 1
    # A connection in another vhost is not found, not closed.
    shop_conn = [x for x in watch.get("/api/connections") if x["vhost"] == "shop"][0]["id"]
    assert ops.raw("GET", "/api/connections/" + shop_conn)[0] == 404
    assert ops.raw("DELETE", "/api/connections/" + shop_conn)[0] == 404
    s.send("/queue/" + theirs, "still connected")


# ------------------------------------------------------------------ the file

def test_cli_edits_reach_a_running_broker(broker_factory, users_file):
    # The polling logins fail until the file is read: no per-address limit.
    b = broker_factory(users_file=users_file, login_failure_delay=0, max_login_failures=0)
    c, f = login(b.port, "gus", "pw")
    assert f.command == "ERROR"
    c.close()
    ferry_ok("user", "add", "gus", "--password", "pw", "--iterations", COST, "--users-file", users_file)
    ferry_ok("user", "set-permissions", "gus", "--vhost", "/", "--configure", ".*", "--write", ".*",
             "--read", ".*", "--users-file", users_file)

    def gus_gets_in():
        c, f = login(b.port, "gus", "pw")
        c.close()
        return f.command == "CONNECTED"
    wait_for(gus_gets_in, what="the broker to read the edited users file")
    ferry_ok("user", "set-tags", "gus", "--tags", "monitoring", "--users-file", users_file)
    wait_for(lambda: Api(b, auth=("gus", "pw")).raw("GET", "/api/whoami")[0] == 200,
             what="gus's new tag")
    ferry_ok("user", "change-password", "gus", "--password", "pw2", "--iterations", COST,
             "--users-file", users_file)
    wait_for(lambda: Api(b, auth=("gus", "pw2")).raw("GET", "/api/whoami")[0] == 200,
             what="gus's new password")
    assert Api(b, auth=("gus", "pw")).raw("GET", "/api/whoami")[0] == 401


def test_a_broken_users_file_is_ignored_until_mended(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    good = open(users_file).read()
    with open(users_file, "w") as f:
        f.write("users = [not toml")
    time.sleep(2.5)  # two looks at the file
    assert "cannot be read" in b.tail(200)
    assert Api(b, auth=ADMIN).get("/api/whoami")["name"] == "root"  # the users read before
    with open(users_file, "w") as f:
        f.write(good)
    wait_for(lambda: "users file %s changed" % users_file in b.tail(200), what="the mended file")


def test_concurrent_cli_and_api_edits_lose_nothing(broker_factory, users_file):
    b = broker_factory(users_file=users_file)
    api = Api(b, auth=ADMIN)
    errors = []

    def over_http(i):
        try:
            api.call("PUT", "/api/users/web%d" % i, {"password": "pw"}, expect=201)
        except AssertionError as e:
            errors.append(e)

    def by_cli(i):
        r = run_ferry("user", "add", "cli%d" % i, "--password", "pw", "--iterations", COST,
                      "--users-file", users_file)
        if r.returncode != 0:
            errors.append(r.stderr)

    threads = [threading.Thread(target=f, args=(i,)) for i in range(6) for f in (over_http, by_cli)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    names = set(re.findall(r"^(\S+)", cli_users(users_file), re.M))
    assert {"web%d" % i for i in range(6)} | {"cli%d" % i for i in range(6)} <= names
    wait_for(lambda: {"cli%d" % i for i in range(6)} <= {u["name"] for u in api.get("/api/users")},
             what="the CLI's users in the API")


# ------------------------------------------------------------------ bad input

@pytest.mark.parametrize("method,path,body,status,error", [
    ("PUT", "/api/users/new1", "not json", 400, "bad_request"),
    ("PUT", "/api/users/new1", "[1]", 400, "bad_request"),
    ("PUT", "/api/users/new1", '{"tags": "x"}', 400, "bad_request"),          # a new user needs a password
    ("PUT", "/api/users/new1", '{"password": 5}', 400, "bad_request"),
    ("PUT", "/api/users/new1", '{"password": "p", "tags": {"a": 1}}', 400, "bad_request"),
    ("PUT", "/api/users/a%01b", '{"password": "p"}', 400, "bad_request"),    # control character
    ("PUT", "/api/permissions/%2F/nobody", '{"configure":"","write":"","read":""}', 404, "not_found"),
    ("PUT", "/api/permissions/novhost/root", '{"configure":"","write":"","read":""}', 404, "not_found"),
    ("PUT", "/api/permissions/%2F/ops", '{"configure":"(","write":"","read":""}', 400, "bad_request"),
    ("PUT", "/api/permissions/%2F/ops", '{"configure":".*","write":".*"}', 400, "bad_request"),
    ("GET", "/api/users/nobody", None, 404, "not_found"),
    ("DELETE", "/api/vhosts/novhost", None, 404, "not_found"),
])
def test_bad_edits_are_refused_and_change_nothing(broker_factory, users_file, method, path, body, status, error):
    b = broker_factory(users_file=users_file)
    before = open(users_file).read()
    api = Api(b, auth=ADMIN)
    got, _, data = api.raw(method, path, body=body)
    assert got == status, (got, data)
    reply = json.loads(data)
    assert reply["error"] == error and reply["reason"], reply
    assert open(users_file).read() == before
