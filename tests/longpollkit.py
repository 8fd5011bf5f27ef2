"""Long-poll clients for tests: plain HTTP requests (:class:`RawLongPoll`), and npm autobahn's
long-poll transport run under Node.js (tests/js/longpoll_client.mjs)."""
from __future__ import annotations

import asyncio
import http.client
import json
import os
import shutil
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

JS_DIR = Path(__file__).resolve().parent / "js"


def post(port: int, path: str, body: bytes = b"", method: str = "POST",
         headers: Optional[Dict[str, str]] = None, timeout: float = 20) -> Tuple[int, bytes, Dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.read(), {k.lower(): v for k, v in response.getheaders()}
    finally:
        conn.close()


class RawLongPoll:
    """A long-poll client written with plain HTTP requests (one message per request)."""

    def __init__(self, port: int, protocol: str = "wamp.2.json", path: str = "lp",
                 headers: Optional[Dict[str, str]] = None) -> None:
        self.port = port
        status, body, self.open_headers = post(port, f"/{path}/open", json.dumps({"protocols": [protocol]}).encode(),
                                               headers=headers)
        assert status == 200, body
        answer = json.loads(body)
        assert answer["protocol"] == protocol
        self.base = f"/{path}/{answer['transport']}"

    def send(self, message: List[Any]) -> int:
        return post(self.port, f"{self.base}/send", json.dumps(message).encode())[0]

    def receive(self) -> Tuple[int, Any]:
        status, body, _ = post(self.port, f"{self.base}/receive")
        return status, json.loads(body) if status == 200 else body

    def join(self) -> int:
        assert self.send([1, "realm1", {"roles": {"subscriber": {}, "publisher": {}}}]) == 204
        status, welcome = self.receive()
        assert status == 200 and welcome[0] == 2, welcome
        return welcome[1]


async def run_js(env: Dict[str, str]) -> Any:
    node = shutil.which("node")
    assert node, "Node.js (node) is not installed: tests/run.sh expects it on the machine"
    assert (JS_DIR / "node_modules" / "autobahn").is_dir(), "tests/js/node_modules/autobahn missing (npm install)"
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WAMP_", "NODE_"))}
    return await asyncio.create_subprocess_exec(node, "longpoll_client.mjs", cwd=JS_DIR, env={**clean, **env},
                                                stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def js_line(proc: Any) -> Dict[str, Any]:
    line = await asyncio.wait_for(proc.stdout.readline(), 30)
    if not line:
        raise AssertionError(f"the long-poll client ended: {(await proc.stderr.read()).decode()}")
    return json.loads(line)


