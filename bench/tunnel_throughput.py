#!/usr/bin/env python3
"""Throughput of ``wampnode tunnel`` -> ``tcpbridge`` -> TCP echo, all on 127.0.0.1.

    python3 bench/tunnel_throughput.py                          # 64 MB, 3 runs, defaults
    python3 bench/tunnel_throughput.py --mb 100 --repeat 5
    python3 bench/tunnel_throughput.py --send-message-size 65536   # tunnel and bridge
    python3 bench/tunnel_throughput.py --base64 --python .venv-pypy/bin/python

Three processes besides this one: a node (``python -m node start``) with one
``tcpbridge`` path to an echo server, the echo server (this script with
``--echo-server``), and ``python -m node tunnel --listen``. Each run opens one
local connection to the tunnel, sends ``--mb`` MB (10^6 octets) from one thread
and reads the echo in another; the figure is MB/s of payload echoed (each octet
crosses the tunnel and the bridge twice), from the first octet sent to the last
received, checked against a SHA-256 of what was sent. Also printed: CPU seconds
the tunnel and the node used per run. The runs share the processes; a 4 MB
warm-up run comes first and is not counted. The last line gives the median and
the spread (min-max) over the runs.

Without ``--send-message-size`` neither process is given the option, so the
script also measures a wampnode that predates it.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

REPO = Path(__file__).resolve().parent.parent
BLOCK = 1 << 20


def parse_args(argv: Optional[List[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mb", type=int, default=64, help="MB (10^6 octets) echoed per run (default 64)")
    parser.add_argument("--repeat", type=int, default=3, help="measured runs (default 3)")
    parser.add_argument("--python", default=sys.executable, help="interpreter for the node and the tunnel")
    parser.add_argument("--base64", action="store_true", help="tunnel with --base64 (text frames)")
    parser.add_argument("--send-message-size", type=int, default=None,
                        help="give the tunnel --send-message-size and the bridge send_message_size")
    parser.add_argument("--max-message-size", type=int, default=None,
                        help="give the tunnel --max-message-size and the bridge max_message_size")
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- the echo server (its own process, so it does not share this one's GIL) ----------


def echo_server() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    print(listener.getsockname()[1], flush=True)

    def serve(conn: socket.socket) -> None:
        with conn:
            while True:
                data = conn.recv(256 * 1024)
                if not data:
                    return
                conn.sendall(data)

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


# --- processes ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def env() -> Dict[str, str]:
    variables = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    variables["PYTHONPATH"] = str(REPO)
    return variables


def wait_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"{what} did not listen on {port} within {timeout:.0f} s")


def cpu_seconds(pid: int) -> float:
    """utime + stime of ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start(args: argparse.Namespace, workdir: Path) -> Tuple[List[subprocess.Popen], int, int, int]:
    """Echo server, node, tunnel; returns (processes, tunnel port, tunnel pid, node pid)."""
    processes: List[subprocess.Popen] = []
    echo = subprocess.Popen([sys.executable, __file__, "--echo-server"], stdout=subprocess.PIPE, text=True)
    processes.append(echo)
    echo_port = int(echo.stdout.readline())
    path: Dict[str, Any] = {"type": "tcpbridge", "target": {"type": "tcp", "host": "127.0.0.1", "port": echo_port}}
    tunnel_options: List[str] = []
    if args.send_message_size is not None:
        path["send_message_size"] = args.send_message_size
        tunnel_options += ["--send-message-size", str(args.send_message_size)]
    if args.max_message_size is not None:
        path["max_message_size"] = args.max_message_size
        tunnel_options += ["--max-message-size", str(args.max_message_size)]
    node_port = free_port()
    config = {"version": 2, "workers": [{"type": "router", "realms": [], "transports": [{
        "type": "web", "endpoint": {"type": "tcp", "port": node_port, "interface": "127.0.0.1"},
        "paths": {"echo": path}}]}]}
    (workdir / "config.json").write_text(json.dumps(config))
    node_log = open(workdir / "node.log", "w")
    node = subprocess.Popen([args.python, "-m", "node", "start", "--cbdir", str(workdir), "--loglevel", "warn"],
                            stdout=node_log, stderr=subprocess.STDOUT, env=env(), cwd=str(workdir))
    processes.append(node)
    wait_port(node_port, node, "the node")
    tunnel_port = free_port()
    tunnel_log = open(workdir / "tunnel.log", "w")
    tunnel = subprocess.Popen([args.python, "-m", "node", "tunnel", "--listen", f"127.0.0.1:{tunnel_port}",
                               f"ws://127.0.0.1:{node_port}/echo", "--loglevel", "warn",
                               *(["--base64"] if args.base64 else []), *tunnel_options],
                              stdout=subprocess.DEVNULL, stderr=tunnel_log, env=env())
    processes.append(tunnel)
    wait_port(tunnel_port, tunnel, "the tunnel")
    return processes, tunnel_port, tunnel.pid, node.pid


