"""Reading a bridge request's JSON body strictly, so that whatever is accepted can be
delivered to every subscriber or callee, whatever serializer it speaks.

Python's ``json`` accepts more than WAMP can carry:

- integers of any size (msgpack and CBOR carry 64 bits; on PyPy, parsing a
  megabyte of digits takes quadratic time): here integers outside
  [-2**63, 2**64 - 1] are refused, and their text is checked before it is parsed;
- ``NaN``, ``Infinity`` and numbers that overflow to infinity: refused;
- strings with lone surrogates (``"\\ud800"``), which no UTF-8 encoder takes:
  refused;
- nesting deeper than the parser's recursion limit: refused, not a traceback.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

MIN_INT = -2 ** 63
MAX_INT = 2 ** 64 - 1
_MAX_DIGITS = 20  # digits of the largest 64-bit integer
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class PayloadError(ValueError):
    """The body is not JSON that WAMP can carry; the message says why."""


def _int(text: str) -> int:
    if len(text.lstrip("-")) > _MAX_DIGITS:
        raise PayloadError(f"integer {text[:24]}... is out of range (WAMP carries 64-bit integers)")
    value = int(text)
    if not MIN_INT <= value <= MAX_INT:
        raise PayloadError(f"integer {text} is out of range (WAMP carries 64-bit integers)")
    return value


def _float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise PayloadError(f"number {text[:24]} is out of range")
    return value


def _constant(text: str) -> Any:
    raise PayloadError(f"{text} is not a JSON value")


def parse_json(text: str) -> Any:
    """``text`` as JSON, within what WAMP serializers can carry.

    @raise PayloadError: it is not.
    """
    try:
        value = json.loads(text, parse_int=_int, parse_float=_float, parse_constant=_constant)
    except PayloadError:
        raise
    except RecursionError:
        raise PayloadError("the JSON is nested too deeply") from None
    except ValueError as e:
        raise PayloadError(f"not valid JSON: {e}") from None
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise PayloadError("a string holds a lone UTF-16 surrogate escape (not Unicode text)") from None
        except RecursionError:
            raise PayloadError("the JSON is nested too deeply") from None
    return value
