"""apply_A, metric and riemannian_gradient against brute-force definitions (docs/theory.md §2–§3).

Truths: the fractional-matrix-power sum (numpy eigh of X X^T and X^T X), Gauss–Legendre quadrature of
the A_inf integral, the explicit (mn)×(mn) operator matrix, finite differences of a loss.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import DEPTHS
from geometry_reference import (
    logmean_quotient,
    matrix_with_singular_values,
    operator_matrix,
    reference_apply,
    reference_multiplier,
)
from hypothesis import given, settings
from hypothesis import strategies as st

import riemdln
from riemdln import apply_A, apply_A_inverse, metric, multiplier, riemannian_gradient

SHAPES = [(3, 3), (2, 4), (4, 2), (1, 3)]
INTEGER_DEPTHS = (1, 2, 3, 5)


def rel_fro(a, b) -> float:
    scale = np.abs(b).max()
    if scale == 0:
        return float(np.abs(a).max())
    return float(np.linalg.norm(a / scale - b / scale) / np.linalg.norm(b / scale))


def full_rank_point(rng, m, n):
    k = min(m, n)
    s = np.sort(rng.uniform(0.3, 3.0, size=k))[::-1]
    return matrix_with_singular_values(rng, m, n, s)


# ----------------------------------------------------------------------------- multiplier (public)


@pytest.mark.parametrize("N", DEPTHS, ids=lambda n: f"N={n}")
def test_public_multiplier_vs_definition(N):
    """riemdln.multiplier vs the defining sum / quotient on separated and equal args, rtol 1e-13."""
    pairs = [(4.0, 1.0), (0.25, 9.0), (2.0, 2.0), (3.0, 0.0), (0.0, 0.0)]
    for x, y in pairs:
        got = multiplier(x, y, N, normalized=True)
        assert got == pytest.approx(reference_multiplier(x, y, N, True), rel=1e-13, abs=0)
        if not math.isinf(N):
            raw = multiplier(x, y, N)
            assert raw == pytest.approx(reference_multiplier(x, y, N, False), rel=1e-13, abs=0)
            assert float(riemdln.log_multiplier(x, y, N)) == pytest.approx(
                math.log(raw) if raw > 0 else -math.inf, rel=1e-13, abs=1e-15
            )


# ----------------------------------------------------------------------------- apply_A


@pytest.mark.parametrize("N", INTEGER_DEPTHS, ids=lambda n: f"N={n}")
@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("rank", ["full", "deficient"])
def test_apply_A_vs_fractional_power_sum(rng, N, shape, rank):
    """A_N(X)Z = sum_k (XX^T)^{(N-k)/N} Z (X^TX)^{(k-1)/N} (eigh, 0^0 = 1): rel Frobenius err <= 1e-10."""
    m, n = shape
    k = min(m, n)
    if rank == "full":
        X = full_rank_point(rng, m, n)
    else:
        if k == 1:
            X = np.zeros((m, n))
        else:
            X = matrix_with_singular_values(rng, m, n, rng.uniform(0.5, 2.0, size=k - 1))
    Z = rng.standard_normal((m, n))
    ref = reference_apply(X, Z, N, normalized=False)
    got = apply_A(X, Z, N)
    assert rel_fro(got, ref) <= 1e-10
    assert rel_fro(apply_A(X, Z, N, normalized=True), ref / N) <= 1e-10


@pytest.mark.parametrize("shape", SHAPES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("rank", ["full", "deficient"])
def test_apply_A_infinite_depth_vs_quadrature(rng, shape, rank):
    """A_inf(X)Z = int_0^1 (XX^T)^{1-t} Z (X^TX)^t dt (60-node Gauss–Legendre): rel Frobenius err <= 1e-10."""
    m, n = shape
    k = min(m, n)
    nz = k if rank == "full" else k - 1
    if nz == 0:
        pytest.skip("rank 0: A_inf = 0")
    X = matrix_with_singular_values(rng, m, n, np.sort(rng.uniform(0.3, 3.0, size=nz))[::-1])
    Z = rng.standard_normal((m, n))
    ref = reference_apply(X, Z, math.inf, normalized=True)
    assert rel_fro(apply_A(X, Z, math.inf, normalized=True), ref) <= 1e-10


def test_apply_A_stacked(rng):
    """A stack of X, Z gives each slice's result (rel err <= 1e-13)."""
    X = np.stack([full_rank_point(rng, 3, 2) for _ in range(4)])
    Z = rng.standard_normal((4, 3, 2))
    out = apply_A(X, Z, 3)
    assert out.shape == (4, 3, 2)
    for i in range(4):
        assert rel_fro(out[i], apply_A(X[i], Z[i], 3)) <= 1e-13


