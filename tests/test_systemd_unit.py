"""examples/systemd/wampnode.service: what the issue asks of it, `systemd-analyze verify` and `security`."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Dict, List

from conftest import REPO

UNIT = REPO / "examples" / "systemd" / "wampnode.service"
SHIPPED_BINARY = "/opt/wampnode/bin/wampnode"
MAX_EXPOSURE = 2.0  # systemd-analyze security: 0 = fully locked down, 10 = unprotected


def directives(text: str) -> Dict[str, List[str]]:
    """``Key=value`` lines of a unit file, every value of a key in order."""
    found: Dict[str, List[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")) and "=" in line:
            key, value = line.split("=", 1)
            found.setdefault(key.strip(), []).append(value.strip())
    return found


def runnable_copy(tmp_path: Path) -> Path:
    """The unit with ExecStart pointing at this checkout's node (verify needs the binary to exist).

    Only the binary path changes; every other line is the shipped unit's.
    """
    wrapper = tmp_path / "wampnode"
    wrapper.write_text(f'#!/bin/sh\nPYTHONPATH="{REPO}" exec "{sys.executable}" -m node "$@"\n')
    wrapper.chmod(0o755)
    unit = tmp_path / "wampnode.service"
    text = UNIT.read_text()
    assert SHIPPED_BINARY in text
    unit.write_text(text.replace(SHIPPED_BINARY, str(wrapper)))
    return unit


def systemd_analyze(*args: str) -> subprocess.CompletedProcess:
    tool = shutil.which("systemd-analyze")
    assert tool, "systemd-analyze is missing: tests/run.sh installs Debian's systemd package"
    return subprocess.run([tool, *args], capture_output=True, text=True, timeout=60)


def test_unit_has_what_the_issue_asks():
    """The shipped unit is Type=notify, runs the console script on /var/lib/wampnode, reloads with SIGHUP, and is hardened."""
    d = directives(UNIT.read_text())
    assert d["Type"] == ["notify"]
    assert d["ExecStart"] == [f"{SHIPPED_BINARY} start --cbdir /var/lib/wampnode"]
    assert d["ExecReload"] == ["/bin/kill -HUP $MAINPID"]
    for key, value in {"Restart": "on-failure", "User": "wampnode", "LimitNOFILE": "65536",
                       "AmbientCapabilities": "CAP_NET_BIND_SERVICE", "NoNewPrivileges": "yes",
                       "ProtectSystem": "strict", "ReadWritePaths": "/var/lib/wampnode", "ProtectHome": "yes",
                       "PrivateTmp": "yes", "PrivateDevices": "yes",
                       "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6"}.items():
        assert d.get(key) == [value], key
    # pyOpenSSL's cffi callbacks need write+execute memory (see the comment in the unit).
    assert "MemoryDenyWriteExecute" not in d


def test_systemd_analyze_verify_passes(tmp_path):
    """`systemd-analyze verify` accepts the unit without a warning."""
    result = systemd_analyze("verify", str(runnable_copy(tmp_path)))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_systemd_analyze_security_exposure(tmp_path, capsys):
    """`systemd-analyze security` rates the unit's exposure at most 2.0 (of 10)."""
    result = systemd_analyze("security", "--offline=true", "--no-pager", str(runnable_copy(tmp_path)))
    assert result.returncode == 0, result.stderr
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+) (\w+)", result.stdout)
    assert match, result.stdout
    with capsys.disabled():
        print(f"\nsystemd-analyze security: exposure {match.group(1)} {match.group(2)}")
    assert float(match.group(1)) <= MAX_EXPOSURE, result.stdout
