"""cffi builder of ``node.wire._native_scan``: a large WAMP message checked in C, not decoded.

A router forwards a large message's ``Arguments`` and ``ArgumentsKw`` untouched
(:mod:`node.wire.splice`), yet decoding them only to check them costs more than
anything else it does with them: 1 MiB of JSON takes 0.4 ms on CPython (orjson) and
1.3 ms on PyPy, msgpack 1.2 ms and CBOR 2.5 ms on PyPy (pure-Python decoders). These
scanners walk a message's octets once, at memory speed (SSE2 over string bodies), and
say where each top-level element starts and ends and whether it is an array or a map,
or that they are not sure.

"Not sure" (-1) covers everything malformed *and* everything valid that a decoder
would turn into something other than plain data, or might refuse: JSON's ``NaN`` and
``Infinity``, a ``\\u0000`` escape (WAMP's binary strings), numbers longer than 64
characters; msgpack's ext types (absent values) and map keys that are not strings;
CBOR's tags, indefinite lengths, ``undefined`` and other simple values, map keys that
are not strings; nesting deeper than :data:`MAX_DEPTH`; anything after the message.
What a scanner accepts, the codec decodes to lists, maps, strings, bytes, numbers,
booleans and null, without error (strings are valid UTF-8, escapes are well formed).
The caller decodes a "not sure" message as it always did: its answer and errors stay
the decoder's.

Built like the unmasker (``setup.py``, optional): without a C compiler the node decodes
every message in full.
"""
from __future__ import annotations

import os

from cffi import FFI

MODULE = "node.wire._native_scan"
MAX_ELEMENTS = 8
MAX_DEPTH = 256

# ``found``: 3 * MAX_ELEMENTS entries: where each element starts, then where it ends, then
# its kind. Returns the number of elements, or -1: not sure. The constants are the C
# source's (``...``), read by node.wire.scan from the built module, so the two agree.
# The octets come as a ``char *``, which takes a bytes object as it is (see
# node/fastpath/native_unmask_build.py: ``ffi.from_buffer`` copies one PyPy made in its
# nursery into C memory that stays until a major collection).
DECLARATIONS = """
#define MAX_ELEMENTS ...
#define KIND_OTHER ...
#define KIND_ARRAY ...
#define KIND_MAP ...
int scan_json(const char *text, size_t n, size_t *found);
int scan_msgpack(const char *text, size_t n, size_t *found);
int scan_cbor(const char *text, size_t n, size_t *found);
"""

