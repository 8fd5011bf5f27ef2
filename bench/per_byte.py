#!/usr/bin/env python3
"""The per-byte steps no WebSocket JSON router can skip for one 1 MiB message it receives.

    python3 bench/per_byte.py     # prints JSON: median µs of each step

Run by ``bench/floor.py`` in the router's interpreter (CPython, PyPy), which needs
nothing but autobahn and this checkout (no psutil: PyPy's benchmark virtualenv has
only wampnode's dependencies). The message is the CALL the benchmark client sends
for ``call_1mib``. Steps: ``unmask`` (the node's masker: its C loop, which also tells
whether the octets are ASCII; without it autobahn's NVX on CPython, 32-bit words on
PyPy), ``validate`` (UTF-8 by ``bytes.decode``; 0 where the C loop found the octets
all ASCII, as it does for this message: the node then does not decode them), ``parse``
(one JSON decode as the node decodes a large payload: ``json_loads_octets``, orjson
from the octets on CPython; on PyPy the text's ``json_loads``, and with the C loop
the octets' decode into that text too, which ``validate`` no longer times), ``check``
(what the node does instead of ``parse`` where its C scanner was built: the scanner
checks the whole message, JSON and UTF-8, and the head is decoded; the arguments are
not: ``node/wire/lazy.py``); ``per-call`` is twice the sum of ``unmask``, ``validate``
and ``check`` (or ``parse`` without the scanner), for the two messages a call round trip
brings in (CALL, YIELD): a router must check what it forwards, but need not decode it.

    python3 bench/per_byte.py msgpack 65536   # the same for another workload's CALL

With a codec (``json``, ``msgpack``, ``cbor``) and a size, the message is the CALL of
that workload (``bench/client.py``: a string of that many ``x``, autobahn's encoding)
and the steps are ``unmask`` and ``check`` (validating it is part of the scanner's
check; msgpack and CBOR frames are binary, so nothing else checks their text), and
``per-call`` twice their sum.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict

REPO = Path(__file__).resolve().parent.parent
BIG = 1024 * 1024
LARGE_MESSAGE = b"[48,1,{},\"bench.echo\",[\"" + b"x" * BIG + b"\"]]"
MASK = bytes([0x5A, 0xC3, 0x0F, 0x96])  # a client's frame mask


def median_us(step: Callable[[], object], times: int) -> float:
    """The median µs of ``times`` calls of ``step``: the first ones warm up PyPy's JIT,
    and the median ignores them. A loop is compiled after about a thousand turns, so the
    64 KiB steps take thousands (at 400, PyPy's msgpack check measured 52 µs, against
    6 µs compiled); a 1 MiB step spends its time in native code and takes a few dozen."""
    took = []
    for _ in range(times):
        started = time.perf_counter()
        step()
        took.append(time.perf_counter() - started)
    return 1e6 * statistics.median(took)


def steps() -> Dict[str, float]:
    sys.path.insert(0, str(REPO))
    from node.fastpath.xormask import C_LOOP, NativeMasker, create_xor_masker
    from node.wire.json_codec import DECODES_OCTETS, json_loads, json_loads_octets
    from node.wire.scan import SCANS
    from node.wire.serializers import JsonSerializer

    # A router that has handled a few large messages gets new ones from glibc's heap;
    # a fresh process would map (and fault in) new pages for each 1 MiB object, which
    # costs more than the step itself. Freeing one large block raises glibc's threshold.
    block = bytearray(8 * len(LARGE_MESSAGE))
    del block
    mask = MASK
    masked = create_xor_masker(mask, len(LARGE_MESSAGE)).process(LARGE_MESSAGE)
    text = LARGE_MESSAGE.decode("utf-8")
    if C_LOOP:  # into a frame's buffer, as the node gathers a large frame
        target = bytearray(len(masked))

        def unmask():  # type: ignore[no-untyped-def]
            assert NativeMasker(mask).unmask_into(target, masked)  # all ASCII: no decode to check it
            return target
    else:
        def unmask():  # type: ignore[no-untyped-def]
            return create_xor_masker(mask, len(masked)).process(masked)
    if DECODES_OCTETS:
        def parse():  # type: ignore[no-untyped-def]
            return json_loads_octets(LARGE_MESSAGE)
    elif C_LOOP:  # the text is made here, not by a validate step
        def parse():  # type: ignore[no-untyped-def]
            return json_loads(LARGE_MESSAGE.decode("utf-8"))
    else:
        def parse():  # type: ignore[no-untyped-def]
            return json_loads(text)
    serializer = JsonSerializer()

    def check():  # type: ignore[no-untyped-def]
        return serializer.unserialize(LARGE_MESSAGE, False)[0]

    timed = {"unmask": unmask,
             "validate": (lambda: None) if C_LOOP else (lambda: LARGE_MESSAGE.decode("utf-8")),
             "parse": parse}
    if SCANS:
        timed["check"] = check
        assert hasattr(check(), "marshal_pending")  # not decoded
    assert timed["unmask"]() == LARGE_MESSAGE and timed["parse"]()[4][0] == "x" * BIG
    out = {name: median_us(step, 60) for name, step in timed.items()}
    out["per-call"] = 2 * (out["unmask"] + out["validate"] + out.get("check", out["parse"]))
    return out


def sized_steps(codec: str, size: int) -> Dict[str, float]:
    """``unmask`` and ``check`` of the CALL a ``--size`` client sends in ``codec``."""
    sys.path.insert(0, str(REPO))
    from autobahn.wamp.message import Call
    from node.fastpath.xormask import C_LOOP, NativeMasker, create_xor_masker
    from node.wire.scan import SCANS
    from node.wire.serializers import SERIALIZERS

    serializer = SERIALIZERS[codec]()
    message = bytes(serializer.serialize(Call(1, "bench.echo", args=["x" * size]))[0])
    masked = create_xor_masker(MASK, len(message)).process(message)
    if C_LOOP:  # into a frame's buffer, as steps() unmasks (binary octets: not all ASCII)
        target = bytearray(len(masked))

        def unmask():  # type: ignore[no-untyped-def]
            NativeMasker(MASK).unmask_into(target, masked)
            return target
    else:
        def unmask():  # type: ignore[no-untyped-def]
            return create_xor_masker(MASK, len(masked)).process(masked)

    def check():  # type: ignore[no-untyped-def]
        return serializer.unserialize(message, codec != "json")[0]

    assert bytes(unmask()) == message and check().args == ["x" * size]
    if SCANS:
        assert hasattr(check(), "marshal_pending")  # checked, not decoded
    out = {"unmask": median_us(unmask, 4000), "check": median_us(check, 4000)}
    out["per-call"] = 2 * (out["unmask"] + out["check"])
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3:
        print(json.dumps(sized_steps(sys.argv[1], int(sys.argv[2]))))
    else:
        print(json.dumps(steps()))
