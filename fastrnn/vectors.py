"""Pretrained word vectors: :func:`load_vectors` reads them into a :class:`WordVectors` table.

Sources
-------
* the common text format: GloVe ``.txt`` (``word v1 ... vE`` per line, no header) and
  word2vec/fastText ``.vec`` (the same after a first line ``count dim``); the header is
  recognised as a first line of exactly two non-negative integers;
* word2vec binary (``.bin``): a header line ``count dim``, then for every word the word, one
  space and E little-endian float32 (an optional newline between records);
* either of them gzip-compressed (recognised by its magic bytes, whatever the file is called);
* a ``(words, matrix)`` pair, or any object with ``index_to_key`` and ``vectors`` attributes
  (gensim's ``KeyedVectors``, duck-typed: gensim is not needed).

Files are read in chunks of :data:`CHUNK_BYTES`; with ``words=`` only the rows asked for are
parsed and kept, so a 400 k-word file is never held whole, as text or as a matrix.  The text
numbers are parsed by a Numba kernel (:mod:`fastrnn.kernels.text`) to the same values as
Python's ``float``.
"""

from __future__ import annotations

import codecs
import gzip
import os
import zlib
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ._validation import check_dtype
from .kernels import text as _K

__all__ = ["load_vectors", "WordVectors", "LOWERCASE_CHECK", "CHUNK_BYTES"]

#: Bytes of the file read per step (the chunk is cut at its last line break).
CHUNK_BYTES = 1 << 16

#: :attr:`WordVectors.lowercase` looks at this many words from the start of the source.
LOWERCASE_CHECK = 1000

_FORMATS = ("auto", "text", "binary")


class WordVectors:
    """Word vectors read by :func:`load_vectors`.

    Attributes
    ----------
    words : list of str, length n
        The words, in the order of the source (file order), each once.
    index : dict of str to int
        ``index[word]`` is the word's row in :attr:`vectors`.
    vectors : ndarray of shape (n, dim), float32 or float64
        One row per word; C-contiguous, owned by this object (never a view of the caller's
        array).
    dim : int
        Width E of the vectors (also when no word was found, ``vectors.shape == (0, dim)``).
    source : str
        The file path, or a description of the in-memory source.
    lowercase : bool
        True when none of the first :data:`LOWERCASE_CHECK` words of the source (in its order,
        before any ``words=`` selection) changes under ``str.lower()``: the vectors were trained
        on lower-cased text, so a vocabulary matched to them should lower-case too.  GloVe 6B
        gives True, word2vec GoogleNews and fastText crawl vectors give False.
    requested : int or None
        The number of distinct words asked for with ``words=``; None when all were read.
    missing : list of str
        The words asked for that the source does not have, in the order they were given.
    """

    __slots__ = ("words", "index", "vectors", "dim", "source", "lowercase", "requested",
                 "missing")

    def __init__(self, words, vectors, source, lowercase, requested=None, missing=()):
        self.words = list(words)
        self.index = dict(zip(self.words, range(len(self.words))))
        self.vectors = vectors
        self.dim = int(vectors.shape[1])
        self.source = str(source)
        self.lowercase = bool(lowercase)
        self.requested = requested
        self.missing = list(missing)

    @property
    def found(self):
        """Number of words read (``len(words)``)."""
        return len(self.words)

    def __len__(self):
        return len(self.words)

    def __contains__(self, word):
        return word in self.index

    def __getitem__(self, word):
        """The vector of ``word``, shape (dim,); ``KeyError`` if absent."""
        return self.vectors[self.index[word]]

    def get(self, word, default=None):
        """The vector of ``word``, or ``default`` when it has none."""
        i = self.index.get(word)
        return default if i is None else self.vectors[i]

    def __repr__(self):
        asked = "" if self.requested is None else f", {self.found} of {self.requested} asked"
        return (f"WordVectors({self.found} words x {self.dim} {self.vectors.dtype}{asked}, "
                f"source={self.source!r})")


