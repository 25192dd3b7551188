"""Energies: the protocol, the three energies, and every simulator taking any energy.

Independent truths: the quadratic energy's gradient flow at depth 1 is X(t) = M + e^{-t}(X0 - M); the factor
flow (upstairs) and the end-to-end flow (downstairs) of one energy agree (Riemannian submersion); an energy
given as two callables gives the same trajectory as the built-in one; Hessian-vector products equal central
differences of the gradient.
"""

import math

import numpy as np
import pytest

import riemdln
from riemdln import Energy, QuadraticEnergy, SensingProblem

M = np.array([[2.0, 0.5, 0.0], [0.3, 1.0, -0.4]])


def _callables(M):
    return Energy(lambda X: 0.5 * float(np.sum((X - M) ** 2)), lambda X: X - M, shape=M.shape)


def test_quadratic_depth_one_is_exponential_relaxation():
    E = QuadraticEnergy(M)
    X0 = np.zeros_like(M)
    res = riemdln.end_to_end_flow(E, X0, depth=1, t_final=2.0, t_eval=[2.0], rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(res.X[-1], M + math.exp(-2.0) * (X0 - M), atol=1e-9)


@pytest.mark.parametrize("N", [2, 3])
@pytest.mark.parametrize("make", [QuadraticEnergy, _callables, lambda M: SensingProblem.random(2, 3, 1, 9, seed=1)])
def test_upstairs_equals_downstairs_for_any_energy(N, make):
    E = make(M)
    X0 = 0.3 * np.random.default_rng(0).standard_normal(M.shape)
    kw = dict(t_final=3.0, t_eval=[1.0, 3.0], rtol=1e-10, atol=1e-12)
    down = riemdln.end_to_end_flow(E, X0, depth=N, **kw)
    up = riemdln.factor_flow(E, riemdln.balanced_factors(X0, N), **kw)
    assert down.success and up.success
    np.testing.assert_allclose(down.X, up.X, atol=2e-8)


def test_callables_and_builtin_give_the_same_trajectory():
    X0 = 0.2 * np.ones((2, 3)) + 0.1 * np.eye(2, 3)
    kw = dict(depth=3, t_final=4.0, t_eval=[4.0], rtol=1e-10, atol=1e-12)
    a = riemdln.end_to_end_flow(QuadraticEnergy(M), X0, **kw)
    b = riemdln.end_to_end_flow(_callables(M), X0, **kw)  # no hessian_vector: differenced gradient
    np.testing.assert_allclose(a.X[-1], b.X[-1], atol=1e-8)
    c = riemdln.svd_flow(QuadraticEnergy(M), X0, **kw)
    np.testing.assert_allclose(a.X[-1], c.X[-1], atol=1e-8)


def test_descent_with_sensing_tracks_the_flow():
    E = SensingProblem.random(3, 3, 1, 12, seed=2)
    X0 = 0.3 * np.eye(3)
    W = riemdln.balanced_factors(X0, 2)
    flow = riemdln.end_to_end_flow(E, X0, depth=2, t_final=2.0, t_eval=[2.0], rtol=1e-10, atol=1e-12)
    errs = []
    for lr in (2e-3, 1e-3):
        gd = riemdln.factor_descent(E, W, lr=lr, steps=int(round(2.0 / lr)))
        errs.append(np.linalg.norm(gd.X[-1] - flow.X[-1]))
    assert errs[1] < 0.6 * errs[0]  # O(lr)


@pytest.mark.parametrize("E", [QuadraticEnergy(M), SensingProblem.random(2, 3, 2, 7, seed=3)])
def test_hessian_vector_is_the_derivative_of_the_gradient(E):
    rng = np.random.default_rng(4)
    X, V = rng.standard_normal((2, *E.shape))
    h = 1e-5
    fd = (E.gradient(X + h * V) - E.gradient(X - h * V)) / (2 * h)
    np.testing.assert_allclose(E.hessian_vector(X, V), fd, atol=1e-8)


def test_sensing_random_is_consistent():
    p = SensingProblem.random(5, 4, 2, 30, seed=0)
    W = p.ground_truth
    assert np.linalg.matrix_rank(W) == 2 and abs(np.linalg.norm(W) - 1) < 1e-12
    assert float(p.loss(W)) < 1e-25 and float(p.test_error(W)) == 0.0
    np.testing.assert_allclose(p.measurements, np.einsum("kij,ij->k", p.sensors, W))


@pytest.mark.parametrize(
    "call,match",
    [
        (lambda: QuadraticEnergy(np.ones(3)), "`M` must have at least 2"),
        (lambda: QuadraticEnergy([[np.nan]]), "`M` must have finite entries"),
        (lambda: Energy(1, lambda X: X, shape=(2, 2)), "`loss` must be callable"),
        (lambda: Energy(lambda X: 0.0, lambda X: X, shape=(2, 0)), "`shape` must be a pair of positive integers"),
        (lambda: Energy(lambda X: 0.0, lambda X: X[0], shape=(2, 2)).gradient(np.eye(2)), "`gradient` must return"),
        (lambda: Energy(lambda X: 1j, lambda X: X, shape=(2, 2)).loss(np.eye(2)), "`loss` must return a real"),
        (lambda: SensingProblem.random(3, 3, 4, 5), "`rank` must be <= min"),
        (lambda: SensingProblem.random(3, 3, 1, 0), "`n_measurements` must be an integer >= 1"),
        (lambda: SensingProblem.random(3, 3, 1, 5, seed=-1), "`seed` must be None"),
        (lambda: riemdln.end_to_end_flow(object(), np.eye(2), 2, 1.0), "`problem` must be an energy"),
        (
            lambda: riemdln.end_to_end_flow(Energy(lambda X: np.nan, lambda X: X, shape=(2, 2)), np.eye(2), 2, 1.0),
            "`loss` returned nan",
        ),
    ],
)
def test_bad_energies(call, match):
    with pytest.raises(riemdln.RiemdlnValueError, match=match):
        call()
