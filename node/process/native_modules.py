"""Whether the node's two C modules are in use, said at start and by ``wampnode version``.

``setup.py`` builds the unmasker (:mod:`node.fastpath.native_unmask_build`) and the
scanner of large messages (:mod:`node.wire.native_scan_build`) where it finds a C
compiler, and the node runs without them where it did not: correct, but large messages
then cost it more CPU (on PyPy several times more). A module built by an older builder
(an editable install, ``pip install -e .``, whose checkout was updated without
installing again) counts as not built, since calling it with today's argument types
would be wrong. Either way nothing else would tell the operator, so the node names each
module it runs without, and what brings it back, once as it starts.
"""
from __future__ import annotations

from typing import List, NamedTuple

from node.fastpath.xormask import C_LOOP, C_LOOP_FOUND
from node.wire.scan import SCANNER_FOUND, SCANS

IN_USE = "in use"
NOT_BUILT = "not built"
STALE = "built by an older wampnode, not used"

REBUILD = "run `pip install -e .` in the checkout again (or reinstall wampnode)"
BUILD = ("install a C compiler and the Python headers (Debian: gcc python3-dev, or pypy3-dev for PyPy) "
         "and reinstall wampnode")


class NativeModule(NamedTuple):
    title: str  # what it does, for the operator
    path: str  # where it lives in the package
    state: str  # IN_USE, NOT_BUILT or STALE


def module_state(found: bool, current: bool) -> str:
    """A module's state from whether one was importable and whether it is today's."""
    if not found:
        return NOT_BUILT
    return IN_USE if current else STALE


def native_modules() -> List[NativeModule]:
    """The two modules, as this process loaded them."""
    return [
        NativeModule("C unmasker", "node/fastpath/_native_unmask", module_state(C_LOOP_FOUND, C_LOOP)),
        NativeModule("C scanner of large messages", "node/wire/_native_scan", module_state(SCANNER_FOUND, SCANS)),
    ]


def native_module_warnings() -> List[str]:
    """One line per module the node runs without: which, why, and the fix."""
    return [f"Running without the {module.title} ({module.path}: {module.state}); large messages cost more CPU; "
            f"to use it, {REBUILD if module.state == STALE else BUILD}"
            for module in native_modules() if module.state != IN_USE]