def load_vectors(source, words=None, *, dtype=np.float32, format="auto"):
    """Read pretrained word vectors from a file or an in-memory table.

    Parameters
    ----------
    source : str or os.PathLike, (words, matrix) pair, KeyedVectors-like object or WordVectors
        A path to a text file (GloVe ``.txt``, word2vec/fastText ``.vec`` with its
        ``count dim`` header line) or to a word2vec binary file (``.bin``), either optionally
        gzip-compressed (detected by its magic bytes); a pair ``(words, matrix)`` with
        ``words`` a sequence of n str and ``matrix`` array-like of shape (n, E); any object
        with ``index_to_key`` (n str) and ``vectors`` (n, E) attributes, such as gensim's
        ``KeyedVectors``; or a :class:`WordVectors` read before, which keeps its ``source``
        and ``lowercase`` (decided on the words of its own source, not on the rows it kept).
    words : iterable of str, optional
        Read only these words.  Files are streamed: a line whose word is not asked for is
        skipped after its first token, and only the rows found are kept.  The result keeps
        the order of the source (the file's order, usually by frequency), not the order of
        ``words``; words the source lacks are absent from the result and listed in
        :attr:`WordVectors.missing`.  Repeated entries count once.  Default: all words.
    dtype : {numpy.float32, numpy.float64}, default float32
        dtype of the returned matrix.  Text values are parsed as Python's ``float`` does and
        then rounded to ``dtype``.
    format : {"auto", "text", "binary"}, default "auto"
        File format; "auto" takes a name ending in ``.bin`` (or ``.bin.gz``) for word2vec
        binary and anything else for text.  Ignored for in-memory sources.

    Returns
    -------
    WordVectors
        ``words`` (list of str), ``index`` ({word: row}), ``vectors`` (ndarray (n, E) of
        ``dtype``), ``dim``, ``source``, ``lowercase``, ``requested`` and ``missing``.

    Raises
    ------
    FileNotFoundError
        The path does not exist.
    ValueError
        Bad content, naming the file and the 1-based line (text) or word record (binary):
        rows of different widths, a header that disagrees with the rows (count or width),
        bytes that are not UTF-8, a value that is not a number, NaN/inf (or a value that
        overflows ``dtype``), a repeated word, an empty file; for in-memory sources a matrix
        that is not 2-D or whose length differs from the words'.  Nothing is returned from a
        source with an error, also when the error lies after the rows asked for.
    TypeError
        ``source`` is none of the kinds above, ``words`` is not an iterable of str, or
        ``dtype`` is not float32/float64.

    Notes
    -----
    With ``words=``, the lines that are skipped are not parsed: their numbers are not checked
    (the encoding of the whole file, the line count against the header, and every row that
    is kept are).  Memory: the kept rows, one chunk of :data:`CHUNK_BYTES` and its line index.

    Examples
    --------
    >>> wv = load_vectors("glove.6B.50d.txt", words=["good", "bad", "zzzunknown"])  # doctest: +SKIP
    >>> wv.vectors.shape, wv.missing                                              # doctest: +SKIP
    ((2, 50), ['zzzunknown'])
    """
    dt = check_dtype(dtype)
    if not isinstance(format, str) or format not in _FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, _FORMATS))}, "
                         f"got {format!r}")
    kind = source_kind(source, "source")
    wanted = _check_words(words)
    if kind == "path":
        return _load_path(Path(source), wanted, dt, format)
    if kind == "pair":
        return _from_table(source[0], source[1], wanted, dt, "(words, matrix) pair",
                           ("words", "matrix"))
    if kind == "keyed":
        return _from_table(source.index_to_key, source.vectors, wanted, dt,
                           f"{type(source).__name__} object", ("index_to_key", "vectors"))
    out = _from_table(source.words, source.vectors, wanted, dt, source.source,
                      ("words", "vectors"))
    out.lowercase = source.lowercase  # a property of its source, not of the rows it kept
    return out


def source_kind(source, name):
    """``"path"``, ``"pair"``, ``"keyed"`` or ``"word_vectors"``: which kind of vectors
    source :func:`load_vectors` reads ``source`` as; ``TypeError`` naming ``name`` for any
    other object (checked before anything is read)."""
    if isinstance(source, (str, os.PathLike)):
        if not os.fspath(source):
            raise ValueError(f"{name} is an empty path: name a vectors file")
        return "path"
    if isinstance(source, WordVectors):
        return "word_vectors"
    if isinstance(source, (tuple, list)) and len(source) == 2 \
            and not isinstance(source[1], str):
        return "pair"
    if hasattr(source, "index_to_key") and hasattr(source, "vectors"):
        return "keyed"
    if hasattr(source, "index_to_key") or hasattr(source, "vectors"):
        have, lacks = (("index_to_key", "vectors") if hasattr(source, "index_to_key")
                       else ("vectors", "index_to_key"))
        raise TypeError(f"{name}: the {type(source).__name__} object has {have} but no "
                        f"{lacks} attribute (a KeyedVectors-like object needs both)")
    raise TypeError(f"{name} must be a path to a vectors file, a (words, matrix) pair, an "
                    "object with index_to_key and vectors attributes (gensim KeyedVectors) "
                    f"or a fastrnn.WordVectors, got {type(source).__name__}")


