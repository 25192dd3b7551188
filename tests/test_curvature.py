"""Scalar curvature at d = 2 against the curvature of G = A_N(X)^{-1} in the entries of X.

The reference (``fd_scalar_curvature``) builds the metric matrix from the operator itself (defining sum
for integer N, eigenbases of X X^T and X^T X otherwise), differentiates it by central finite
differences in mpmath and assembles Christoffel symbols and Ricci tensor from their definitions: it
never sees the closed form or its twin.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import riemdln
from riemdln.symbolic.derivations.curvature import fd_scalar_curvature, mp_metric_matrix


def _rot(a):
    return np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])


def _fd(X, depth):
    with mpmath.workdps(40):
        return float(fd_scalar_curvature(mpmath.matrix(X.tolist()), depth, step=mpmath.mpf("1e-10")))


@pytest.mark.parametrize("depth", [1, 2, 3, 7.5, math.inf])
@pytest.mark.parametrize("sign", [1, -1])
def test_scalar_curvature_matches_finite_differences(depth, sign):
    X = _rot(0.3) @ np.diag([1.7, 0.6 * sign]) @ _rot(-1.1).T
    normalized = math.isinf(depth)
    ref = _fd(X, mpmath.inf if normalized else depth)
    got = riemdln.scalar_curvature(X, depth, normalized=normalized)
    if depth == 1:
        assert abs(got) < 1e-14 and abs(ref) < 1e-12  # flat
    else:
        assert got == pytest.approx(ref, rel=1e-11)


def test_normalized_is_raw_over_N_and_converges_at_rate_one_over_N():
    X = np.array([[1.3, 0.4], [-0.2, 0.9]])
    raw = riemdln.scalar_curvature(X, 5.0)
    assert riemdln.scalar_curvature(X, 5.0, normalized=True) == pytest.approx(raw / 5.0, rel=1e-14)
    inf = riemdln.scalar_curvature(X, math.inf, normalized=True)
    errs = [abs(riemdln.scalar_curvature(X, n, normalized=True) - inf) for n in (1e3, 2e3, 4e3)]
    assert errs[0] / errs[1] == pytest.approx(2.0, rel=0.02) and errs[1] / errs[2] == pytest.approx(2.0, rel=0.01)


def test_coincident_singular_values_smooth_and_match_finite_differences():
    s = 1.4
    X = s * _rot(0.7)
    ref = _fd(X, 3)
    assert riemdln.scalar_curvature(X, 3) == pytest.approx(ref, rel=1e-11)
    near = [riemdln.scalar_curvature(np.diag([s * (1 + e), s]), 3) for e in (1e-13, 1e-9, 1e-6)]
    assert np.allclose(near, ref, rtol=1e-6)
    assert riemdln.scalar_curvature(np.eye(2), math.inf, normalized=True) == pytest.approx(_fd(np.eye(2), mpmath.inf))


def test_scaling_and_orthogonal_invariance():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(2, 2))
    for depth in (2.0, 3.0, 7.5):
        R = riemdln.scalar_curvature(X, depth)
        # g^N(cX) = c^{2/N} g^N(X) under X -> cX, so R scales by c^{-2/N}
        assert riemdln.scalar_curvature(2.5 * X, depth) == pytest.approx(2.5 ** (-2 / depth) * R, rel=1e-13)
        assert riemdln.scalar_curvature(_rot(0.4) @ X @ _rot(2.0), depth) == pytest.approx(R, rel=1e-13)
    inf = riemdln.scalar_curvature(X, math.inf, normalized=True)
    assert riemdln.scalar_curvature(1e3 * X, math.inf, normalized=True) == pytest.approx(inf, rel=1e-13)
    assert 0 < inf <= 1 / 3


def test_positive_for_N_above_one_and_stacks():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(50, 2, 2))
    R = riemdln.scalar_curvature(X, 2.5)
    assert R.shape == (50,) and np.all(R > 0)


def test_bad_input():
    with pytest.raises(riemdln.RiemdlnValueError, match="`X`"):
        riemdln.scalar_curvature(np.array([[1.0, 2.0], [2.0, 4.0]]), 2)
    with pytest.raises(riemdln.RiemdlnValueError, match="normalized"):
        riemdln.scalar_curvature(np.eye(2), math.inf)
    with pytest.raises(riemdln.RiemdlnValueError, match="`X`"):
        riemdln.scalar_curvature(np.ones((2, 3)), 2)
    with pytest.raises(riemdln.RiemdlnValueError, match="`X`"):
        riemdln.scalar_curvature(np.ones((4, 3, 3)), 2)


@pytest.mark.parametrize("depth,normalized", [(2.0, False), (7.5, False), (math.inf, True)])
def test_numeric_riemann_path_matches_finite_differences_at_d2(depth, normalized):
    from riemdln.geometry.curvature import _numeric_scalar_curvature

    X = _rot(0.9) @ np.diag([1.5, -0.8]) @ _rot(0.2).T
    ref = _fd(X, mpmath.inf if normalized else depth)
    assert _numeric_scalar_curvature(X, depth, normalized) == pytest.approx(ref, rel=1e-8)


def test_sectional_and_ricci_curvature():
    X = np.diag([2.0, 0.7])
    e = [np.eye(4)[k].reshape(2, 2) for k in range(4)]
    # the base plane (diagonal directions) is flat and totally geodesic
    assert abs(riemdln.sectional_curvature(X, e[0], e[3], 3)) < 1e-8
    # both signs occur (docs/theory.md §11) although R > 0
    rot = np.array([[0.0, 1.0], [-1.0, 0.0]])
    sym = np.array([[0.0, 1.0], [1.0, 0.0]])
    ks = [riemdln.sectional_curvature(X, a, b, 3) for a, b in ((e[0], rot), (e[0], sym), (rot, sym))]
    assert min(ks) < 0 < max(ks)
    # scalar = sum of Ricci over an orthonormal frame (trace), against the closed form
    from riemdln.geometry.curvature import _frame_basis

    total = sum(riemdln.ricci_curvature(X, E, 3) for E in _frame_basis(X, 3.0, False))
    assert total == pytest.approx(riemdln.scalar_curvature(X, 3), rel=1e-8)
    with pytest.raises(riemdln.RiemdlnValueError, match="independent"):
        riemdln.sectional_curvature(X, e[0], 2 * e[0], 3)


@pytest.mark.slow
def test_numeric_scalar_curvature_d3_matches_finite_differences():
    rng = np.random.default_rng(0)
    ill = _rot3(0.7) @ np.diag([1.7, 0.36, 0.028]) @ _rot3(-0.2).T  # s_min << ||X||: the step follows s_min
    for X in (np.eye(3) + 0.3 * rng.normal(size=(3, 3)), np.diag([1.0, 1.0, 0.5]) @ np.diag([1.0, 1.0, -1.0]), ill):
        with mpmath.workdps(30):
            ref = float(fd_scalar_curvature(mpmath.matrix(X.tolist()), 3, step=mpmath.mpf("1e-8")))
        assert riemdln.scalar_curvature(X, 3) == pytest.approx(ref, rel=1e-8)


def _fd_curvature_form(X, depth, U, V, step="1e-10", metric=mp_metric_matrix):
    """g(R(U, V)V, U), g(U, U), g(U, V), g(V, V) and Ric(U, U) of G = A_N(X)^{-1} in the entries of X (mpmath).

    R^l_{kij} = d_i Gamma^l_{jk} - d_j Gamma^l_{ik} + Gamma^l_{im} Gamma^m_{jk} - Gamma^l_{jm} Gamma^m_{ik}
    (R(d_i, d_j) d_k = R^l_{kij} d_l), Gamma from central differences of G, its derivative from second ones.
    ``metric(X, depth)`` builds G (tests/test_rectangular_geometry.py passes one exact on the zero-padded side
    of m x n X).
    """
    h = mpmath.mpf(step)
    Xm = mpmath.matrix(X.tolist())
    n, D = X.shape[1], X.size

    def G(shift):
        Y = Xm.copy()
        for idx, v in shift.items():
            Y[idx // n, idx % n] += v
        return metric(Y, depth)

    def gamma(shift):  # Gamma^l_ij at X + shift, from central differences of G
        Gs = G(shift)
        dG = [(G({**shift, a: shift.get(a, 0) + h}) - G({**shift, a: shift.get(a, 0) - h})) / (2 * h) for a in range(D)]
        Gi = Gs**-1
        first = [
            [[(dG[i][l, j] + dG[j][l, i] - dG[l][i, j]) / 2 for j in range(D)] for i in range(D)] for l in range(D)
        ]
        return [
            [[mpmath.fsum(Gi[k, l] * first[l][i][j] for l in range(D)) for j in range(D)] for i in range(D)]
            for k in range(D)
        ]

    g0 = gamma({})
    dgam = []
    for a in range(D):
        p, m = gamma({a: h}), gamma({a: -h})
        dgam.append([[[(p[k][i][j] - m[k][i][j]) / (2 * h) for j in range(D)] for i in range(D)] for k in range(D)])

    def riem(l, k, i, j):
        out = dgam[i][l][j][k] - dgam[j][l][i][k]
        return out + mpmath.fsum(g0[l][i][m] * g0[m][j][k] - g0[l][j][m] * g0[m][i][k] for m in range(D))

    G0 = G({})
    u, v = [mpmath.mpf(float(t)) for t in U.ravel()], [mpmath.mpf(float(t)) for t in V.ravel()]
    R = [[[[riem(l, k, i, j) for j in range(D)] for i in range(D)] for k in range(D)] for l in range(D)]
    RUVV = [
        mpmath.fsum(R[l][k][i][j] * u[i] * v[j] * v[k] for i in range(D) for j in range(D) for k in range(D))
        for l in range(D)
    ]
    num = mpmath.fsum(G0[l, m] * RUVV[l] * u[m] for l in range(D) for m in range(D))
    ric = mpmath.fsum(R[i][k][i][j] * u[j] * u[k] for i in range(D) for j in range(D) for k in range(D))

    def g(a, b):
        return mpmath.fsum(G0[i, j] * a[i] * b[j] for i in range(D) for j in range(D))

    return float(num), float(g(u, u)), float(g(u, v)), float(g(v, v)), float(ric)


@pytest.mark.parametrize("depth,normalized", [(3.0, False), (7.5, False), (math.inf, True)])
def test_sectional_and_ricci_match_finite_differences_d2(depth, normalized):
    rng = np.random.default_rng(11)
    X = _rot(0.4) @ np.diag([1.9, -0.6]) @ _rot(-0.8).T
    U, V = rng.normal(size=(2, 2)), rng.normal(size=(2, 2))
    with mpmath.workdps(40):
        num, uu, uv, vv, ric = _fd_curvature_form(X, mpmath.inf if normalized else depth, U, V)
    K = num / (uu * vv - uv**2)
    assert riemdln.sectional_curvature(X, U, V, depth, normalized) == pytest.approx(K, rel=1e-8, abs=1e-10)
    assert riemdln.ricci_curvature(X, U, depth, normalized) == pytest.approx(ric, rel=1e-8, abs=1e-10)


@pytest.mark.slow
def test_sectional_and_ricci_match_finite_differences_d3():
    rng = np.random.default_rng(12)
    X = np.diag([1.2, 1.2, -0.7]) @ _rot3(0.5)  # a coincident pair of singular values
    U, V = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    with mpmath.workdps(30):
        num, uu, uv, vv, ric = _fd_curvature_form(X, 3, U, V, step="1e-8")
    assert riemdln.sectional_curvature(X, U, V, 3) == pytest.approx(num / (uu * vv - uv**2), rel=1e-8)
    assert riemdln.ricci_curvature(X, U, 3) == pytest.approx(ric, rel=1e-8)


def _rot3(a):
    R = np.eye(3)
    R[1:, 1:] = _rot(a)
    return R


def test_ricci_trace_is_scalar_d3():
    """The trace of Ric over the frame (batched Riemann items) against the shared-stencil scalar sum."""
    from riemdln.geometry.curvature import _frame_basis

    X = np.eye(3) + 0.3 * np.random.default_rng(13).normal(size=(3, 3))
    total = sum(riemdln.ricci_curvature(X, E, 3) for E in _frame_basis(X, 3.0, False))
    assert total == pytest.approx(float(riemdln.scalar_curvature(X, 3)), rel=1e-9)


def _mp_closed_form(s1, s2, depth):
    """R(g^N) at d = 2 from docs/theory.md §11 in mpmath (50 digits); the limit (N^2 - 1)/(3N) s^(-2/N) at s1 = s2."""
    with mpmath.workdps(50):
        s1, s2, N = mpmath.mpf(s1), mpmath.mpf(s2), mpmath.mpf(depth)
        eta = mpmath.log(s1 / s2)
        if eta == 0:
            return float((N**2 - 1) / (3 * N) * s1 ** (-2 / N))

        def c(z):
            return 1 / z**2 - 1 / mpmath.sinh(z) ** 2

        return float(mpmath.cosh(eta / N) / (N * (s1 * s2) ** (1 / N)) * (N**2 * c(eta) - c(eta / N)))


@pytest.mark.parametrize("depth", [1.5, 2.0, 3.0, 7.5, 50.0])
def test_coincident_twin_is_the_limit_and_the_general_twin_is_exact_there(depth):
    """At s1 = s2 scalar_curvature runs the general twin scalar_curvature_d2: its kernel csch2gap is exact at 0
    (1/3, no 0/0) and the bracket N^2 c(0) - c(0) = (N^2 - 1)/3 has no cancellation for N > 1, so no branch is
    needed. The catalog's coincident twin (scalar_curvature_coincident_d2, SymPy's limit s1 -> s2) is the
    independent check of that value; near coincidence the general twin stays within 2e-15 of mpmath (measured
    5e-16 over N in [1.5, 50], s in [0.3, 7], s1/s2 - 1 in [1e-15, 1e-2])."""
    coincident = riemdln.catalog()["scalar_curvature_coincident_d2"].numpy
    for s in (0.3, 1.4, 7.0):
        got = float(riemdln.scalar_curvature(s * _rot(0.7), depth))
        assert got == pytest.approx(float(coincident(s, depth)), rel=2e-15)
        assert got == pytest.approx(_mp_closed_form(s, s, depth), rel=2e-15)
        for e in (1e-15, 1e-12, 1e-9, 1e-6, 1e-4, 1e-2):
            s1 = s * (1 + e)
            near = float(riemdln.scalar_curvature(np.diag([s1, s]), depth))
            assert near == pytest.approx(_mp_closed_form(s1, s, depth), rel=2e-15)


@pytest.mark.parametrize("depth", [2, 3, 4, 5])
def test_signed_pair_weight_is_exact_through_opposite_equal_magnitudes(depth):
    """The chart weight across det = 0 against its defining quotient (1 - r^N)(1 + r)/((1 + r^N)(1 - r)) at 50
    digits, up to and at r = -1 where the quotient is 0/0 (N at the limit: 0 for even N, 1/N for odd N)."""
    from riemdln.geometry.curvature import _pair_weight

    mpmath.mp.dps = 50
    for a, b in [(1.0, -0.3), (2.0, -1.9999999), (0.5, -2.0), (1.0, -(1 - 1e-12)), (1.0, -1.0)]:
        A, B = mpmath.mpf(a), mpmath.mpf(b)
        r = B / A if abs(A) >= abs(B) else A / B
        limit = 0 if depth % 2 == 0 else 1 / depth
        exact = (1 - r**depth) * (1 + r) / ((1 + r**depth) * (1 - r)) if r != -1 else limit
        got = float(_pair_weight(np.array(a), np.array(b), depth))
        assert got == pytest.approx(float(exact), rel=1e-14, abs=1e-300)
