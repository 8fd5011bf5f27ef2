"""The node key: the Ed25519 key a proxy worker signs with (``cryptosign-proxy``).

Crossbar.io's files and format: ``<node directory>/key.priv`` (mode 0600) and ``key.pub``,
a text line, a blank line, then ``tag: value`` lines; ``private-key-ed25519`` is the
32-byte seed in hex, ``public-key-ed25519`` the public key in hex (what a router's
``cryptosign-proxy`` principal lists in ``authorized_keys``). A node directory that has
Crossbar.io's key keeps it: the router's configuration need not change.
"""
from __future__ import annotations

import datetime
import getpass
import os
import socket
from typing import Dict, Tuple

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat

from node.errors import ConfigError

PRIVATE_FILE = "key.priv"
PUBLIC_FILE = "key.pub"


def _tags(path: str) -> Dict[str, str]:
    tags: Dict[str, str] = {}
    with open(path, "r", encoding="utf-8") as f:
        blank = False
        for line in f:
            if not line.strip():
                blank = True
            elif blank and ":" in line:
                tag, value = line.split(":", 1)
                tags[tag.strip().lower()] = value.strip()
    return tags


def public_hex(seed_hex: str) -> str:
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(seed_hex))
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw).hex()


def read_node_key(cbdir: str) -> Tuple[str, str]:
    """(private seed, public key), both hex, from ``key.priv``.

    @raise ConfigError: the file is missing or holds no valid key.
    """
    path = os.path.join(cbdir, PRIVATE_FILE)
    try:
        seed = _tags(path).get("private-key-ed25519", "")
        return seed, public_hex(seed)
    except OSError as e:
        raise ConfigError(path, f"cannot read the node key: {e.strerror}",
                          "Start the node once (it writes key.priv) or copy Crossbar.io's key.priv here")
    except ValueError:
        raise ConfigError(path, "no valid private-key-ed25519 (64 hex digits) in the node key file",
                          "Remove the file to have a new key made at the next start")


def ensure_node_key(cbdir: str) -> str:
    """The node's public key (hex); ``key.priv`` and ``key.pub`` are written first if missing.

    @raise ConfigError: an existing key file is unreadable or invalid.
    """
    path = os.path.join(cbdir, PRIVATE_FILE)
    if os.path.exists(path):
        return read_node_key(cbdir)[1]
    seed = Ed25519PrivateKey.generate().private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption()).hex()
    pub = public_hex(seed)
    try:
        creator = f"{getpass.getuser()}@{socket.gethostname()}"
    except Exception:  # no user name in this environment: the tag is informational
        creator = "unknown"
    common = [("creator", creator), ("created-at", datetime.datetime.utcnow().isoformat() + "Z"),
              ("machine-id", socket.gethostname()), ("public-key-ed25519", pub)]
    _write(path, "Crossbar.io node private key - KEEP THIS SAFE!\n\n", common + [("private-key-ed25519", seed)], 0o600)
    _write(os.path.join(cbdir, PUBLIC_FILE), "Crossbar.io node public key\n\n", common, 0o644)
    return pub


def _write(path: str, head: str, tags: list, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(head + "".join(f"{tag}: {value}\n" for tag, value in tags))

