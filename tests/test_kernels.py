"""Stable kernels (riemdln.symbolic.kernels) against mpmath at 50 digits, from the definitions.

The reference is the defining quotient (x - y)/(x^{1/N} - y^{1/N}) off the diagonal, N x^{(N-1)/N} on it,
the defining sum for small integer N, and (x - y)/(log x - log y) for the logarithmic mean, all evaluated
by mpmath on the exact binary values of the float inputs. Bar: relative error <= 1e-12 (issue 2).
"""

from __future__ import annotations

import itertools
import math

import mpmath
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from riemdln.symbolic import kernels

MP_DPS = 50
REL_TOL = 1e-12

RATIOS = (
    1.0,
    1 + 1e-15,
    1 - 1e-15,
    1 + 1e-13,
    1 + 1e-8,
    1 - 1e-8,
    2.0,
    0.5,
    1e6,
    1e-6,
    1e200,
    1e-200,
)
BASES = (1e-150, 1e-100, 1e-20, 1e-3, 1.0, 7.5, 1e20, 1e100, 1e150)
FINITE_DEPTHS = (1, 2, 3, 10, 1e3, 1e6)
ALL_DEPTHS = FINITE_DEPTHS + (math.inf,)


def stress_grid() -> tuple[np.ndarray, np.ndarray]:
    """Pairs (x, y) = (base * ratio, base), both within [1e-300, 1e300]."""
    xs, ys = [], []
    for base, ratio in itertools.product(BASES, RATIOS):
        x = base * ratio
        if 1e-300 <= x <= 1e300:
            xs.append(x)
            ys.append(base)
    return np.array(xs), np.array(ys)


# ----------------------------------------------------------------------------- mpmath references


def mp_logmean(x, y):
    x, y = mpmath.mpf(x), mpmath.mpf(y)
    if x == 0 or y == 0:
        return mpmath.mpf(0)
    if x == y:
        return x
    return (x - y) / (mpmath.log(x) - mpmath.log(y))


def mp_multiplier(x, y, N):
    """a_N(x, y) by the defining quotient; its removable and boundary values from the definition."""
    x, y = mpmath.mpf(x), mpmath.mpf(y)
    N = mpmath.mpf(N)
    p = (N - 1) / N
    if x == 0 and y == 0:
        return mpmath.mpf(1) if N == 1 else mpmath.mpf(0)
    if x == 0 or y == 0:
        return max(x, y) ** p
    if x == y:
        return N * x**p
    return (x - y) / (x ** (1 / N) - y ** (1 / N))


def mp_multiplier_sum(x, y, N: int):
    """a_N(x, y) by the defining sum (integer N), with 0^0 = 1."""
    x, y = mpmath.mpf(x), mpmath.mpf(y)

    def pw(b, e):
        return mpmath.mpf(1) if e == 0 else b ** (mpmath.mpf(e) / N)

    return mpmath.fsum(pw(x, N - k) * pw(y, k - 1) for k in range(1, N + 1))


def rel_err(value, ref) -> float:
    value = mpmath.mpf(float(value))
    if ref == 0:
        return float(abs(value))
    return float(abs(value - ref) / abs(ref))


# ----------------------------------------------------------------------------- reference self-checks


@pytest.mark.parametrize("N", [1, 2, 3, 5, 10])
def test_reference_quotient_equals_defining_sum(N):
    """The mpmath quotient and the defining sum agree to 1e-35 (so the reference is the definition)."""
    with mpmath.workdps(MP_DPS):
        for x, y in [(4.0, 1.0), (2.0, 2.0), (1e-20, 3.0), (1.0 + 1e-8, 1.0), (5.0, 0.0), (0.0, 0.0)]:
            q, s = mp_multiplier(x, y, N), mp_multiplier_sum(x, y, N)
            assert abs(q - s) <= mpmath.mpf("1e-35") * max(1, abs(s)), (x, y, N, q, s)


# ----------------------------------------------------------------------------- stress grid


@pytest.mark.parametrize("N", ALL_DEPTHS, ids=lambda n: f"N={n:g}")
def test_normalized_multiplier_stress_grid(N):
    """a_N/N (and L at N = inf) on the stress grid: relative error <= 1e-12 vs mpmath."""
    x, y = stress_grid()
    got = kernels.dln_multiplier_normalized(x, y, N)
    got_log = kernels.log_dln_multiplier_normalized(x, y, N)
    bad = []
    with mpmath.workdps(MP_DPS):
        for xi, yi, gi, li in zip(x, y, got, got_log, strict=True):
            ref = mp_logmean(xi, yi) if math.isinf(N) else mp_multiplier(xi, yi, N) / N
            err = rel_err(gi, ref)
            log_err = float(abs(mpmath.mpf(float(li)) - mpmath.log(ref)))
            if err > REL_TOL or log_err > REL_TOL * max(1.0, abs(float(mpmath.log(ref)))):
                bad.append((xi, yi, err, log_err))
    assert not bad, f"relative error > {REL_TOL} at (x, y, err, log_err): {bad[:5]}"