# --------------------------------------------------------------------------------------------
# arguments

def _check_words(words):
    """``words`` -> dict {word: position of its first occurrence}, or None."""
    if words is None:
        return None
    if isinstance(words, (str, bytes)) or not isinstance(words, Iterable):
        raise TypeError(f"words must be an iterable of str, got {type(words).__name__}")
    wanted = {}
    for i, w in enumerate(words):
        if not isinstance(w, str):
            raise TypeError(f"words must hold str, item {i} is {type(w).__name__} {w!r}")
        if not w or w != w.strip() or "\n" in w:
            raise ValueError(f"words item {i} ({w!r}) is empty or has leading/trailing "
                             "white space: no vectors file can hold it")
        wanted.setdefault(w, len(wanted))
    return wanted


def _lowercase(words):
    return all(w == w.lower() for w in words)


def _missing(wanted, index):
    return [w for w in wanted if w not in index]


# --------------------------------------------------------------------------------------------
# in-memory tables

def _from_table(words, matrix, wanted, dt, what, names):
    nw, nm = names
    if isinstance(words, (str, bytes)):
        raise TypeError(f"{what}: {nw} must be a sequence of str, got {type(words).__name__} "
                        "(one string is not a list of words)")
    try:
        words = list(words)
    except TypeError:
        raise TypeError(f"{what}: {nw} must be a sequence of str, "
                        f"got {type(words).__name__}") from None
    for i, w in enumerate(words):
        if not isinstance(w, str):
            raise TypeError(f"{what}: {nw}[{i}] must be a str, got {type(w).__name__} {w!r}")
    try:
        M = np.asarray(matrix)
    except ValueError:  # ragged rows
        raise ValueError(f"{what}: {nm} must be 2-D (words, dim) with rows of one width; its "
                         "rows differ in length") from None
    if M.dtype == np.bool_ or not (np.issubdtype(M.dtype, np.integer)
                                   or np.issubdtype(M.dtype, np.floating)):
        raise TypeError(f"{what}: {nm} must hold real numbers, got dtype {M.dtype}")
    if M.ndim != 2:
        raise ValueError(f"{what}: {nm} must be 2-D (words, dim), got shape {M.shape}")
    if M.shape[0] != len(words):
        raise ValueError(f"{what}: {len(words)} words but {nm} has {M.shape[0]} rows")
    if M.shape[0] == 0 or M.shape[1] == 0:
        raise ValueError(f"{what} is empty: {nm} has shape {M.shape}")
    seen = {}
    for i, w in enumerate(words):
        j = seen.setdefault(w, i)
        if j != i:
            raise ValueError(f"{what}: word {w!r} appears twice ({nw}[{j}] and {nw}[{i}])")
    if wanted is None:
        rows = np.arange(len(words))
    else:
        rows = np.fromiter((i for i, w in enumerate(words) if w in wanted), np.int64)
    with np.errstate(over="ignore", invalid="ignore"):   # a copy, never the caller's memory
        if wanted is None:
            V = np.array(M, dtype=dt, order="C")
        else:                                       # fancy indexing copies only those rows
            V = np.ascontiguousarray(M[rows], dtype=dt)
    bad = ~np.isfinite(V)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        i = int(rows[r])
        raise ValueError(f"{what}: the vector of {words[i]!r} ({nm}[{i}, {c}] = {M[i, c]!r}) "
                         f"is not a finite {dt} number")
    kept = [words[i] for i in rows.tolist()]
    out = WordVectors(kept, V, what, _lowercase(words[:LOWERCASE_CHECK]),
                      None if wanted is None else len(wanted))
    if wanted is not None:
        out.missing = _missing(wanted, out.index)
    return out


# --------------------------------------------------------------------------------------------
# files

def _open(path, format):
    """Open ``path`` for binary reading; returns (raw file, file to read (gunzipped if gzip),
    binary format?)."""
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"vectors file not found: {path}") from None
    except IsADirectoryError:
        raise ValueError(f"{path} is a directory, not a vectors file") from None
    magic = raw.read(2)
    raw.seek(0)
    gz = magic == b"\x1f\x8b"
    name = path.name.lower()
    if name.endswith(".gz"):
        name = name[:-3]
    binary = format == "binary" or (format == "auto" and name.endswith(".bin"))
    return raw, (gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw), binary


