"""``wampnode init``: a new application directory with a node that works at once.

Layout (Crossbar.io's): ``APPDIR/.crossbar/config.json``, the dev certificate and
key beside it, and ``APPDIR/web/index.html`` served at ``/``.
"""
from __future__ import annotations

import argparse
import json
import os
from typing import Any, Dict, List

from node.errors import NodeError
from node.tls.devcerts import make_selfsigned

WEB_PORT = 8080
WSS_PORT = 8443

INDEX_HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>wampnode</title></head>
<body>
<h1>wampnode is running</h1>
<p>WAMP over WebSocket: <code>ws://HOST:8080/ws</code> and <code>wss://HOST:8443/ws</code>, realm <code>realm1</code>.</p>
<p>Node status: <a href="info">info</a>.</p>
</body></html>
"""


def _web_paths() -> Dict[str, Any]:
    return {
        "/": {"type": "static", "directory": "../web"},
        "ws": {"type": "websocket", "serializers": ["cbor", "msgpack", "json"]},
        "info": {"type": "nodeinfo"},
    }


def anonymous_permissions() -> List[Dict[str, Any]]:
    """Everything on every URI, but none of the session meta API except counting and
    listing: ``wamp.session.kill*`` would let any visitor end other sessions, and
    ``wamp.session.get``/``on_join`` show every peer's address and port."""
    nothing = {"call": False, "register": False, "publish": False, "subscribe": False}
    call_only = dict(nothing, call=True)
    return [
        {"uri": "", "match": "prefix",
         "allow": {"call": True, "register": True, "publish": True, "subscribe": True},
         "disclose": {"caller": False, "publisher": False}, "cache": True},
        {"uri": "wamp.session.", "match": "prefix", "allow": nothing, "cache": True},
        {"uri": "wamp.session.count", "match": "exact", "allow": call_only, "cache": True},
        {"uri": "wamp.session.list", "match": "exact", "allow": call_only, "cache": True},
    ]


def default_config() -> Dict[str, Any]:
    """The config ``init`` writes: plain web on 8080 and the same paths over TLS on 8443."""
    return {
        "version": 2,
        "workers": [{
            "type": "router",
            "realms": [{
                "name": "realm1",
                "roles": [{"name": "anonymous", "permissions": anonymous_permissions()}],
            }],
            "transports": [
                {"type": "web", "endpoint": {"type": "tcp", "port": WEB_PORT}, "paths": _web_paths()},
                {"type": "web",
                 "endpoint": {"type": "tcp", "port": WSS_PORT,
                              "tls": {"key": "server.key", "certificate": "server.crt"}},
                 "paths": _web_paths()},
            ],
        }],
    }


class NodeDirExists(NodeError):
    exit_code = 1


def init_node(appdir: str) -> List[str]:
    """Create the node directory; refuses to touch an existing one.

    @raise NodeDirExists: ``APPDIR/.crossbar`` already exists.
    """
    cbdir = os.path.join(appdir, ".crossbar")
    web = os.path.join(appdir, "web")
    if os.path.exists(cbdir):
        raise NodeDirExists(cbdir, "already exists; wampnode init never overwrites a node directory",
                            "Choose another --appdir, or remove the directory first")
    os.makedirs(cbdir)
    os.makedirs(web, exist_ok=True)
    created = []
    config_path = os.path.join(cbdir, "config.json")
    # 0600: a config may hold secrets (ticket and WAMP-CRA secrets) and decides who may log in
    with os.fdopen(os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        json.dump(default_config(), f, indent=4)
        f.write("\n")
    created.append(config_path)
    index = os.path.join(web, "index.html")
    if not os.path.exists(index):
        with open(index, "w") as f:
            f.write(INDEX_HTML)
        created.append(index)
    key, cert = os.path.join(cbdir, "server.key"), os.path.join(cbdir, "server.crt")
    make_selfsigned(key, cert, hosts=("localhost", "127.0.0.1", "::1"), days=90)
    created += [key, cert]
    return created


def run_init(args: argparse.Namespace) -> int:
    for path in init_node(args.appdir):
        print(f"created {path}")
    print(f"Start the node with: cd {args.appdir} && wampnode start")
    return 0
