"""The HTTP bridge (``publisher``, ``caller``, ``webhook`` paths) on a real node, with curl,
the PyPI client ``crossbarhttp3`` (its own venv), openssl-signed webhooks and autobahn
subscribers and callees on the same node."""
from __future__ import annotations

import asyncio
import base64
import datetime
import hashlib
import hmac
import json
import random
import subprocess
from pathlib import Path
from typing import Any, Dict, List
from urllib.parse import urlencode

import pytest
from autobahn.wamp.exception import ApplicationError
from autobahn.wamp.types import CallResult

from conftest import free_port, router_config, start_node, tcp, wait_until
from httpkit import curl
from wampclient import connect, leave, run

JSON = ("-H", "Content-Type: application/json")
ROLES = [
    {"name": "anonymous", "permissions": [{"uri": "", "match": "prefix",
                                           "allow": {"call": True, "register": True, "publish": True,
                                                     "subscribe": True}}]},
    {"name": "bridge", "permissions": [{"uri": "com.allowed.", "match": "prefix",
                                        "allow": {"publish": True, "call": True}}]},
]


def bridge(kind: str, **options: Any) -> Dict[str, Any]:
    path: Dict[str, Any] = {"type": kind, "realm": "realm1", "role": "bridge"}
    if options:
        path["options"] = options
    return path


PATHS = {
    "ws": {"type": "websocket"},
    "publish": bridge("publisher"),
    "publish-debug": bridge("publisher", debug=True),
    "small": bridge("publisher", post_body_limit=100),
    "signed": bridge("publisher", key="foobar", secret="secret", timestamp_delta_limit=10,
                     require_ip=["192.168.1.1/255.255.255.0", "127.0.0.1"]),
    "signed-few": bridge("publisher", key="k", secret="s", max_nonces=2),
    "call": bridge("caller", call_timeout=2),
    "call-signed": bridge("caller", key="foobar", secret="secret"),
    "hook": bridge("webhook", topic="com.allowed.hook"),
    "hook-denied": bridge("webhook", topic="com.other.hook", success_response="yes", error_response="no way"),
    "github": bridge("webhook", topic="com.allowed.github", github_secret="gh-secret", success_response=""),
    "ip": bridge("publisher", require_ip=["10.0.0.0/8"]),
    "tls-only": bridge("publisher", require_tls=True),
    "cors": bridge("publisher", allowed_origins=["https://app.example"]),
}


@pytest.fixture(scope="module")
def node(tmp_path_factory):
    port = free_port()
    config = router_config([{"type": "web", "endpoint": tcp(port), "paths": PATHS}],
                           realms=[{"name": "realm1", "roles": ROLES}])
    running = start_node(config, tmp_path_factory.mktemp("bridge") / "cb")
    running.port = port
    yield running
    running.stop()


async def until(predicate: Any, timeout: float = 10.0) -> None:
    """Poll ``predicate`` on the event loop (events arrive meanwhile)."""
    loop = asyncio.get_event_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def url(node: Any, path: str) -> str:
    return f"http://127.0.0.1:{node.port}/{path}"


def post(node: Any, path: str, body: Any, *args: str) -> Any:
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return curl(url(node, path), *JSON, *args, data=data)


def error_of(answer: Any) -> str:
    body = json.loads(answer.body)
    assert set(body) == {"error", "args", "kwargs"}, body
    assert answer.body.count(b"\n") <= 1  # one line
    return body["error"]


# --- publisher -----------------------------------------------------------------------


def test_publish_reaches_an_autobahn_subscriber(node):
    async def scenario():
        events: List[Any] = []
        got = asyncio.get_event_loop().create_future()
        sub = await connect(f"ws://127.0.0.1:{node.port}/ws")

        def on_event(*args, **kwargs):
            events.append((args, kwargs))
            if len(events) == 2 and not got.done():
                got.set_result(True)

        await sub.subscribe(on_event, "com.allowed.topic1")
        first = await asyncio.to_thread(post, node, "publish", {"topic": "com.allowed.topic1",
                                                                "args": ["Hello, world", 23], "kwargs": {"a": 1}})
        second = await asyncio.to_thread(post, node, "publish", {"topic": "com.allowed.topic1"})
        await asyncio.wait_for(got, 10)
        await leave(sub)
        return first, second, events

    first, second, events = run(scenario())
    assert first.status == 200 and second.status == 200
    assert first.headers["content-type"] == "application/json; charset=UTF-8"
    publication = json.loads(first.body)
    assert list(publication) == ["id"] and isinstance(publication["id"], int)
    assert events == [(("Hello, world", 23), {"a": 1}), ((), {})]