class _Grow:
    """A (rows, E) buffer that grows in place; rows are filled in order."""

    def __init__(self, cap, E, dt):
        self.a = np.empty((max(int(cap), 1), E), dt)
        self.n = 0

    def room(self, k):
        """Make room for ``k`` more rows."""
        need = self.n + k
        if need > self.a.shape[0]:
            self.a.resize((max(need, 2 * self.a.shape[0]), self.a.shape[1]), refcheck=False)

    def final(self):
        self.a.resize((self.n, self.a.shape[1]), refcheck=False)
        return self.a


def _load_path(path, wanted, dt, format):
    raw, fh, binary = _open(path, format)
    try:
        with raw, fh:
            reader = _read_binary if binary else _read_text
            return reader(fh, str(path), wanted, dt)
    except (gzip.BadGzipFile, EOFError, zlib.error) as e:
        raise ValueError(f"{path}: damaged gzip data ({e})") from None


def _utf8_error(where, chunk, e, first_line):
    line = first_line + chunk.count(b"\n", 0, e.start)
    col = e.start - (chunk.rfind(b"\n", 0, e.start) + 1) + 1
    return ValueError(f"{where}: line {line} is not valid UTF-8 (byte 0x{chunk[e.start]:02x} "
                      f"at column {col}); text vectors files must be UTF-8")


def _header(line):
    """``(count, dim)`` if ``line`` is a word2vec header ``count dim``, else None."""
    toks = line.split()
    if len(toks) == 2 and toks[0].isdigit() and toks[1].isdigit():
        return int(toks[0]), int(toks[1])
    return None


