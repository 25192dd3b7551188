"""The matrix-free path (CVODE BDF + GMRES) against the dense implicit path and against gradient descent."""

import numpy as np
import pytest

import riemdln
from riemdln.flows import _driver


def _problem(d, rank, k, seed=0):
    p = riemdln.CompletionProblem.random(d, d, rank, k, seed=seed)
    X0 = 1e-2 * np.random.default_rng(seed + 1).standard_normal((d, d)) / np.sqrt(d)
    return p, X0


@pytest.mark.parametrize("N", [3.0, np.inf])
def test_matrix_free_agrees_with_dense_and_svd(N):
    p, X0 = _problem(12, 2, 90)
    kw = dict(depth=N, normalized=True, t_final=200.0, t_eval=[50.0, 200.0], rtol=1e-9, atol=1e-11)
    free = riemdln.end_to_end_flow(p, X0, formulation="matrix", method="CVODE", **kw)
    dense = riemdln.end_to_end_flow(p, X0, formulation="matrix", method="LSODA", **kw)
    svd = riemdln.svd_flow(p, X0, method="LSODA", **kw)
    for other in (dense, svd):
        assert other.success
        np.testing.assert_allclose(free.X, other.X, atol=2e-6 * np.abs(other.X).max())
    assert free.success and free.njev > 0  # njev: setups of the exact Jacobian-vector products


def test_auto_picks_matrix_free_above_the_dense_limit():
    assert _driver.resolve_method("auto", _driver.MAX_IMPLICIT_SIZE) == "LSODA"
    assert _driver.resolve_method("auto", _driver.MAX_IMPLICIT_SIZE + 1) == "CVODE"


def test_saved_states_are_bounded():
    p, X0 = _problem(45, 2, 600)
    res = riemdln.end_to_end_flow(p, X0, depth=3, normalized=True, t_final=2e3, formulation="matrix")
    assert res.status.name == "FINISHED" and len(res.t) <= 2 * 1000
    assert np.all(np.diff(res.t) > 0)


@pytest.mark.slow
def test_matrix_free_agrees_with_descent_at_d100():
    """Relative endpoint difference O(lr): halving lr halves it."""
    p, X0 = _problem(100, 5, 3500)
    N, T = 3, 20.0
    flow = riemdln.end_to_end_flow(p, X0, depth=N, t_final=T, t_eval=[T], rtol=1e-9, atol=1e-12, formulation="matrix")
    assert flow.success
    W = riemdln.balanced_factors(X0, N)
    errs = []
    for lr in (4e-3, 2e-3):
        gd = riemdln.factor_descent(p, W, lr=lr, steps=int(round(T / lr)))
        errs.append(np.linalg.norm(gd.X[-1] - flow.X[-1]) / np.linalg.norm(flow.X[-1]))
    assert errs[0] < 0.05 and 0.35 < errs[1] / errs[0] < 0.65