def test_denied_publish_is_an_http_error_naming_the_wamp_error(node):
    answer = post(node, "publish", {"topic": "com.other.topic", "args": [1]})
    assert answer.status == 403
    assert error_of(answer) == "wamp.error.not_authorized"
    assert "authrole 'bridge'" in json.loads(answer.body)["args"][0]
    answer = post(node, "publish", {"topic": "wamp.session.on_join"})
    assert answer.status == 400 and error_of(answer) == "wamp.error.invalid_uri"


def test_publish_options_exclude_and_eligible(node):
    async def scenario():
        a = await connect(f"ws://127.0.0.1:{node.port}/ws")
        b = await connect(f"ws://127.0.0.1:{node.port}/ws")
        seen: Dict[str, List[Any]] = {"a": [], "b": []}
        done = asyncio.get_event_loop().create_future()
        await a.subscribe(lambda x: seen["a"].append(x), "com.allowed.only")

        def on_b(x):
            seen["b"].append(x)
            if x == "last":
                done.set_result(True)

        await b.subscribe(on_b, "com.allowed.only")
        excluded = await asyncio.to_thread(post, node, "publish", {
            "topic": "com.allowed.only", "args": ["not for a"], "options": {"exclude": [a._session_id]}})
        await asyncio.to_thread(post, node, "publish", {"topic": "com.allowed.only", "args": ["last"],
                                                        "options": {"eligible": [b._session_id]}})
        await asyncio.wait_for(done, 10)
        bad = await asyncio.to_thread(post, node, "publish", {"topic": "com.allowed.only",
                                                              "options": {"exclude": "x"}})
        await leave(a, b)
        return excluded, bad, seen

    excluded, bad, seen = run(scenario())
    assert excluded.status == 200
    assert seen == {"a": [], "b": ["not for a", "last"]}
    assert bad.status == 400 and "exclude" in error_of(bad)


# --- caller --------------------------------------------------------------------------


def test_calls_answered_by_an_autobahn_callee(node):
    async def scenario():
        callee = await connect(f"ws://127.0.0.1:{node.port}/ws")
        await callee.register(lambda x, y: x + y, "com.allowed.add2")
        await callee.register(lambda name: CallResult(*name.split()), "com.allowed.split")
        await callee.register(lambda a, b: CallResult(c=a + b), "com.allowed.kw")
        await callee.register(lambda: None, "com.allowed.nothing")

        def reserved(name):
            raise ApplicationError("com.example.error.mixed_case", name.lower(), name.upper(), hint="lower")

        await callee.register(reserved, "com.allowed.check")
        answers = []
        for body in ({"procedure": "com.allowed.add2", "args": [2, 3]},
                     {"procedure": "com.allowed.split", "args": ["Homer Simpson"]},
                     {"procedure": "com.allowed.kw", "kwargs": {"a": 1, "b": 2}},
                     {"procedure": "com.allowed.nothing"},
                     {"procedure": "com.allowed.check", "args": ["MiXed"]},
                     {"procedure": "com.allowed.missing"},
                     {"procedure": "com.other.add2", "args": [1, 2]}):
            answers.append(await asyncio.to_thread(post, node, "call", body))
        await leave(callee)
        return answers

    add, split, kw, nothing, check, missing, denied = run(scenario())
    assert (add.status, json.loads(add.body)) == (200, {"args": [5]})
    assert json.loads(split.body) == {"args": ["Homer", "Simpson"]}
    assert json.loads(kw.body) == {"kwargs": {"c": 3}}
    assert json.loads(nothing.body) == {"args": [None]}
    # WAMP errors: 200 with {"error", "args", "kwargs"}, as Crossbar.io answers them
    assert (check.status, json.loads(check.body)) == (200, {"error": "com.example.error.mixed_case",
                                                            "args": ["mixed", "MIXED"], "kwargs": {"hint": "lower"}})
    assert missing.status == 200 and error_of(missing) == "wamp.error.no_such_procedure"
    assert denied.status == 200 and error_of(denied) == "wamp.error.not_authorized"