def _read_text(fh, where, wanted, dt):
    first = fh.readline()
    if first.startswith(codecs.BOM_UTF8):          # a byte-order mark is not part of the word
        first = first[len(codecs.BOM_UTF8):]
    if not first.strip():
        if not first:
            raise ValueError(f"{where} is empty: no vectors")
        raise ValueError(f"{where}: line 1 is empty")
    try:
        first.decode("utf-8")
    except UnicodeDecodeError as e:
        raise _utf8_error(where, first, e, 1) from None
    head = _header(first)
    if head is not None:
        count, E = head
        if E < 1:
            raise ValueError(f"{where}: the header (line 1) gives width {E}: no vectors")
        carry, lineno = b"", 2                      # 1-based number of the chunk's first line
        width_note = f" (the header on line 1 says {E})"
    else:
        count = None
        sp = first.find(b" ")
        E = 0 if sp < 0 else len(first[sp + 1:].split())     # as the kernel splits a row
        if E < 1:
            raise ValueError(f"{where}: line 1 has a word but no numbers")
        carry, lineno = first, 1
        width_note = f" (line 1 has {E})"
    buf = _Grow(min(count if wanted is None else len(wanted), 1 << 20)
                if count is not None or wanted is not None else 1 << 14, E, dt)
    words = []                      # the words kept, in file order
    if wanted is not None:          # line of each asked word in the file, 0 until found
        found = np.zeros(len(wanted), np.int64)
        asked = list(wanted)        # keep the caller's str objects, not copies
    lower_seen = []                 # the first LOWERCASE_CHECK words of the file
    info = np.zeros(2, np.int64)
    rows = 0                        # data lines seen
    while True:
        chunk = fh.read(CHUNK_BYTES)
        if chunk and not chunk.endswith(b"\n"):
            chunk += fh.readline()                 # end the chunk at a line break (or EOF)
        if carry:                                  # GloVe's first line is a row
            chunk, carry = carry + chunk, b""
        if not chunk:
            break
        try:
            chunk.decode("utf-8")
        except UnicodeDecodeError as e:
            hint = ("; if this is a word2vec binary file, pass format='binary'"
                    if head is not None and lineno == 2 else "")
            raise ValueError(str(_utf8_error(where, chunk, e, lineno)) + hint) from None
        arr = np.frombuffer(chunk, np.uint8)
        m = chunk.count(b"\n") + 1
        st, we, en = (np.empty(m, np.int64) for _ in range(3))
        n = _K.scan_lines(arr, st, we, en)
        st, we, en = st[:n], we[:n], en[:n]
        stl, wel = st.tolist(), we.tolist()
        # the line's first tokens, as str (the chunk is valid UTF-8 and split at b"\n")
        wstr = b"\n".join([chunk[s:e] for s, e in zip(stl, wel)]).decode("utf-8").split("\n")
        if len(lower_seen) < LOWERCASE_CHECK:
            lower_seen.extend(wstr[:LOWERCASE_CHECK - len(lower_seen)])
        if wanted is None:
            blank = np.flatnonzero(we == st)
            if blank.size:
                i = int(blank[0])
                what = "is empty" if en[i] == st[i] else "starts with a space (empty word)"
                raise ValueError(f"{where}: line {lineno + i} {what}")
            take = np.arange(buf.n, buf.n + n, dtype=np.int64)
            buf.room(n)
            words.extend(wstr)
        else:
            take = np.full(n, -1, np.int64)
            k = buf.n
            for i in [i for i, w in enumerate(wstr) if w in wanted]:
                p = wanted[wstr[i]]
                if found[p]:
                    raise ValueError(f"{where}: word {wstr[i]!r} on line {lineno + i} already "
                                     f"appeared on line {found[p]}")
                found[p] = lineno + i
                words.append(asked[p])
                take[i] = k
                k += 1
            buf.room(k - buf.n)
        i = 0
        while i < n:
            i = _K.parse_rows(arr, st, we, en, take, i, buf.a, info)
            if i == n:
                break
            code, k = int(info[0]), int(info[1])
            line = lineno + i
            if code == _K.PARSE_SLOW:
                _parse_line_slow(chunk, int(we[i]) + 1, int(en[i]), E, buf.a, int(take[i]),
                                 where, line, width_note)
                i += 1
                continue
            fields = chunk[int(we[i]) + 1:int(en[i])].split()
            if code == _K.PARSE_WIDTH:
                raise ValueError(f"{where}: line {line} has {k} numbers after the word, "
                                 f"expected {E}{width_note}")
            tok = fields[k].decode("utf-8", "replace")
            if code == _K.PARSE_NUMBER:
                raise ValueError(f"{where}: line {line}, value {k + 1} ({tok!r}) is not a number")
            raise ValueError(f"{where}: line {line}, value {k + 1} ({tok!r}) is not a finite "
                             f"{dt} number (NaN, inf or out of range)")
        buf.n += int((take >= 0).sum())
        rows += n
        lineno += n
    if rows == 0:
        raise ValueError(f"{where} has a header but no vectors" if head is not None
                         else f"{where} is empty: no vectors")
    if count is not None and count != rows:
        raise ValueError(f"{where}: the header (line 1) announces {count} words, but the file "
                         f"has {rows} rows")
    V = buf.final()
    out = WordVectors(words, V, where, _lowercase(lower_seen),
                      None if wanted is None else len(wanted))
    if len(out.index) != len(words):                # only possible when all words are read
        seen = {}
        off = 2 if head is not None else 1
        for r, w in enumerate(words):
            j = seen.setdefault(w, r)
            if j != r:
                raise ValueError(f"{where}: word {w!r} on line {r + off} already appeared on "
                                 f"line {j + off}")
    if wanted is not None:
        out.missing = _missing(wanted, out.index)
    return out


def _parse_line_slow(chunk, start, end, E, out, row, where, line, width_note):
    """Parse one line's numbers with Python's ``float`` (digits the kernel does not take)."""
    fields = chunk[start:end].split()
    if len(fields) != E:
        raise ValueError(f"{where}: line {line} has {len(fields)} numbers after the word, "
                         f"expected {E}{width_note}")
    vals = np.empty(E, np.float64)
    for k, f in enumerate(fields):
        try:
            if b"_" in f:                          # float() takes "1_000"; the format does not
                raise ValueError
            vals[k] = float(f)
        except ValueError:
            raise ValueError(f"{where}: line {line}, value {k + 1} "
                             f"({f.decode('utf-8', 'replace')!r}) is not a number") from None
    with np.errstate(over="ignore"):
        row_vals = vals.astype(out.dtype)
    bad = np.flatnonzero(~np.isfinite(row_vals))
    if bad.size:
        k = int(bad[0])
        raise ValueError(f"{where}: line {line}, value {k + 1} ({fields[k].decode()!r}) is not "
                         f"a finite {out.dtype} number (NaN, inf or out of range)")
    if row >= 0:
        out[row] = row_vals