SOURCE = r"""
#include <stdint.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define MAX_ELEMENTS %(max_elements)d
#define MAX_DEPTH %(max_depth)d
#define KIND_OTHER 0
#define KIND_ARRAY 1
#define KIND_MAP 2

/* Length of the valid UTF-8 sequence at p[i] (p[i] >= 0x80), or 0: what Python's
   strict decoder accepts (no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_sequence(const uint8_t *p, size_t i, size_t n)
{
    uint8_t c = p[i], c1;
    if (c >= 0xC2 && c <= 0xDF)
        return (i + 1 < n && (p[i + 1] & 0xC0) == 0x80) ? 2 : 0;
    if (c >= 0xE0 && c <= 0xEF) {
        if (i + 2 >= n) return 0;
        c1 = p[i + 1];
        if ((c1 & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80) return 0;
        if (c == 0xE0 && c1 < 0xA0) return 0;
        if (c == 0xED && c1 > 0x9F) return 0;
        return 3;
    }
    if (c >= 0xF0 && c <= 0xF4) {
        if (i + 3 >= n) return 0;
        c1 = p[i + 1];
        if ((c1 & 0xC0) != 0x80 || (p[i + 2] & 0xC0) != 0x80 || (p[i + 3] & 0xC0) != 0x80) return 0;
        if (c == 0xF0 && c1 < 0x90) return 0;
        if (c == 0xF4 && c1 > 0x8F) return 0;
        return 4;
    }
    return 0;
}

__attribute__((noinline)) static int utf8_valid(const uint8_t *p, size_t n)
{
    size_t i = 0, k;
    while (i < n) {
        if (p[i] >= 0x80) {
            k = utf8_sequence(p, i, n);
            if (!k) return 0;
            i += k;
            continue;
        }
#if defined(__SSE2__)
        if (i + 16 <= n && !_mm_movemask_epi8(_mm_loadu_si128((const __m128i *)(p + i)))) {
            i += 16;
            continue;
        }
#endif
        i++;
    }
    return 1;
}

/* ---- JSON (RFC 8259) ---- */

static size_t json_space(const uint8_t *p, size_t i, size_t n)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\n' || p[i] == '\r'))
        i++;
    return i;
}

static int is_hex(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* i: just after the opening quote. Returns the offset after the closing quote, or 0. */
static size_t json_string(const uint8_t *p, size_t i, size_t n)
{
    size_t k;
    uint8_t c, e;
    for (;;) {
        if (i >= n) return 0;
        c = p[i];
        if (c >= 0x80) {
            k = utf8_sequence(p, i, n);
            if (!k) return 0;
            i += k;
            continue;
        }
        if (c == '"') return i + 1;
        if (c == '\\') {
            if (i + 1 >= n) return 0;
            e = p[i + 1];
            if (e == 'u') {
                if (i + 6 > n) return 0;
                if (!is_hex(p[i + 2]) || !is_hex(p[i + 3]) || !is_hex(p[i + 4]) || !is_hex(p[i + 5])) return 0;
                if (p[i + 2] == '0' && p[i + 3] == '0' && p[i + 4] == '0' && p[i + 5] == '0')
                    return 0;  /* NUL: WAMP's binary strings are the decoder's to convert */
                i += 6;
            } else if (e == '"' || e == '\\' || e == '/' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
                i += 2;
            } else {
                return 0;
            }
            continue;
        }
        if (c < 0x20) return 0;
        i++;
#if defined(__SSE2__)
        {   /* a run of plain characters, 16 at a time */
            const __m128i quote = _mm_set1_epi8('"'), slash = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
            while (i + 16 <= n) {
                __m128i v = _mm_loadu_si128((const __m128i *)(p + i));
                /* signed compare: octets >= 0x80 are negative, so below 0x20 too */
                int bits = _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote),
                    _mm_cmpeq_epi8(v, slash)), _mm_cmplt_epi8(v, space)));
                if (bits) {
                    i += (size_t)__builtin_ctz((unsigned)bits);
                    break;
                }
                i += 16;
            }
        }
#endif
    }
}

static size_t json_digits(const uint8_t *p, size_t i, size_t n)
{
    while (i < n && p[i] >= '0' && p[i] <= '9')
        i++;
    return i;
}

static size_t json_number(const uint8_t *p, size_t i, size_t n)
{
    size_t start = i;
    if (p[i] == '-') i++;
    if (i >= n) return 0;
    if (p[i] == '0') i++;
    else if (p[i] >= '1' && p[i] <= '9') i = json_digits(p, i, n);
    else return 0;
    if (i < n && p[i] == '.') {
        i++;
        if (i >= n || p[i] < '0' || p[i] > '9') return 0;
        i = json_digits(p, i, n);
    }
    if (i < n && (p[i] == 'e' || p[i] == 'E')) {
        i++;
        if (i < n && (p[i] == '+' || p[i] == '-')) i++;
        if (i >= n || p[i] < '0' || p[i] > '9') return 0;
        i = json_digits(p, i, n);
    }
    return (i - start > 64) ? 0 : i;
}

/* i: after '{' or ',' in an object. Returns the offset of the member's value, or 0. */
static size_t json_key(const uint8_t *p, size_t i, size_t n)
{
    i = json_space(p, i, n);
    if (i >= n || p[i] != '"') return 0;
    i = json_string(p, i + 1, n);
    if (!i) return 0;
    i = json_space(p, i, n);
    if (i >= n || p[i] != ':') return 0;
    return json_space(p, i + 1, n);
}

/* One JSON value at p[i] (no whitespace before it). Returns the offset after it, or 0. */
static size_t json_value(const uint8_t *p, size_t i, size_t n)
{
    uint8_t stack[MAX_DEPTH];
    int depth = 0;
    uint8_t c, closer;
    for (;;) {
        if (i >= n) return 0;
        c = p[i];
        if (c == '[' || c == '{') {
            if (depth >= MAX_DEPTH) return 0;
            stack[depth++] = c;
            i = json_space(p, i + 1, n);
            if (i >= n) return 0;
            if (p[i] != (c == '[' ? ']' : '}')) {
                if (c == '{') {
                    i = json_key(p, i, n);
                    if (!i) return 0;
                }
                continue;  /* the container's first value */
            }
            depth--;  /* empty */
            i++;
        } else if (c == '"') {
            i = json_string(p, i + 1, n);
            if (!i) return 0;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            i = json_number(p, i, n);
            if (!i) return 0;
        } else if (c == 't' && n - i >= 4 && !memcmp(p + i, "true", 4)) {
            i += 4;
        } else if (c == 'f' && n - i >= 5 && !memcmp(p + i, "false", 5)) {
            i += 5;
        } else if (c == 'n' && n - i >= 4 && !memcmp(p + i, "null", 4)) {
            i += 4;
        } else {
            return 0;
        }
        /* a value ended: close what it ends, or go on to the next value */
        for (;;) {
            if (depth == 0) return i;
            i = json_space(p, i, n);
            if (i >= n) return 0;
            closer = stack[depth - 1] == '[' ? ']' : '}';
            if (p[i] == closer) {
                depth--;
                i++;
                continue;
            }
            if (p[i] != ',') return 0;
            if (stack[depth - 1] == '{') {
                i = json_key(p, i + 1, n);
                if (!i) return 0;
            } else {
                i = json_space(p, i + 1, n);
            }
            break;
        }
    }
}

int scan_json(const char *text, size_t n, size_t *found)
{
    const uint8_t *p = (const uint8_t *)text;
    size_t *starts = found, *ends = found + MAX_ELEMENTS, *kinds = found + 2 * MAX_ELEMENTS;
    int count = 0;
    size_t i = json_space(p, 0, n);
    if (i >= n || p[i] != '[') return -1;
    i = json_space(p, i + 1, n);
    for (;;) {
        if (count >= MAX_ELEMENTS || i >= n) return -1;
        starts[count] = i;
        kinds[count] = p[i] == '[' ? KIND_ARRAY : p[i] == '{' ? KIND_MAP : KIND_OTHER;
        i = json_value(p, i, n);
        if (!i) return -1;
        ends[count++] = i;
        i = json_space(p, i, n);
        if (i >= n) return -1;
        if (p[i] == ']') break;
        if (p[i] != ',') return -1;
        i = json_space(p, i + 1, n);
    }
    return json_space(p, i + 1, n) == n ? count : -1;
}

/* ---- msgpack and CBOR: one value's header, then a walk with a stack of counts ---- */

struct frame {
    uint64_t remaining;  /* items left: a map's keys and values both count */
    int is_map;
};

static int read_be(const uint8_t *p, size_t *i, size_t n, int size, uint64_t *out)
{
    uint64_t value = 0;
    int k;
    if ((size_t)size > n - *i) return 0;
    for (k = 0; k < size; k++)
        value = (value << 8) | p[*i + k];
    *i += size;
    *out = value;
    return 1;
}

/* Skips `length` octets (checked as UTF-8 if text); 0 if they run past the end. */
static int skip_octets(const uint8_t *p, size_t *i, size_t n, uint64_t length, int text)
{
    if (length > n - *i) return 0;
    if (text && !utf8_valid(p + *i, (size_t)length)) return 0;
    *i += (size_t)length;
    return 1;
}

/* After a value: pops the containers it completes. Returns 1 when the outermost is done. */
static int value_done(struct frame *stack, int *depth)
{
    while (*depth > 0) {
        if (--stack[*depth - 1].remaining > 0) return 0;
        (*depth)--;
    }
    return 1;
}

static int push(struct frame *stack, int *depth, uint64_t items, int is_map, size_t left)
{
    if (*depth >= MAX_DEPTH || items > left) return 0;  /* every item takes an octet at least */
    stack[*depth].remaining = items;
    stack[*depth].is_map = is_map;
    (*depth)++;
    return 1;
}

static int wants_key(struct frame *stack, int depth)
{
    return depth > 0 && stack[depth - 1].is_map && stack[depth - 1].remaining %% 2 == 0;
}

static size_t msgpack_value(const uint8_t *p, size_t i, size_t n)
{
    struct frame stack[MAX_DEPTH];
    int depth = 0, is_str;
    uint8_t c;
    uint64_t length, items;
    for (;;) {
        if (i >= n) return 0;
        c = p[i++];
        is_str = (c >= 0xA0 && c <= 0xBF) || c == 0xD9 || c == 0xDA || c == 0xDB;
        if (wants_key(stack, depth) && !is_str) return 0;
        if (c <= 0x7F || c >= 0xE0 || c == 0xC0 || c == 0xC2 || c == 0xC3) {
            /* fixint, nil, bool */
        } else if (c >= 0xA0 && c <= 0xBF) {
            if (!skip_octets(p, &i, n, c & 0x1F, 1)) return 0;
        } else if (c >= 0x90 && c <= 0x9F) {
            if (c & 0x0F) {
                if (!push(stack, &depth, c & 0x0F, 0, n - i)) return 0;
                continue;
            }
        } else if (c >= 0x80 && c <= 0x8F) {
            if (c & 0x0F) {
                if (!push(stack, &depth, (uint64_t)(c & 0x0F) * 2, 1, n - i)) return 0;
                continue;
            }
        } else {
            switch (c) {
            case 0xCC: case 0xD0: length = 1; goto fixed;
            case 0xCD: case 0xD1: length = 2; goto fixed;
            case 0xCE: case 0xD2: case 0xCA: length = 4; goto fixed;
            case 0xCF: case 0xD3: case 0xCB: length = 8;
            fixed:
                if (!skip_octets(p, &i, n, length, 0)) return 0;
                break;
            case 0xC4: case 0xC5: case 0xC6: case 0xD9: case 0xDA: case 0xDB:
                if (!read_be(p, &i, n, (c == 0xC4 || c == 0xD9) ? 1 : (c == 0xC5 || c == 0xDA) ? 2 : 4, &length))
                    return 0;
                if (!skip_octets(p, &i, n, length, c >= 0xD9)) return 0;
                break;
            case 0xDC: case 0xDD: case 0xDE: case 0xDF:
                if (!read_be(p, &i, n, (c == 0xDC || c == 0xDE) ? 2 : 4, &items)) return 0;
                if (items) {
                    if (!push(stack, &depth, c >= 0xDE ? items * 2 : items, c >= 0xDE, n - i)) return 0;
                    continue;
                }
                break;
            default:
                return 0;  /* ext types (absent values among them), 0xC1 */
            }
        }
        if (value_done(stack, &depth)) return i;
    }
}

static size_t cbor_value(const uint8_t *p, size_t i, size_t n)
{
    struct frame stack[MAX_DEPTH];
    int depth = 0;
    uint8_t c, major, info;
    uint64_t arg;
    for (;;) {
        if (i >= n) return 0;
        c = p[i++];
        major = c >> 5;
        info = c & 0x1F;
        if (wants_key(stack, depth) && major != 3) return 0;
        if (major == 7) {
            if (info == 20 || info == 21 || info == 22) {
                /* false, true, null */
            } else if (info >= 25 && info <= 27) {
                if (!skip_octets(p, &i, n, (uint64_t)1 << (info - 24), 0)) return 0;
            } else {
                return 0;  /* undefined (an absent value), other simple values, break */
            }
        } else {
            if (info < 24) arg = info;
            else if (info <= 27) {
                if (!read_be(p, &i, n, 1 << (info - 24), &arg)) return 0;
            } else return 0;  /* indefinite length, reserved */
            if (major == 2 || major == 3) {
                if (!skip_octets(p, &i, n, arg, major == 3)) return 0;
            } else if (major == 4 || major == 5) {
                if (arg) {
                    if (arg > n - i) return 0;
                    if (!push(stack, &depth, major == 5 ? arg * 2 : arg, major == 5, n - i)) return 0;
                    continue;
                }
            } else if (major == 6) {
                return 0;  /* tags: the decoder makes objects of them */
            }
        }
        if (value_done(stack, &depth)) return i;
    }
}

static uint8_t binary_kind(uint8_t c, int cbor)
{
    if (cbor)
        return (c >> 5) == 4 ? KIND_ARRAY : (c >> 5) == 5 ? KIND_MAP : KIND_OTHER;
    if ((c >= 0x90 && c <= 0x9F) || c == 0xDC || c == 0xDD) return KIND_ARRAY;
    if ((c >= 0x80 && c <= 0x8F) || c == 0xDE || c == 0xDF) return KIND_MAP;
    return KIND_OTHER;
}

/* A message: an array whose one-octet header holds its count (low..low+15 or +23). */
static int scan_binary(const uint8_t *p, size_t n, size_t *found, uint8_t low, uint8_t high, int cbor)
{
    size_t *starts = found, *ends = found + MAX_ELEMENTS, *kinds = found + 2 * MAX_ELEMENTS;
    int count, k;
    size_t i = 1;
    if (n < 1 || p[0] < low || p[0] > high) return -1;
    count = p[0] - low;
    if (count < 1 || count > MAX_ELEMENTS) return -1;
    for (k = 0; k < count; k++) {
        if (i >= n) return -1;
        starts[k] = i;
        kinds[k] = binary_kind(p[i], cbor);
        i = cbor ? cbor_value(p, i, n) : msgpack_value(p, i, n);
        if (!i) return -1;
        ends[k] = i;
    }
    return i == n ? count : -1;
}

int scan_msgpack(const char *text, size_t n, size_t *found)
{
    return scan_binary((const uint8_t *)text, n, found, 0x90, 0x9F, 0);
}

int scan_cbor(const char *text, size_t n, size_t *found)
{
    return scan_binary((const uint8_t *)text, n, found, 0x80, 0x97, 1);
}
""" % {"max_elements": MAX_ELEMENTS, "max_depth": MAX_DEPTH}


def make_ffi() -> FFI:
    ffi = FFI()
    ffi.cdef(DECLARATIONS)
    ffi.set_source(MODULE, SOURCE, extra_compile_args=["-O3"])
    return ffi


ffi = make_ffi()

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    ffi.compile(tmpdir=os.path.dirname(os.path.dirname(here)), verbose=True)