def stop(processes: List[subprocess.Popen]) -> None:
    for proc in reversed(processes):
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)


# --- one run --------------------------------------------------------------------------


def echo_once(port: int, total: int, block: bytes, timeout: float = 600.0) -> float:
    """Send ``total`` octets (``block`` repeated) through the tunnel; seconds until all came back intact."""
    sent_hash = hashlib.sha256()
    count, rest = divmod(total, len(block))
    for _ in range(count):
        sent_hash.update(block)
    sent_hash.update(block[:rest])
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def send() -> None:
            for _ in range(count):
                s.sendall(block)
            s.sendall(block[:rest])

        started = time.perf_counter()
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        received_hash = hashlib.sha256()
        received = 0
        while received < total:
            chunk = s.recv(BLOCK)
            if not chunk:
                break
            received += len(chunk)
            received_hash.update(chunk)
        elapsed = time.perf_counter() - started
        sender.join()
    if received != total or received_hash.digest() != sent_hash.digest():
        raise SystemExit(f"echo broken: {received} of {total} octets came back"
                         + ("" if received != total else ", contents differ"))
    return elapsed


def main(argv: Optional[List[str]] = None) -> int:
    args = parse_args(argv)
    if args.echo_server:
        echo_server()
        return 0
    block = os.urandom(BLOCK)
    total = args.mb * 1000 * 1000
    settings = [f"send_message_size={args.send_message_size or 'default'}",
                f"max_message_size={args.max_message_size or 'default'}", "base64" if args.base64 else "binary",
                Path(args.python).name]
    print(f"tunnel -> tcpbridge -> echo, {args.mb} MB per run, {', '.join(settings)}")
    with tempfile.TemporaryDirectory(prefix="wampnode-tunnel-bench-") as directory:
        processes, port, tunnel_pid, node_pid = start(args, Path(directory))
        try:
            echo_once(port, 4 * 1000 * 1000, block)
            rates: List[float] = []
            for run in range(1, args.repeat + 1):
                tunnel_cpu, node_cpu = cpu_seconds(tunnel_pid), cpu_seconds(node_pid)
                elapsed = echo_once(port, total, block)
                tunnel_cpu, node_cpu = cpu_seconds(tunnel_pid) - tunnel_cpu, cpu_seconds(node_pid) - node_cpu
                rates.append(args.mb / elapsed)
                print(f"run {run}: {rates[-1]:7.1f} MB/s  ({elapsed:.2f} s; CPU s: tunnel {tunnel_cpu:.2f}, "
                      f"node {node_cpu:.2f})", flush=True)
        finally:
            stop(processes)
    low, high = min(rates), max(rates)
    median = statistics.median(rates)
    print(f"median {median:.1f} MB/s, spread {low:.1f}-{high:.1f} MB/s "
          f"({(high - low) / median * 100:.0f}% of the median)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
