"""The typed option objects: named after the schema's keys, filled with the schema's defaults."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from node.config import load_config, model
from node.config.fragments import auth_method, web_options, websocket_options
from node.config.validation import load_schema
from node.errors import ConfigErrors


def keys(cls) -> set:
    return {f.metadata.get("key", f.name) for f in dataclasses.fields(cls)}


def static_branch(method: str) -> dict:
    (static,) = [b["then"] for b in load_schema()["$defs"][f"auth_{method}"]["allOf"]
                 if b["if"]["properties"]["type"].get("const") == "static"]
    return static["properties"]


def schema_keys(properties: dict) -> set:
    return set(properties) - {"type"}


def test_typed_options_have_exactly_the_schema_keys():
    """Each typed object has one field per key of its schema object, so a key added to the
    schema without a field (or a field without a key) fails here."""
    defs = load_schema()["$defs"]
    ws = defs["websocket_options"]["properties"]
    hsts_object = [b for b in defs["web_options"]["properties"]["hsts"]["oneOf"] if b["type"] == "object"][0]
    pairs = [
        (model.WebSocketOptions, ws),
        (model.CompressionOptions, ws["compression"]["properties"]),
        (model.DeflateOptions, defs["deflate"]["properties"]),
        (model.WebOptions, defs["web_options"]["properties"]),
        (model.HstsOptions, hsts_object["properties"]),
        (model.DynamicSettings, defs["auth_dynamic"]["properties"]),
        (model.AnonymousSettings, static_branch("anonymous")),
        (model.TicketSettings, static_branch("ticket")),
        (model.TicketPrincipal, static_branch("ticket")["principals"]["additionalProperties"]["properties"]),
        (model.WampCraSettings, static_branch("wampcra")),
        (model.WampCraUser, static_branch("wampcra")["users"]["additionalProperties"]["properties"]),
        (model.CryptosignSettings, static_branch("cryptosign")),
        (model.CryptosignPrincipal,
         static_branch("cryptosign")["principals"]["additionalProperties"]["properties"]),
        (model.TlsSettings, static_branch("tls")),
        (model.TlsPrincipal, static_branch("tls")["principals"]["additionalProperties"]["properties"]),
    ]
    for cls, properties in pairs:
        assert keys(cls) == schema_keys(properties), cls.__name__


def test_fragments_get_the_schema_defaults():
    """Left-out keys take the schema's default; keys without one are None."""
    ws = websocket_options()
    assert ws.max_message_size == 1048576 and ws.allowed_origins == ("*",) and ws.external_port is None
    assert ws.compression is None
    deflate = websocket_options({"compression": {"deflate": {}}}).compression.deflate
    assert deflate.request_max_window_bits == 0 and deflate.max_window_bits is None
    assert web_options().client_timeout == 60 and web_options().hsts is False
    assert web_options({"hsts": {}}).hsts == model.HstsOptions(max_age=31536000, include_subdomains=False)
    assert auth_method("anonymous").settings == model.AnonymousSettings(role="anonymous")
    dynamic = auth_method("ticket", "dynamic", {"authenticator": "com.auth"}).settings
    assert dynamic == model.DynamicSettings(authenticator="com.auth", authenticator_realm=None)
    tls = auth_method("tls", "static", {"principals": {"a": {"certificate-sha256": "AB", "role": "r"}}}).settings
    assert tls.role is None and tls.principals["a"].certificate_sha256 == "AB"


@pytest.mark.parametrize("method, settings, message", [
    ("ticket", {}, "auth: ticket: 'principals' is a required property"),
    ("magic", {}, "Additional properties are not allowed ('magic' was unexpected); known keys: anonymous"),
    ("anonymous", {"role": 1}, "auth: anonymous.role: 1 is not of type 'string'"),
])
def test_bad_fragment_is_a_config_error(method, settings, message):
    """A fragment that breaks the schema is a ConfigErrors line, not a half-built object."""
    with pytest.raises(ConfigErrors) as info:
        auth_method(method, "static", settings)
    assert message in info.value.line()


def test_universal_without_web_gets_the_default_web_options(tmp_path: Path):
    """A universal transport's websocket paths are served by a site whose options are the
    schema's web_options defaults when the transport has no ``web``; other transports have none."""
    transports = [
        {"type": "universal", "endpoint": {"type": "tcp", "port": 8080},
         "websocket": {"ws": {"type": "websocket"}}},
        {"type": "web", "endpoint": {"type": "tcp", "port": 8081}, "paths": {"/": {"type": "nodeinfo"}},
         "options": {"client_timeout": 5}},
        {"type": "websocket", "endpoint": {"type": "tcp", "port": 8082}},
    ]
    config = {"version": 2, "workers": [{"type": "router", "realms": [{"name": "realm1"}],
                                         "transports": transports}]}
    (tmp_path / "config.json").write_text(json.dumps(config))
    universal, web, websocket = load_config(str(tmp_path), environ={}).transports
    assert universal.web is None and universal.http_options == web_options()
    assert web.http_options is web.web.options and web.http_options.client_timeout == 5
    assert websocket.http_options is None
