"""A web server behind the node's ``reverseproxy`` in tests: Python's ``ThreadingHTTPServer``.

    python tests/proxy_backend.py PORT

- ``GET /headers``: the request line and headers it got, as JSON;
- ``POST|PUT /upload``: reads the body (Content-Length or chunked), answers its
  length and SHA-256 as JSON;
- ``GET|HEAD /file``: 1000 octets with an ETag (304 for ``If-None-Match``) and
  ``Range: bytes=A-B`` (206);
- ``GET /big?n=N``: N octets of ``x``, streamed in 64 KiB writes;
- ``GET /slow?s=S``: answers after S seconds;
- ``GET /connections``: how many TCP connections it has accepted;
- ``POST /record``: keeps the body (method, headers, body); ``GET /records`` lists them.

HTTP/1.1 with keep-alive. Prints ``listening PORT`` when ready.
"""
from __future__ import annotations

import hashlib
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FILE = bytes(range(256)) * 3 + bytes(232)  # 1000 octets
ETAG = '"v1"'
CONNECTIONS = [0]
RECORDS: list = []


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # head and body are separate writes: no 40 ms delayed-ACK wait

    def setup(self) -> None:
        super().setup()
        CONNECTIONS[0] += 1

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _send(self, code: int, body: bytes, content_type: str = "application/json", **headers: str) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers.items():
            self.send_header(name.replace("_", "-"), value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def do_GET(self) -> None:  # noqa: N802
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path.endswith("/headers"):
            self._send(200, json.dumps({"line": f"{self.command} {self.path} {self.request_version}",
                                        "headers": [[k, v] for k, v in self.headers.items()]}).encode())
        elif url.path.endswith("/file"):
            if self.headers.get("If-None-Match") == ETAG:
                self.send_response(304)
                self.send_header("ETag", ETAG)
                self.end_headers()
                return
            spec = self.headers.get("Range", "")
            if spec.startswith("bytes="):
                start, _, end = spec[6:].partition("-")
                part = FILE[int(start):int(end) + 1]
                self._send(206, part, "application/octet-stream", ETag=ETAG,
                           Content_Range=f"bytes {start}-{int(start) + len(part) - 1}/{len(FILE)}")
            else:
                self._send(200, FILE, "application/octet-stream", ETag=ETAG, Accept_Ranges="bytes")
        elif url.path.endswith("/big"):
            total = int(query["n"][0])
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(total))
            self.end_headers()
            block = b"x" * 65536
            while total > 0:
                self.wfile.write(block[:total])
                total -= len(block)
        elif url.path.endswith("/slow"):
            time.sleep(float(query["s"][0]))
            self._send(200, b'{"slow": true}')
        elif url.path.endswith("/records"):
            self._send(200, json.dumps(RECORDS).encode())
        elif url.path.endswith("/connections"):
            self._send(200, json.dumps({"connections": CONNECTIONS[0]}).encode())
        else:
            self._send(404, b'{"error": "not found"}')

    do_HEAD = do_GET

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        if self.path.endswith("/record"):
            RECORDS.append({"method": self.command, "content_type": self.headers.get("Content-Type"),
                            "body": body.decode("utf-8", "replace")})
            self._send(200, b'{"recorded": true}')
            return
        self._send(200, json.dumps({"length": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                                    "chunked": "chunked" in self.headers.get("Transfer-Encoding", "")}).encode())

    do_PUT = do_POST


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, BrokenPipeError)):
            super().handle_error(request, client_address)  # a client that left (a proxy's 504) is no error


def main() -> None:
    server = Server(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 0), Handler)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
