"""HTTP bridge and reverse-proxy throughput: requests per second and the node's CPU per request.

    python bench/http_bridge.py [--requests N] [--clients C]

Starts a node (web transport: a ``publisher`` path, a ``reverseproxy`` path to a
Python ``ThreadingHTTPServer`` backend, tests/proxy_backend.py) and drives it with
C keep-alive clients (``http.client``, one process each) sending N requests in all:

- ``publish``: HTTP publishes (one event, no subscriber) through the bridge;
- ``proxy``: ``GET /file`` (1000 octets) through the reverse proxy;
- ``direct``: the same request straight to the backend, for comparison.

For each: requests per second (wall clock, all clients) and the node's CPU time
(user + system, psutil) per request in microseconds. The machine's load moves the
first figure; the second is steadier. The node runs on the interpreter that runs
this script (``.venv-pypy/bin/python bench/http_bridge.py`` for PyPy).
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Dict, List, Tuple

import psutil

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE / "tests"))

from conftest import free_port, start_node  # noqa: E402


def _client(args: Tuple[int, str, str, bytes, int]) -> int:
    port, method, path, body, count = args
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Content-Type": "application/json"} if body else {}
    for _ in range(count):
        connection.request(method, path, body=body or None, headers=headers)
        response = connection.getresponse()
        response.read()
        if response.status != 200:
            raise RuntimeError(f"{method} {path}: {response.status}")
    connection.close()
    return count


def measure(pool: Any, port: int, method: str, path: str, body: bytes, total: int, clients: int,
            node_pid: int) -> Dict[str, float]:
    per = total // clients
    _client((port, method, path, body, 50))  # warm up
    process = psutil.Process(node_pid)
    cpu = process.cpu_times()
    started = time.perf_counter()
    done = sum(pool.map(_client, [(port, method, path, body, per)] * clients))
    elapsed = time.perf_counter() - started
    after = process.cpu_times()
    used = (after.user - cpu.user) + (after.system - cpu.system)
    return {"requests": done, "per_second": round(done / elapsed), "node_cpu_us": round(used / done * 1e6, 1)}


def main(argv: List[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--clients", type=int, default=2)
    options = parser.parse_args(argv)
    backend = subprocess.Popen([sys.executable, str(HERE / "tests" / "proxy_backend.py")], stdout=subprocess.PIPE,
                               text=True)
    node = None
    try:
        backend_port = int(backend.stdout.readline().split()[1])
        port = free_port()
        config = {"version": 2, "workers": [{"type": "router", "realms": [{"name": "realm1", "roles": []}],
                  "transports": [{"type": "web", "endpoint": {"type": "tcp", "port": port, "interface": "127.0.0.1"},
                                  "paths": {"publish": {"type": "publisher", "realm": "realm1", "role": "anonymous"},
                                            "proxy": {"type": "reverseproxy", "host": "127.0.0.1",
                                                      "port": backend_port}}}]}]}
        node = start_node(config, Path(tempfile.mkdtemp()) / "cb")
        results = {}
        with multiprocessing.Pool(options.clients) as pool:
            body = json.dumps({"topic": "com.example.bench", "args": [1, "two"]}).encode()
            results["publish"] = measure(pool, port, "POST", "/publish", body, options.requests, options.clients,
                                         node.proc.pid)
            results["proxy"] = measure(pool, port, "GET", "/proxy/file", b"", options.requests, options.clients,
                                       node.proc.pid)
            results["direct"] = measure(pool, backend_port, "GET", "/file", b"", options.requests, options.clients,
                                        backend.pid)
        for name, result in results.items():
            who = "backend" if name == "direct" else "node"
            print(f"{name:8} {result['per_second']:6d} requests/s   {who} CPU {result['node_cpu_us']:7.1f} µs/request")
        return 0
    finally:
        if node is not None:
            node.stop()
        backend.terminate()
        backend.wait(10)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
