"""Shared fixtures: random corpora, parameters, tolerances, and the optional ../shared data."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fastrnn import _engine as E

#: The one tolerance table of the kernel-vs-reference tests (same algorithm, other summation
#: order), per kind of comparison and dtype.  ``"step"``: one kernel call or a few updates;
#: float64 agrees to ~1e-15 per step, float32 to a few ulp of float32.  ``"epochs"``: after
#: hundreds of updates, where float32 rounding compounds.  ``"loss"``: summed losses, as
#: ``pytest.approx`` keywords.
TOLERANCES = {
    "step": {np.float64: dict(rtol=1e-12, atol=1e-14), np.float32: dict(rtol=2e-5, atol=2e-6)},
    "epochs": {np.float64: dict(rtol=1e-10, atol=1e-14), np.float32: dict(rtol=1e-3, atol=1e-4)},
    "loss": {np.float64: dict(rel=1e-10), np.float32: dict(rel=1e-4)},
}
TOL = TOLERANCES["step"]
DTYPES = [np.float64, np.float32]
DTYPE_IDS = ["f64", "f32"]

#: ``../shared/data`` beside the repository, or the folder named by ``FASTRNN_SHARED_DATA``
#: (a checkout elsewhere); the tests that read it skip when it is absent.
SHARED_DATA = Path(os.environ.get("FASTRNN_SHARED_DATA")
                   or Path(__file__).resolve().parents[1].parent / "shared" / "data")


def run_python(code, *args, cache=None, timeout=600, env=None, **kw):
    """Run ``code`` in a fresh ``python -c`` (``args`` after it) and assert a zero exit (with
    its stderr); returns the ``CompletedProcess`` (text).  The environment is this one without
    an inherited ``FASTRNN_QUIET`` (first-run notices show), with ``NUMBA_CACHE_DIR=cache``
    when given and the variables of ``env`` on top."""
    env = dict({k: v for k, v in os.environ.items() if k != "FASTRNN_QUIET"}, **(env or {}))
    if cache is not None:
        env["NUMBA_CACHE_DIR"] = str(cache)
    out = subprocess.run([sys.executable, "-c", code, *map(str, args)], env=env,
                         capture_output=True, text=True, timeout=timeout, **kw)
    assert out.returncode == 0, out.stderr
    return out


@pytest.fixture(autouse=True, scope="session")
def _no_inherited_terminal_size():
    """The CLI tests see a plain pipe, not the runner's terminal: pytest-xdist's workers (and
    some shells) export ``COLUMNS``/``LINES``, which the CLIs honour as the terminal width.
    Session-wide, so module-scoped fixtures that run a CLI see it too."""
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("COLUMNS", raising=False)
        mp.delenv("LINES", raising=False)
        yield


def make_corpus(n=20, V=18, min_len=1, max_len=7, O=2, seed=0):
    """A random flat corpus: ``tokens`` int32, ``offsets`` int64, ``labels`` int64."""
    rng = np.random.default_rng(seed)
    lens = rng.integers(min_len, max_len + 1, n)
    offsets = np.concatenate([[0], np.cumsum(lens)]).astype(np.int64)
    tokens = rng.integers(0, V, offsets[-1]).astype(np.int32)
    labels = rng.integers(0, O, n).astype(np.int64)
    return tokens, offsets, labels


def make_params(V=18, H=16, O=2, dtype=np.float64, seed=1, scale=0.5):
    """Random parameters large enough that every term of the gradient matters."""
    rng = np.random.default_rng(seed)
    P = E.Params(rng.normal(0, scale, (V, H)), rng.normal(0, scale / np.sqrt(H), (H, H)),
                 rng.normal(0, scale, (O, H)), rng.normal(0, 0.1, H), rng.normal(0, 0.1, O),
                 dtype=dtype)
    return P


def ref_params(P):
    """The same parameters as the reference's dict (copies)."""
    return {name: getattr(P, name).copy() for name in P.names}


def assert_params_close(P, R, dtype, what="", kind="step"):
    """The kernel's ``Params`` against the reference's dict, within ``TOLERANCES[kind]``."""
    tol = TOLERANCES[kind][dtype]
    for name in P.names:
        np.testing.assert_allclose(getattr(P, name), R[name], err_msg=f"{what} {name}", **tol)


@pytest.fixture(scope="session")
def shared_data():
    """Path of :data:`SHARED_DATA`; skips when a fresh clone has none."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"{SHARED_DATA} is not present (set FASTRNN_SHARED_DATA to the folder "
                    "holding mr/ and sst2/)")
    return SHARED_DATA