@pytest.mark.parametrize("N", FINITE_DEPTHS, ids=lambda n: f"N={n:g}")
def test_raw_multiplier_stress_grid(N):
    """a_N raw on the stress grid: rel err <= 1e-12 vs mpmath; log: abs err <= 1e-12 * max(1, |log a|)."""
    x, y = stress_grid()
    got = kernels.dln_multiplier(x, y, N)
    got_log = kernels.log_dln_multiplier(x, y, N)
    bad = []
    with mpmath.workdps(MP_DPS):
        for xi, yi, gi, li in zip(x, y, got, got_log, strict=True):
            ref = mp_multiplier(xi, yi, N)
            if N <= 10:
                assert abs(ref - mp_multiplier_sum(xi, yi, int(N))) <= mpmath.mpf("1e-30") * ref
            err = rel_err(gi, ref)
            lref = mpmath.log(ref)
            log_err = float(abs(mpmath.mpf(float(li)) - lref))
            if err > REL_TOL or log_err > REL_TOL * max(1.0, abs(float(lref))):
                bad.append((xi, yi, err, log_err))
    assert not bad, f"relative error > {REL_TOL} at (x, y, err, log_err): {bad[:5]}"


@pytest.mark.parametrize("N", [1 + 1e-9, 1.5, 2.5, 7.25, 123.4, 1e12], ids=lambda n: f"N={n!r}")
def test_real_depth(N):
    """Depth is a real parameter: non-integer N vs the mpmath quotient, rel err <= 1e-12.

    Raw values beyond 1e300 (N = 1e12 at x = 1e300 overflows honestly) are checked normalized only.
    """
    x, y = stress_grid()
    with mpmath.workdps(MP_DPS):
        refs = [mp_multiplier(a, b, N) for a, b in zip(x, y, strict=True)]
    fits = np.array([r < 1e300 for r in refs])
    raw = kernels.dln_multiplier(x[fits], y[fits], N)
    normalized = kernels.dln_multiplier_normalized(x, y, N)
    with mpmath.workdps(MP_DPS):
        errs = [rel_err(g, r) for g, r in zip(raw, np.array(refs, dtype=object)[fits], strict=True)]
        errs += [rel_err(g, r / N) for g, r in zip(normalized, refs, strict=True)]
    assert max(errs) <= REL_TOL


def test_logmean_stress_grid():
    x, y = stress_grid()
    got = kernels.logmean(x, y)
    with mpmath.workdps(MP_DPS):
        errs = [rel_err(g, mp_logmean(a, b)) for a, b, g in zip(x, y, got, strict=True)]
    assert max(errs) <= REL_TOL


# ----------------------------------------------------------------------------- sinhc


@pytest.mark.parametrize("z", [0.0, 1e-300, 1e-20, 1e-8, 1e-4, 0.3, 0.999, 1.0, 1.001, 2.0, 30.0, 700.0, -0.5, -40.0])
def test_sinhc_and_log_sinhc(z):
    """sinhc vs mpmath sinh(z)/z: rel err <= 1e-14; log_sinhc rel err <= 1e-14 (it is ~z^2/6 near 0)."""
    # sinh(z)/z - 1 ~ z^2/6 needs ~2 log10(1/z) extra digits to survive the subtraction inside log
    extra = int(2 * abs(math.log10(abs(z)))) if z else 0
    with mpmath.workdps(MP_DPS + extra):
        zz = mpmath.mpf(z)
        ref = mpmath.mpf(1) if z == 0 else mpmath.sinh(zz) / zz
        if abs(z) < 700:
            assert rel_err(kernels.sinhc(z), ref) <= 1e-14
        lref = mpmath.log(ref)
        got = kernels.log_sinhc(z)
        # below ~1e-154 the value z^2/6 underflows: then an absolute error of one subnormal is the best
        assert rel_err(got, lref) <= 1e-14 or abs(mpmath.mpf(float(got)) - lref) <= 5e-324


