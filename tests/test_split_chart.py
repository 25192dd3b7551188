"""The split SVD chart (riemdln.flows._split): its algebra against the matrix form, and its integrations
against the matrix form and SVD coordinates (independent formulations of the same flow)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riemdln import CompletionProblem, QuadraticEnergy, end_to_end_flow
from riemdln.flows import _energy, _split
from riemdln.flows.end_to_end import _matrix_rhs
from riemdln.flows.result import Status


def rel(a, b):
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def _frame(m, n, k, seed=0):
    rng = np.random.default_rng(seed)
    K = min(m, n)
    Q, _ = np.linalg.qr(rng.standard_normal((m, K)))
    R, _ = np.linalg.qr(rng.standard_normal((n, K)))
    s = np.concatenate([np.linspace(7.0, 3.0, k), np.sort(1e-3 * rng.random(K - k) + 1e-5)[::-1]])
    return Q, s, R


SHAPES = [(8, 8), (9, 6), (6, 9)]
DEPTHS = [(2.0, False), (3.0, True), (math.inf, True)]


@pytest.mark.parametrize("shape", SHAPES)
def test_chart_velocity_is_a_right_inverse_of_the_push_forward(shape):
    """Solving the chart's block equations for an X-velocity F and pushing the result forward gives F back."""
    m, n = shape
    Q, s, R = _frame(m, n, 2)
    p = CompletionProblem.random(m, n, 2, m * n // 2, seed=1)
    system = _split.SplitSystem(_energy.ops(p), 3.0, True, 2, 1e-7)
    fr = system.frame(system.start(Q, s, R))
    F = np.random.default_rng(2).standard_normal((m, n))
    np.testing.assert_allclose(system.push(fr, system.chart_velocity(fr, F)), F, atol=1e-13)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("depth,normalized", DEPTHS)
def test_split_right_hand_side_is_the_matrix_forms(shape, depth, normalized):
    """Pushed forward, the chart's right-hand side is -A_N(X) grad E(X) of the matrix form (one SVD of X)."""
    m, n = shape
    Q, s, R = _frame(m, n, 2, seed=3)
    X = (Q * s) @ R.T
    p = CompletionProblem.random(m, n, 2, m * n // 2, seed=4)
    system = _split.SplitSystem(_energy.ops(p), depth, normalized, 2, 1e-7)
    y = system.start(Q, s, R)
    fr = system.frame(y)
    np.testing.assert_allclose(fr["X"], X, atol=1e-14)
    expected = _matrix_rhs(p, depth, normalized)(0.0, X.ravel()).reshape(m, n)
    assert rel(system.push(fr, system.rhs(0.0, y)), expected) < 1e-12


def test_chart_choice():
    s = np.array([50.0, 40.0, 1e-3, 5e-4, 2e-4])
    assert _split.choose_rank(s, 1e-7) == 2
    assert _split.choose_rank(np.array([2.0, 1.0, 0.5]), 1e-7) is None  # no gap
    assert _split.choose_rank(np.array([50.0, 1e-3, 1e-13]), 1e-7) is None  # block not resolved
    assert _split.choose_rank(np.array([50.0, 1e-3, 1e-4, 1e-5]), 1e-7) == 1


def _completion(d, rank, k, seed=0, init=1e-3):
    p = CompletionProblem.random(d, d, rank, k, seed=seed)
    scale = d / np.linalg.norm(p.ground_truth)
    p = CompletionProblem((d, d), p.mask, p.target * scale, ground_truth=p.ground_truth * scale)
    X0 = init * np.random.default_rng(seed + 1).standard_normal((d, d)) / np.sqrt(d)
    return p, X0


def test_auto_moves_to_split_charts_and_agrees_with_the_other_formulations():
    """30x30 from 1e-5 (full SVD coordinates would run under CVODE): auto leaves the matrix form when the
    smallest singular value is no longer resolved and continues in split charts, re-charted as the two
    values are learned; it agrees with SVD coordinates and with the matrix form."""
    p, X0 = _completion(30, 2, 360, init=1e-5)
    t = np.array([2.0, 20.0, 40.0])
    kw = dict(normalized=True, t_eval=t, rtol=1e-9, atol=1e-12)
    auto = end_to_end_flow(p, X0, 3.0, 40.0, **kw)
    assert auto.status == Status.FINISHED and "split" in auto.formulation, auto.message
    assert "the split chart with k = 1 until" in auto.message and "then the split chart with k = 2." in auto.message
    svd = end_to_end_flow(p, X0, 3.0, 40.0, formulation="svd", **kw)
    matrix = end_to_end_flow(p, X0, 3.0, 40.0, formulation="matrix", **kw)
    np.testing.assert_array_equal(auto.t, t)
    for i in range(len(t)):
        assert rel(auto.X[i], svd.X[i]) < 1e-6
        assert rel(auto.X[i], matrix.X[i]) < 1e-6
    # the smallest singular values to the accuracy the matrix form leaves at the switch (about rtol s1/s_min:
    # 1e-4 here; SVD coordinates at rtol = 1e-12 agree with the ones at 1e-9 to 1e-9)
    np.testing.assert_allclose(auto["singular_values"][-1], svd["singular_values"][-1], rtol=2e-3)
    assert np.all(auto["det_sign"] == auto["det_sign"][0])
    assert np.all(np.diff(auto["loss"]) <= 0)


def test_split_chart_from_the_start_keeps_small_singular_values_accurate():
    """X0 already unresolved in the matrix form (s_min / s_1 = 1e-9): split charts from t = 0; the smallest
    singular values agree with SVD coordinates at 1000x tighter tolerances to ~rtol * sigma_1(W) / sigma_min(W)."""
    p, _ = _completion(30, 2, 360)
    rng = np.random.default_rng(7)
    Q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    R, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    s = np.concatenate([[20.0], np.geomspace(1e-6, 2e-8, 29)])
    X0 = (Q * s) @ R.T
    t = np.array([1.0, 30.0])
    auto = end_to_end_flow(p, X0, 3.0, 30.0, normalized=True, t_eval=t, rtol=1e-9, atol=1e-12)
    ref = end_to_end_flow(p, X0, 3.0, 30.0, normalized=True, t_eval=t, rtol=1e-12, atol=1e-15, formulation="svd")
    assert auto.formulation.startswith("split") and auto.status == Status.FINISHED, auto.message
    np.testing.assert_allclose(auto["singular_values"], ref["singular_values"], rtol=1e-6)
    assert rel(auto.X[-1], ref.X[-1]) < 1e-7
    assert np.all(auto["det_sign"] == np.sign(np.linalg.det(Q) * np.linalg.det(R)))


def test_split_chart_with_coincident_learned_values():
    """Three equal target singular values: the learned block is a matrix, so their coincidence costs nothing
    (a diagonal block's frame rates 1/(s_i - s_j) made this run crawl); it agrees with the matrix form."""
    rng = np.random.default_rng(1)
    rng.standard_normal((30, 40))
    for _ in range(4):
        rng.standard_normal((30, 30))
    X0 = 1e-5 * rng.standard_normal((30, 30))
    energy = QuadraticEnergy(np.diag(np.r_[5.0, 5.0, 5.0, np.zeros(27)]))
    t = np.array([20.0, 60.0])
    kw = dict(normalized=True, t_eval=t, rtol=1e-9, atol=1e-12)
    auto = end_to_end_flow(energy, X0, 3.0, 60.0, switch_ratio=1e-4, max_steps=3000, **kw)
    matrix = end_to_end_flow(energy, X0, 3.0, 60.0, formulation="matrix", **kw)
    assert auto.status == Status.FINISHED and "k = 3" in auto.message, auto.message
    for i in range(len(t)):
        assert rel(auto.X[i], matrix.X[i]) < 1e-7
    np.testing.assert_allclose(auto["singular_values"][-1][:3], 5.0, rtol=1e-8)


def test_split_charts_on_a_rectangular_energy_agree_with_svd_coordinates():
    """40x30 quadratic energy toward a rank-3 target, small start: split charts (re-charted as the values are
    learned one by one) against SVD coordinates."""
    rng = np.random.default_rng(5)
    M = 10 * rng.standard_normal((40, 3)) @ rng.standard_normal((3, 30))
    energy = QuadraticEnergy(M)
    X0 = 1e-3 * rng.standard_normal((40, 30))
    t = np.array([0.5, 2.0, 10.0])
    kw = dict(normalized=True, t_eval=t, rtol=1e-9, atol=1e-12)
    auto = end_to_end_flow(energy, X0, 3.0, 10.0, switch_ratio=1e-3, **kw)
    svd = end_to_end_flow(energy, X0, 3.0, 10.0, formulation="svd", **kw)
    assert auto.status == Status.FINISHED and "split" in auto.formulation, auto.message
    for i in range(len(t)):
        assert rel(auto.X[i], svd.X[i]) < 1e-6
    np.testing.assert_allclose(auto["singular_values"][-1], svd["singular_values"][-1], rtol=1e-5)
