"""An HTTP server process that answers every request with one fixed status (tunnel tests).

    python tests/http_answer.py STATUS [LOCATION]

Prints ``listening PORT``, then ``request N <request line>`` for each request, so
a test can tell that a client did not come back (e.g. did not follow a redirect).
"""
from __future__ import annotations

import socket
import sys
import threading

REASONS = {301: "Moved Permanently", 302: "Found", 403: "Forbidden", 404: "Not Found", 200: "OK"}


def main() -> None:
    status = int(sys.argv[1])
    location = sys.argv[2] if len(sys.argv) > 2 else None
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    print(f"listening {listener.getsockname()[1]}", flush=True)
    count = 0
    lock = threading.Lock()

    def answer(conn: socket.socket, number: int) -> None:
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(4096)
            if not chunk:
                conn.close()
                return
            data += chunk
        request_line = data.split(b"\r\n")[0].decode("latin-1")
        with lock:
            print(f"request {number} {request_line}", flush=True)
        head = f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}\r\nContent-Length: 0\r\n"
        if location:
            head += f"Location: {location}\r\n"
        conn.sendall((head + "Connection: close\r\n\r\n").encode())
        conn.close()

    while True:
        conn, _ = listener.accept()
        count += 1
        threading.Thread(target=answer, args=(conn, count), daemon=True).start()


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
