"""The routers under test: equivalent configs, start-up timing, process-tree sampling.

Each router gets the same node directory contents: realm ``realm1`` with an
``anonymous`` role allowed everything under ``bench.`` (the role is checked on
every action: the full router, not its open development mode), the meta API
on, a plain WebSocket, a TLS WebSocket and a RawSocket transport on free ports of 127.0.0.1,
JSON, msgpack and CBOR serializers, messages up to 16 MiB (the 16 MiB call
workload), the same WebSocket timeouts and pings
(:data:`OPTIONS`). Crossbar.io reads the same config file.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence

try:  # the driver samples processes with it; the floor servers and minimal_router.py, which may
    import psutil  # run on PyPy (where psutil does not load), import this module for constants only
except ImportError:  # pragma: no cover
    psutil = None  # type: ignore[assignment]

REPO = Path(__file__).resolve().parent.parent
MAX_MESSAGE = 16 * 1024 * 1024
# WebSocket options both routers get explicitly (their defaults differ: wampnode pings
# every 30 s by default, Crossbar.io not at all), in Crossbar.io's names and units (ms)
OPTIONS = {"max_message_size": MAX_MESSAGE, "max_frame_size": MAX_MESSAGE, "auto_ping_interval": 30000,
           "auto_ping_timeout": 10000, "open_handshake_timeout": 5000, "close_handshake_timeout": 1000}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _transport(port: int, tls: bool) -> Dict[str, Any]:
    endpoint: Dict[str, Any] = {"type": "tcp", "port": port, "interface": "127.0.0.1"}
    if tls:
        endpoint["tls"] = {"key": "server.key", "certificate": "server.crt"}
    return {
        "type": "websocket",
        "endpoint": endpoint,
        "serializers": ["json", "msgpack", "cbor"],
        "options": dict(OPTIONS),
        "auth": {"anonymous": {"type": "static", "role": "anonymous"}},
    }


def _rawsocket_transport(port: int) -> Dict[str, Any]:
    return {
        "type": "rawsocket",
        "endpoint": {"type": "tcp", "port": port, "interface": "127.0.0.1"},
        "serializers": ["json", "msgpack", "cbor"],
        "options": {"max_message_size": MAX_MESSAGE},  # RawSocket's own ceiling (2^24)
        "auth": {"anonymous": {"type": "static", "role": "anonymous"}},
    }


def router_config(ws_port: int, wss_port: int, rs_port: Optional[int] = None) -> Dict[str, Any]:
    """The one config both routers run (Crossbar.io ``version: 2`` format)."""
    permission = {
        "uri": "bench.", "match": "prefix",
        "allow": {"call": True, "register": True, "publish": True, "subscribe": True},
        "disclose": {"caller": False, "publisher": False}, "cache": True,
    }
    realm = {"name": "realm1", "roles": [{"name": "anonymous", "permissions": [permission]}]}
    transports = [_transport(ws_port, False), _transport(wss_port, True)]
    if rs_port is not None:
        transports.append(_rawsocket_transport(rs_port))
    return {"version": 2, "controller": {},
            "workers": [{"type": "router", "realms": [realm], "transports": transports}]}


def write_node_dir(cbdir: Path, ws_port: int, wss_port: int, router_extra: Optional[Dict[str, Any]] = None,
                   rs_port: Optional[int] = None) -> None:
    """Config plus a self-signed P-256 certificate for localhost (TLS transport);
    ``router_extra``: keys added to the router worker (``components``, ``options``)."""
    sys.path.insert(0, str(REPO))
    from node.tls.devcerts import make_selfsigned

    cbdir.mkdir(parents=True, exist_ok=True)
    config = router_config(ws_port, wss_port, rs_port)
    config["workers"][0].update(router_extra or {})
    (cbdir / "config.json").write_text(json.dumps(config, indent=2))
    make_selfsigned(str(cbdir / "server.key"), str(cbdir / "server.crt"), overwrite=True)


class Router:
    """One router process tree started from a command line in its node directory."""

    def __init__(self, name: str, command: Sequence[str], cbdir: Path, env: Optional[Dict[str, str]] = None,
                 router_extra: Optional[Dict[str, Any]] = None) -> None:
        self.name = name
        self.router_extra = router_extra
        self.command = list(command)
        self.cbdir = cbdir
        self.env = env
        self.ws_port = free_port()
        self.wss_port = free_port()
        self.rs_port: Optional[int] = free_port()  # None: a router without RawSocket (bench/floor.py's minimal one)
        self.proc: Optional[subprocess.Popen] = None
        self.startup_s: Optional[float] = None
        self.idle_rss: Optional[int] = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.ws_port}/ws"

    @property
    def secure_url(self) -> str:
        return f"wss://127.0.0.1:{self.wss_port}/ws"

    @property
    def rawsocket_url(self) -> str:
        return f"rs://127.0.0.1:{self.rs_port}"

    def start(self, timeout: float = 60.0) -> None:
        """Start, time it to the moment both ports accept connections, take idle RSS."""
        write_node_dir(self.cbdir, self.ws_port, self.wss_port, self.router_extra, self.rs_port)
        log = open(self.cbdir / "router.log", "w")
        started = time.perf_counter()
        self.proc = subprocess.Popen(self.command, cwd=str(self.cbdir), env=self.env, stdout=log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = started + timeout
        for port in (self.ws_port, self.wss_port, self.rs_port):
            if port is None:
                continue
            while not _accepts(port):
                if self.proc.poll() is not None or time.perf_counter() > deadline:
                    self.stop()
                    raise RuntimeError(f"{self.name} did not start listening; see {self.cbdir / 'router.log'}:\n"
                                       + (self.cbdir / "router.log").read_text(errors="replace")[-3000:])
                time.sleep(0.005)
        self.startup_s = time.perf_counter() - started
        time.sleep(1.0)  # let start-up work that follows listening settle before taking idle RSS
        self.idle_rss = self.rss()

    def processes(self) -> List[psutil.Process]:
        root = psutil.Process(self.proc.pid)
        return [root] + root.children(recursive=True)

    def cpu_seconds(self) -> float:
        return tree_cpu(self.processes())

    def system_seconds(self) -> float:
        """The part of :meth:`cpu_seconds` spent in the kernel (system calls: the
        sockets' copies and the loopback's delivery to the peers)."""
        return tree_cpu(self.processes(), user=False)

    def page_faults(self) -> int:
        """Minor page faults of the tree so far (``/proc``; 0 where there is none): each
        is a fresh page the kernel had to find and zero, a cost of memory that is
        allocated and let go, not reused (PyPy kept a copy of every read that way)."""
        total = 0
        for p in self.processes():
            try:
                with open(f"/proc/{p.pid}/stat") as stat:
                    total += int(stat.read().rsplit(")", 1)[1].split()[7])
            except (OSError, IndexError, ValueError):
                pass
        return total

    def rss(self) -> int:
        total = 0
        for p in self.processes():
            try:
                total += p.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def stop(self) -> None:
        """SIGTERM the tree's leader, wait, then SIGKILL whatever of its group is left."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own session: only this router's processes
        except (ProcessLookupError, PermissionError):
            pass
        if self.proc.poll() is None:
            self.proc.wait(5)


