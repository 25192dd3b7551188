"""N = 1 is the Euclidean (Frobenius) metric on all matrices: A_1 = identity (docs/theory.md §2).

Independent truth: the straight segment and ||X0 - X1||_F, written here from the definition; no rank or det
condition anywhere.
"""

from __future__ import annotations

import numpy as np
import pytest

import riemdln

PAIRS = [
    (np.eye(2), -np.eye(2)),  # through the zero matrix
    (np.eye(2), np.diag([1.0, -1.0])),  # opposite signs of det
    (np.diag([1.0, 0.0]), np.array([[0.0, 2.0], [-1.0, 3.0]])),  # rank-deficient start
    (np.zeros((2, 3)), np.array([[1.0, 0.0, 2.0], [0.0, 0.0, 0.0]])),  # rank 0 to rank 1, rectangular
    (np.array([[1.0, 2.0, 0.5], [0.3, -1.0, 2.0], [0.0, 1.0, 1.0]]), -np.eye(3)),
]


@pytest.mark.parametrize("normalized", [False, True])
@pytest.mark.parametrize(("X0", "X1"), PAIRS)
def test_straight_segment_between_any_matrices(X0, X1, normalized):
    res = riemdln.geodesic_between(X0, X1, 1, normalized)
    assert res.success and res.method == "straight segment"
    length = float(np.sqrt(np.sum((X1 - X0) ** 2)))
    assert res.length == pytest.approx(length, rel=1e-15)
    assert riemdln.distance(X0, X1, 1, normalized) == res.length
    t = res.path.t[:, None, None]
    np.testing.assert_allclose(res.path.X, X0 + t * (X1 - X0), rtol=0, atol=1e-15)
    np.testing.assert_allclose(riemdln.log_map(X0, X1, 1, normalized), X1 - X0, atol=1e-15)
    np.testing.assert_allclose(riemdln.exp_map(X0, X1 - X0, 1, normalized), X1, atol=1e-15)
    disc = riemdln.discrete_distance(X0, X1, 1, normalized, segments=(4, 8))
    assert disc.success and disc.extrapolated == pytest.approx(length, rel=1e-10)


@pytest.mark.parametrize("X", [np.diag([1.0, 0.0]), np.zeros((2, 2)), np.diag([1.0, -2.0]), np.zeros((2, 3))])
def test_flat_and_defined_everywhere(X):
    rng = np.random.default_rng(0)
    U, V = rng.normal(size=X.shape), rng.normal(size=X.shape)
    g = riemdln.DLNMetric(1)
    assert g.sectional_curvature(X, U, V) == 0.0
    assert g.ricci_curvature(X, U) == 0.0
    assert float(g.scalar_curvature(X)) == 0.0
    assert float(g.inner(X, U, V)) == pytest.approx(float(np.sum(U * V)), rel=1e-14)
    np.testing.assert_allclose(g.apply_A_inverse(X, U), U, rtol=1e-14)
    assert np.abs(g.christoffel(X, U, V)).max() == 0.0
    res = g.geodesic(X, U, t_eval=[0.0, 0.5, 2.0])
    assert res.success
    np.testing.assert_allclose(res.X[-1], X + 2.0 * U, atol=1e-15)
    with pytest.raises(riemdln.RiemdlnValueError, match="linearly independent"):
        g.sectional_curvature(X, U, 3.0 * U)
    assert np.all(riemdln.scalar_curvature(np.zeros((4, 2, 2)), 1) == 0.0)