def test_apply_A_diagonal_sample_value():
    """X = diag(2, 1), Z = E_12: (A_2 Z)_12 = a_2(4, 1) = 2 + 1 = 3 (sum definition), abs err <= 1e-14."""
    Z = np.array([[0.0, 1.0], [0.0, 0.0]])
    out = apply_A(np.diag([2.0, 1.0]), Z, 2)
    assert np.allclose(out, 3.0 * Z, rtol=0, atol=1e-14)


@pytest.mark.parametrize("seed", [0, 1, 2], ids=lambda s: f"seed{s}")
def test_normalized_converges_to_infinite_depth_at_rate_one_over_N(seed):
    """N (A_N/N - A_inf) Z -> C Z, with multiplier of C = -L(x, y) log(xy)/2 (THEORY §3).

    At N = 1e3 the remainder is O(1/N): relative error <= 2e-2; it shrinks ~10x from N = 1e2 to 1e3.
    """
    rng = np.random.default_rng(seed)
    d = 3
    s = np.sort(rng.uniform(0.3, 3.0, size=d))[::-1]
    Q, R = np.linalg.qr(rng.standard_normal((d, d)))[0], np.linalg.qr(rng.standard_normal((d, d)))[0]
    X = Q @ np.diag(s) @ R.T
    Z = rng.standard_normal((d, d))
    x = s**2
    Lmat = np.array([[logmean_quotient(a, b) for b in x] for a in x])
    C = -0.5 * Lmat * np.log(np.outer(x, x))
    expected = Q @ (C * (Q.T @ Z @ R)) @ R.T
    A_inf = apply_A(X, Z, math.inf, normalized=True)
    errs = []
    for N in (1e2, 1e3):
        scaled = N * (apply_A(X, Z, N, normalized=True) - A_inf)
        errs.append(rel_fro(scaled, expected))
    assert errs[1] <= 2e-2
    assert errs[1] <= errs[0] / 5


# ----------------------------------------------------------------------------- metric


def explicit_operator(X, N, normalized):
    shape = X.shape
    return operator_matrix(lambda E: reference_apply(X, E, N, normalized), shape)


