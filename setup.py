"""Build hook only (setup.cfg holds the metadata): the node's C unmasker.

``node/fastpath/native_unmask_build.py`` says what it is for. It is optional: where
it cannot be compiled (no C compiler, or no Python headers: Debian's ``python3-dev``
or ``pypy3-dev``) the install goes on without it, and the node unmasks with
autobahn's masker (CPython) or in Python (PyPy). The builder is loaded by its path,
not through the ``node`` package, which needs the install's dependencies.
"""
from __future__ import annotations

import importlib.util
import os
from typing import Any, List

from setuptools import setup


def native_extensions() -> List[Any]:
    here = os.path.dirname(os.path.abspath(__file__))
    path = os.path.join(here, "node", "fastpath", "native_unmask_build.py")
    spec = importlib.util.spec_from_file_location("native_unmask_build", path)
    builder = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(builder)  # type: ignore[union-attr]
    except ImportError as error:  # cffi missing from the build environment: pyproject.toml lists it
        print(f"wampnode: building without the C unmasker ({error})")
        return []
    extension = builder.ffi.distutils_extension(tmpdir=os.path.join("build", "cffi"))
    extension.optional = True  # a failed compile is a warning, and the node runs without it
    return [extension]


setup(ext_modules=native_extensions())