def test_a_stuck_callee_gives_504_and_is_interrupted(node):
    async def scenario():
        callee = await connect(f"ws://127.0.0.1:{node.port}/ws")
        interrupted = asyncio.get_event_loop().create_future()

        async def stuck():
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                interrupted.set_result(True)
                raise

        await callee.register(stuck, "com.allowed.stuck")
        loop = asyncio.get_event_loop()
        started = loop.time()
        answer = await asyncio.to_thread(post, node, "call", {"procedure": "com.allowed.stuck"})
        took = loop.time() - started
        await asyncio.wait_for(interrupted, 10)
        short = loop.time()
        shorter = await asyncio.to_thread(post, node, "call", {"procedure": "com.allowed.stuck",
                                                               "options": {"timeout": 300}})
        took_short = loop.time() - short
        await leave(callee)
        return answer, took, shorter, took_short

    answer, took, shorter, took_short = run(scenario())
    assert answer.status == 504 and error_of(answer) == "wamp.error.timeout"
    assert 1.9 <= took < 6  # call_timeout 2
    assert shorter.status == 504 and took_short < 1.9  # options.timeout 300 ms
    assert "no answer from 'com.allowed.stuck' within 2 s" in node.output()


# --- signed requests -----------------------------------------------------------------


def signed_query(key: str, secret: str, body: bytes, nonce: int = 0, when: Any = None, seq: int = 1) -> str:
    """Crossbar.io's signature: base64url(HMAC-SHA256(secret, key|timestamp|seq|nonce|body))."""
    stamp = (when or datetime.datetime.now(datetime.timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    nonce = nonce or random.randint(0, 2 ** 53)
    digest = hmac.new(secret.encode(), key.encode() + stamp.encode() + str(seq).encode() + str(nonce).encode() + body,
                      hashlib.sha256).digest()
    return urlencode({"key": key, "timestamp": stamp, "seq": seq, "nonce": nonce,
                      "signature": base64.urlsafe_b64encode(digest).decode()})


CLIENT = """
import crossbarhttp, json, sys
port = int(sys.argv[1])
out = {}
client = crossbarhttp.Client("http://127.0.0.1:%d/signed" % port, key="foobar", secret="secret")
out["id"] = client.publish("com.allowed.signed", "Hello", 23)
try:
    crossbarhttp.Client("http://127.0.0.1:%d/signed" % port, key="foobar", secret="wrong").publish("com.allowed.x", 1)
except crossbarhttp.ClientSignatureError as e:
    out["wrong_secret"] = str(e)
try:
    crossbarhttp.Client("http://127.0.0.1:%d/signed" % port).publish("com.allowed.x", 1)
except crossbarhttp.ClientMissingParams as e:
    out["unsigned"] = str(e)
out["sum"] = crossbarhttp.Client("http://127.0.0.1:%d/call-signed" % port, key="foobar", secret="secret").call(
    "com.allowed.add", 20, 22)
try:
    crossbarhttp.Client("http://127.0.0.1:%d/call" % port).call("com.allowed.nobody")
except crossbarhttp.ClientNoCalleeRegistered as e:
    out["no_callee"] = True
print(json.dumps(out))
"""


def test_crossbarhttp3_signed_publish_and_call(node):
    from crossbarhttp_venv import ensure_crossbarhttp

    python = ensure_crossbarhttp()

    async def scenario():
        session = await connect(f"ws://127.0.0.1:{node.port}/ws")
        await session.register(lambda a, b: a + b, "com.allowed.add")
        events: List[Any] = []
        await session.subscribe(lambda *a: events.append(a), "com.allowed.signed")
        done = await asyncio.to_thread(subprocess.run, [str(python), "-c", CLIENT, str(node.port)],
                                       capture_output=True, text=True, timeout=60)
        await until(lambda: events)
        await leave(session)
        return done, events

    done, events = run(scenario())
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert isinstance(out["id"], int)
    assert "401" in out["wrong_secret"] and "400" in out["unsigned"]
    assert out["sum"] == 42 and out["no_callee"]
    assert events == [("Hello", 23)]


def test_a_replayed_signed_request_is_refused(node):
    body = json.dumps({"topic": "com.allowed.replay", "args": [1]}).encode()
    query = signed_query("foobar", "secret", body)
    first = curl(url(node, "signed") + "?" + query, *JSON, data=body)
    again = curl(url(node, "signed") + "?" + query, *JSON, data=body)
    assert first.status == 200
    assert again.status == 401 and "replayed" in error_of(again)
    assert "127.0.0.1" in node.output().split("replayed")[0].rsplit("\n", 1)[-1]


def test_signature_checks(node):
    body = json.dumps({"topic": "com.allowed.x"}).encode()
    old = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=60)
    cases = {
        "expired": (signed_query("foobar", "secret", body, when=old), 400, "from the node's clock"),
        "bad signature": (signed_query("foobar", "other", body), 401, "invalid signature"),
        "unknown key": (signed_query("nokey", "secret", body), 401, "unknown key 'nokey'"),
        "missing nonce": (signed_query("foobar", "secret", body).replace("nonce=", "x="), 400, "'nonce' is missing"),
        "bad timestamp": (signed_query("foobar", "secret", body).replace("timestamp=", "timestamp=x"), 400,
                          "invalid timestamp"),
        "bad seq": (signed_query("foobar", "secret", body).replace("seq=1", "seq=one"), 400, "invalid seq"),
    }
    for name, (query, status, text) in cases.items():
        answer = curl(url(node, "signed") + "?" + query, *JSON, data=body)
        assert (answer.status, text in error_of(answer)) == (status, True), (name, answer)
    tampered = curl(url(node, "signed") + "?" + signed_query("foobar", "secret", body), *JSON,
                    data=body.replace(b"x", b"y"))
    assert tampered.status == 401


def test_the_nonce_cache_is_bounded(node):
    body = b'{"topic": "com.allowed.few"}'
    answers = [curl(url(node, "signed-few") + "?" + signed_query("k", "s", body), *JSON, data=body).status
               for _ in range(3)]
    assert answers == [200, 200, 429]


# --- webhook -------------------------------------------------------------------------


def test_webhooks_become_events(node):
    payload = b'{"zen": "Design for failure.", "hook_id": 1}'
    digest = subprocess.run(["openssl", "dgst", "-sha256", "-hmac", "gh-secret"], input=payload,
                            capture_output=True, check=True).stdout.decode().split()[-1]
    sha1 = subprocess.run(["openssl", "dgst", "-sha1", "-hmac", "gh-secret"], input=payload,
                          capture_output=True, check=True).stdout.decode().split()[-1]

    async def scenario():
        session = await connect(f"ws://127.0.0.1:{node.port}/ws")
        events: List[Any] = []
        await session.subscribe(lambda e: events.append(("hook", e)), "com.allowed.hook")
        await session.subscribe(lambda e: events.append(("github", e)), "com.allowed.github")
        plain = await asyncio.to_thread(curl, url(node, "hook"), "-H", "Content-Type: text/plain",
                                        data=b"fresh webhooks!")
        github = await asyncio.to_thread(curl, url(node, "github"), "-H", "Content-Type: application/json",
                                         "-H", "X-GitHub-Event: ping", "-H", f"X-Hub-Signature-256: sha256={digest}",
                                         data=payload)
        old_style = await asyncio.to_thread(curl, url(node, "github"), "-H", f"X-Hub-Signature: sha1={sha1}",
                                            data=payload)
        forged = await asyncio.to_thread(curl, url(node, "github"), "-H", f"X-Hub-Signature-256: sha256={digest}",
                                         data=payload + b" ")
        unsigned = await asyncio.to_thread(curl, url(node, "github"), data=payload)
        denied = await asyncio.to_thread(curl, url(node, "hook-denied"), data=b"x")
        await until(lambda: len(events) >= 3)
        await leave(session)
        return plain, github, old_style, forged, unsigned, denied, events

    plain, github, old_style, forged, unsigned, denied, events = run(scenario())
    assert (plain.status, plain.body) == (202, b"OK")
    assert (github.status, github.body) == (202, b"")
    assert old_style.status == 202
    assert forged.status == 401 and unsigned.status == 401
    assert (denied.status, denied.body) == (500, b"no way")
    kinds = [kind for kind, _ in events]
    assert kinds.count("hook") == 1 and kinds.count("github") == 2
    hook = events[kinds.index("hook")][1]
    assert hook["body"] == "fresh webhooks!"
    assert hook["headers"]["Content-Type"] == ["text/plain"]
    ping = events[kinds.index("github")][1]
    assert ping["body"] == payload.decode() and ping["headers"]["X-Github-Event"] == ["ping"]
    assert "cannot publish the webhook from 127.0.0.1" in node.output()


# --- refusals and options --------------------------------------------------------------


def test_refusals_are_4xx_with_a_one_line_json_reason_and_a_log_line(node):
    cases = [
        (("publish", "-X", "GET"), None, 405, "method GET not allowed"),
        (("publish", "-X", "PUT", *JSON), b"{}", 405, "method PUT not allowed"),
        (("publish", "-H", "Content-Type: application/x-www-form-urlencoded"), b"{}", 415, "Content-Type"),
        (("publish", "-H", "Content-Type: application/json; charset=latin-1"), b"{}", 415, "charset"),
        (("publish", *JSON), b'{"topic": "com.allowed.\xff"}', 400, "not UTF-8"),
        (("publish", *JSON), b'{"topic": ', 400, "not valid JSON"),
        (("publish", *JSON), b'[1, 2]', 400, "must be a JSON object"),
        (("publish", *JSON), b'{"args": [1]}', 400, "no 'topic'"),
        (("publish", *JSON), b'{"topic": 5}', 400, "'topic' must be a string"),
        (("publish", *JSON), b'{"topic": "com.allowed.x", "args": "abc"}', 400, "'args' must be a list"),
        (("publish", *JSON), b'{"topic": "com.allowed.x", "kwargs": [1]}', 400, "'kwargs' must be an object"),
        (("publish", *JSON), b'{"topic": "com.allowed.x", "args": [1e999]}', 400, "out of range"),
        (("publish", *JSON), b'{"topic": "com.allowed.x", "args": [NaN]}', 400, "NaN is not a JSON value"),
        (("publish", *JSON), b'{"topic": "com.allowed.x", "args": [' + b"9" * 30 + b"]}", 400, "out of range"),
        (("publish", *JSON), b'{"topic": "com.allowed.x", "args": ["\\ud800"]}', 400, "surrogate"),
        (("small", *JSON), b'{"topic": "com.allowed.x", "args": ["' + b"x" * 200 + b'"]}', 413, "100 octets"),
        (("ip", *JSON), b'{"topic": "com.allowed.x"}', 403, "require_ip"),
        (("tls-only", *JSON), b'{"topic": "com.allowed.x"}', 403, "require_tls"),
        (("cors", *JSON, "-H", "Origin: https://evil.example"), b'{"topic": "com.allowed.x"}', 403,
         "origin 'https://evil.example' is not allowed"),
        (("publish", *JSON, "-H", "Origin: https://app.example"), b'{"topic": "com.allowed.x"}', 403, "allowed_origins"),
        (("call", *JSON), b'{"procedure": "com.allowed.x", "options": {"timeout": "soon"}}', 400, "options.timeout"),
    ]
    for (path, *args), body, status, text in cases:
        answer = curl(url(node, path), *args, data=body)
        assert answer.status == status, (path, args, body, answer)
        reason = error_of(answer)
        assert text in reason, (reason, text)
        assert answer.headers["content-type"] == "application/json; charset=UTF-8"
        assert "access-control-allow-origin" not in answer.headers
        assert "Traceback" not in node.output()
    log = node.output()
    assert "refused a request from 127.0.0.1" in log
    assert "Refused an HTTP request from 127.0.0.1" in log  # the 413, refused before the body was read
    assert curl(url(node, "publish"), "-X", "GET").headers["allow"] == "POST"


def test_cors_only_for_allowed_origins(node):
    preflight = curl(url(node, "cors"), "-X", "OPTIONS", "-H", "Origin: https://app.example",
                     "-H", "Access-Control-Request-Method: POST",
                     "-H", "Access-Control-Request-Headers: content-type")
    assert preflight.status == 204
    assert preflight.headers["access-control-allow-origin"] == "https://app.example"
    assert preflight.headers["access-control-allow-methods"] == "POST"
    assert preflight.headers["access-control-allow-headers"] == "content-type"
    assert "access-control-allow-credentials" not in preflight.headers
    allowed = post(node, "cors", {"topic": "com.allowed.cors"}, "-H", "Origin: https://app.example")
    assert allowed.status == 200 and allowed.headers["access-control-allow-origin"] == "https://app.example"
    evil = curl(url(node, "cors"), "-X", "OPTIONS", "-H", "Origin: https://evil.example")
    assert evil.status == 403 and "access-control-allow-origin" not in evil.headers
    no_cors = curl(url(node, "publish"), "-X", "OPTIONS", "-H", "Origin: https://app.example")
    assert no_cors.status == 403
    same_origin = post(node, "publish", {"topic": "com.allowed.same"}, "-H",
                       f"Origin: http://127.0.0.1:{node.port}")
    assert same_origin.status == 200 and "access-control-allow-origin" not in same_origin.headers


def test_debug_logs_each_request(node):
    post(node, "publish-debug", {"topic": "com.allowed.debug"})
    assert wait_until(lambda: "paths.publish-debug: answered 127.0.0.1" in node.output(), 5), node.output()
    assert "paths.publish-debug: 30 octets from 127.0.0.1" in node.output()


def test_a_thousand_malformed_bodies_leave_the_node_fine(node):
    import http.client

    rng = random.Random(15)
    bodies = [b'{"topic": ', b"[]", b'"x"', b"null", b"1e99999", b"{" * 5000, b"[" * 100000,
              b'{"topic": "com.allowed.m", "args": [' + b"1" * 5000 + b"]}",
              b'{"topic": "com.allowed.m", "args": [-Infinity]}', b'{"topic": ["a"]}',
              b'{"topic": "com.allowed.m", "options": {"eligible": "all"}}', b'{"topic": "com.allowed.m", "args": {}}',
              b'{"topic": "\xc3\x28"}', b"\xff\xfe\x00", b'{"topic": "com..allowed"}', b'{"topic": "\\udc00"}']
    connection = http.client.HTTPConnection("127.0.0.1", node.port, timeout=30)
    statuses = []
    for i in range(1000):
        body = bodies[i % len(bodies)] if i < 500 else bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
        connection.request("POST", "/publish", body=body, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        text = response.read()
        statuses.append(response.status)
        assert 400 <= response.status < 500, (body[:80], response.status, text)
        assert text.count(b"\n") <= 1 and "error" in json.loads(text)
    connection.close()
    assert set(statuses) <= {400, 403}
    assert node.proc.poll() is None
    good = post(node, "publish", {"topic": "com.allowed.after", "args": [1]})
    assert good.status == 200
    assert "Traceback" not in node.output() and "Unhandled" not in node.output()


# --- configuration -------------------------------------------------------------------


def check(tmp_path: Path, config: Dict[str, Any]) -> str:
    from conftest import run_cli

    cbdir = tmp_path / "cb"
    cbdir.mkdir(exist_ok=True)
    (cbdir / "config.json").write_text(json.dumps(config))
    done = run_cli("check", "--cbdir", str(cbdir))
    return done.stdout + done.stderr


def test_config_refuses_unknown_realm_role_and_bad_options(tmp_path):
    def text_of(paths: Dict[str, Any]) -> str:
        return check(tmp_path, router_config([{"type": "web", "endpoint": tcp(free_port()), "paths": paths}],
                                             realms=[{"name": "realm1", "roles": ROLES}]))

    text = text_of({"d": bridge("publisher", key="only-key"),
                    "e": {"type": "webhook", "realm": "realm1", "role": "bridge", "options": {}}})
    assert "paths.d.options" in text and "secret" in text
    assert "paths.e.options: 'topic' is a required property" in text
    text = text_of({"a": {"type": "publisher", "realm": "nope", "role": "bridge"},
                    "b": {"type": "caller", "realm": "realm1", "role": "nobody"},
                    "c": bridge("publisher", require_ip=["10.0.0.0/33"])})
    assert "paths.a.realm: realm 'nope' is not a realm of this router" in text
    assert "paths.b.role: realm 'realm1' has no role 'nobody'" in text
    assert "paths.c.options.require_ip[0]: '10.0.0.0/33' is not an IP address or network" in text


def test_http_subscriber_and_callee_run_as_container_components(tmp_path):
    """Crossbar.io's MessageForwarder forwards events to an HTTP server; RESTCallee turns calls into
    HTTP requests (a container of the node runs both, by their Crossbar.io class names)."""
    import sys
    import urllib.request

    backend = subprocess.Popen([sys.executable, str(Path(__file__).parent / "proxy_backend.py")],
                               stdout=subprocess.PIPE, text=True)
    node = None
    try:
        backend_port = int(backend.stdout.readline().split()[1])
        port = free_port()
        config = router_config([{"type": "web", "endpoint": tcp(port),
                                 "paths": {"ws": {"type": "websocket"}, "publish": bridge("publisher")}}],
                               realms=[{"name": "realm1", "roles": ROLES}])
        transport = {"type": "websocket", "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": port},
                     "url": f"ws://127.0.0.1:{port}/ws"}
        config["workers"].append({"type": "container", "components": [
            {"type": "class", "classname": "crossbar.bridge.rest.MessageForwarder", "realm": "realm1",
             "extra": {"subscriptions": [{"topic": "com.allowed.fwd", "url": f"http://127.0.0.1:{backend_port}/record"}],
                       "method": "POST", "expectedcode": 200, "debug": True}, "transport": transport},
            {"type": "class", "classname": "crossbar.adapter.rest.RESTCallee", "realm": "realm1",
             "extra": {"procedure": "com.allowed.rest", "baseurl": f"http://127.0.0.1:{backend_port}/api/"},
             "transport": transport}]})
        node = start_node(config, tmp_path / "cb")

        async def scenario():
            session = await connect(f"ws://127.0.0.1:{port}/ws")
            answer = None
            for _ in range(500):  # until the container's components have joined
                try:
                    answer = await session.call("com.allowed.rest", method="GET", url="x/headers",
                                                params={"q": "1"}, headers={"X-Test": "yes"})
                    break
                except ApplicationError as e:
                    assert e.error == "wamp.error.no_such_procedure", e
                    await asyncio.sleep(0.05)
            await until(lambda: "events on com.allowed.fwd go to POST" in node.output())
            published = await asyncio.to_thread(post, node_url, "publish", {
                "topic": "com.allowed.fwd", "args": ["hi", 2], "kwargs": {"k": "v"}})
            records: List[Any] = []
            for _ in range(250):
                records = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{backend_port}/records").read())
                if records:
                    break
                await asyncio.sleep(0.02)
            await leave(session)
            return answer, published, records

        node_url = type("N", (), {"port": port})()
        answer, published, records = run(scenario())
        assert answer["code"] == 200
        seen = json.loads(answer["content"])
        assert seen["line"] == "GET /api/x/headers?q=1 HTTP/1.1"
        assert ["X-Test", "yes"] in seen["headers"]
        assert published.status == 200
        assert records == [{"method": "POST", "content_type": "application/json",
                            "body": '{"args":["hi",2],"kwargs":{"k":"v"}}'}]
        assert wait_until(lambda: "answered 200" in node.output(), 5)  # debug: the answer is logged
    finally:
        if node is not None:
            node.stop()
        backend.terminate()
        backend.wait(10)


def test_http_subscriber_and_callee_extra_is_checked(tmp_path):
    config = router_config([{"type": "web", "endpoint": tcp(free_port()), "paths": {"ws": {"type": "websocket"}}}])
    transport = {"type": "websocket", "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": 8080},
                 "url": "ws://127.0.0.1:8080/ws"}
    config["workers"].append({"type": "container", "components": [
        {"type": "class", "classname": "crossbar.bridge.rest.MessageForwarder", "realm": "realm1",
         "extra": {"subscriptions": [{"topic": "t"}]}, "transport": transport},
        {"type": "class", "classname": "crossbar.adapter.rest.RESTCallee", "realm": "realm1",
         "extra": {"procedure": "com.myapp.rest"}, "transport": transport}]})
    text = check(tmp_path, config)
    assert ("components[0].extra.subscriptions[0]: crossbar.bridge.rest.MessageForwarder: needs `topic` and `url`"
            in text)
    assert "components[1].extra.baseurl: crossbar.adapter.rest.RESTCallee: needs `baseurl` (a string)" in text
    assert "not found in pythonpath" not in text
