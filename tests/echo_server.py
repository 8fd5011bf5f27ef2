"""A TCP (or Unix, or TLS) echo server run as its own process by the bridge tests.

    python tests/echo_server.py [--tls CERT KEY] [--unix PATH] [--greet TEXT] [--pause S] [--flood BYTES]

Prints ``listening PORT`` (or the socket path) once ready, then one line per
event so a test can follow: ``accepted N`` for each connection (``accepted N PORT``
on TCP, PORT being the client's), ``eof N`` when a
client closed its side, ``closed N`` when a connection ended. ``--greet`` sends
TEXT on connect and closes (a server that ends the conversation: FIN).
``--pause S`` reads nothing for S seconds after accepting (a target that is not
reading), then prints ``resumed N`` and echoes. ``--flood BYTES`` sends BYTES as
fast as the connection takes them, prints ``flooded N SECONDS`` and closes.
"""
from __future__ import annotations

import argparse
import os
import socket
import ssl
import sys
import threading
import time

LOCK = threading.Lock()


def say(text: str) -> None:
    with LOCK:
        print(text, flush=True)


def serve(conn: socket.socket, number: int, args: argparse.Namespace, context: "ssl.SSLContext | None") -> None:
    try:
        if context is not None:
            conn = context.wrap_socket(conn, server_side=True)
        if args.greet is not None:
            conn.sendall(args.greet.encode())
            conn.shutdown(socket.SHUT_WR)
            while conn.recv(65536):
                pass
            say(f"eof {number}")
            return
        if args.flood:
            started = time.monotonic()
            block = b"x" * 65536
            for _ in range(args.flood // len(block)):
                conn.sendall(block)
            say(f"flooded {number} {time.monotonic() - started:.2f}")
            return
        if args.pause:
            time.sleep(args.pause)
            say(f"resumed {number}")
        while True:
            data = conn.recv(65536)
            if not data:
                say(f"eof {number}")
                return
            conn.sendall(data)
    except (OSError, ssl.SSLError) as e:
        say(f"error {number} {e.__class__.__name__}")
    finally:
        conn.close()
        say(f"closed {number}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    parser.add_argument("--unix")
    parser.add_argument("--greet")
    parser.add_argument("--pause", type=float, default=0.0)
    parser.add_argument("--flood", type=int, default=0)
    args = parser.parse_args()
    context = None
    if args.tls:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls[0], args.tls[1])
    if args.unix:
        if os.path.exists(args.unix):
            os.unlink(args.unix)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(args.unix)
        where = args.unix
    else:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.bind(("127.0.0.1", 0))
        where = str(listener.getsockname()[1])
    listener.listen(64)
    say(f"listening {where}")
    number = 0
    while True:
        conn, _ = listener.accept()
        number += 1
        if args.unix:
            say(f"accepted {number}")
        else:
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # small echoes without 40 ms stalls
            say(f"accepted {number} {conn.getpeername()[1]}")
        threading.Thread(target=serve, args=(conn, number, args, context), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        sys.exit(0)
