"""Geodesics and curvature of g^N at rectangular (m x n, m != n) full-rank X against independent truths.

The references never touch the SVD-frame code: the operator A_N(X) is built from the eigendecomposition of
the full-rank side (XX^T for m <= n) with the zero-padded side exact — (X^TX)^p = X^T (XX^T)^(p-1) X for
p > 0, the identity for p = 0 (defining sum, integer N), or the multiplier a(lambda_p, lambda_q) on the
right singular vectors X^T q_p / sqrt(lambda_p) and a(lambda_p, 0) = lambda_p^((N-1)/N) on the projector
onto ker X (any real N) — and the transpose for m > n (A_N(X^T)Z^T = (A_N(X)Z)^T).

Why not ``riemdln.symbolic.derivations.curvature.mp_metric_matrix`` as it stands: at m != n it takes fractional powers
and logarithms of the zero eigenvalues of X^TX as computed by ``mpmath.eigsy`` (rounding noise of either
sign), which finite differences then amplify: a scalar curvature of -476 instead of 0.740 for a 2 x 3 X at
N = 2, a complex value at N = 7.5. ``fd_scalar_curvature`` itself is reused, with the exact metric matrix
below in place of that builder.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest

import riemdln
import riemdln.symbolic.derivations.curvature as dcurv

SHAPES = [(2, 3), (3, 2)]
CASES = [(2.0, False), (2.0, True), (3.0, False), (3.0, True), (7.5, False), (7.5, True)]


# ---------------------------------------------------------------------------------------------
# independent operator (float): eigendecomposition of the full-rank side, zero-padded side exact
def _operator(X, depth, normalized):
    """Z -> A_N(X) Z (normalized: / N) for full-rank m x n X, without the SVD-frame code."""
    m, n = X.shape
    if m > n:
        inner = _operator(X.T, depth, normalized)
        return lambda Z: inner(Z.T).T
    lam, Ql = np.linalg.eigh(X @ X.T)
    scale = 1.0 / depth if normalized else 1.0
    if depth == int(depth):  # the defining sum
        N = int(depth)

        def left(p):
            return Ql @ np.diag(lam**p) @ Ql.T

        def right(p):
            return np.eye(n) if p == 0 else X.T @ left(p - 1.0) @ X

        terms = [(left((N - k) / N), right((k - 1) / N)) for k in range(1, N + 1)]
        return lambda Z: scale * sum(L @ Z @ R for L, R in terms)
    R = X.T @ Ql / np.sqrt(lam)  # right singular vectors, columns
    null = np.eye(n) - R @ R.T

    def a(x, y):
        return (x - y) / (x ** (1 / depth) - y ** (1 / depth)) if x != y else depth * x ** ((depth - 1) / depth)

    blocks = []
    for p in range(m):
        L = np.outer(Ql[:, p], Ql[:, p])
        blocks += [(a(lam[p], lam[q]), L, np.outer(R[:, q], R[:, q])) for q in range(m)]
        blocks.append((lam[p] ** ((depth - 1) / depth), L, null))
    return lambda Z: scale * sum(w * L @ Z @ Rm for w, L, Rm in blocks)


def _metric_matrix(X, depth, normalized):
    """G = A^{-1} in the row-major entries of X (float)."""
    A = _operator(X, depth, normalized)
    D = X.size
    cols = [A(np.eye(D)[k].reshape(X.shape)).ravel() for k in range(D)]
    return np.linalg.inv(np.array(cols).T)


def mp_metric_matrix_rect(X, depth):
    """G = A_N(X)^{-1} (mpmath; raw; the vec index a n + b), zero-padded side exact (module docstring)."""
    m, n = X.rows, X.cols
    if m > n:
        Gt = mp_metric_matrix_rect(X.T, depth)
        perm = [b * m + a for a in range(m) for b in range(n)]
        return mpmath.matrix([[Gt[perm[e], perm[f]] for f in range(m * n)] for e in range(m * n)])
    N = mpmath.mpf(depth)
    lam, Ql = mpmath.eigsy(X * X.T)
    R = [X.T * Ql[:, p] / mpmath.sqrt(lam[p]) for p in range(m)]
    null = mpmath.eye(n)
    for r in R:
        null -= r * r.T

    def a(x, y):
        if y == 0:
            return x ** ((N - 1) / N)
        return (x - y) / (x ** (1 / N) - y ** (1 / N)) if x != y else N * x ** ((N - 1) / N)

    A = mpmath.zeros(m * n, m * n)
    for p in range(m):
        L = Ql[:, p] * Ql[:, p].T
        for w, Rm in [(a(lam[p], lam[q]), R[q] * R[q].T) for q in range(m)] + [(a(lam[p], 0), null)]:
            for i in range(m):
                for b in range(n):
                    for c in range(m):
                        for e in range(n):
                            A[i * n + b, c * n + e] += w * L[i, c] * Rm[b, e]
    return A**-1


def _X(shape, seed=3):
    return np.random.default_rng(seed).normal(size=shape)


def test_independent_operator_matches_apply_A():
    """The references' operator against riemdln.apply_A (so a disagreement below is not the reference's)."""
    for shape in SHAPES:
        X, Z = _X(shape), _X(shape, 4)
        for depth, normalized in CASES:
            got = riemdln.apply_A(X, Z, depth, normalized)
            np.testing.assert_allclose(_operator(X, depth, normalized)(Z), got, rtol=1e-12, atol=1e-13)
    with mpmath.workdps(30):
        X = _X((2, 3))
        ref = mp_metric_matrix_rect(mpmath.matrix(X.tolist()), 3)
        np.testing.assert_allclose(np.array(ref.tolist(), dtype=float), _metric_matrix(X, 3.0, False), rtol=1e-12)


@pytest.mark.parametrize("depth,normalized", CASES)
@pytest.mark.parametrize("shape", SHAPES)
def test_hamiltonian_gradient_matches_finite_differences(shape, depth, normalized):
    X, P = _X(shape), _X(shape, 5)
    g = riemdln.hamiltonian_gradient(X, P, depth, normalized)
    assert g.shape == shape

    def H(Y):
        return 0.5 * np.sum(P * _operator(Y, depth, normalized)(P))

    fd, h = np.zeros(shape), 1e-5
    for a in range(shape[0]):
        for b in range(shape[1]):
            E = np.zeros(shape)
            E[a, b] = h
            fd[a, b] = (-H(X + 2 * E) + 8 * H(X + E) - 8 * H(X - E) + H(X - 2 * E)) / (12 * h)
    np.testing.assert_allclose(g, fd, atol=1e-8 * np.abs(fd).max())


@pytest.mark.parametrize("depth,normalized", CASES)
@pytest.mark.parametrize("shape", SHAPES)
def test_christoffel_matches_metric_matrix_finite_differences(shape, depth, normalized):
    """Gamma^l_ij u^i v^j = G^{lk} (d_i G_kj + d_j G_ki - d_k G_ij) u^i v^j / 2, G from the independent operator."""
    X, U, V = _X(shape, 6), _X(shape, 7), _X(shape, 8)
    D, h = X.size, 1e-5
    basis = [np.eye(D)[k].reshape(shape) for k in range(D)]
    dG = [
        (
            -_metric_matrix(X + 2 * h * e, depth, normalized)
            + 8 * _metric_matrix(X + h * e, depth, normalized)
            - 8 * _metric_matrix(X - h * e, depth, normalized)
            + _metric_matrix(X - 2 * h * e, depth, normalized)
        )
        / (12 * h)
        for e in basis
    ]
    u, v = U.ravel(), V.ravel()
    du, dv = sum(u[i] * dG[i] for i in range(D)), sum(v[i] * dG[i] for i in range(D))
    first = 0.5 * (du @ v + dv @ u - np.array([u @ dG[k] @ v for k in range(D)]))
    ref = np.linalg.solve(_metric_matrix(X, depth, normalized), first).reshape(shape)
    got = riemdln.christoffel(X, U, V, depth, normalized)
    np.testing.assert_allclose(got, ref, atol=1e-8 * np.abs(ref).max())
    # symmetric bilinear
    np.testing.assert_allclose(riemdln.christoffel(X, V, U, depth, normalized), got, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("shape", SHAPES)
def test_christoffel_is_minus_the_geodesic_acceleration(shape):
    X, U = _X(shape, 9), 0.3 * _X(shape, 10)
    h = 1e-3
    fwd = riemdln.geodesic(X, U, 3, (0.0, h)).X[-1]
    bwd = riemdln.geodesic(X, -U, 3, (0.0, h)).X[-1]
    np.testing.assert_allclose(riemdln.christoffel(X, U, U, 3), -(fwd - 2 * X + bwd) / h**2, atol=1e-5)


def _fd_curvature(X, depth, monkeypatch):
    monkeypatch.setattr(dcurv, "mp_metric_matrix", mp_metric_matrix_rect)
    with mpmath.workdps(30):
        return float(dcurv.fd_scalar_curvature(mpmath.matrix(X.tolist()), depth, step=mpmath.mpf("1e-8")))


@pytest.mark.parametrize("shape,depth", [((2, 3), 2.0), ((2, 3), 3.0), ((2, 3), 7.5), ((3, 2), 3.0)])
def test_scalar_curvature_matches_finite_differences(shape, depth, monkeypatch):
    X = _X(shape)
    ref = _fd_curvature(X, depth, monkeypatch)
    assert riemdln.scalar_curvature(X, depth) == pytest.approx(ref, rel=1e-9)
    assert riemdln.scalar_curvature(X, depth, normalized=True) == pytest.approx(ref / depth, rel=1e-9)


def test_scalar_curvature_flat_at_depth_one_and_invariances():
    X = _X((2, 3))
    assert abs(riemdln.scalar_curvature(X, 1)) < 1e-10
    R = riemdln.scalar_curvature(X, 3.0)
    # transpose is an isometry (A_N(X^T) Z^T = (A_N(X) Z)^T); X -> cX scales R by c^(-2/N); QXR^T is an isometry
    assert riemdln.scalar_curvature(X.T, 3.0) == pytest.approx(R, rel=1e-9)
    assert riemdln.scalar_curvature(2.5 * X, 3.0) == pytest.approx(2.5 ** (-2 / 3) * R, rel=1e-9)
    Q, Rt = np.linalg.qr(_X((2, 2), 11))[0], np.linalg.qr(_X((3, 3), 12))[0]
    assert riemdln.scalar_curvature(Q @ X @ Rt, 3.0) == pytest.approx(R, rel=1e-9)


def test_sectional_and_ricci_match_finite_differences_2x3():
    """The Riemann tensor of the 6 x 6 metric matrix in mpmath (about 3 s)."""
    from test_curvature import _fd_curvature_form

    X, U, V = _X((2, 3)), _X((2, 3), 13), _X((2, 3), 14)
    with mpmath.workdps(30):
        num, uu, uv, vv, ric = _fd_curvature_form(X, 3, U, V, step="1e-8", metric=mp_metric_matrix_rect)
    assert riemdln.sectional_curvature(X, U, V, 3) == pytest.approx(num / (uu * vv - uv**2), rel=1e-8)
    assert riemdln.ricci_curvature(X, U, 3) == pytest.approx(ric, rel=1e-8)


def test_ricci_trace_is_scalar_and_base_plane_flat_2x3():
    from riemdln.geometry.curvature import _frame_basis

    X = _X((2, 3))
    total = sum(riemdln.ricci_curvature(X, E, 3) for E in _frame_basis(X, 3.0, False))
    assert total == pytest.approx(float(riemdln.scalar_curvature(X, 3)), rel=1e-9)
    D = np.array([[2.0, 0.0, 0.0], [0.0, 0.7, 0.0]])
    e00, e11 = np.zeros((2, 3)), np.zeros((2, 3))
    e00[0, 0], e11[1, 1] = 1.0, 1.0
    assert abs(riemdln.sectional_curvature(D, e00, e11, 3)) < 1e-8  # diagonal directions: flat, totally geodesic


# ---------------------------------------------------------------------------------------------
# geodesics and distance
def _pair(shape, seed):
    rng = np.random.default_rng(seed)
    X0 = np.eye(*shape) + 0.3 * rng.normal(size=shape)
    return X0, X0 + 0.4 * rng.normal(size=shape)


@pytest.mark.parametrize("shape", SHAPES)
def test_geodesic_conserves_energy_and_stays_rectangular(shape):
    X, V = _X(shape, 15), 0.2 * _X(shape, 16)
    res = riemdln.geodesic(X, V, 3, np.linspace(0.0, 1.0, 5))
    assert res.success and res.X.shape == (5, *shape) and res.P.shape == (5, *shape)
    assert res.energy_drift < 1e-10


@pytest.mark.parametrize("shape,depth,normalized", [((2, 3), 2.0, False), ((3, 2), 3.0, True)])
def test_aligned_endpoints_closed_form_and_shooting_agree(shape, depth, normalized):
    """Shared singular vectors: Chen's path straight in mu = s^(1/N) (the diagonal m x n matrices are totally
    geodesic and flat in mu); shooting reproduces it; exp_map of its velocity lands on X1."""
    Q, R = np.linalg.qr(_X((shape[0],) * 2, 17))[0], np.linalg.qr(_X((shape[1],) * 2, 18))[0]
    S0, S1 = np.zeros(shape), np.zeros(shape)
    S0[[0, 1], [0, 1]], S1[[0, 1], [0, 1]] = [2.0, 0.5], [0.9, 1.4]
    X0, X1 = Q @ S0 @ R.T, Q @ S1 @ R.T
    truth = math.sqrt(depth) * float(
        np.linalg.norm(np.array([0.9, 1.4]) ** (1 / depth) - np.array([2.0, 0.5]) ** (1 / depth))
    )
    truth *= math.sqrt(depth) if normalized else 1.0
    closed = riemdln.geodesic_between(X0, X1, depth, normalized)
    assert closed.method == "closed form" and closed.length == pytest.approx(truth, rel=1e-12)
    end = riemdln.exp_map(X0, closed.velocity, depth, normalized)
    assert np.linalg.norm(end - X1) / np.linalg.norm(X1) <= 1e-10
    shot = riemdln.geodesic_between(X0, X1, depth, normalized, closed_form=False)
    assert shot.success and shot.method != "closed form"
    assert shot.length == pytest.approx(truth, rel=1e-10)
    np.testing.assert_allclose(shot.path.X, closed.path.X, atol=1e-9)


@pytest.mark.slow
def test_distance_exp_log_symmetry_scaling_invariance_2x3():
    """exp(log) = id, symmetry, d(cX0, cX1) = c^(1/N) d (A_N(cX) = c^(2(N-1)/N) A_N(X), so X -> cX scales
    g^N by c^(2/N) and lengths by c^(1/N), as for square X), left/right orthogonal invariance (about 30 s)."""
    X0, X1 = _pair((2, 3), 19)
    N = 3.0
    a = riemdln.geodesic_between(X0, X1, N)
    assert a.success, a.message
    assert a.length <= a.upper_bound * (1 + 1e-12)
    np.testing.assert_allclose(riemdln.exp_map(X0, a.velocity, N), X1, atol=1e-10)
    np.testing.assert_allclose(riemdln.exp_map(X0, riemdln.log_map(X0, X1, N), N), X1, atol=1e-10)
    assert riemdln.distance(X1, X0, N) == pytest.approx(a.length, rel=1e-9)
    assert riemdln.distance(2.0 * X0, 2.0 * X1, N) == pytest.approx(2.0 ** (1 / N) * a.length, rel=1e-9)
    Q, R = np.linalg.qr(_X((2, 2), 20))[0], np.linalg.qr(_X((3, 3), 21))[0]
    assert riemdln.distance(Q @ X0 @ R, Q @ X1 @ R, N) == pytest.approx(a.length, rel=1e-9)


@pytest.mark.slow
@pytest.mark.parametrize("shape,depth,normalized", [((2, 3), 2.0, False), ((3, 2), 3.0, True)])
def test_shooting_equals_extrapolated_discrete_energy(shape, depth, normalized):
    X0, X1 = _pair(shape, 22)
    shoot = riemdln.geodesic_between(X0, X1, depth, normalized)
    dd = riemdln.discrete_distance(X0, X1, depth, normalized)
    assert shoot.success and dd.success, (shoot.message, dd.message)
    assert dd.extrapolated == pytest.approx(shoot.length, rel=1e-9)
    assert dd.path.shape == (65, *shape)


def test_discrete_energy_of_a_rectangular_path_against_the_metric():
    """E_K and its exact gradient at 2 x 3 (the slopes of 1/a on each side) against riemdln.metric and FD."""
    from riemdln.geometry.geodesics import _path_energy

    X0, X1 = _pair((2, 3), 23)
    K = 4
    pts = X0 + np.linspace(0.0, 1.0, K + 1)[:, None, None] * (X1 - X0)
    pts[1:-1] += 0.05 * np.random.default_rng(24).normal(size=(K - 1, 2, 3))
    ref = K * sum(
        float(riemdln.metric(0.5 * (a + b), b - a, b - a, 3.0)) for a, b in zip(pts[:-1], pts[1:], strict=True)
    )
    E, grad = _path_energy(pts[1:-1].ravel(), X0, X1, K, 3.0, False)
    assert E == pytest.approx(ref, rel=1e-13)
    for k in (0, 5, 13):
        e = np.zeros_like(grad)
        e[k] = 1e-6
        fd = (_path_energy(pts[1:-1].ravel() + e, X0, X1, K, 3.0, False)[0]
              - _path_energy(pts[1:-1].ravel() - e, X0, X1, K, 3.0, False)[0]) / 2e-6  # fmt: skip
        assert grad[k] == pytest.approx(fd, rel=1e-7)


def test_infinite_depth_refused_on_rectangular_matrices():
    X, U = _X((2, 3)), _X((2, 3), 25)
    calls = [
        lambda: riemdln.hamiltonian_gradient(X, U, math.inf, True),
        lambda: riemdln.christoffel(X, U, U, math.inf, True),
        lambda: riemdln.geodesic(X, U, math.inf, normalized=True),
        lambda: riemdln.exp_map(X, U, math.inf, True),
        lambda: riemdln.geodesic_between(X, X + U, math.inf, True),
        lambda: riemdln.log_map(X, X + U, math.inf, True),
        lambda: riemdln.distance(X, X + U, math.inf, True),
        lambda: riemdln.discrete_distance(X, X + U, math.inf, True),
        lambda: riemdln.scalar_curvature(X, math.inf, True),
        lambda: riemdln.sectional_curvature(X, U, X, math.inf, True),
        lambda: riemdln.ricci_curvature(X, U, math.inf, True),
    ]
    for call in calls:
        with pytest.raises(riemdln.RiemdlnValueError, match="`X0?`.*singular on rectangular"):
            call()


def test_rectangular_bad_input():
    X = _X((2, 3))
    with pytest.raises(riemdln.RiemdlnValueError, match="`X`.*rank 1"):
        riemdln.christoffel(np.ones((2, 3)), X, X, 2)
    with pytest.raises(riemdln.RiemdlnValueError, match="`U`"):
        riemdln.christoffel(X, X.T, X, 2)
    with pytest.raises(riemdln.RiemdlnValueError, match="`X1`"):
        riemdln.distance(X, np.ones((2, 3)), 2)
    with pytest.raises(riemdln.RiemdlnValueError, match="`X`"):
        riemdln.scalar_curvature(np.stack([X, X]), 2)


@pytest.mark.parametrize("shape,depth,normalized", [((2, 3), 3.0, False), ((3, 2), 2.0, True)])
def test_parallel_transport_preserves_the_metric(shape, depth, normalized):
    from test_geodesics import _transport_drift

    X0 = np.eye(*shape) + 0.3 * _X(shape, 26)
    vv, vu, moved = _transport_drift(X0, 0.4 * _X(shape, 27), _X(shape, 28), depth, normalized)
    assert vv <= 1e-8 and vu <= 1e-8 and moved > 0.1


def test_continuation_along_a_path_and_the_straight_line_bound_2x3():
    """geodesic_between(..., path=...) at 2 x 3: the same geodesic as without a path; the straight-chord length of
    the sampled segment (segment_lengths, zero-padded multiplier) equals the straight-line upper bound."""
    from riemdln.geometry._spectral import segment_lengths

    X0, X1 = _pair((2, 3), 19)
    path = X0 + np.linspace(0.0, 1.0, 65)[:, None, None] * (X1 - X0)
    along = riemdln.geodesic_between(X0, X1, 3.0, path=path)
    shot = riemdln.geodesic_between(X0, X1, 3.0)
    assert along.success and along.method == "boundary-value solver from the path" and shot.success
    assert along.length == pytest.approx(shot.length, rel=1e-10)
    assert float(np.sum(segment_lengths(path[:-1], path[1:], 3.0, False))) == pytest.approx(
        shot.upper_bound, rel=1e-12
    )
    assert shot.length <= shot.upper_bound
