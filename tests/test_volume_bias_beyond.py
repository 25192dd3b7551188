"""volume_bias beyond 2×2: the g^N density on the rank-r zero-loss set, certified against independent computations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riemdln import CompletionProblem, RiemdlnValueError, induced_log_volume_density, metric
from riemdln.studies import volume_bias as vb
from riemdln.studies import volume_bias_report as vb_report

MENON_MASK = np.eye(2, dtype=bool)


def _hyperbola_point(a):
    return np.array([[1.0, a], [1.0 / a, 1.0]])


@pytest.mark.parametrize("N", [1, 2, 3, 7.5])
@pytest.mark.parametrize("a", [0.3, 1.0, -2.5, 4.0])
def test_gram_density_on_menon_curve_is_the_length_element(N, a):
    """Independent: the study's closed-form ĝ^N length element along ab = 1 (λ_N), per unit Euclidean length."""
    logd, dim = vb.zero_loss_log_density(_hyperbola_point(a), 1, MENON_MASK, N, normalized=True)
    assert dim == 1
    euclid = math.sqrt(1 + a**-4)  # |dX/da|
    assert math.exp(logd) * euclid == pytest.approx(float(vb.hyperbola_length_element(a, N)), rel=1e-11)


def test_tangent_basis_of_menon_curve_is_the_curve_direction():
    a = 0.7
    T = vb.stratum_tangent_basis(_hyperbola_point(a), 1, MENON_MASK)
    Z = np.array([[0.0, 1.0], [-1.0 / a**2, 0.0]])
    assert T.shape == (1, 2, 2)
    assert abs(abs(np.sum(T[0] * Z)) / np.linalg.norm(Z) - 1) < 1e-13  # parallel to dX/da, unit length


def _rank_r_point(m, n, r, seed):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, r)) @ rng.standard_normal((r, n))


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("N", [2, 3])
def test_density_is_invariant_under_orthonormal_change_of_basis(seed, N):
    rng = np.random.default_rng(100 + seed)
    X = _rank_r_point(6, 5, 2, seed)
    mask = rng.random((6, 5)) < 0.3
    T = vb.stratum_tangent_basis(X, 2, mask)
    O, _ = np.linalg.qr(rng.standard_normal((len(T), len(T))))
    rotated = np.einsum("pq,pij->qij", O, T)
    base = vb.stratum_log_density(X, 2, T, N, normalized=True)
    assert vb.stratum_log_density(X, 2, rotated, N, normalized=True) == pytest.approx(base, abs=1e-11)
    # a non-orthonormal basis changes the value by log |det| of the change of basis (a density, not a function)
    S = O @ np.diag(np.linspace(1.0, 3.0, len(T)))
    skewed = np.einsum("pq,pij->qij", S, T)
    expected = base + math.log(abs(np.linalg.det(S)))
    assert vb.stratum_log_density(X, 2, skewed, N, normalized=True) == pytest.approx(expected, abs=1e-10)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tangent_basis_is_orthonormal_tangent_and_keeps_observations(seed):
    rng = np.random.default_rng(seed)
    m, n, r = 7, 6, 2
    X = _rank_r_point(m, n, r, seed)
    mask = rng.random((m, n)) < 0.35
    T = vb.stratum_tangent_basis(X, r, mask)
    assert len(T) == r * (m + n - r) - mask.sum()  # generic: the observation map has full rank
    G = np.einsum("pij,qij->pq", T, T)
    assert np.max(np.abs(G - np.eye(len(T)))) < 1e-12
    assert np.max(np.abs(T[:, mask])) < 1e-12
    # independent tangency test: X + t T stays rank r to second order (s_(r+1) = O(t^2))
    for Tp in T[:3]:
        s = np.linalg.svd(X + 1e-4 * Tp, compute_uv=False)
        assert s[r] < 1e-6


@pytest.mark.parametrize("N", [1, 2, 4.5])
def test_full_rank_case_equals_the_full_metric_density(N):
    """Independent: r = min(m, n) is the open set of full-rank matrices, where riemdln's induced density applies."""
    rng = np.random.default_rng(3)
    X = rng.standard_normal((4, 4))
    mask = rng.random((4, 4)) < 0.5
    unobserved = [np.outer(np.eye(4)[i], np.eye(4)[j]) for i, j in zip(*np.nonzero(~mask), strict=True)]
    expected = induced_log_volume_density(X, unobserved, N, normalized=True)
    logd, dim = vb.zero_loss_log_density(X, 4, mask, N, normalized=True)
    assert dim == len(unobserved)
    assert logd == pytest.approx(float(expected), abs=1e-11)


