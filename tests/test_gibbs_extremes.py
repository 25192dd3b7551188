"""The quadrature oracle at low temperature (beta up to 1e6) against an independent computation.

Independent truth: Gauss–Hermite quadrature in the matrix entries of X around M (the Gibbs weight
exp(-beta |X - M|^2 / 2) of QuadraticEnergy(M) is the Hermite weight), with the Riemannian volume
det(A_N(X))^(-1/2) dX computed from the operator A_N itself (riemdln.apply_A on the basis) — no chart, no
multiplier formula, no singular values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import riemdln

M = np.diag([2.0, 1.0])


def _reference(beta: float, depth: float, n: int = 12) -> np.ndarray:
    x, w = np.polynomial.hermite.hermgauss(n)
    g = np.stack(np.meshgrid(x, x, x, x, indexing="ij"), -1).reshape(-1, 4) * math.sqrt(2 / beta)
    W = np.prod(np.stack(np.meshgrid(w, w, w, w, indexing="ij"), -1).reshape(-1, 4), axis=1)
    X = M + g.reshape(-1, 2, 2)
    basis = np.eye(4).reshape(4, 2, 2)
    A = np.stack([riemdln.apply_A(X, np.broadcast_to(b, X.shape), depth) for b in basis], -1).reshape(-1, 4, 4)
    rho = W * np.linalg.det(A) ** -0.5
    obs = np.stack([X[:, 0, 0], X[:, 0, 1] ** 2], -1)
    return (rho @ obs) / rho.sum()


@pytest.mark.parametrize(
    "beta", [pytest.param(1e3, marks=pytest.mark.slow), pytest.param(1e4, marks=pytest.mark.slow), 1e6]
)
def test_low_temperature_against_an_independent_quadrature(beta):
    q = riemdln.gibbs_expectation(
        riemdln.QuadraticEnergy(M), lambda X: np.stack([X[:, 0, 0], X[:, 0, 1] ** 2], -1), 2, beta, rtol=1e-10
    )
    ref = _reference(beta, 2)
    assert q.status == riemdln.Status.FINISHED, q.message
    assert abs(q.value[0] - ref[0]) < 1e-9
    assert abs(q.value[1] - ref[1]) < 1e-6 * ref[1]  # the variance 1/beta: its relative accuracy too


def test_moderate_temperature_still_uses_the_full_chart():
    q = riemdln.gibbs_expectation(riemdln.QuadraticEnergy(np.eye(2)), lambda X: X[:, 0, 0], 1, 2.0)
    assert round(float(q.value), 6) == 1.0 and q.status == riemdln.Status.FINISHED


def test_gibbs_expectation_tol_is_a_deprecated_name_of_rtol():
    E, f = riemdln.QuadraticEnergy(np.eye(2)), lambda X: X[:, 0, 0]
    new = riemdln.gibbs_expectation(E, f, 1, 2.0, rtol=1e-5)
    with pytest.warns(DeprecationWarning, match=r"gibbs_expectation\(tol="):
        old = riemdln.gibbs_expectation(E, f, 1, 2.0, tol=1e-5)
    assert old.value == new.value and old.n_points == new.n_points
    with pytest.raises(riemdln.RiemdlnValueError, match="`tol` is the deprecated name of `rtol`"):
        riemdln.gibbs_expectation(E, f, 1, 2.0, tol=1e-5, rtol=1e-5)
    with pytest.raises(riemdln.RiemdlnValueError, match="`rtol`"):
        riemdln.gibbs_expectation(E, f, 1, 2.0, rtol=-1.0)
