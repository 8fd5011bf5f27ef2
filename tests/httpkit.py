"""curl for tests: one request, its status, headers and body."""
from __future__ import annotations

import subprocess
from typing import Dict, List, NamedTuple, Optional


class Answer(NamedTuple):
    status: int
    headers: Dict[str, str]  # lower-case names; the last value of a repeated header
    body: bytes


def parse_head(raw: bytes) -> Answer:
    """curl ``-i`` output: informational (1xx) heads are skipped."""
    while True:
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        if 100 <= status < 200 and rest.startswith(b"HTTP/"):
            raw = rest
            continue
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return Answer(status, headers, rest)


def curl(url: str, *args: str, data: Optional[bytes] = None, timeout: float = 30.0) -> Answer:
    """``curl -s -i URL ARGS``; ``data`` is sent as the body (``--data-binary @-``)."""
    command: List[str] = ["curl", "-s", "-i", "--max-time", str(timeout), url, *args]
    if data is not None:
        command += ["--data-binary", "@-"]
    done = subprocess.run(command, input=data, capture_output=True, timeout=timeout + 5)
    if done.returncode != 0:
        raise AssertionError(f"curl {url} failed ({done.returncode}): {done.stderr.decode(errors='replace')}")
    return parse_head(done.stdout)
