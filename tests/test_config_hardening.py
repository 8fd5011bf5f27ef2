"""The config file and node directory as attack surface: size, permissions `init` sets, writable warnings."""
from __future__ import annotations

import json
import os
import stat
import time

from conftest import free_port, router_config, run_cli, start_node, tcp


def test_a_config_file_over_16_mib_is_refused_with_one_line(tmp_path):
    """--config /dev/zero (endless) and a 17 MiB file: exit 2 at once, one line naming the file."""
    big = tmp_path / "big.json"
    big.write_bytes(b" " * (17 * 1024 * 1024))
    for config in ("/dev/zero", str(big)):
        started = time.monotonic()
        result = run_cli("check", "--cbdir", str(tmp_path), "--config", config, timeout=20)
        assert result.returncode == 2, result
        assert result.stderr.strip() == (f"{config}: larger than 16 MiB, so not a node configuration. "
                                         "Pass the node's config.json (--config FILE or --cbdir DIR)"), result.stderr
        assert time.monotonic() - started < 20


def test_init_writes_the_config_readable_by_its_owner_only(tmp_path):
    """`init` writes config.json with mode 0600 (it may hold secrets), whatever the umask."""
    assert run_cli("init", "--appdir", str(tmp_path)).returncode == 0
    mode = stat.S_IMODE(os.stat(tmp_path / ".crossbar" / "config.json").st_mode)
    assert mode == 0o600, oct(mode)


def test_writable_node_directory_and_config_are_warned_about(tmp_path):
    """A 0777 node directory and a 0666 config.json: `check` prints a warning for each (exit 0), `start` logs them."""
    cbdir = tmp_path / "cb"
    cbdir.mkdir()
    config = cbdir / "config.json"
    config.write_text(json.dumps(router_config([{"type": "websocket", "endpoint": tcp(free_port())}])))
    clean = run_cli("check", "--cbdir", str(cbdir))
    assert clean.returncode == 0 and clean.stderr == "", clean
    os.chmod(cbdir, 0o777)
    os.chmod(config, 0o666)
    try:
        result = run_cli("check", "--cbdir", str(cbdir))
        assert result.returncode == 0, result
        assert result.stderr.splitlines() == [
            f"warning: {cbdir}: the node directory is writable by its group and all users (mode 0777), who could "
            f"change what the node serves and trusts. Fix: chmod go-w {cbdir}",
            f"warning: {config}: the config file is writable by its group and all users (mode 0666), who could "
            f"change what the node serves and trusts. Fix: chmod go-w {config}"], result.stderr
        assert "OK (1 realm(s), 1 transport(s), 2 warning(s))" in result.stdout
        os.chmod(config, 0o620)
        node = start_node(None, cbdir)
        try:
            output = node.output()
            assert f"[warn] {cbdir}: the node directory is writable by its group and all users" in output, output
            assert f"[warn] {config}: the config file is writable by its group (mode 0620)" in output, output
        finally:
            node.stop()
    finally:
        os.chmod(cbdir, 0o755)