def tree_cpu(processes: Sequence[psutil.Process], user: bool = True) -> float:
    """CPU seconds of ``processes``: user and system time, or (``user`` False) system only."""
    total = 0.0
    for p in processes:
        try:
            t = p.cpu_times()
            total += t.user + t.system if user else t.system
        except psutil.NoSuchProcess:
            pass
    return total


def _accepts(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


NATIVE_MODULES = (("fastpath", "_native_unmask", "native_unmask_build.py", "C unmasker"),
                  ("wire", "_native_scan", "native_scan_build.py", "C scanner of large messages"))


def build_native_modules(python: str) -> None:
    """Build the node's cffi modules in this checkout for ``python`` unless they are there
    and newer than their builders, as ``pip install -e .`` does (``node/fastpath/native_unmask_build.py``,
    ``node/wire/native_scan_build.py``); one that cannot be built is named: the benchmark
    then measures the node without it."""
    suffix = subprocess.run([python, "-c", "import importlib.machinery as m; print(m.EXTENSION_SUFFIXES[0])"],
                            capture_output=True, text=True).stdout.strip()
    for folder, module, builder, what in NATIVE_MODULES:
        where = REPO / "node" / folder
        built = where / f"{module}{suffix}"
        if suffix and built.exists() and built.stat().st_mtime >= (where / builder).stat().st_mtime:
            continue  # built from this builder (an older build counts as absent in the node: rebuild it)
        result = subprocess.run([python, str(where / builder)], capture_output=True, text=True)
        if result.returncode != 0:
            print(f"  (the node on {python} runs without its {what}: {(result.stdout + result.stderr)[-500:]})",
                  flush=True)


def compile_bytecode(python: str) -> None:
    """Write the checkout's bytecode for ``python``, as ``pip install`` does for an installed
    package: with PYTHONDONTWRITEBYTECODE set, a node started from the checkout would otherwise
    compile every module of its own at each start (0.1-0.15 s), which Crossbar.io's venv never does."""
    subprocess.run([python, "-m", "compileall", "-q", str(REPO / "node")], stdout=subprocess.DEVNULL, check=False)


def node_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    env.pop("NOTIFY_SOCKET", None)
    env.update(extra or {})
    return env


def wampnode(workdir: Path, python: str = sys.executable, name: str = "wampnode",
             router_extra: Optional[Dict[str, Any]] = None) -> Router:
    build_native_modules(python)
    compile_bytecode(python)
    return Router(name, [python, "-m", "node", "start", "--cbdir", ".", "--loglevel", "warn"],
                  workdir / name, node_env(), router_extra)


def crossbar(workdir: Path, venv: Path) -> Router:
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    return Router("crossbar", [str(venv / "bin" / "crossbar"), "start", "--cbdir", ".", "--loglevel", "warn"],
                  workdir / "crossbar", env)
