"""Configs and a client for the hosting tests: a node running our own test apps
(tests/apps/) as container components and Node.js guests, and a client that checks
each answers: calls its procedure, receives its events, serves the procedure it calls.
"""
from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional

from autobahn.wamp.exception import ApplicationError

from conftest import REPO, await_until, tcp
from wampclient import TIMEOUT, connect, leave

APPS = REPO / "tests" / "apps"
NODE_MODULES = REPO / "tests" / "js" / "node_modules"
NODEJS = shutil.which("node")


def router(port: int) -> Dict[str, Any]:
    """A router with realm1 (everything allowed) and a web transport: /ws and /info (nodeinfo)."""
    return {"type": "router", "realms": [{"name": "realm1", "roles": []}],
            "transports": [{"type": "web", "endpoint": tcp(port),
                            "paths": {"ws": {"type": "websocket"}, "info": {"type": "nodeinfo"}}}]}


def config(port: int, *workers: Dict[str, Any]) -> Dict[str, Any]:
    return {"version": 2, "workers": [router(port), *workers]}


def transport(port: int) -> Dict[str, Any]:
    return {"type": "websocket", "endpoint": {"type": "tcp", "host": "127.0.0.1", "port": port},
            "url": f"ws://127.0.0.1:{port}/ws"}


def component(port: int, prefix: str = "app", classname: str = "hostedapp.Backend",
              **keys: Any) -> Dict[str, Any]:
    return {"type": "class", "classname": classname, "realm": "realm1", "extra": {"prefix": prefix},
            "transport": transport(port), **keys}


def container(port: int, *components: Dict[str, Any], worker_id: str = "backend", **options: Any) -> Dict[str, Any]:
    return {"type": "container", "id": worker_id,
            "options": {"pythonpath": [str(APPS / "python")], **options},
            "components": list(components) or [component(port)]}


def nodejs_guest(port: int, prefix: str = "js", worker_id: str = "jsguest", **options: Any) -> Dict[str, Any]:
    env = {"vars": {"NODE_PATH": str(NODE_MODULES)}}
    return {"type": "guest", "id": worker_id, "executable": "node",
            "arguments": [str(APPS / "nodejs" / "hostedapp.js"), f"ws://127.0.0.1:{port}/ws", "realm1", prefix],
            "options": {"env": env, **options}}


def python_guest(script: Path, *arguments: str, worker_id: str = "pyguest", **options: Any) -> Dict[str, Any]:
    """A guest running ``script`` with this interpreter (found by its absolute path)."""
    return {"type": "guest", "id": worker_id, "executable": sys.executable,
            "arguments": [str(script), *arguments], "options": options}


def status_file(cbdir: Path) -> Optional[Dict[str, Any]]:
    try:
        return json.loads((cbdir / "node.status.json").read_text())
    except (OSError, ValueError):
        return None


def worker_status(cbdir: Path, worker_id: str) -> Optional[Dict[str, Any]]:
    record = status_file(cbdir)
    if record is None:
        return None
    return next((w for w in record["workers"] if w["id"] == worker_id), None)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie counts as gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def group_alive(pgid: int) -> bool:
    """True while any process of the group ``pgid`` runs (zombies excluded)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z" and int(fields[2]) == pgid:
                return True
    return False


async def call_until(session: Any, procedure: str, *args: Any, timeout: float = TIMEOUT) -> Any:
    """Call until the procedure is registered (a component may still be joining)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return await session.call(procedure, *args)
        except ApplicationError as e:
            if e.error != "wamp.error.no_such_procedure" or time.monotonic() > deadline:
                raise
        await asyncio.sleep(0.05)  # the polling interval


async def exercise(url: str, prefix: str, add2: Any = 5, result_topic: bool = True) -> Dict[str, Any]:
    """A client checks one component: ``prefix.add2(2, 3) == add2``, two ``prefix.oncounter``
    events arrive, and the component calls the client's ``prefix.mul2`` (its result comes back
    on ``prefix.onmul2`` when ``result_topic``)."""
    session = await connect(url)
    try:
        mul2_calls: List[Any] = []
        counters: List[Any] = []
        results: List[Any] = []
        await session.register(lambda x, y: mul2_calls.append((x, y)) or x * y, f"{prefix}.mul2")
        await session.subscribe(lambda n: counters.append(n), f"{prefix}.oncounter")
        if result_topic:
            await session.subscribe(lambda r: results.append(r), f"{prefix}.onmul2")
        assert await call_until(session, f"{prefix}.add2", 2, 3) == add2
        assert await await_until(lambda: len(counters) >= 2), f"no {prefix}.oncounter events"
        assert await await_until(lambda: mul2_calls), f"the component never called {prefix}.mul2"
        if result_topic:
            assert await await_until(lambda: results), f"no {prefix}.onmul2 event"
            x, y = mul2_calls[0]
            assert x * y in results or any(a * b in results for a, b in mul2_calls)
        return {"counters": counters, "mul2_calls": mul2_calls, "results": results}
    finally:
        await leave(session)

