"""Is ``fastrnn.load_vectors`` faster than ``numpy.loadtxt``, and small in memory with ``words=``?

One synthetic GloVe-like text file (``word v1 ... v50`` per line, six decimals, no header, the
real format) is written once per session in a temporary folder.  Group ``vectors`` times, on
that file:

* ``numpy.loadtxt``: the numbers only (``usecols=1..50``, float32, no comments, no quotes);
* ``load_vectors(path)``: words and all vectors;
* ``load_vectors(path, words=ask)``: the rows of every 20th word (20,000 words asked on the full
  file; every 2nd word, 10,000, on the small one), streamed.

Issue 12's bars: faster than ``numpy.loadtxt``, and with ``words=`` a peak memory (tracemalloc,
and the ru_maxrss growth of a fresh process) under 2x the matrix returned.  Both are asserted
here (ru_maxrss on the full file only).

Size: by default 20,000 rows (CI runs this file once as plain tests); set
``FASTRNN_BENCH_VECTORS=full`` for the issue's 400,000 x 50 file (~190 MB, ~10 s to write):

    FASTRNN_BENCH_VECTORS=full pytest bench/test_bench_vectors.py --benchmark-enable \\
        --benchmark-only
"""

import os
import subprocess
import sys
import textwrap
import time
import tracemalloc

import numpy as np
import pytest

from fastrnn import load_vectors

FULL = os.environ.get("FASTRNN_BENCH_VECTORS", "") == "full"
ROWS = 400_000 if FULL else 20_000
DIM = 50
ASK_EVERY = 20 if FULL else 2          # full: 20,000 words asked; CI: 10,000


def write_glove_like(path, n, dim, seed=0):
    """Write ``n`` lines ``word v1 ... v_dim`` (six decimals, values ~ N(0, 0.45)); returns the
    words.  The words are unique: random lower-case letters followed by the row number."""
    rng = np.random.default_rng(seed)
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    fmt = " ".join(["%.6f"] * dim)
    words = []
    with open(path, "w", encoding="utf-8") as f:
        for start in range(0, n, 10_000):
            m = min(10_000, n - start)
            X = rng.normal(0, 0.45, (m, dim))
            lens = rng.integers(1, 9, m)
            block = []
            for j in range(m):
                w = "".join(letters[rng.integers(0, 26, lens[j])]) + str(start + j)
                words.append(w)
                block.append(w + " " + fmt % tuple(X[j].tolist()))
            f.write("\n".join(block) + "\n")
    return words


@pytest.fixture(scope="session")
def glove(tmp_path_factory):
    path = tmp_path_factory.mktemp("vectors") / f"glove-like-{ROWS}x{DIM}.txt"
    words = write_glove_like(path, ROWS, DIM)
    small = path.parent / "warm.txt"                 # compile / load the kernels once
    small.write_text("a 1 2\n")
    load_vectors(small), load_vectors(small, words=["a"])
    return path, words, words[::ASK_EVERY]


def _loadtxt(path):
    return np.loadtxt(path, usecols=range(1, DIM + 1), dtype=np.float32, comments=None,
                      delimiter=" ", quotechar=None)


@pytest.mark.parametrize("how", ["numpy.loadtxt", "load_vectors", "load_vectors-words"])
def test_vectors_speed(benchmark, glove, how):
    path, words, ask = glove
    fn = {"numpy.loadtxt": lambda: _loadtxt(path),
          "load_vectors": lambda: load_vectors(path),
          "load_vectors-words": lambda: load_vectors(path, words=ask)}[how]
    benchmark.group = f"vectors-{ROWS}x{DIM}"
    benchmark.extra_info["bytes"] = path.stat().st_size
    out = benchmark.pedantic(fn, rounds=3 if FULL else 5, warmup_rounds=0)
    if how == "numpy.loadtxt":
        assert out.shape == (ROWS, DIM)
    elif how == "load_vectors":
        assert out.words == words and out.vectors.shape == (ROWS, DIM)
    else:
        assert out.words == ask and out.vectors.shape == (len(ask), DIM)


def test_vectors_agree_with_loadtxt_and_are_faster(glove):
    """Same numbers as numpy.loadtxt (exactly), in less time (best of 3 each, the three readers
    taking turns in one run, so that a busy moment of the machine falls on all of them)."""
    path, _, ask = glove
    readers = [("loadtxt", lambda: _loadtxt(path)), ("all", lambda: load_vectors(path)),
               ("words", lambda: load_vectors(path, words=ask))]
    times = dict.fromkeys(dict(readers), np.inf)
    for _ in range(3):
        for name, fn in readers:
            t = time.perf_counter()
            out = fn()
            times[name] = min(times[name], time.perf_counter() - t)
            if name == "loadtxt":
                ref = out
            elif name == "all":
                np.testing.assert_array_equal(out.vectors, ref)
            else:
                np.testing.assert_array_equal(out.vectors, ref[::ASK_EVERY])
    print(f"\n{ROWS}x{DIM}: loadtxt {times['loadtxt']:.3f} s, load_vectors {times['all']:.3f} s "
          f"({times['loadtxt'] / times['all']:.1f}x), words= {times['words']:.3f} s "
          f"({times['loadtxt'] / times['words']:.1f}x)")
    assert times["all"] < times["loadtxt"], times
    assert times["words"] < times["loadtxt"], times


def test_vectors_words_peak_memory(glove):
    """tracemalloc peak while reading the words asked: under 2x the matrix returned."""
    path, _, ask = glove
    tracemalloc.start()
    try:
        wv = load_vectors(path, words=ask)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    ratio = peak / wv.vectors.nbytes
    print(f"\ntracemalloc peak {peak / 1e6:.2f} MB for a {wv.vectors.nbytes / 1e6:.2f} MB matrix "
          f"({ratio:.2f}x)")
    assert ratio < 2.0, ratio


@pytest.mark.skipif(not FULL, reason="ru_maxrss is only telling on the full-size file "
                                    "(FASTRNN_BENCH_VECTORS=full): a few MB fit in memory "
                                    "that the imports already took")
def test_vectors_words_maxrss(glove, tmp_path):
    """ru_maxrss growth of a fresh process reading the words asked: under 2x the matrix."""
    path, _, ask = glove
    listed = tmp_path / "ask.txt"
    listed.write_text("\n".join(ask), encoding="utf-8")
    script = textwrap.dedent(f"""
        import resource
        from fastrnn import load_vectors
        ask = open({str(listed)!r}, encoding="utf-8").read().split("\\n")
        load_vectors({str(path.parent / "warm.txt")!r}, words=["a"])
        before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        wv = load_vectors({str(path)!r}, words=ask)
        after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print((after - before) * 1024, wv.vectors.nbytes)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True)
    grew, nbytes = map(int, out.stdout.split())
    print(f"\nru_maxrss grew {grew / 1e6:.2f} MB for a {nbytes / 1e6:.2f} MB matrix "
          f"({grew / nbytes:.2f}x)")
    assert grew < 2 * nbytes, (grew, nbytes)
