"""Geometry inputs users get wrong, and valid extremes: clear errors before any work, bounded time and memory."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest

import riemdln
from riemdln import RiemdlnValueError

X = np.array([[2.0, 0.3], [0.1, 1.0]])
U = np.array([[1.0, 0.2], [0.0, 1.0]])
V = np.array([[0.0, 1.0], [1.0, 0.3]])


def test_sectional_curvature_is_scale_invariant_in_its_directions():
    K = riemdln.sectional_curvature(X, U, V, 3)
    for a, b in ((1e-200, 1.0), (1e200, 1.0), (1e-200, 1e200)):
        assert riemdln.sectional_curvature(X, a * U, b * V, 3) == pytest.approx(K, rel=1e-12)
    with pytest.raises(RiemdlnValueError, match="linearly independent"):
        riemdln.sectional_curvature(X, 1e-200 * U, 1e200 * U, 3)
    with pytest.raises(RiemdlnValueError, match="nonzero"):
        riemdln.sectional_curvature(X, 0 * U, V, 3)


@pytest.mark.parametrize("t_eval", ["01", None, [0.0], [0, 1j], [0.0, math.nan], [1.0, 2.0], [[0.0, 1.0]], [0, 1, 1]])
def test_bad_t_eval_is_refused(t_eval):
    with pytest.raises(RiemdlnValueError, match="`t_eval`"):
        riemdln.geodesic(X, U, 2, t_eval=t_eval)


def test_huge_t_eval_is_bounded_in_time_and_fails_cleanly():
    t0 = time.perf_counter()
    res = riemdln.geodesic(X, U, 2, t_eval=[0.0, 1e300], time_budget=2.0)
    assert time.perf_counter() - t0 < 30.0  # 2 s of integration, generous for a loaded machine
    assert res.status == riemdln.Status.FAILED and not res.success
    with pytest.raises(RiemdlnValueError, match="`time_budget`"):
        riemdln.geodesic(X, U, 2, time_budget=0.0)


def test_numpy_scalars_accepted_booleans_refused():
    np.testing.assert_array_equal(riemdln.exp_map(X, U, 2, t=np.float32(0.5)), riemdln.exp_map(X, U, 2, t=0.5))
    for bad in (True, 0.0, -1.0, math.inf, "1"):
        with pytest.raises(RiemdlnValueError, match="`t`"):
            riemdln.exp_map(X, U, 2, t=bad)
    assert riemdln.geodesic_between(X, 2 * X, np.int64(2), tol=np.float32(1e-9)).success
    with pytest.raises(RiemdlnValueError, match="`tol`"):
        riemdln.geodesic_between(X, 2 * X, 2, tol=True)


def test_discrete_distance_segments_and_iterations():
    for bad in ("24", (16, 32.0), (True, 2), (8, 12), (4,)):
        with pytest.raises(RiemdlnValueError, match="`segments`"):
            riemdln.discrete_distance(X, 2 * X, 2, segments=bad)
    with pytest.raises(RiemdlnValueError, match="up to 4096 segments.*SVDs"):
        riemdln.discrete_distance(X, 2 * X, 2, segments=(10**6, 2 * 10**6))
    with pytest.raises(RiemdlnValueError, match="`max_iterations`"):
        riemdln.discrete_distance(X, 2 * X, 2, max_iterations=-1)
    res = riemdln.discrete_distance(X, 2 * X, 2, segments=(np.int64(4), np.int64(8)))
    assert res.success


def test_messages_name_the_arguments():
    with pytest.raises(RiemdlnValueError, match="`X0` has rank 1"):
        riemdln.log_map(np.diag([1.0, 0.0]), X, 2)
    with pytest.raises(RiemdlnValueError, match="`X0` has rank 1"):
        riemdln.geodesic(np.diag([1.0, 0.0]), U, 2)
    with pytest.raises(RiemdlnValueError, match="`X1` must have the shape of `X0`"):
        riemdln.distance(X, np.ones((2, 3)), 2)


def test_scalar_curvature_of_a_large_matrix_is_refused_before_allocating():
    t0 = time.perf_counter()
    with pytest.raises(RiemdlnValueError, match=r"GiB for the numeric scalar curvature \(the cap is 1 GiB"):
        riemdln.scalar_curvature(np.eye(30) + 0.01, 3)
    assert time.perf_counter() - t0 < 30.0  # allocating 10.9 GiB and filling it would take far longer


def test_solver_failure_is_a_convergence_error(monkeypatch):
    from riemdln.geometry import geodesics

    def nothing(X0, *args):
        yield geodesics._Route("no route (disabled)", np.zeros_like(X0), math.inf, 0)

    monkeypatch.setattr(geodesics, "_routes", nothing)
    X1 = np.array([[1.3, -0.4], [0.5, 0.8]])
    res = riemdln.geodesic_between(X, X1, 3)
    assert res.status == riemdln.Status.FAILED and "no route" in res.message
    for call in (riemdln.distance, riemdln.log_map):
        with pytest.raises(riemdln.ConvergenceError):
            call(X, X1, 3)
    assert issubclass(riemdln.ConvergenceError, RuntimeError)
