"""The implicit_bias study: its decision procedure can say each thing, and each prediction is what it claims."""

from __future__ import annotations

import math

import numpy as np
import pytest

from riemdln import CompletionProblem, multiplier
from riemdln.studies import implicit_bias as ib
from riemdln.studies.volume_bias import stratum_log_density, stratum_tangent_basis

DIAG = CompletionProblem((2, 2), {(0, 0): 1.0, (1, 1): 4.0})
ALPHA = 0.05 / 60  # the study's per-row level (Bonferroni over 5 instances × 4 depths × 3 rivals)


@pytest.fixture(scope="module")
def predicted():
    """The predictions on the study's 3×3 rank-two instance (all four differ there)."""
    inst = ib._INSTANCES[1]
    params = ib.ImplicitBiasParams(instances=(inst,), depths=("3",), volume_starts=3)
    return ib.predictions(inst, params)


def _limits_near(P, noise: float, n: int, seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [P + noise * rng.standard_normal(P.shape) / math.sqrt(P.size) for _ in range(n)]


@pytest.mark.parametrize("rival", ib.RIVALS)
def test_decision_names_the_hypothesis_the_limits_sit_at(predicted, rival):
    V = predicted["volume"]["3"]["points"][0]
    R = predicted[rival]["points"][0]
    sep = float(np.linalg.norm(V - R))
    assert sep > 0.1
    for at, expected in ((V, "volume predicts better"), (R, "rival predicts better")):
        L = _limits_near(at, 0.1 * sep, 20, seed=len(rival))
        dv = [ib.set_distance(x, [V]) for x in L]
        dr = [ib.set_distance(x, [R]) for x in L]
        d = ib.decide(dv, dr, sep, alpha=ALPHA)
        assert d.verdict == expected, (rival, expected, d)
        assert d.n == 20 and (d.volume_nearer == 20) == (expected.startswith("volume"))
        assert d.ci[0] <= d.median_difference <= d.ci[1]
    # limits halfway between: neither is nearer
    mid = _limits_near(0.5 * (V + R), 0.1 * sep, 20, seed=7)
    d = ib.decide([ib.set_distance(x, [V]) for x in mid], [ib.set_distance(x, [R]) for x in mid], sep, alpha=ALPHA)
    assert d.verdict == "cannot tell"


def test_decision_cannot_tell_when_predictions_coincide():
    P = np.array([[1.0, 2.0], [2.0, 4.0]])
    L = _limits_near(P, 0.05, 20, seed=3)
    d = [ib.set_distance(x, [P]) for x in L]
    out = ib.decide(d, d, 0.0, alpha=ALPHA)
    assert out.verdict == "cannot tell" and out.reason == "the predictions coincide"
    assert out.claim_verdict() == "cannot tell"


def test_decision_needs_an_effect_and_enough_seeds():
    rng = np.random.default_rng(0)
    dv = 1.0 + 0.01 * rng.standard_normal(20)
    # volume nearer in every seed, but by 1 % of the separation: too small an effect
    assert ib.decide(dv, dv + 0.01, 1.0, alpha=ALPHA).verdict == "cannot tell"
    # nearer in every seed by the full separation, but both predictions far from the limits: V lies between
    assert ib.decide([5.0] * 20, [6.0] * 20, 1.0, alpha=ALPHA).verdict == "cannot tell"
    # a large effect in 5 seeds cannot pass the corrected sign test
    assert ib.decide([0.0] * 5, [1.0] * 5, 1.0, alpha=ALPHA).verdict == "cannot tell"
    assert ib.decide([0.0] * 5, [1.0] * 5, 1.0, alpha=0.1).verdict == "volume predicts better"


def test_stratum_density_is_theory_rank_r_formula():
    # raw g^N on the whole tangent space of M_r: the ratio to the Euclidean volume is
    # N^{-r/2} Π_{i<j} |s_i^{2/N} − s_j^{2/N}| / |s_i² − s_j²| · Π s_i^{(m+n−2r−N+1)/N − (m+n−2r)}
    rng = np.random.default_rng(4)
    m, n, r = 4, 5, 2
    X = rng.standard_normal((m, r)) @ rng.standard_normal((r, n))
    s = np.linalg.svd(X, compute_uv=False)[:r]
    T = stratum_tangent_basis(X, r)
    assert len(T) == r * (m + n - r)
    for N in (1.0, 2.0, 3.0, 4.5):
        e = 2 / N
        formula = -0.5 * r * math.log(N) + math.log(abs(s[0] ** e - s[1] ** e) / abs(s[0] ** 2 - s[1] ** 2))
        formula += float(np.sum(((m + n - 2 * r - N + 1) / N - (m + n - 2 * r)) * np.log(s)))
        assert stratum_log_density(X, r, T, N) == pytest.approx(formula, rel=1e-10, abs=1e-10)


def test_infinite_depth_density_is_the_normalized_large_N_limit(predicted):
    # ½ log det G_N − (k'/2) log N → ℓ_∞ at rate 1/N: Richardson from N = 1e4 and 2e4
    X = predicted["volume"]["3"]["points"][0]
    mask = ib._INSTANCES[1].problem().mask
    T = stratum_tangent_basis(X, 2, mask)
    ell, k_off = ib.limit_log_density(X, 2, T)
    assert 0 < k_off <= len(T)
    f = {N: stratum_log_density(X, 2, T, N, normalized=True) - 0.5 * k_off * math.log(N) for N in (1e4, 2e4)}
    assert 2 * f[2e4] - f[1e4] == pytest.approx(ell, abs=1e-6)
    assert ib.log_density(X, 2, mask, math.inf) == pytest.approx(ell, abs=1e-12)


def test_diagonal_2x2_predictions_have_their_closed_forms():
    rng = np.random.default_rng(0)
    starts = ib.random_points(DIAG, 1, 3, rng)
    # minimum Frobenius norm on ab = 4: a = b = ±2
    mf = ib.frobenius_prediction(DIAG, 1, starts)
    for P in mf["points"]:
        assert abs(P[0, 1]) == pytest.approx(2.0, abs=1e-6) and P[0, 1] == pytest.approx(P[1, 0], abs=1e-6)
    # minimum nuclear norm: |tr X| = 5 on the whole segment a = b ∈ [−2, 2] (not unique)
    nn = ib.nuclear_prediction(DIAG, rng)
    assert nn["value"] == pytest.approx(5.0, rel=1e-6) and not nn["unique"]
    face = ib.NuclearFace(DIAG, nn["value"])
    Y = np.array([[1.0, 3.0], [-0.5, 4.0]])
    t = np.linspace(-2, 2, 40001)
    brute = np.sqrt((Y[0, 1] - t) ** 2 + (Y[1, 0] - t) ** 2).min()
    # the face is relaxed to ‖Y‖_* <= 5 (1 + 1e-8): off the segment by O(sqrt(1e-8 · 5)) ≈ 2e-4 per unit length
    assert face.distance(Y) == pytest.approx(brute, abs=2e-3)
    assert face.distance(Y) <= brute + 1e-6
    # GLRL: the first escape is e2 e2ᵀ (the larger value), the rank-one flow stays diagonal and stalls,
    # the second escape adds e1 e1ᵀ: the limit is diag(1, 4)
    g = ib.glrl_prediction(DIAG, 1e-6)
    assert g["success"] and g["rank"] == 2
    np.testing.assert_allclose(g["points"][0], np.diag([1.0, 4.0]), atol=1e-6)


def test_volume_argmax_matches_a_grid_on_the_hyperbola():
    # the rank-one zero-loss set of DIAG is the hyperbola X = [[1, a], [4/a, 4]]; brute-force grid of the density
    def density(x, N):
        return ib.log_density(np.array([[1.0, x], [4.0 / x, 4.0]]), 1, DIAG.mask, N)

    for N in (2.0, math.inf):
        a = np.geomspace(0.05, 80, 301)
        for _ in range(3):  # refine the grid around its best point
            dens = [density(x, N) for x in a]
            i = int(np.argmax(dens))
            a = np.geomspace(a[max(i - 2, 0)], a[min(i + 2, len(a) - 1)], 101)
        best = a[int(np.argmax([density(x, N) for x in a]))]
        pred = ib.volume_prediction(DIAG, 1, N, ib.random_points(DIAG, 1, 3, np.random.default_rng(1)))
        got = sorted(abs(P[0, 1]) for P in pred["points"])
        assert got[-1] == pytest.approx(best, rel=5e-3)
        assert pred["value"] >= max(dens) - 1e-9


def test_glrl_recovers_a_fully_observed_matrix():
    rng = np.random.default_rng(2)
    M = rng.standard_normal((4, 2)) @ rng.standard_normal((2, 4))
    p = CompletionProblem((4, 4), np.ones((4, 4), bool), M)
    g = ib.glrl_prediction(p, 1e-6)
    assert g["success"] and g["rank"] == 2
    np.testing.assert_allclose(g["points"][0], M, atol=1e-7)


def test_claims_and_old_summary_agree():
    row = {"instance": "x", "depth": "2", "rival": "glrl", "tested": True, "n": 20, "excluded": 1,
           "volume_nearer": 18, "rival_nearer": 2, "p_sign": 4e-4, "median_difference": -0.5, "ci": [-0.6, -0.4],
           "effect": -0.5, "separation": 1.0, "reason": "", "claim_verdict": "supported",
           "median_d_volume": 0.2, "median_d_rival": 0.7, "median_norm": 3.0}  # fmt: skip
    res = {"decisions": [row, {**row, "claim_verdict": "contradicted"}, {**row, "tested": False, "why": "no"}]}
    claims = ib.claims(res)
    assert [c.verdict for c in claims] == ["supported", "contradicted", "not tested"]
    assert [r["holds"] for r in ib.summary(res)] == ["yes", "no", "open"]
    assert all(c.kind == "observed" and c.n is not None for c in claims)
    assert "18/20" in claims[0].measured and "excluded" in claims[0].measured


def test_params_round_trip():
    p = ib.ImplicitBiasParams.full()
    assert ib.ImplicitBiasParams.from_json(p.to_json()) == p
    assert p.n_seeds >= 20 and len(p.scales) >= 2 and set(p.depths) == {"2", "3", "4", "inf"}
    assert ib.parameters(True) == ib.ImplicitBiasParams.quick().to_json()


def test_multiplier_used_at_infinite_depth_is_the_log_mean():
    # the in-block multiplier of ℓ_∞ is L(x, y) = (x − y)/(log x − log y)
    x, y = 2.0, 0.5
    assert float(multiplier(x, y, math.inf, True)) == pytest.approx((x - y) / math.log(x / y), rel=1e-14)


def test_verdict_sentence_follows_the_rows():
    from riemdln.studies.implicit_bias_report import _power_sentence, verdict_text

    row = {"instance": "x", "depth": "2", "rival": "glrl", "tested": True, "n": 20, "verdict": "volume predicts better"}
    res = {"decisions": [row], "params": {"alpha": 0.05}}
    assert "greedy low-rank learning: volume predicts better in 1 of 1" in verdict_text(res)
    flipped = {**res, "decisions": [{**row, "verdict": "rival predicts better"}]}
    assert "volume predicts better in 0 of 1 (instance, N) cells, the rival in 1" in verdict_text(flipped)
    # two-sided binomial: 2 Σ_{k ≥ 15} C(20, k) / 2^20 = 0.041 < 0.05, and 0.115 at 14
    assert "needs at least 15 of 20" in _power_sentence(res)
    assert math.isclose(2 * sum(math.comb(20, k) for k in range(15, 21)) / 2**20, 0.0413894653, rel_tol=1e-9)
    few = {**res, "decisions": [{**row, "n": 4}]}
    assert "no split passes" in _power_sentence(few)
