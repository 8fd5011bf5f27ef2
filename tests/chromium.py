"""Headless Chromium driven over the DevTools protocol, for tests that use a page as a person would.

The browser runs with its own throwaway HOME, so that the NSS database it trusts
(``$HOME/.pki/nssdb``) is the one the test filled with ``certutil``; certificate
errors are never ignored. DevTools messages travel over ``--remote-debugging-pipe``
(file descriptors 3 and 4, NUL-terminated JSON), so no debugging port is opened.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Dict, List, Optional


def chromium_binary() -> str:
    for name in ("chromium", "chromium-browser"):
        found = shutil.which(name)
        if found:
            return found
    raise AssertionError("chromium is missing: tests/run.sh installs Debian's chromium package")


def nss_database(home: Path, trusted_ca: Optional[Path] = None) -> Path:
    """Create ``HOME/.pki/nssdb`` as a person's first Chromium run would; import ``trusted_ca`` as a CA.

    ``-t C,,`` trusts the certificate to issue TLS server certificates (and nothing else).
    """
    certutil = shutil.which("certutil")
    assert certutil, "certutil is missing: tests/run.sh installs Debian's libnss3-tools package"
    db = home / ".pki" / "nssdb"
    db.mkdir(parents=True)
    subprocess.run([certutil, "-d", f"sql:{db}", "-N", "--empty-password"], check=True, capture_output=True)
    if trusted_ca is not None:
        subprocess.run([certutil, "-d", f"sql:{db}", "-A", "-t", "C,,", "-n", "wampnode test CA",
                        "-i", str(trusted_ca)], check=True, capture_output=True)
    return db


class DevToolsError(Exception):
    """The browser answered a DevTools command with an error."""


class Chromium:
    """One headless Chromium process with one page (a DevTools session attached to it)."""

    def __init__(self, home: Path, width: int = 900, height: int = 1000) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()
        args = [chromium_binary(), "--headless", "--remote-debugging-pipe", f"--user-data-dir={home / 'profile'}",
                "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--disable-background-networking", "--disable-sync", "--disable-dev-shm-usage",
                f"--window-size={width},{height}", "about:blank"]
        if os.geteuid() == 0:
            args.insert(2, "--no-sandbox")  # Chromium's sandbox refuses to run as root

        def pipes_on_3_and_4() -> None:
            read_end = fcntl.fcntl(to_browser_r, fcntl.F_DUPFD, 10)
            write_end = fcntl.fcntl(from_browser_w, fcntl.F_DUPFD, 10)
            os.dup2(read_end, 3)
            os.dup2(write_end, 4)

        env = {"HOME": str(home), "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C.UTF-8"}
        self.stderr_path = home / "chromium.log"
        with open(self.stderr_path, "w") as stderr:
            self.proc = subprocess.Popen(args, env=env, stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                                         pass_fds=(3, 4), preexec_fn=pipes_on_3_and_4)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: List[Dict[str, Any]] = []
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        self.send("Page.enable", session=True)

    def _read_message(self, deadline: float) -> Dict[str, Any]:
        while b"\0" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([self._from_browser], [], [], remaining)[0]:
                raise TimeoutError("no answer from chromium")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise ConnectionError(f"chromium exited: {self.stderr_path.read_text()[-2000:]}")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def send(self, method: str, params: Optional[Dict[str, Any]] = None, session: bool = False,
             timeout: float = 30.0) -> Dict[str, Any]:
        """Send one command and return its result; events that arrive meanwhile go to ``events``."""
        self._next_id += 1
        message: Dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = self.session
        os.write(self._to_browser, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            answer = self._read_message(deadline)
            if answer.get("id") == self._next_id:
                if "error" in answer:
                    raise DevToolsError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)

    def navigate(self, url: str) -> Dict[str, Any]:
        """Load ``url``; the result has ``errorText`` (e.g. net::ERR_CERT_AUTHORITY_INVALID) when loading failed."""
        return self.send("Page.navigate", {"url": url}, session=True)

    def evaluate(self, expression: str) -> Any:
        result = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True}, session=True)
        return result.get("result", {}).get("value")

    def wait_for(self, expression: str, timeout: float = 30.0) -> Any:
        """Poll a JavaScript expression until it is truthy; returns its last value (falsy on time-out)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            value = self.evaluate(expression)
            if value:
                return value
            time.sleep(0.1)
        return value

    def text(self, element_id: str) -> str:
        return self.evaluate(f"(document.getElementById({json.dumps(element_id)}) || {{}}).textContent || ''")

    def screenshot(self, path: Path) -> Path:
        data = self.send("Page.captureScreenshot", {"format": "png"}, session=True)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.send("Browser.close", timeout=5)
        except (OSError, TimeoutError, ConnectionError, DevToolsError):
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        for fd in (self._to_browser, self._from_browser):
            try:
                os.close(fd)
            except OSError:
                pass

    def __enter__(self) -> "Chromium":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
