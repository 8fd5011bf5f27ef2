"""Tracking cookies and the logins bound to them: Crossbar.io's cookie store, bounded.

A WebSocket (or long-poll) service with ``cookie`` hands each browser a random
cookie value (``cbtid``) and keeps it here. When a session on a connection with that
cookie joins by any method but ``cookie`` and ``anonymous``, its identity is bound
to the cookie (:meth:`CookieStore.bind`); ``auth.cookie`` then lets a later
connection that shows the cookie join as that identity without credentials.

:class:`CookieStore` keeps everything in memory. :class:`FileCookieStore` also
writes it to a file so that cookies and their logins survive a restart:

- every change is one JSON line appended to the file (a journal). Bindings are
  flushed and fsynced before the session is welcomed; new tracking cookies are only
  flushed (one lost at a power cut means a fresh cookie, no harm);
- when the journal holds more than about twice the live cookies, and at start-up,
  the live cookies are written to a temporary file beside it, fsynced, and renamed
  over the journal (then the directory is fsynced; :mod:`node.atomic_file`): a
  ``kill -9`` at any moment leaves either the old or the new file, never a mix. The
  file is its owner's alone (mode 0600): a cookie value in it logs a browser in;
- a line cut short by a crash (the only damage a kill can do to an append) is
  skipped when the file is read, with a warning naming how many.

Both are bounded: ``max_cookies`` entries. Past it, the cookie used longest ago among
those without a login is forgotten first (a flood of new connections must not log
browsers out), then the login used longest ago. Each entry expires ``max_age``
seconds after it was made (when its browser drops the cookie too). Files of
Crossbar.io's own store (``cookies.dat`` lines with ``authid`` and ``authrole``) are
read as well, so its logins carry over.
"""
from __future__ import annotations

import json
import os
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

from twisted.logger import Logger

from node.atomic_file import replace_file
from node.config.model import CookieStoreOptions
from node.router.ids import random_bytes

log = Logger()

# autobahn.util.newid's alphabet (what Crossbar.io's cookie values are made of)
_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-"
_COMPACT_SLACK = 100  # journal lines beyond twice the live cookies before it is rewritten
COOKIE_FILE_MODE = 0o600  # its cookie values are logins (module doc)


@dataclass(frozen=True)
class CookieLogin:
    """The identity a cookie was bound to by a successful login."""

    authid: str
    authrole: str
    authmethod: str
    realm: Optional[str]
    authextra: Optional[Dict[str, Any]] = None


def new_cookie_value(length: int) -> str:
    """``length`` characters of ``_ALPHABET``, 6 random bits each (64 symbols: unbiased)."""
    return "".join(_ALPHABET[b % 64] for b in random_bytes(length))


Entry = Tuple[float, Optional[CookieLogin]]  # (created, login)


class CookieStore:
    """Cookies in memory: cbtid -> (created, login or None), least recently used first,
    those without a login apart from those with one (see the module doc)."""

    def __init__(self, options: CookieStoreOptions, max_age: int,
                 clock: Callable[[], float] = time.time) -> None:
        self.options = options
        self.max_age = max_age
        self._clock = clock
        self._unbound: "OrderedDict[str, Entry]" = OrderedDict()
        self._bound: "OrderedDict[str, Entry]" = OrderedDict()

    def __len__(self) -> int:
        return len(self._unbound) + len(self._bound)

    def _get(self, cbtid: str) -> Optional[Entry]:
        entry = self._unbound.get(cbtid)
        return entry if entry is not None else self._bound.get(cbtid)

    def _drop(self, cbtid: str) -> None:
        self._unbound.pop(cbtid, None)
        self._bound.pop(cbtid, None)

    def _items(self) -> Iterator[Tuple[str, Entry]]:
        """All cookies, those without a login first, each part least recently used first."""
        yield from list(self._unbound.items())
        yield from list(self._bound.items())

    def _live(self, cbtid: str) -> Optional[Entry]:
        entry = self._get(cbtid)
        if entry is None:
            return None
        if self._clock() - entry[0] >= self.max_age:
            self._drop(cbtid)
            return None
        (self._bound if entry[1] is not None else self._unbound).move_to_end(cbtid)
        return entry

    def exists(self, cbtid: str) -> bool:
        return self._live(cbtid) is not None

    def create(self, length: int) -> str:
        """A new cookie value, stored without a login."""
        cbtid = new_cookie_value(length)
        while self._get(cbtid) is not None:  # 6 * length random bits: practically never
            cbtid = new_cookie_value(length)
        created = self._clock()
        self._put(cbtid, (created, None))
        self._record({"cbtid": cbtid, "created": created}, durable=False)
        return cbtid

    def login(self, cbtid: Optional[str]) -> Optional[CookieLogin]:
        """The login bound to ``cbtid``, if the cookie is known, unexpired and bound."""
        entry = self._live(cbtid) if isinstance(cbtid, str) else None
        return entry[1] if entry is not None else None

    def bind(self, cbtid: str, login: Optional[CookieLogin]) -> None:
        """Bind ``login`` to a known cookie (None: unbind, as a logout does)."""
        entry = self._live(cbtid)
        if entry is None or entry[1] == login:
            return
        self._put(cbtid, (entry[0], login))
        self._record({"cbtid": cbtid, "created": entry[0], "login": asdict(login) if login else None}, durable=True)

    def _put(self, cbtid: str, entry: Entry) -> None:
        self._drop(cbtid)
        (self._bound if entry[1] is not None else self._unbound)[cbtid] = entry
        while len(self) > self.options.max_cookies:
            (self._unbound if self._unbound else self._bound).popitem(last=False)

    def _record(self, change: Dict[str, Any], durable: bool) -> None:
        """Persist one change (the memory store keeps nothing)."""

    def close(self) -> None:
        """Release what the store holds open (the file store's journal)."""


