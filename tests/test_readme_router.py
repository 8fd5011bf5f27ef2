"""The README's router section: its configuration examples pass `wampnode check`."""
from __future__ import annotations

import json
import re
from pathlib import Path

from conftest import REPO, free_port, router_config, run_cli, tcp
from pki import make_pki


def router_section() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("<!-- SECTION: Router -->")
    return text[start:text.index("<!-- SECTION:", start + 1)]


def json_blocks(section: str) -> list:
    return re.findall(r"```json\n(.*?)```", section, re.S)


def test_router_examples_pass_check(tmp_path: Path):
    """The permissions example (a realm), the auth example (a transport's auth), and the cookie
    and SCRAM examples (a web path, a transport's auth) form a valid config."""
    realm_text, auth_text, cookie_text, scram_text = json_blocks(router_section())
    realm = json.loads(realm_text)
    auth = json.loads("{" + auth_text.replace('"0C:4F:8B:9E:..."', '"0C:4F"') + "}")["auth"]
    pki = make_pki(tmp_path / "pki")
    tls = {"key": str(pki.leaf_key), "certificate": str(pki.chain_crt), "ca_certificates": [str(pki.root_crt)]}
    cookie_path = json.loads("{" + cookie_text + "}")
    scram = json.loads("{" + scram_text.replace('"<64 hex>"', '"' + "0" * 64 + '"') + "}")
    config = router_config([{"type": "websocket", "endpoint": tcp(free_port(), tls=tls), "auth": auth},
                            {"type": "web", "endpoint": tcp(free_port()), "paths": cookie_path},
                            {"type": "websocket", "endpoint": tcp(free_port()), "auth": scram}], [realm])
    config_file = tmp_path / "config.json"
    config_file.write_text(json.dumps(config))
    env = {"JOE_TICKET": "t", "CARL_SECRET": "c", "CORA_SECRET": "d"}
    result = run_cli("check", "--cbdir", str(tmp_path), "--config", str(config_file), env=env)
    assert result.returncode == 0, result.stdout + result.stderr
