"""Numba kernels for reading word-vector files (used by :func:`fastrnn.load_vectors`).

A chunk of the file arrives as a ``uint8`` array that ends at a line boundary.  :func:`scan_lines`
indexes its lines; :func:`parse_rows` parses the numbers of the selected lines into a
caller-owned ``(rows, E)`` buffer.  For word2vec binary files, :func:`scan_records` indexes the
records of a chunk and :func:`gather_records` copies their little-endian float32 vectors.  No
validation and no messages here: the kernels return codes and positions, and
:mod:`fastrnn.vectors` explains them.

Numbers are parsed exactly: a decimal with at most 15 significant digits and a power of ten
within 1e+-22 is ``m * 10**e`` or ``m / 10**-e`` with both operands exact in float64, so one IEEE
operation gives the correctly rounded float64 (Clinger's fast path), the same value as Python's
``float(text)``.  Anything else (more digits, larger exponents) is handed back to the caller
(:data:`PARSE_SLOW`), which parses that line with ``float``.  float32 output is the float64 value
rounded to float32, as ``np.float32(float(text))``.
"""

import numpy as np
from numba import njit

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


@njit(**_opts)
def _parse_number(buf, p, end, res):
    """Parse one whitespace-free token ``buf[p:end]``; ``res[0]`` gets the value.

    Returns 0 (parsed exactly), 1 (not a number) or 2 (a number for the slow path).
    """
    neg = False
    c = buf[p]
    if c == 45 or c == 43:  # - +
        neg = c == 45
        p += 1
        if p == end:
            return 1
    # nan / inf / infinity, any case: parsed so that the caller reports a non-finite value
    c = buf[p] | 32
    if c == 110 or c == 105:  # n i
        n = end - p
        if n == 3 and (buf[p] | 32) == 110 and (buf[p + 1] | 32) == 97 and (buf[p + 2] | 32) == 110:
            res[0] = np.nan
            return 0
        if (n == 3 or n == 8) and (buf[p] | 32) == 105 and (buf[p + 1] | 32) == 110 \
                and (buf[p + 2] | 32) == 102:
            if n == 8:
                for k in range(5):
                    if (buf[p + 3 + k] | 32) != _INITY[k]:
                        return 1
            res[0] = -np.inf if neg else np.inf
            return 0
        return 1
    mant = 0
    digits = 0      # significant digits kept in mant (leading zeros not counted)
    exp10 = 0
    any_digit = False
    slow = False
    while p < end and 48 <= buf[p] <= 57:
        any_digit = True
        d = buf[p] - 48
        if digits < 19:
            if mant != 0 or d != 0:
                mant = mant * 10 + d
                digits += 1
        else:
            exp10 += 1
            if d != 0:
                slow = True
        p += 1
    if p < end and buf[p] == 46:  # .
        p += 1
        while p < end and 48 <= buf[p] <= 57:
            any_digit = True
            d = buf[p] - 48
            if digits < 19:
                if mant != 0 or d != 0:
                    mant = mant * 10 + d
                    digits += 1
                exp10 -= 1
            elif d != 0:
                slow = True
            p += 1
    if not any_digit:
        return 1
    if p < end and (buf[p] | 32) == 101:  # e E
        p += 1
        eneg = False
        if p < end and (buf[p] == 45 or buf[p] == 43):
            eneg = buf[p] == 45
            p += 1
        if p == end:
            return 1
        e = 0
        while p < end and 48 <= buf[p] <= 57:
            if e < 100000:
                e = e * 10 + (buf[p] - 48)
            p += 1
        exp10 += -e if eneg else e
    if p != end:
        return 1
    if mant == 0:
        res[0] = -0.0 if neg else 0.0
        return 0
    if slow or digits > 15 or exp10 > 22 or exp10 < -22:
        return 2
    v = float(mant)
    if exp10 >= 0:
        v = v * _POW10[exp10]
    else:
        v = v / _POW10[-exp10]
    res[0] = -v if neg else v
    return 0


@njit(**_opts)
def parse_rows(buf, starts, word_ends, ends, take, first, out, info):
    """Parse the numbers of lines ``first..len(take)-1`` whose ``take[i] >= 0`` into ``out``.

    Line ``i``'s fields (after its first space, split at runs of spaces/tabs) go to
    ``out[take[i]]``, which has ``E = out.shape[1]`` columns.  Stops at the first line that is
    not clean and returns its index (``len(take)`` when all are done); ``info[0]`` gets the
    status code (``PARSE_*``) and ``info[1]`` the field count or field index it concerns.
    """
    E = out.shape[1]
    res = np.empty(1, np.float64)
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
            q = p
            while q < end and not _is_space(buf[q]):
                q += 1
            if k >= E:
                # count the remaining fields for the message
                k += 1
                p = q
                continue
            r = _parse_number(buf, p, q, res)
            if r == 1:
                info[0] = PARSE_NUMBER
                info[1] = k
                return i
            if r == 2:
                info[0] = PARSE_SLOW
                info[1] = k
                return i
            out[row, k] = res[0]
            if not np.isfinite(out[row, k]):
                info[0] = PARSE_NONFINITE
                info[1] = k
                return i
            k += 1
            p = q
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