def test_log_sinhc_huge_argument_no_overflow():
    """log_sinhc(1e6) = 1e6 - log(2e6) exactly to double precision; no overflow warning."""
    assert abs(kernels.log_sinhc(1e6) - (1e6 - math.log(2e6))) <= 1e-15 * 1e6


# ----------------------------------------------------------------------------- exact boundary values


@pytest.mark.parametrize("N", FINITE_DEPTHS, ids=lambda n: f"N={n:g}")
@pytest.mark.parametrize("x", [1e-150, 0.25, 1.0, 3.0, 1e150])
def test_boundary_values(N, x):
    """a_N(x, 0) = a_N(0, x) = x^{(N-1)/N} (rel err <= 1e-12); a_N(0,0) = 0 (N > 1) or 1 (N = 1) exactly."""
    expected = float(mpmath.power(mpmath.mpf(x), (mpmath.mpf(N) - 1) / N))
    for a, b in [(x, 0.0), (0.0, x)]:
        assert abs(kernels.dln_multiplier(a, b, N) - expected) <= REL_TOL * expected
        assert abs(kernels.dln_multiplier_normalized(a, b, N) - expected / N) <= REL_TOL * expected / N
        assert kernels.logmean(a, b) == 0.0
        assert kernels.log_logmean(a, b) == -np.inf
        assert kernels.dln_multiplier_normalized(a, b, math.inf) == 0.0
    zero = kernels.dln_multiplier(0.0, 0.0, N)
    assert zero == (1.0 if N == 1 else 0.0)
    assert kernels.log_dln_multiplier(0.0, 0.0, N) == (0.0 if N == 1 else -np.inf)
    assert kernels.logmean(0.0, 0.0) == 0.0


def test_depth_one_is_identically_one():
    """a_1 = 1 everywhere, exactly (the Euclidean metric)."""
    x, y = stress_grid()
    assert np.all(kernels.dln_multiplier(x, y, 1) == 1.0)
    assert np.all(kernels.dln_multiplier(np.append(x, 0.0), np.append(0.0, y), 1) == 1.0)


def test_diagonal_values():
    """a_N(x, x) = N x^{(N-1)/N} (mpmath) and L(x, x) = x; rel err <= 1e-13."""
    x = np.array([1e-30, 0.5, 1.0, 2.0, 1e30])
    for N in (2, 3, 10, 1e6):
        got = kernels.dln_multiplier(x, x, N)
        with mpmath.workdps(MP_DPS):
            errs = [rel_err(g, N * mpmath.mpf(a) ** ((mpmath.mpf(N) - 1) / N)) for a, g in zip(x, got, strict=True)]
        assert max(errs) <= 1e-13
    np.testing.assert_allclose(kernels.logmean(x, x), x, rtol=1e-13, atol=0)


def test_theory_sample_values():
    """THEORY §10 a_N(4, 1) recomputed from the definitions (sum; mpmath quotient), rel err <= 1e-14."""
    for N in (1, 2, 3):
        ref = sum(4.0 ** ((N - k) / N) for k in range(1, N + 1))
        assert abs(kernels.dln_multiplier(4.0, 1.0, N) - ref) <= 1e-14 * ref
    assert abs(kernels.logmean(4.0, 1.0) - 3 / math.log(4)) <= 1e-15 * 3


# ----------------------------------------------------------------------------- vectorization


def test_broadcasting_and_scalars():
    """Column × row broadcast gives the outer table; scalars in give 0-d (numpy scalar) out."""
    x = np.array([0.0, 1.0, 4.0])[:, None]
    y = np.array([0.0, 1.0, 4.0, 9.0])[None, :]
    for f in (
        lambda a, b: kernels.dln_multiplier(a, b, 3),
        lambda a, b: kernels.dln_multiplier_normalized(a, b, 3),
        lambda a, b: kernels.dln_multiplier_normalized(a, b, math.inf),
        kernels.logmean,
    ):
        table = f(x, y)
        assert table.shape == (3, 4)
        for i, j in np.ndindex(3, 4):
            assert table[i, j] == f(float(x[i, 0]), float(y[0, j]))
    assert np.ndim(kernels.dln_multiplier(4.0, 1.0, 2)) == 0
    assert np.ndim(kernels.logmean(4.0, 1.0)) == 0


def test_depth_array_broadcast_including_inf():
    """An array of depths (with inf) broadcasts against x, y; each entry equals the scalar-depth call."""
    depths = np.array([1.0, 2.0, 50.0, np.inf])
    x, y = np.array([[4.0], [0.0], [2.0]]), np.array([[1.0], [3.0], [2.0]])
    table = kernels.dln_multiplier_normalized(x, y, depths)
    assert table.shape == (3, 4)
    for i, k in np.ndindex(3, 4):
        assert table[i, k] == kernels.dln_multiplier_normalized(x[i, 0], y[i, 0], depths[k])


