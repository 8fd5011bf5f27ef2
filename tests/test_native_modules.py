"""The node says which of its C modules it runs without, and how to bring them back.

A copy of the package with no unmasker and a scanner built by an older builder (the
``uint8_t *`` signature the scanner had before it took ``char *``), compiled here with
cffi as ``setup.py`` compiles the real one: ``wampnode version`` names both states, and
``wampnode start`` warns once for each with the fix, then routes large messages as usual.
"""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, free_port, node_env, router_config, run_cli, start_node, tcp
from test_router_e2e_protocol import HELLO, exchange
from wampclient import run

cffi = pytest.importorskip("cffi")


def package_copy(tmp_path: Path) -> Path:
    """The ``node`` package copied under ``tmp_path/pkg`` without its built modules, and
    a scanner module there from an older builder."""
    root = tmp_path / "pkg"
    shutil.copytree(REPO / "node", root / "node",
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", "*.o", "*.c"))
    ffi = cffi.FFI()
    ffi.cdef("int scan_json(const uint8_t *octets, size_t length, size_t *found);")
    ffi.set_source("node.wire._native_scan", """
        #include <stdint.h>
        #include <stddef.h>
        int scan_json(const uint8_t *octets, size_t length, size_t *found) { return -1; }
    """)
    ffi.compile(tmpdir=str(root))
    assert list((root / "node" / "wire").glob("_native_scan*.so"))
    return root


def test_version_and_start_name_the_modules_the_node_runs_without(tmp_path: Path) -> None:
    root = package_copy(tmp_path)
    env = {"PYTHONPATH": str(root)}
    where = subprocess.run([sys.executable, "-c", "import node; print(node.__file__)"], env=node_env(env),
                           cwd=str(tmp_path), capture_output=True, text=True, timeout=60)
    assert where.stdout.strip() == str(root / "node" / "__init__.py"), where  # the copy is what runs
    version = run_cli("version", env=env, cwd=str(tmp_path))
    assert version.returncode == 0, version.stderr
    assert "C unmasker: not built (node/fastpath/_native_unmask)" in version.stdout, version.stdout
    assert "C scanner of large messages: built by an older wampnode, not used" in version.stdout, version.stdout

    port = free_port()
    node = start_node(router_config([{"type": "websocket", "endpoint": tcp(port)}]), tmp_path / "cb", env=env)
    try:
        large = "x" * 300_000
        replies, _ = run(exchange(f"ws://127.0.0.1:{port}/", HELLO, [16, 1, {"acknowledge": True}, "t", [large]],
                                  wait_close=False))
        assert [reply[0] for reply in replies] == [2, 17], replies  # WELCOME, PUBLISHED
        lines = node.output().splitlines()
        unmasker = [line for line in lines if "Running without the C unmasker" in line]
        scanner = [line for line in lines if "Running without the C scanner" in line]
        assert len(unmasker) == 1 and "not built" in unmasker[0] and "install a C compiler" in unmasker[0], lines
        assert len(scanner) == 1 and "`pip install -e .`" in scanner[0], lines
    finally:
        assert node.stop() == 0
    assert "Traceback" not in node.output()


def test_a_current_build_is_in_use_and_start_warns_of_nothing(tmp_path: Path) -> None:
    """The checkout's own build (the install compiles both modules; CI has the compiler)."""
    version = run_cli("version")
    assert "C unmasker: in use" in version.stdout, version.stdout
    assert "C scanner of large messages: in use" in version.stdout, version.stdout
    node = start_node(router_config([{"type": "websocket", "endpoint": tcp(free_port())}]), tmp_path / "cb")
    try:
        assert "Running without" not in node.output()
    finally:
        assert node.stop() == 0