@pytest.mark.parametrize("N", [2, 3])
def test_stratum_metric_is_the_limit_of_the_full_rank_metric(N):
    """Independent: ĝ^N at the full-rank X + ε Y (riemdln.metric) on a tangent vector of M_r, ε → 0."""
    X = _rank_r_point(5, 4, 2, 7)
    T = vb.stratum_tangent_basis(X, 2)
    Q, _, Rt = np.linalg.svd(X)
    Y = np.outer(Q[:, 2], Rt[2]) + np.outer(Q[:, 3], Rt[3])
    Z = T[0] + 0.5 * T[3] - T[5]
    expected = math.exp(2 * vb.stratum_log_density(X, 2, Z[None], N, normalized=True))
    got = metric(X + 1e-9 * Y, Z, Z, N, normalized=True)
    assert got == pytest.approx(expected, rel=20 * (1e-9) ** (2 / N))


def test_projection_lands_on_the_rank_r_zero_loss_set():
    p = CompletionProblem.random(10, 10, 2, 32, seed=0)
    out = vb.project_to_zero_loss(p, p.ground_truth + 0.3 * np.random.default_rng(0).standard_normal((10, 10)), 2)
    assert out["converged"]
    assert np.max(np.abs((out["X"] - p.target)[p.mask])) <= 1e-8
    s = np.linalg.svd(out["X"], compute_uv=False)
    assert s[2] <= 1e-12 * s[0]


def test_percentile_counts_ties_half():
    assert vb.percentile_of(1.0, [0.0, 1.0, 2.0, 3.0]) == pytest.approx(0.375)
    assert vb.percentile_of(5.0, []) is None


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: vb.stratum_tangent_basis(np.eye(3), 1), "`X` must have rank `rank` = 1"),
        (lambda: vb.stratum_tangent_basis(np.ones((3, 3)), 4), "`rank` must be an integer <= 3"),
        (lambda: vb.stratum_tangent_basis(np.ones((3, 3)), 1, np.ones((2, 2), bool)), "`mask` must be a boolean"),
        (lambda: vb.stratum_log_density(np.ones((2, 2)), 1, np.eye(2)[None], 2), "`basis` must lie in the tangent"),
        (lambda: vb.stratum_log_density(np.ones((2, 2)), 1, np.ones((2, 3)), 2), "`basis` must have at least 3"),
        (lambda: vb.stratum_log_density(np.ones((2, 2)), 1, np.ones((1, 2, 2)), math.inf, True), "`depth=math.inf`"),
        (lambda: vb.stratum_log_density(np.ones((2, 2)), 1, np.ones((1, 2, 2)), 0.5), "`depth` must be"),
    ],
)
def test_bad_input_names_the_argument(call, match):
    with pytest.raises(RiemdlnValueError, match=match):
        call()


def test_instance_records_and_comparisons():
    cell = vb._beyond_instance(8, 1, 12, 0, "3", [0, 1], 1e-3, 1e-12, 1e7, 20000, 0.1, 3, [0.3], 3, 0.1)
    for f in cell["flows"]:
        assert {"status", "final_loss", "target_loss", "reached_target", "rank_r", "sigma_ratio"} <= set(f)
        assert not f["rank_r"] or f["reached_target"]  # never compare a limit that did not reach its target
    for p in cell["points"] + cell["limits"]:
        assert p["on_set"] and p["residual"] <= 1e-8
    for c in cell["comparisons"]:
        assert 0.0 <= c["percentile"] <= 1.0


def test_a_run_cut_short_is_not_compared():
    cell = vb._beyond_instance(8, 1, 12, 0, "3", [0], 1e-3, 1e-12, 1e7, 5, 0.1, 2, [0.3], 2, 0.1)
    assert cell["flows"][0]["reached_target"] is False and cell["flows"][0]["rank_r"] is False
    assert cell["comparisons"] == []
    stats = vb.beyond_stats([cell], ["3"])
    assert stats[0]["compared"] == 0 and "does not apply" in vb_report.beyond_verdict(stats)
