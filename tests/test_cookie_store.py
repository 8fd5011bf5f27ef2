"""The cookie stores on their own: bounds, expiry, the journal's torn last line, compaction,
Crossbar.io's cookies.dat, and SASLprep against passlib's (what autobahn's client uses)."""
from __future__ import annotations

import json
import os

import pytest

from node.config.model import CookieStoreOptions
from node.router.auth.saslprep import saslprep
from node.router.cookie_store import CookieLogin, CookieStore, FileCookieStore

LOGIN = CookieLogin("joe", "frontend", "ticket", "realm1")


def options(kind="memory", filename=None, max_cookies=100, purge=False):
    return CookieStoreOptions(type=kind, filename=filename, max_cookies=max_cookies, purge_on_startup=purge)


class Clock:
    now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bound_cookies_outlive_a_flood_of_new_ones():
    store = CookieStore(options(max_cookies=10), max_age=3600)
    bound = store.create(24)
    store.bind(bound, LOGIN)
    for _ in range(1000):
        store.create(24)
    assert len(store) == 10 and store.login(bound) == LOGIN


def test_cookies_expire_after_max_age():
    clock = Clock()
    store = CookieStore(options(), max_age=60, clock=clock)
    cbtid = store.create(24)
    store.bind(cbtid, LOGIN)
    clock.now += 59
    assert store.login(cbtid) == LOGIN
    clock.now += 1
    assert store.login(cbtid) is None and not store.exists(cbtid) and len(store) == 0


def test_torn_last_line_is_skipped_with_a_warning(tmp_path):
    path = tmp_path / "cookies.dat"
    store = FileCookieStore(options("file", str(path)), max_age=3600)
    cbtid = store.create(24)
    store.bind(cbtid, LOGIN)
    store.close()
    with open(path, "a") as f:
        f.write('{"cbtid":"abc","created":12')  # a write cut short by kill -9
    again = FileCookieStore(options("file", str(path)), max_age=3600)
    assert again.login(cbtid) == LOGIN
    again.close()
    assert all(json.loads(line) for line in path.read_text().splitlines())  # compacted at start


def test_journal_is_compacted_by_rename(tmp_path):
    path = tmp_path / "cookies.dat"
    store = FileCookieStore(options("file", str(path), max_cookies=20), max_age=3600)
    # held open, the original file keeps its inode: a later file cannot be given the same
    # number (after two compactions the filesystem may hand the first one's number out again)
    with open(path, "rb") as original:
        inode = os.fstat(original.fileno()).st_ino
        for _ in range(500):
            store.create(24)
        assert path.stat().st_ino != inode  # replaced, not rewritten in place
    assert len(path.read_text().splitlines()) <= 2 * 20 + 101
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*.tmp"))
    assert path.stat().st_mode & 0o777 == 0o600  # its cookie values log browsers in
    store.close()


def test_purge_on_startup_and_crossbar_files(tmp_path):
    path = tmp_path / "cookies.dat"
    path.write_text(json.dumps({"cbtid": "X" * 24, "status": "modified", "created": "2024-01-01T00:00:00Z",
                                "max_age": 604800, "authid": "joe", "authrole": "frontend",
                                "authmethod": "wampcra", "authrealm": "realm1", "authextra": None}) + "\n")
    store = FileCookieStore(options("file", str(path)), max_age=3600)
    assert store.login("X" * 24) == CookieLogin("joe", "frontend", "wampcra", "realm1")
    store.close()
    store = FileCookieStore(options("file", str(path), purge=True), max_age=3600)
    assert len(store) == 0
    store.close()


@pytest.mark.parametrize("text", ["user", "I\u00adX", "\u2168", "joe\u00a0doe", "Ünïcødé", "\u0007", "\u0627\u0031"])
def test_saslprep_matches_passlib(text):
    passlib = pytest.importorskip("passlib.utils")
    try:
        expected = passlib.saslprep(text)
    except ValueError:
        with pytest.raises(ValueError):
            saslprep(text)
    else:
        assert saslprep(text) == expected