def _read_binary(fh, where, wanted, dt):
    first = fh.readline()
    if not first:
        raise ValueError(f"{where} is empty: no vectors")
    head = _header(first.decode("ascii", "replace"))
    if head is None:
        raise ValueError(f"{where}: line 1 must be the word2vec header 'count dim', got "
                         f"{first[:60].decode('utf-8', 'replace')!r}")
    count, E = head
    if count < 1 or E < 1:
        raise ValueError(f"{where}: the header (line 1) announces {count} words of width {E}: "
                         "no vectors")
    rec = 4 * E
    buf = _Grow(min(count if wanted is None else len(wanted), 1 << 20), E, dt)
    words = []
    if wanted is not None:
        found = np.zeros(len(wanted), np.int64)     # record of each asked word, 0 until found
        asked = list(wanted)
    lower_seen = []
    scratch = np.zeros(1, np.uint32)
    data, pos, offset = b"", 0, len(first)         # offset: file position of data[0]
    r, eof = 0, False                              # records read
    while r < count:
        arr = np.frombuffer(data, np.uint8)
        limit = min(count - r, (len(data) - pos) // (rec + 1) + 1)
        ws, we = np.empty(limit, np.int64), np.empty(limit, np.int64)
        n = _K.scan_records(arr, pos, rec, limit, ws, we)
        if n == 0:
            if eof:
                raise ValueError(f"{where}: the header (line 1) announces {count} words, but "
                                 f"the file ends in word record {r + 1}")
            more = fh.read(max(CHUNK_BYTES, 2 * rec + 64))
            eof = not more
            offset += pos
            data, pos = data[pos:] + more, 0
            continue
        wsl, wel = ws[:n].tolist(), we[:n].tolist()
        raw = [data[a:b] for a, b in zip(wsl, wel)]
        try:
            wstr = b"\n".join(raw).decode("utf-8").split("\n")
        except UnicodeDecodeError:
            wstr = None
        if wstr is None or len(wstr) != n or "" in wstr:
            for k, b in enumerate(raw):             # find the bad record
                try:
                    w = b.decode("utf-8")
                except UnicodeDecodeError:
                    raise ValueError(f"{where}: word record {r + k + 1} (byte offset "
                                     f"{offset + wsl[k]}) is not valid UTF-8") from None
                if not w or "\n" in w:
                    raise ValueError(f"{where}: word record {r + k + 1} (byte offset "
                                     f"{offset + wsl[k]}) has an empty word or a line break "
                                     "inside its word")
        if len(lower_seen) < LOWERCASE_CHECK:
            lower_seen.extend(wstr[:LOWERCASE_CHECK - len(lower_seen)])
        if wanted is None:
            sel = np.arange(n)
            words.extend(wstr)
        else:
            keep = []
            for k in [k for k, w in enumerate(wstr) if w in wanted]:
                p = wanted[wstr[k]]
                if found[p]:
                    raise ValueError(f"{where}: word {wstr[k]!r} (record {r + k + 1}) already "
                                     f"appeared as record {found[p]}")
                found[p] = r + k + 1
                words.append(asked[p])
                keep.append(k)
            sel = np.array(keep, np.int64)
        if sel.size:
            buf.room(sel.size)
            block = buf.a[buf.n:buf.n + sel.size]
            _K.gather_records(arr, we[sel] + 1, block, scratch)
            bad = ~np.isfinite(block)
            if bad.any():
                k, j = (int(x) for x in np.argwhere(bad)[0])
                raise ValueError(f"{where}: word record {r + int(sel[k]) + 1} "
                                 f"({wstr[sel[k]]!r}), value {j + 1} is not a finite {dt} number")
            buf.n += sel.size
        r += n
        pos = wel[-1] + 1 + rec
    while True:                                 # only white space may follow the records
        rest = data[pos:]
        if rest.strip():
            raise ValueError(f"{where}: data after the {count} word records the header (line "
                             f"1) announces, at byte offset "
                             f"{offset + pos + len(rest) - len(rest.lstrip())}")
        offset += len(data)
        data, pos = fh.read(CHUNK_BYTES), 0
        if not data:
            break
    V = buf.final()
    out = WordVectors(words, V, where, _lowercase(lower_seen),
                      None if wanted is None else len(wanted))
    if len(out.index) != len(words):                # only possible when all words are read
        seen = {}
        for r, w in enumerate(words):
            j = seen.setdefault(w, r)
            if j != r:
                raise ValueError(f"{where}: word {w!r} (record {r + 1}) already appeared as "
                                 f"record {j + 1}")
    if wanted is not None:
        out.missing = _missing(wanted, out.index)
    return out