def _login_from(raw: Any) -> Optional[CookieLogin]:
    if not isinstance(raw, dict) or not isinstance(raw.get("authid"), str) or not isinstance(raw.get("authrole"), str):
        return None
    extra = raw.get("authextra")
    realm = raw.get("realm", raw.get("authrealm"))
    return CookieLogin(raw["authid"], raw["authrole"], str(raw.get("authmethod") or "cookie"),
                       realm if isinstance(realm, str) else None, extra if isinstance(extra, dict) else None)


def read_journal(filename: str) -> Tuple[List[Dict[str, Any]], int]:
    """The records of a store file, in order, and how many lines could not be read."""
    records: List[Dict[str, Any]] = []
    bad = 0
    try:
        with open(filename, "rb") as f:
            for line in f:
                try:
                    record = json.loads(line)
                except ValueError:
                    bad += 1
                    continue
                if isinstance(record, dict) and isinstance(record.get("cbtid"), str):
                    records.append(record)
                elif line.strip():
                    bad += 1
    except FileNotFoundError:
        pass
    return records, bad


class FileCookieStore(CookieStore):
    """:class:`CookieStore` kept in a journal file (see the module doc)."""

    def __init__(self, options: CookieStoreOptions, max_age: int,
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__(options, max_age, clock)
        self.filename = options.filename or ""
        self._journal: Any = None
        self._lines = 0
        if not options.purge_on_startup:
            self._load()
        self._compact()

    def _load(self) -> None:
        records, bad = read_journal(self.filename)
        now = self._clock()
        for record in records:
            cbtid = record["cbtid"]
            if record.get("deleted") or record.get("status") == "deleted":
                self._drop(cbtid)
                continue
            created = record.get("created")
            old = self._get(cbtid)
            created = created if isinstance(created, (int, float)) else (old[0] if old else now)
            if "login" in record:
                login = _login_from(record["login"])
            elif "authid" in record:  # a line of Crossbar.io's cookies.dat
                login = _login_from(record)
            else:
                login = old[1] if old else None
            self._put(cbtid, (float(created), login))
        for cbtid in [c for c, (created, _) in self._items() if now - created >= self.max_age]:
            self._drop(cbtid)
        if bad:
            log.warn("cookie store {filename}: {bad} unreadable line(s) skipped (cut short by a crash?)",
                     filename=self.filename, bad=bad)
        log.info("cookie store {filename}: {count} cookie(s) loaded", filename=self.filename,
                 count=len(self))

    def _entries(self) -> Iterator[str]:
        for cbtid, (created, login) in self._items():
            yield json.dumps({"cbtid": cbtid, "created": created, "login": asdict(login) if login else None},
                             separators=(",", ":")) + "\n"

    def _compact(self) -> None:
        """Write the live cookies to a temporary file and rename it over the journal."""
        if self._journal is not None:
            self._journal.close()
            self._journal = None
        replace_file(self.filename, lambda f: f.writelines(self._entries()), COOKIE_FILE_MODE, durable=True)
        self._lines = len(self)
        self._journal = open(self.filename, "a", encoding="utf8")

    def _record(self, change: Dict[str, Any], durable: bool) -> None:
        try:
            if self._journal is None or self._lines > 2 * len(self) + _COMPACT_SLACK:
                self._compact()  # the live cookies include this change already
                return
            self._journal.write(json.dumps(change, separators=(",", ":")) + "\n")
            self._journal.flush()
            self._lines += 1
            if durable:
                os.fsync(self._journal.fileno())
        except OSError as e:  # a full disk costs remembered logins after a restart, not sessions now
            log.warn("cookie store {filename}: cannot write: {error}", filename=self.filename, error=str(e))

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
            self._journal = None


def open_cookie_store(options: CookieStoreOptions, max_age: int) -> CookieStore:
    """The store ``options`` describe; a file store reads its file now.

    @raise OSError: the file store's file or directory cannot be read or written.
    """
    if options.type == "file":
        return FileCookieStore(options, max_age)
    return CookieStore(options, max_age)
