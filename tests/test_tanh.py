"""The kernels' vectorisable tanh (``kernels.rnn.tanh_scalar`` for float64, ``tanh_f32`` for
float32, both through ``tanh_rows``) against ``np.tanh``.

Errors are measured in ulp of the result's dtype on a dense grid that covers tiny, denormal,
moderate and saturated arguments plus the special values, for float64 and float32.  float64 is
also measured against ``np.tanh`` in long double (the true value, where long double is wider).
"""

import re

import numpy as np
import pytest

from fastrnn.kernels import rnn as KR

SPECIALS = [0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan]


def grid(dtype):
    info = np.finfo(dtype)
    tiny = float(info.smallest_subnormal)
    pos = np.concatenate([
        np.geomspace(tiny, float(info.smallest_normal) * 4, 2_000),  # denormals and their edge
        np.geomspace(1e-30, 1e-3, 20_000),
        np.linspace(0, 1, 100_001),  # the region where t / (t + 2) matters most
        np.linspace(1, 25, 100_001),  # past saturation (19.06 in float64, 9.01 in float32)
        np.geomspace(25, float(info.max) / 2, 2_000),
        np.random.default_rng(0).standard_normal(100_000) * 3,
    ]).astype(dtype)
    return np.concatenate([pos, -pos]).astype(dtype)


def run(x):
    a = np.array(x).reshape(1, -1)
    KR.tanh_rows(a, 0, 1)
    return a[0]


def ulp_distance(a, b):
    """|a - b| in units in the last place, via the monotone integer map of the float bits."""
    it = {np.dtype(np.float64): np.int64, np.dtype(np.float32): np.int32}[a.dtype]
    ia = a.view(it).astype(np.int64)
    ib = b.view(it).astype(np.int64)
    sign = np.int64(1) << (8 * a.dtype.itemsize - 1)
    ia = np.where(ia < 0, -(ia + sign), ia)
    ib = np.where(ib < 0, -(ib + sign), ib)
    return np.abs(ia - ib)


# float64: ``tanh_scalar`` (measured max 3 ulp, mean 0.25); float32: ``tanh_f32``, float32
# arithmetic throughout (measured max 2 ulp, mean 0.27; computed in float64 it was 1 ulp but
# ~2x the time per element)
@pytest.mark.parametrize("dtype,max_ulp,mean_ulp", [(np.float64, 4, 0.3), (np.float32, 2, 0.35)],
                         ids=["f64", "f32"])
def test_close_to_numpy_on_a_dense_grid(dtype, max_ulp, mean_ulp):
    x = grid(dtype)
    got = run(x)
    ref = np.tanh(x)
    assert got.dtype == dtype
    u = ulp_distance(got, ref)
    worst = int(np.argmax(u))
    assert u.max() <= max_ulp, (f"{u.max()} ulp at x = {x[worst]!r}: {got[worst]!r} vs "
                                f"np.tanh {ref[worst]!r}")
    assert u.mean() < mean_ulp, u.mean()


def test_float64_error_against_long_double():
    if np.finfo(np.longdouble).nmant <= 52:
        pytest.skip("long double is no wider than float64 here")
    x = grid(np.float64)
    x = x[np.abs(x) > 1e-300]  # keep the spacing of the exact result normal
    got = run(x).astype(np.longdouble)
    true = np.tanh(x.astype(np.longdouble))
    err = np.abs(got - true) / np.spacing(true.astype(np.float64)).astype(np.longdouble)
    assert float(err.max()) < 3.0, float(err.max())


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_special_values(dtype):
    info = np.finfo(dtype)
    x = np.array(SPECIALS + [info.smallest_subnormal, -info.smallest_subnormal,
                             info.smallest_normal, info.max, -info.max, 25.0, -25.0], dtype=dtype)
    got = run(x)
    ref = np.tanh(x)
    np.testing.assert_array_equal(got, ref)  # NaN == NaN for assert_array_equal
    num = ~np.isnan(x)  # (the sign of a NaN carries no meaning)
    np.testing.assert_array_equal(np.signbit(got[num]), np.signbit(ref[num]))  # tanh(-0) = -0
    assert (got[:4] == np.array([0, 0, 1, -1], dtype)).all()


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["f64", "f32"])
def test_odd_and_bounded(dtype):
    x = grid(dtype)
    got = run(x)
    np.testing.assert_array_equal(run(-x), -got)
    assert (np.abs(got) <= 1).all()
    # monotone up to its error: on sorted input a value never drops by more than 2 ulp (near
    # saturation, 19.06 in float64, correctly rounded values alternate between 1 and 1 - ulp)
    xs = np.sort(x)
    ys = run(xs)
    drop = ys[:-1] - ys[1:]
    assert (drop <= 2 * np.spacing(np.abs(ys[1:]))).all()


@pytest.mark.parametrize("dtype,div", [(np.float64, "vdivpd"), (np.float32, "vdivps")],
                         ids=["f64", "f32"])
def test_vectorised_without_libm_call(dtype, div):
    """The row loop compiles to packed AVX code with no call to a libm tanh and, for float32,
    no float64 arithmetic (``tanh_f32`` computes in float32)."""
    from numba import njit
    fresh = njit(error_model="numpy")(KR.tanh_rows.py_func)  # cached code cannot be inspected
    fresh(np.zeros((1, 8), dtype), 0, 1)
    asm = fresh.inspect_asm(fresh.signatures[0])
    calls = [ln for ln in asm.splitlines() if "call" in ln and "tanh" in ln.lower()]
    assert not calls, calls
    if "ymm" in asm or "zmm" in asm:  # AVX machines: packed arithmetic
        assert div + "\t%ymm" in asm or div + "\t%zmm" in asm
    if dtype == np.float32:  # no float64 arithmetic at all, and no conversion to float64
        mnemonics = re.findall(r"^\s+([a-z][a-z0-9]*)\s", asm, re.M)
        f64 = [m for m in mnemonics
               if re.fullmatch(r"v?(add|sub|mul|div|min|max|sqrt|fn?m(add|sub)\d*)(pd|sd)", m)
               or re.fullmatch(r"v?cvt\w*2(pd|sd)", m)]
        assert not f64, sorted(set(f64))
        assert re.search(r"\bv?mulps\b", asm), "no packed float32 multiply"