@pytest.mark.parametrize("N", DEPTHS, ids=lambda n: f"N={n}")
@pytest.mark.parametrize("shape", [(3, 3), (2, 3), (3, 2)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_metric_vs_explicit_operator(rng, N, shape):
    """g(Z1, Z2) = z1^T A^{-1} z2 with A the explicit (mn)×(mn) matrix of the brute-force operator.

    Checks also that the explicit A is symmetric (rel 1e-10) and positive definite; metric rel err <= 1e-9.
    """
    m, n = shape
    if math.isinf(N) and m != n:
        pytest.skip("A_inf is singular on rectangular matrices (tested in test_badinput)")
    normalized = math.isinf(N) or N == 50
    X = full_rank_point(rng, m, n)
    A = explicit_operator(X, N, normalized)
    assert np.abs(A - A.T).max() <= 1e-10 * np.abs(A).max()
    assert np.linalg.eigvalsh(0.5 * (A + A.T)).min() > 0
    Z1, Z2 = rng.standard_normal((2, m, n))
    ref = Z1.ravel() @ np.linalg.solve(A, Z2.ravel())
    got = metric(X, Z1, Z2, N, normalized=normalized)
    assert got == pytest.approx(ref, rel=1e-9)
    # A^{-1} and A are inverse to each other
    W = apply_A_inverse(X, Z2, N, normalized=normalized)
    assert rel_fro(W.ravel(), np.linalg.solve(A, Z2.ravel())) <= 1e-9
    assert rel_fro(apply_A(X, W, N, normalized=normalized), Z2) <= 1e-10


def test_metric_sample_value():
    """X = diag(2, 1), Z = 3 E_12: g^2 = 9/a_2(4, 1) = 9/3 = 3 (abs err <= 1e-14); normalized: 6."""
    Z = np.array([[0.0, 3.0], [0.0, 0.0]])
    X = np.diag([2.0, 1.0])
    assert abs(metric(X, Z, Z, 2) - 3.0) <= 1e-14
    assert abs(metric(X, Z, Z, 2, normalized=True) - 6.0) <= 1e-14
    # depth 1 is Euclidean
    assert abs(metric(X, Z, Z, 1) - 9.0) <= 1e-14


# ----------------------------------------------------------------------------- hypothesis contracts

depth_strategy = st.one_of(st.sampled_from(DEPTHS), st.floats(min_value=1.0, max_value=200.0))
shape_strategy = st.sampled_from([(1, 1), (2, 2), (3, 3), (2, 3), (3, 2), (4, 2)])
seed_strategy = st.integers(min_value=0, max_value=2**32 - 1)
HYP = settings(max_examples=40, deadline=None, derandomize=True)


def _point(seed, shape, spread):
    rng = np.random.default_rng(seed)
    m, n = shape
    k = min(m, n)
    s = np.exp(rng.uniform(-spread, spread, size=k))
    X = matrix_with_singular_values(rng, m, n, s)
    Z1, Z2 = rng.standard_normal((2, m, n))
    return X, Z1, Z2


def _normalized_for(depth, shape):
    return math.isinf(depth) or depth > 10


@HYP
@given(seed=seed_strategy, shape=shape_strategy, depth=depth_strategy, spread=st.floats(0.0, 3.0))
def test_metric_symmetric_and_positive(seed, shape, depth, spread):
    """g(Z1, Z2) = g(Z2, Z1) (rel 1e-12) and g(Z, Z) > 0 for Z != 0, at random full-rank X."""
    if math.isinf(depth) and shape[0] != shape[1]:
        depth = 7.0
    X, Z1, Z2 = _point(seed, shape, spread)
    normalized = _normalized_for(depth, shape)
    g12 = metric(X, Z1, Z2, depth, normalized=normalized)
    g21 = metric(X, Z2, Z1, depth, normalized=normalized)
    scale = math.sqrt(metric(X, Z1, Z1, depth, normalized=normalized) * metric(X, Z2, Z2, depth, normalized))
    assert abs(g12 - g21) <= 1e-12 * scale
    assert metric(X, Z1, Z1, depth, normalized=normalized) > 0
    assert abs(g12) <= scale * (1 + 1e-12)  # Cauchy–Schwarz


def _loss(X, M, mask):
    """A non-quadratic loss: masked squared error plus a smooth coupling term."""
    return 0.5 * np.sum(mask * (X - M) ** 2) + 0.1 * np.sum(np.sin(X)) + 0.05 * np.sum(X) ** 2


def _loss_gradient(X, M, mask):
    return mask * (X - M) + 0.1 * np.cos(X) + 0.1 * np.sum(X)


@HYP
@given(seed=seed_strategy, shape=shape_strategy, depth=depth_strategy, spread=st.floats(0.0, 2.0))
def test_gradient_identity(seed, shape, depth, spread):
    """g(grad E, Z) = dE_X(Z): rel err <= 1e-6 vs a central finite difference of E (h = 1e-5).

    Also g(grad E, Z) = tr(nabla E^T Z) to 1e-10 (the exact identity).
    """
    if math.isinf(depth) and shape[0] != shape[1]:
        depth = 4.0
    X, Z, M = _point(seed, shape, spread)
    rng = np.random.default_rng(seed + 1)
    mask = (rng.uniform(size=shape) < 0.6).astype(float)
    normalized = _normalized_for(depth, shape)
    G = _loss_gradient(X, M, mask)
    grad = riemannian_gradient(X, G, depth, normalized=normalized)
    lhs = metric(X, grad, Z, depth, normalized=normalized)
    h = 1e-5
    fd = (_loss(X + h * Z, M, mask) - _loss(X - h * Z, M, mask)) / (2 * h)
    exact = float(np.sum(G * Z))
    size = np.linalg.norm(G) * np.linalg.norm(Z)
    assert abs(lhs - exact) <= 1e-10 * size
    assert abs(lhs - fd) <= 1e-6 * max(size, 1.0)


# ----------------------------------------------------------------------------- extreme scales


@pytest.mark.parametrize(
    "c,N",
    [(1e-160, 1), (1e-160, 2), (1e160, 2), (1e160, 3), (1e-200, 3), (1e155, 50), (1e-155, 50), (1e200, 1.5)],
    ids=lambda v: f"{v:g}",
)
@pytest.mark.parametrize("shape", [(3, 3), (2, 3)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_homogeneity_at_extreme_scales(rng, shape, c, N):
    """A_N(cX) Z = c^{2(N-1)/N} A_N(X) Z and g_{cX} = c^{-2(N-1)/N} g_X (from the defining sum), where
    (cX)(cX)^T over- or underflows; rel err <= 1e-11. Also apply_A_inverse at cX; no warnings."""
    m, n = shape
    X = full_rank_point(rng, m, n)
    Z1, Z2 = rng.standard_normal((2, m, n))
    deg = 2 * (N - 1) / N
    scale = math.exp(deg * math.log(c))
    assert rel_fro(apply_A(c * X, Z1, N), scale * apply_A(X, Z1, N)) <= 1e-11
    assert rel_fro(apply_A_inverse(c * X, Z1, N), apply_A_inverse(X, Z1, N) / scale) <= 1e-11
    g = metric(X, Z1, Z2, N)
    assert metric(c * X, Z1, Z2, N) == pytest.approx(g / scale, rel=1e-11)


def test_rank_deficient_tiny_scale():
    """X = 1e-200 diag(1, 0): (A_2 Z)_11 = 2e-200, off-diagonal a_2(x, 0) = 1e-200; rel 1e-13."""
    Z = np.ones((2, 2))
    out = apply_A(np.diag([1e-200, 0.0]), Z, 2)
    expected = np.array([[2e-200, 1e-200], [1e-200, 0.0]])
    assert np.allclose(out, expected, rtol=1e-13, atol=0)


# ----------------------------------------------------------------------------- A_N = Dphi Dphi^T


@pytest.mark.parametrize("N", [2, 3, 5], ids=lambda n: f"N={n}")
@pytest.mark.parametrize("shape", [(3, 3), (2, 4), (4, 2)], ids=lambda s: f"{s[0]}x{s[1]}")
def test_apply_A_is_dphi_dphi_transpose_at_balanced_factors(rng, N, shape):
    """THEORY §2: at a balanced tuple (random gauge), A_N(X) Z = sum_p P_p P_p^T Z R_p^T R_p with
    P_p = W_N...W_{p+1}, R_p = W_{p-1}...W_1 (the product map's derivative times its adjoint). rel 1e-11."""
    m, n = shape
    k = min(m, n)
    s = np.sort(rng.uniform(0.3, 3.0, size=k))[::-1]
    Q = np.linalg.qr(rng.standard_normal((m, m)))[0][:, :k]
    R = np.linalg.qr(rng.standard_normal((n, n)))[0][:, :k]
    root = np.diag(s ** (1.0 / N))
    gauges = [np.linalg.qr(rng.standard_normal((k, k)))[0] for _ in range(N - 1)]
    frames = [R.T] + gauges + [Q]  # W_p = O_p S^{1/N} O_{p-1}^T with O_0^T = R^T, O_N = Q
    W = [frames[1] @ root @ frames[0]] + [frames[p] @ root @ frames[p - 1].T for p in range(2, N + 1)]

    def chain(factors, size):
        out = np.eye(size)
        for F in factors:
            out = F @ out
        return out

    X = chain(W, n)
    assert np.allclose(X, Q @ np.diag(s) @ R.T, rtol=0, atol=1e-12)
    Z = rng.standard_normal((m, n))
    total = np.zeros((m, n))
    for p in range(N):  # factor W[p] is W_{p+1}
        left = chain(W[p + 1 :], W[p].shape[0])
        right = chain(W[:p], n)
        total += left @ left.T @ Z @ right.T @ right
    assert rel_fro(apply_A(X, Z, N), total) <= 1e-11


@HYP
@given(
    seed=seed_strategy,
    shape=shape_strategy,
    depth=depth_strategy,
    rank_drop=st.integers(0, 2),
    spread=st.floats(0.0, 3.0),
)
def test_apply_A_self_adjoint_and_nonnegative(seed, shape, depth, rank_drop, spread):
    """<A Z1, Z2> = <Z1, A Z2> (rel 1e-12) and <A Z, Z> >= 0, for any X including rank-deficient ones."""
    rng = np.random.default_rng(seed)
    m, n = shape
    k = max(min(m, n) - rank_drop, 0)
    X = matrix_with_singular_values(rng, m, n, np.exp(rng.uniform(-spread, spread, size=k)))
    Z1, Z2 = rng.standard_normal((2, m, n))
    normalized = _normalized_for(depth, shape)
    A1, A2 = apply_A(X, Z1, depth, normalized), apply_A(X, Z2, depth, normalized)
    scale = np.linalg.norm(A1) * np.linalg.norm(Z2) + np.linalg.norm(A2) * np.linalg.norm(Z1)
    assert abs(np.sum(A1 * Z2) - np.sum(Z1 * A2)) <= 1e-12 * max(scale, 1e-300)
    assert np.sum(A1 * Z1) >= -1e-12 * max(np.linalg.norm(A1) * np.linalg.norm(Z1), 1e-300)
