"""The nuclear-norm baselines: soft-impute (numpy) and the exact program (cvxpy, skipped when not installed)."""

from __future__ import annotations

import numpy as np
import pytest

import riemdln
from riemdln import CompletionProblem
from riemdln.problems.baselines import nuclear_norm_minimization, soft_impute


def _nuclear(X) -> float:
    return float(np.linalg.svd(X, compute_uv=False).sum())


def _three_ones() -> CompletionProblem:
    # [[1, 1], [1, x]]: for x < 1 it is indefinite with nuclear norm sqrt((1 - x)^2 + 4) > 2, for x > 1 positive
    # definite with nuclear norm 1 + x > 2, and at x = 1 rank one with nuclear norm 2: the unique minimizer is x = 1
    return CompletionProblem((2, 2), {(0, 0): 1.0, (0, 1): 1.0, (1, 0): 1.0})


def _rank_one_4x4():
    rng = np.random.default_rng(3)
    u, v = rng.uniform(0.5, 2.0, 4), rng.uniform(0.5, 2.0, 4)
    W = np.outer(u, v)
    missing = {(0, 0), (1, 2), (2, 3), (3, 1)}  # one per row and column: 12 of 16 observed
    obs = {(i, j): float(W[i, j]) for i in range(4) for j in range(4) if (i, j) not in missing}
    return CompletionProblem((4, 4), obs), W


def test_exact_minimizer_recovers_the_two_by_two_completion():
    pytest.importorskip("cvxpy")
    res = nuclear_norm_minimization(_three_ones())
    assert res.success, res.message
    np.testing.assert_allclose(res.X, np.ones((2, 2)), atol=1e-5)


def test_exact_minimizer_meets_constraints_and_beats_the_ground_truth():
    pytest.importorskip("cvxpy")
    problem, W = _rank_one_4x4()
    res = nuclear_norm_minimization(problem)
    assert res.success, res.message
    mask = problem.mask
    np.testing.assert_allclose(res.X[mask], W[mask], atol=1e-6)  # X_Omega = M_Omega
    assert _nuclear(res.X) <= _nuclear(W) + 1e-6  # W is feasible, so the minimum is at most its norm
    # the same minimum as soft-impute certified by its duality gap (an independent first-order method)
    si = soft_impute(problem, n_lambdas=20, final_max_steps=20000, accelerate=True, gap_rtol=1e-7)
    assert si.success, si.message
    assert _nuclear(si.X) == pytest.approx(_nuclear(res.X), rel=1e-4)


def test_exact_minimizer_without_cvxpy_names_the_extra(monkeypatch):
    import sys

    from riemdln import MissingExtraError

    monkeypatch.setitem(sys.modules, "cvxpy", None)  # import cvxpy raises ImportError
    with pytest.raises(MissingExtraError, match=r"riemdln\[cvxpy\]"):
        nuclear_norm_minimization(_three_ones())


@pytest.mark.parametrize("accelerate", [False, True])
def test_soft_impute_is_judged_at_the_final_lambda(accelerate):
    """Warm-start values capped at 1 iteration do not make the run unconverged; the final value does."""
    problem, W = _rank_one_4x4()
    if not accelerate:  # the plain iteration crawls from a poor warm start: its duality gap says so
        crawl = soft_impute(problem, n_lambdas=10, max_steps=1, final_max_steps=2000, gap_rtol=1e-6)
        assert not crawl.success and "stopped at final_max_iter = 2000" in crawl.message
    res = soft_impute(
        problem,
        n_lambdas=10,
        max_steps=1 if accelerate else 200,
        final_max_steps=20000,
        accelerate=accelerate,
        gap_rtol=1e-8 if accelerate else None,
    )
    assert res.success and "converged at the final lambda" in res.message
    mask = problem.mask
    np.testing.assert_allclose(res.X[mask], W[mask], atol=1e-4)
    short = soft_impute(problem, n_lambdas=10, max_steps=1, final_max_steps=2, accelerate=accelerate)
    assert not short.success and "stopped at final_max_iter = 2" in short.message


def test_soft_impute_change_alone_can_stop_early_the_gap_does_not():
    """On the 2x2 problem the relative-change test stops the (accelerated) iteration far from the minimizer
    X11 = 1 (the unique one: see _three_ones); judged by the duality gap it gets there."""
    problem = _three_ones()
    weak = soft_impute(problem, n_lambdas=10, max_steps=3, final_max_steps=20000, accelerate=True)
    strict = soft_impute(problem, n_lambdas=10, max_steps=3, final_max_steps=20000, accelerate=True, gap_rtol=1e-8)
    assert weak.success and abs(weak.X[1, 1] - 1.0) > 1e-2
    assert strict.success and abs(strict.X[1, 1] - 1.0) < 1e-3


def test_soft_impute_duality_gap_certificate():
    problem, W = _rank_one_4x4()
    res = soft_impute(problem, n_lambdas=20, final_max_steps=20000, accelerate=True, gap_rtol=1e-6)
    assert res.success and "relative duality gap" in res.message
    assert _nuclear(res.X) <= _nuclear(W) * (1 + 1e-4)


def test_soft_impute_old_argument_names_still_work_with_a_deprecation_warning():
    import warnings

    problem, _ = _rank_one_4x4()
    new = soft_impute(problem, n_lambdas=5, rtol=1e-6, max_steps=50, final_max_steps=60, gap_rtol=1e-3)
    for old, value in (("tol", 1e-6), ("max_iter", 50), ("final_max_iter", 60), ("gap_tol", 1e-3)):
        with pytest.warns(DeprecationWarning, match=f"soft_impute\\({old}="):
            soft_impute(problem, n_lambdas=5, **{old: value})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = soft_impute(problem, n_lambdas=5, tol=1e-6, max_iter=50, final_max_iter=60, gap_tol=1e-3)
    np.testing.assert_array_equal(old.X, new.X)
    with pytest.raises(riemdln.RiemdlnValueError, match="`tol` is the deprecated name of `rtol`"):
        soft_impute(problem, tol=1e-6, rtol=1e-6)
