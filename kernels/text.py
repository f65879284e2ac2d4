"""Numba kernels for reading word-vector files (used by :func:`fastrnn.load_vectors`).

A chunk of the file arrives as a ``uint8`` array that ends at a line boundary.  :func:`scan_lines`
indexes its lines; :func:`parse_rows` parses the numbers of the selected lines into a
caller-owned ``(rows, E)`` buffer.  For word2vec binary files, :func:`scan_records` indexes the
records of a chunk and :func:`gather_records` copies their little-endian float32 vectors.  No
validation and no messages here: the kernels return codes and positions, and
:mod:`fastrnn.vectors` explains them.

Numbers are parsed exactly, one pass per field (:func:`_parse_field`, inlined into the row
loop): a decimal whose digits (at most 18) form an integer ``m <= 2**53`` and whose power of ten
is within 1e+-22 is ``m * 10**e`` or ``m / 10**-e`` with both operands exact in float64, so one
IEEE operation gives the correctly rounded float64 (Clinger's fast path), the same value as
Python's ``float(text)``.  Anything else (more digits, larger exponents) is handed back to the
caller (:data:`PARSE_SLOW`), which parses that line with ``float``.  float32 output is the
float64 value rounded to float32, as ``np.float32(float(text))``.
"""

import numpy as np
from numba import njit

from ._cache import lock_saves

_opts = dict(cache=True, error_model="numpy", nogil=True)

#: :func:`parse_rows` status codes.
PARSE_OK = 0
PARSE_WIDTH = 1      # the line has another number of fields than E (field count in ``info[1]``)
PARSE_NUMBER = 2     # a field is not a number (its 0-based index in ``info[1]``)
PARSE_NONFINITE = 3  # a value is NaN or infinite, or overflows the dtype (field in ``info[1]``)
PARSE_SLOW = 4       # a number needs the exact slow path: parse this line in Python

_POW10 = np.array([10.0 ** k for k in range(23)])
_INITY = np.frombuffer(b"inity", np.uint8).copy()


@njit(**_opts)
def scan_lines(buf, starts, word_ends, ends):
    """Index the lines of ``buf`` (uint8, split at ``\\n``); returns the number of lines.

    ``starts[i]``/``ends[i]``: first byte and one past the last byte of line ``i`` (its
    ``\\n`` excluded, a trailing ``\\r`` too); ``word_ends[i]``: position of the line's first
    space (``ends[i]`` if none).  The output arrays need ``buf.count(b"\\n") + 1`` slots.  A
    final piece without ``\\n`` is a line only if it is not empty.
    """
    n = 0
    i = 0
    size = buf.shape[0]
    while i < size:
        start = i
        while i < size and buf[i] != 32 and buf[i] != 10:   # the word
            i += 1
        word_end = i
        while i < size and buf[i] != 10:                    # the numbers
            i += 1
        end = i
        if end > start and buf[end - 1] == 13:
            end -= 1
        starts[n] = start
        ends[n] = end
        word_ends[n] = word_end if word_end < end else end
        n += 1
        i += 1                                              # past the \n
    return n


@njit(inline="always", **_opts)
def _is_space(c):
    return c == 32 or c == 9 or c == 13 or c == 11 or c == 12


@njit(inline="always", **_opts)
def _parse_word(buf, p, end):
    """``buf[p:end]`` (a field that is not a plain decimal) as ``nan``, ``inf`` or ``infinity``
    in any case, with an optional sign: returns ``(0, value)``, else ``(1, 0.0)`` (not a
    number).  Inlined like :func:`_parse_field`: an out-of-line call anywhere in the row loop
    cost ~10 ns per number, though it is rarely taken."""
    neg = False
    c = buf[p]
    if c == 45 or c == 43:  # - +
        neg = c == 45
        p += 1
    n = end - p
    if n == 3 and (buf[p] | 32) == 110 and (buf[p + 1] | 32) == 97 and (buf[p + 2] | 32) == 110:
        return 0, np.nan
    if (n == 3 or n == 8) and (buf[p] | 32) == 105 and (buf[p + 1] | 32) == 110 \
            and (buf[p + 2] | 32) == 102:
        if n == 8:
            for k in range(5):
                if (buf[p + 3 + k] | 32) != _INITY[k]:
                    return 1, 0.0
        return 0, -np.inf if neg else np.inf
    return 1, 0.0


