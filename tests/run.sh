#!/usr/bin/env bash
# Install everything the test suite needs on a fresh Debian machine, then run it.
#   Debian packages (apt), Python packages in ./.venv (pip), JavaScript clients (npm).
# The suite runs on CPython (.venv), then on Debian's PyPy (.venv-pypy, the documented
# PyPy deployment; WAMPNODE_TESTS_PYPY=0 leaves that pass out).
# Extra arguments go to pytest (both passes), e.g.: bash tests/run.sh -k tls
set -euo pipefail
cd "$(dirname "$0")/.."

# Each step's header says how long the run has taken so far (bash's $SECONDS).
step() { echo "== [${SECONDS}s] $*"; }

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

# One package a line in tests/apt-packages.txt; comments start with '#'.
mapfile -t APT_PACKAGES < <(sed -e 's/#.*//' -e 's/[[:space:]]*$//' -e '/^$/d' tests/apt-packages.txt)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ "${#missing[@]}" -gt 0 ]; then
    step "apt-get install ${missing[*]}"
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
    step "creating .venv"
    python3 -m venv .venv
fi
step "pip install -e .[test]"
.venv/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
# The checkout's modules get their bytecode now: an editable install leaves them without,
# and with PYTHONDONTWRITEBYTECODE set (as on CI machines) every node the tests start would
# compile all of them again (about 0.15 s of a CPython node's 0.6 s start; on PyPy 0.1 s).
compile_checkout() { "$1" -m compileall -q node examples tests; }  # -q: errors only
compile_checkout .venv/bin/python

# PyPy 3.9 has wheels up to cryptography 43 (no Rust toolchain here to build newer);
# setup.cfg picks the matching pyOpenSSL and psutil there (README: PyPy as a deployment option).
# Its install runs in the background while the test tools below install: it writes in this
# checkout (the C modules, wampnode.egg-info), which nothing else does from here on.
with_pypy="${WAMPNODE_TESTS_PYPY:-1}"
pypy_install_pid=""
if [ "$with_pypy" != "0" ]; then
    pypy_install_log="$(mktemp)"
    step "pip install -e .[test] (.venv-pypy, in the background)"
    (
        set -e
        [ -x .venv-pypy/bin/python ] || pypy3 -m venv .venv-pypy
        .venv-pypy/bin/python -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null
        .venv-pypy/bin/python -m pip install -q --disable-pip-version-check --only-binary cryptography -e '.[test]'
        compile_checkout .venv-pypy/bin/python
    ) >"$pypy_install_log" 2>&1 &
    pypy_install_pid=$!
    # a failed step below ends the script: take the background install with it
    trap '[ -z "$pypy_install_pid" ] || { pkill -P "$pypy_install_pid"; kill "$pypy_install_pid"; } 2>/dev/null || true' EXIT
fi

# PyPI wampy pins attrs==20.3.0 (wampnode needs attrs>=23.1) and gevent-patches its
# process: it gets a venv of its own; tests/test_clients_wampy.py runs it from there.
if [ ! -x .venv-wampy/bin/python ]; then
    step "creating .venv-wampy"
    python3 -m venv .venv-wampy
fi
step "pip install -r tests/pywampy/requirements.txt (.venv-wampy)"
.venv-wampy/bin/python -m pip install -q --disable-pip-version-check -r tests/pywampy/requirements.txt

# sslyze pins an older cryptography: its own cached venv (~/.cache/wampnode-test/sslyze),
# made here once so that tests/test_sslyze.py does not wait for it.
step "sslyze venv (tests/sslyze_venv.py)"
.venv/bin/python tests/sslyze_venv.py

# crossbarhttp3 (Crossbar.io HTTP bridge client) needs `future`: its own cached venv too.
step "crossbarhttp3 venv (tests/crossbarhttp_venv.py)"
.venv/bin/python tests/crossbarhttp_venv.py

# npm packages: each of these directories with a package.json gets `npm install`.
for dir in tests/js examples/browser; do
    if [ -f "$dir/package.json" ]; then
        step "npm install ($dir)"
        (cd "$dir" && npm install --no-audit --no-fund --loglevel=error)
    fi
done

if [ -n "$pypy_install_pid" ]; then
    step "waiting for the .venv-pypy install"
    if ! wait "$pypy_install_pid"; then
        cat "$pypy_install_log"
        echo "tests/run.sh: the PyPy install failed (its output above); WAMPNODE_TESTS_PYPY=0 leaves the PyPy pass out" >&2
        exit 1
    fi
    cat "$pypy_install_log"
    rm -f "$pypy_install_log"
    pypy_install_pid=""
fi

# Each pass spreads its test files over the cores (pytest-xdist, one file to a worker, so a
# module's shared node starts once): most tests wait on node processes and sockets, and on
# 2 cores this halves the time. WAMPNODE_TESTS_WORKERS sets the count (0: one process).
workers="${WAMPNODE_TESTS_WORKERS:-$(nproc)}"
[ "$workers" -le 4 ] || workers=4
parallel=(-n "$workers")
[ "$workers" = "0" ] || parallel+=(--dist loadfile)

step "pytest (CPython, $workers workers)"
status=0
.venv/bin/python -m pytest "${parallel[@]}" "$@" || status=$?
if [ "$with_pypy" != "0" ]; then
    step "pytest (PyPy, $workers workers)"
    # kosoku (the WebSocket conformance client) needs Python 3.10+: the PyPy pass runs it
    # from the CPython venv above (tests/stack.py also looks there and beyond).
    WAMPNODE_KOSOKU_PYTHON="${WAMPNODE_KOSOKU_PYTHON:-$PWD/.venv/bin/python}" \
        .venv-pypy/bin/python -m pytest "${parallel[@]}" "$@" || status=$?
fi
step "done (exit status $status)"
exit "$status"