def test_symmetry():
    """a_N(x, y) = a_N(y, x) and L(x, y) = L(y, x), bit for bit or to 1 ulp (rel 4e-16)."""
    x, y = stress_grid()
    for N in FINITE_DEPTHS:
        np.testing.assert_allclose(kernels.dln_multiplier(x, y, N), kernels.dln_multiplier(y, x, N), rtol=4e-16)
    np.testing.assert_allclose(kernels.logmean(x, y), kernels.logmean(y, x), rtol=4e-16)


# ----------------------------------------------------------------------------- the naive quotient fails


def test_naive_lambdified_quotient_fails_where_kernel_passes():
    """lambdify((x - y)/(x**(1/N) - y**(1/N))) gives NaN at x = y and rel err > 1e-6 at x/y = 1 + 1e-13."""
    import sympy

    xs, ys, Ns = sympy.symbols("x y N", positive=True)
    naive = sympy.lambdify((xs, ys, Ns), (xs - ys) / (xs ** (1 / Ns) - ys ** (1 / Ns)), modules="numpy")
    x = np.array([2.0, 3.7 * (1.0 + 1e-13), 3.7 * (1.0 + 1e-13)])
    y = np.array([2.0, 3.7, 3.7])
    N = np.array([3.0, 3.0, 1e3])
    with np.errstate(invalid="ignore", divide="ignore"):
        bad = naive(x, y, N)
    good = kernels.dln_multiplier(x, y, N)
    with mpmath.workdps(MP_DPS):
        ref = [mp_multiplier(a, b, n) for a, b, n in zip(x, y, N, strict=True)]
    assert np.isnan(bad[0])
    assert rel_err(bad[1], ref[1]) > 1e-6 or not np.isfinite(bad[1])
    assert rel_err(bad[2], ref[2]) > 1e-6 or not np.isfinite(bad[2])
    assert max(rel_err(g, r) for g, r in zip(good, ref, strict=True)) <= REL_TOL


# ----------------------------------------------------------------------------- first-order 1/N expansion


@pytest.mark.parametrize("xy", [(4.0, 1.0), (0.3, 2.5), (1e-5, 1e3), (7.0, 7.0)])
def test_one_over_N_correction(xy):
    """THEORY §3: a_N/N = L (1 - log(xy)/(2N)) + O(N^-2), certified by mpmath and followed by the kernel.

    N^2 * (a_N/N - first order)/L converges: the values at N = 1e3 and 1e4 agree to 1 %; the kernel's
    remainder at N = 1e3 agrees with the exact one to 1e-6 (relative).
    """
    x, y = xy
    with mpmath.workdps(MP_DPS):
        L = mp_logmean(x, y)

        def scaled_remainder(value, N):
            first_order = L * (1 - mpmath.log(mpmath.mpf(x) * y) / (2 * N))
            return float((value - first_order) / L) * N**2

        exact = [scaled_remainder(mp_multiplier(x, y, N) / N, N) for N in (1e3, 1e4)]
        kernel = scaled_remainder(mpmath.mpf(float(kernels.dln_multiplier_normalized(x, y, 1e3))), 1e3)
    assert abs(exact[0] - exact[1]) <= 0.01 * abs(exact[1])
    assert abs(kernel - exact[0]) <= 1e-6 * abs(exact[0])


# ----------------------------------------------------------------------------- random fuzz (hypothesis)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(
    log_x=st.floats(-299.0, 299.0),
    log_ratio=st.one_of(st.floats(-16.0, -1.0).map(lambda e: math.log10(1 + 10.0**e)), st.floats(-300.0, 300.0)),
    log_N=st.floats(0.0, 8.0),
)
def test_normalized_multiplier_fuzz(log_x, log_ratio, log_N):
    """Random x, y in [1e-300, 1e300] (near-equal or far apart), N in [1, 1e8]: a_N/N and L vs mpmath,
    rel err <= 1e-12."""
    if not -300 <= log_x + log_ratio <= 300:
        return
    x, y, N = 10.0**log_x, 10.0 ** (log_x + log_ratio), 10.0**log_N
    with mpmath.workdps(MP_DPS):
        assert rel_err(kernels.dln_multiplier_normalized(x, y, N), mp_multiplier(x, y, N) / N) <= REL_TOL
        assert rel_err(kernels.logmean(x, y), mp_logmean(x, y)) <= REL_TOL
