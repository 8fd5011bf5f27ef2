"""Each TLS file is read once per start, once per reload, and once by ``wampnode check``.

The opens are counted by the kernel: Linux inotify reports every open(2) of a
file in a watched directory, by any process, whether Python or OpenSSL opens
it. The TLS block names every kind of file (key, certificate, chain file, client
CAs, DH parameters, OCSP response, and an SNI entry's key and certificate; the
chain file is named by the SNI entry too), and
two hygiene warnings (a group-readable key, an out-of-date OCSP response) show
that the audit ran on what was read, without opening anything again.
"""
from __future__ import annotations

import ctypes
import os
import signal
import struct
import sys
from collections import Counter
from pathlib import Path
from typing import Dict

import pytest

from conftest import free_port, router_config, run_cli, tcp
from node.tls.openssl import can_set_group_lists
from pki import dhparam, issue, make_pki, ocsp_response

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="inotify is Linux's")

IN_OPEN = 0x20
_EVENT = struct.Struct("iIII")  # struct inotify_event: wd, mask, cookie, len; then the name


class Opens:
    """Counts the opens of each file in ``directory`` since this object was made."""

    def __init__(self, directory: Path) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0 or libc.inotify_add_watch(self.fd, os.fsencode(directory), IN_OPEN) < 0:
            raise OSError(ctypes.get_errno(), "inotify")
        self.counts: Counter = Counter()

    def read(self) -> Dict[str, int]:
        """Opens so far, by file name (the events of opens already made are queued)."""
        while True:
            try:
                data = os.read(self.fd, 65536)
            except BlockingIOError:
                return dict(self.counts)
            offset = 0
            while offset < len(data):
                _, mask, _, size = _EVENT.unpack_from(data, offset)
                name = data[offset + _EVENT.size:offset + _EVENT.size + size].rstrip(b"\0")
                offset += _EVENT.size + size
                if mask & IN_OPEN and name:  # no name: the directory itself
                    self.counts[os.fsdecode(name)] += 1

    def close(self) -> None:
        os.close(self.fd)


@pytest.fixture
def tls_files(tmp_path: Path) -> Dict[str, Path]:
    """Every kind of file a TLS block names, alone in one directory."""
    pki = make_pki(tmp_path / "pki")
    api_key, api_crt = issue(pki, "api", hosts=["api.example.test"])
    directory = tmp_path / "tls"
    directory.mkdir()
    files = {
        "key": pki.leaf_key, "certificate": pki.leaf_crt, "chain": pki.intermediate_crt,
        "clients": pki.root_crt, "api_key": api_key, "api_crt": api_crt,
    }
    copies = {name: directory / f"{name}.pem" for name in files}
    for name, source in files.items():
        copies[name].write_bytes(source.read_bytes())
        os.chmod(copies[name], 0o600)
    os.chmod(copies["key"], 0o640)  # a hygiene warning
    if can_set_group_lists():  # else an RFC 7919 dhparam is refused (see test_tls)
        copies["dhparam"] = dhparam(directory)
    copies["ocsp"] = ocsp_response(pki, directory / "ocsp.der", next_update=-1)  # out of date: a warning
    return copies


def test_each_file_read_once_per_start_reload_and_check(tmp_path, node_factory, tls_files):
    """Start opens each TLS file once (warnings included), a reload once more, check once more."""
    f = tls_files
    tls = {
        "key": str(f["key"]), "certificate": str(f["certificate"]),
        "chain_certificates": [str(f["chain"])], "ca_certificates": [str(f["clients"])],
        "verify_client": "optional", "ocsp_staple": str(f["ocsp"]),
        "sni": {"api.example.test": {"key": str(f["api_key"]), "certificate": str(f["api_crt"]),
                                     "chain_certificates": [str(f["chain"])]}},
    }
    if "dhparam" in f:
        tls["dhparam"] = str(f["dhparam"])
    config = router_config([{"type": "websocket", "endpoint": tcp(free_port(), tls)}])
    every = {path.name: 1 for path in f.values()}  # chain.pem too, though named twice
    opens = Opens(tls_files["key"].parent)
    try:
        node = node_factory(config, tmp_path / "node")
        output = node.output()
        assert f"private key {f['key']} is readable by group or others (mode 0640)" in output, output
        assert f"OCSP response {f['ocsp']} is out of date since " in output, output
        assert opens.read() == every
        node.signal(signal.SIGHUP)
        assert node.wait_for("TLS certificates and keys reloaded"), node.output()
        assert opens.read() == {name: 2 for name in every}
        result = run_cli("check", "--cbdir", str(tmp_path / "node"))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "2 warning(s)" in result.stdout
        assert opens.read() == {name: 3 for name in every}
    finally:
        opens.close()