@njit(inline="always", **_opts)
def _parse_field(buf, p, end):
    """Parse the field that starts at ``buf[p]`` (not a space) and ends at the next space or
    at ``end``, in one pass.  Returns ``(code, value, position after the field)``: code 0
    (parsed exactly), 1 (not a number) or 2 (a number for the slow path).

    A decimal ``[+-]digits[.digits][(e|E)[+-]digits]`` is parsed here; any other field goes to
    :func:`_parse_word` (nan, inf, or not a number).
    """
    start = p
    neg = False
    c = buf[p]
    if c == 45 or c == 43:  # - +
        neg = c == 45
        p += 1
    mant = 0
    nd = 0          # digits seen, leading zeros included
    point = -1      # digits seen when the decimal point came; -1: none
    while p < end:
        d = buf[p] - 48
        if 0 <= d <= 9:
            mant = mant * 10 + d
            nd += 1
        elif d == -2 and point < 0:  # .
            point = nd
        else:
            break
        p += 1
    any_digit = nd > 0
    exp10 = 0 if point < 0 else point - nd
    clean = any_digit
    if clean and p < end and (buf[p] | 32) == 101:  # e E
        p += 1
        eneg = False
        if p < end and (buf[p] == 45 or buf[p] == 43):
            eneg = buf[p] == 45
            p += 1
        e = 0
        edigits = 0
        while p < end and 48 <= buf[p] <= 57:
            if e < 100000:
                e = e * 10 + (buf[p] - 48)
            edigits += 1
            p += 1
        clean = edigits > 0
        exp10 += -e if eneg else e
    if not clean or (p < end and not _is_space(buf[p])):
        while p < end and not _is_space(buf[p]):
            p += 1
        r, v = _parse_word(buf, start, p)
        return r, v, p
    if nd > 18:                 # mant may have overflowed: the slow path parses it
        return 2, 0.0, p
    if mant == 0:
        return 0, -0.0 if neg else 0.0, p
    if mant > 9007199254740992 or exp10 > 22 or exp10 < -22:   # 2**53: exact in float64
        return 2, 0.0, p
    v = float(mant)
    if exp10 >= 0:
        v = v * _POW10[exp10]
    else:
        v = v / _POW10[-exp10]
    return 0, -v if neg else v, p


@njit(**_opts)
def parse_rows(buf, starts, word_ends, ends, take, first, out, info):
    """Parse the numbers of lines ``first..len(take)-1`` whose ``take[i] >= 0`` into ``out``.

    Line ``i``'s fields (after its first space, split at runs of spaces/tabs) go to
    ``out[take[i]]``, which has ``E = out.shape[1]`` columns.  Stops at the first line that is
    not clean and returns its index (``len(take)`` when all are done); ``info[0]`` gets the
    status code (``PARSE_*``) and ``info[1]`` the field count or field index it concerns.
    """
    E = out.shape[1]
    n = take.shape[0]
    for i in range(first, n):
        row = take[i]
        if row < 0:
            continue
        p = word_ends[i] + 1
        end = ends[i]
        k = 0
        while True:
            while p < end and _is_space(buf[p]):
                p += 1
            if p >= end:
                break
            if k >= E:
                # count the remaining fields for the message
                while p < end and not _is_space(buf[p]):
                    p += 1
                k += 1
                continue
            r, v, p = _parse_field(buf, p, end)
            if r == 1:
                info[0] = PARSE_NUMBER
                info[1] = k
                return i
            if r == 2:
                info[0] = PARSE_SLOW
                info[1] = k
                return i
            out[row, k] = v
            if not np.isfinite(out[row, k]):
                info[0] = PARSE_NONFINITE
                info[1] = k
                return i
            k += 1
        if k != E:
            info[0] = PARSE_WIDTH
            info[1] = k
            return i
    info[0] = PARSE_OK
    info[1] = 0
    return n


@njit(**_opts)
def scan_records(buf, pos, rec, limit, word_starts, word_ends):
    """Index up to ``limit`` complete word2vec binary records in ``buf[pos:]``.

    A record is optional ``\\n``/``\\r`` bytes, the word up to a space, the space, then ``rec``
    bytes of vector.  Record ``k``'s word is ``buf[word_starts[k]:word_ends[k]]`` and its vector
    starts at ``word_ends[k] + 1``.  Returns the number of records indexed (it stops before the
    first one that is not whole in ``buf``); the output arrays need ``limit`` slots.
    """
    size = buf.shape[0]
    n = 0
    while n < limit:
        p = pos
        while p < size and (buf[p] == 10 or buf[p] == 13):
            p += 1
        q = p
        while q < size and buf[q] != 32:
            q += 1
        if q + 1 + rec > size:
            break
        word_starts[n] = p
        word_ends[n] = q
        n += 1
        pos = q + 1 + rec
    return n


@njit(**_opts)
def gather_records(buf, vec_starts, out, scratch):
    """``out[k] = `` the E little-endian float32 at ``buf[vec_starts[k]:]`` (any alignment).

    ``out`` is (len(vec_starts), E), float32 or float64; ``scratch`` a uint32 array of one
    element (viewed as float32 to reinterpret the bytes).
    """
    E = out.shape[1]
    f = scratch.view(np.float32)
    for k in range(vec_starts.shape[0]):
        p = vec_starts[k]
        for j in range(E):
            q = p + 4 * j
            scratch[0] = (np.uint32(buf[q]) | (np.uint32(buf[q + 1]) << 8)
                          | (np.uint32(buf[q + 2]) << 16) | (np.uint32(buf[q + 3]) << 24))
            out[k, j] = f[0]


# saves of this module's plain-cached kernels serialised across processes (kernels/_cache.py)
lock_saves(globals(), __name__)
