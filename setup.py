"""Build hook only (setup.cfg holds the metadata): the node's two cffi modules in C.

``node/fastpath/native_unmask_build.py`` (unmasking) and ``node/wire/native_scan_build.py``
(checking a large message without decoding it) say what they are for. Both are
optional: where they cannot be compiled (no C compiler, or no Python headers:
Debian's ``python3-dev`` or ``pypy3-dev``) the install goes on without them, and the
node unmasks with autobahn's masker (CPython) or in Python (PyPy), and decodes every
message in full. The builders are loaded by their paths, not through the ``node``
package, which needs the install's dependencies.
"""
from __future__ import annotations

import importlib.util
import os
from typing import Any, List

from setuptools import setup


BUILDERS = (("fastpath", "native_unmask_build"), ("wire", "native_scan_build"))


def native_extensions() -> List[Any]:
    here = os.path.dirname(os.path.abspath(__file__))
    extensions = []
    for folder, name in BUILDERS:
        spec = importlib.util.spec_from_file_location(name, os.path.join(here, "node", folder, name + ".py"))
        builder = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(builder)  # type: ignore[union-attr]
        except ImportError as error:  # cffi missing from the build environment: pyproject.toml lists it
            print(f"wampnode: building without {name} ({error})")
            return []
        extension = builder.ffi.distutils_extension(tmpdir=os.path.join("build", "cffi"))
        extension.optional = True  # a failed compile is a warning, and the node runs without it
        extensions.append(extension)
    return extensions


setup(ext_modules=native_extensions())
