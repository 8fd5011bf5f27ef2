#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then run it.
#   Debian packages (apt), Python packages in ./.venv (pip), JavaScript clients (npm).
# The suite runs on CPython (.venv), then on Debian's PyPy (.venv-pypy, the documented
# PyPy deployment; WAMPNODE_TESTS_PYPY=0 leaves that pass out).
# Extra arguments go to pytest (both passes), e.g.: bash tests/run.sh -k tls
set -euo pipefail
cd "$(dirname "$0")/.."

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# One package a line in tests/apt-packages.txt; comments start with '#'.
mapfile -t APT_PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' tests/apt-packages.txt)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "== apt-get install ${missing[*]}"
    # Packages such as squid start a system service on install; the tests start their own
    # on free ports, so keep apt from starting any (policy-rc.d exit 101 = "not now").
    added_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
        $SUDO chmod +x /usr/sbin/policy-rc.d
        added_policy=1
    fi
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    [ -z "$added_policy" ] || $SUDO rm -f /usr/sbin/policy-rc.d
fi

if [ ! -x .venv/bin/python ]; then
    echo "== creating .venv"
    python3 -m venv .venv
fi
echo "== pip install -e .[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# PyPI wampy pins attrs==20.3.0 (wampnode needs attrs>=23.1) and gevent-patches its
# process: it gets a venv of its own; tests/test_clients_wampy.py runs it from there.
if [ ! -x .venv-wampy/bin/python ]; then
    echo "== creating .venv-wampy"
    python3 -m venv .venv-wampy
fi
echo "== pip install -r tests/pywampy/requirements.txt (.venv-wampy)"
.venv-wampy/bin/python -m pip install -q --disable-pip-version-check -r tests/pywampy/requirements.txt

# sslyze pins an older cryptography: its own cached venv (~/.cache/wampnode-test/sslyze),
# made here once so that tests/test_sslyze.py does not wait for it.
echo "== sslyze venv (tests/sslyze_venv.py)"
.venv/bin/python tests/sslyze_venv.py

# crossbarhttp3 (Crossbar.io HTTP bridge client) needs `future`: its own cached venv too.
echo "== crossbarhttp3 venv (tests/crossbarhttp_venv.py)"
.venv/bin/python tests/crossbarhttp_venv.py

# npm packages: each of these directories with a package.json gets `npm install`.
for dir in tests/js examples/browser; do
    if [ -f "$dir/package.json" ]; then
        echo "== npm install ($dir)"
        (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    fi
done

# PyPy 3.9 has wheels up to cryptography 43 (no Rust toolchain here to build newer);
# setup.cfg picks the matching pyOpenSSL and psutil there (README: PyPy as a deployment option).
with_pypy="${WAMPNODE_TESTS_PYPY:-1}"
if [ "$with_pypy" != "0" ]; then
    if [ ! -x .venv-pypy/bin/python ]; then
        echo "== creating .venv-pypy"
        pypy3 -m venv .venv-pypy
    fi
    echo "== pip install -e .[test] (.venv-pypy)"
    .venv-pypy/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
    .venv-pypy/bin/python -m pip install -q --disable-pip-version-check --only-binary cryptography -e '.[test]'
fi

# Each pass spreads its test files over the cores (pytest-xdist, one file to a worker, so a
# module's shared node starts once): most tests wait on node processes and sockets, and on
# 2 cores this halves the time. WAMPNODE_TESTS_WORKERS sets the count (0: one process).
workers="${WAMPNODE_TESTS_WORKERS:-$(nproc)}"
[ "$workers" -le 4 ] || workers=4
parallel=(-n "$workers")
[ "$workers" = "0" ] || parallel+=(--dist loadfile)

echo "== pytest (CPython, $workers workers)"
status=0
.venv/bin/python -m pytest "${parallel[@]}" "$@" || status=$?
if [ "$with_pypy" != "0" ]; then
    echo "== pytest (PyPy, $workers workers)"
    # kosoku (the WebSocket conformance client) needs Python 3.10+: the PyPy pass runs it
    # from the CPython venv above (tests/stack.py also looks there and beyond).
    WAMPNODE_KOSOKU_PYTHON="${WAMPNODE_KOSOKU_PYTHON:-$PWD/.venv/bin/python}" \
        .venv-pypy/bin/python -m pytest "${parallel[@]}" "$@" || status=$?
fi
exit "$status"
