"""A real Prometheus server (Debian package ``prometheus``) started for one test on 127.0.0.1.

It scrapes the targets it is given every second and answers PromQL over its HTTP
API (:meth:`Prometheus.query`), as it would for an operator's dashboards and alerts.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, Dict, List, Optional

from conftest import free_port, wait_until

SCRAPE_INTERVAL = "1s"


def prometheus_binary() -> str:
    found = shutil.which("prometheus")
    if not found:
        raise AssertionError("prometheus is not installed: run tests/run.sh (it installs tests/apt-packages.txt)")
    return found


class Prometheus:
    """``prometheus`` scraping ``targets`` (host:port) at ``metrics_path``, optionally with basic auth."""

    def __init__(self, targets: List[str], metrics_path: str = "/metrics",
                 basic_auth: Optional[Dict[str, str]] = None) -> None:
        self.directory = Path(tempfile.mkdtemp(prefix="wampnode-prometheus-"))
        self.port = free_port()
        job = ["  - job_name: wampnode", f"    scrape_interval: {SCRAPE_INTERVAL}",
               f"    scrape_timeout: {SCRAPE_INTERVAL}", f"    metrics_path: {metrics_path}"]
        if basic_auth:
            job += ["    basic_auth:", f"      username: {basic_auth['username']}",
                    f"      password: {basic_auth['password']}"]
        job += ["    static_configs:", f"      - targets: {json.dumps(targets)}"]
        (self.directory / "prometheus.yml").write_text(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n" + "\n".join(job) + "\n")
        self.log_path = self.directory / "prometheus.log"
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [prometheus_binary(), f"--config.file={self.directory / 'prometheus.yml'}",
                 f"--storage.tsdb.path={self.directory / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}",
                 "--log.level=warn"], stdout=log, stderr=subprocess.STDOUT, cwd=str(self.directory))
        if not wait_until(self._ready, 30, 0.1):
            self.stop()
            raise AssertionError(f"prometheus did not start:\n{self.logs()}")

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]

    def _get(self, path: str) -> Any:
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5) as answer:
            return answer.read()

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"prometheus exited:\n{self.logs()}")
        try:
            self._get("/-/ready")
            return True
        except OSError:
            return False

    def query(self, expr: str) -> List[Dict[str, Any]]:
        """The result vector of an instant PromQL query: [{"metric": {...}, "value": [t, "v"]}, ...]."""
        answer = json.loads(self._get("/api/v1/query?" + urllib.parse.urlencode({"query": expr})))
        assert answer["status"] == "success", answer
        return answer["data"]["result"]

    def value(self, expr: str) -> Optional[float]:
        """The value of a query with one result (None if it has none yet)."""
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def wait_value(self, expr: str, expected: float, timeout: float = 20.0) -> Optional[float]:
        """Poll until ``expr`` has the value ``expected``; returns the last value seen."""
        seen: List[Optional[float]] = [None]

        def reached() -> bool:
            seen[0] = self.value(expr)
            return seen[0] == expected

        wait_until(reached, timeout, 0.2)
        return seen[0]

    def targets(self) -> List[Dict[str, Any]]:
        return json.loads(self._get("/api/v1/targets"))["data"]["activeTargets"]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.directory, ignore_errors=True)

    def __enter__(self) -> "Prometheus":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def wait_scraped(prometheus: Prometheus, timeout: float = 20.0) -> None:
    """Wait until every target has been scraped successfully at least once."""
    def up() -> bool:
        targets = prometheus.targets()
        return bool(targets) and all(t.get("health") == "up" for t in targets)

    if not wait_until(up, timeout, 0.2):
        raise AssertionError(f"prometheus never scraped the node: {prometheus.targets()}\n{prometheus.logs()}")
