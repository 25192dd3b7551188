"""Study free_energy: run records, the β → ∞ limit, the sampler against quadrature, and the study's helpers."""

from __future__ import annotations

import math

import numpy as np
import pytest

import riemdln
from riemdln.studies import free_energy as fe
from riemdln.studies import reached_target, records

FIELDS = ("status", "final_loss", "target_loss", "reached_target")


def _small_params() -> dict:
    """The quick parameters at one (N, β) and one training depth: a few seconds."""
    p = fe.parameters(True)
    p.update(depths=[3], betas=[4.0], train_depths=[3], train_chains=20, train_t_final=4.0)
    return p


@pytest.fixture(scope="module")
def results():
    return fe.run(_small_params())


def test_every_run_is_a_record_with_honest_fields(results):
    recs = records(fe, results)
    assert len(recs) == 2 + 2 + 2 + (1 + 3 + 1)  # training, samplers, quadratures, flow + 3 betas + floor
    for r in recs:
        assert all(f in r for f in FIELDS), r
        assert r["target_loss"] is None  # every run here is asked for a time or a number of draws
        assert r["reached_target"] == reached_target(r["status"], r["final_loss"], r["target_loss"])
    for s in results["samplers"]:  # a stalled chain makes the run INACCURATE, never reached
        assert (s["status"] == "INACCURATE") == (s["stalled_chains"] > 0 and s["sampler_status"] == "FINISHED")
    rows = fe.claims(results)
    assert rows and [c.kind for c in rows[:2]] == ["theorem", "theorem"]
    assert all(c.kind == "observed" and c.n for c in rows[2:])  # observations, no theorem
    # the observation's verdict follows the sign of the measured effect
    d = [e["d_ratio"] for e in results["entropy_effect"]]
    expected = "supported" if min(d) > 0 else "contradicted" if max(d) < 0 else "cannot tell"
    assert rows[2].verdict == expected
    flipped = {**results, "entropy_effect": [{**e, "d_ratio": -e["d_ratio"]} for e in results["entropy_effect"]]}
    assert fe.claims(flipped)[2].verdict == {"supported": "contradicted", "contradicted": "supported"}.get(
        expected, "cannot tell"
    )


def test_training_free_energy_is_energy_minus_entropy_over_beta(results):
    for r in results["training"]:
        E, S, F = (np.asarray(r[k]) for k in ("E", "S", "F"))
        np.testing.assert_allclose(F, E - S / r["beta"], rtol=1e-12, atol=1e-12)
        # menon-2x2 at ‖X‖ = ε = 1e-2: |E - 1| = |x11 + x22 - (x11² + x22²)/2| <= √2 ε + ε²
        assert abs(r["E"][0] - 1.0) <= math.sqrt(2) * 1e-2 + 1e-4


def test_beta_limit_distance_decreases_with_beta(results):
    runs = [r for r in results["beta_limit"][1:] if r["n_chains"] > 1]
    betas = [r["beta"] for r in runs]
    assert betas == sorted(betas) and len(betas) >= 3
    for k in range(len(runs[0]["t"])):
        d = [r["distance"][k] for r in runs]
        assert all(a > b for a, b in zip(d, d[1:], strict=False)), (k, d)
        assert max(results["floor"]) < 0.1 * d[-1]  # the Euler-Maruyama step error is not what is measured


def test_sampler_statistic_agrees_with_quadrature_within_4_se(results):
    for s, q in zip(results["samplers"], results["quadratures"], strict=True):
        assert q["status"] == "FINISHED"
        for m, v, e, err in zip(s["mean"], q["value"], s["se"], q["error"], strict=True):
            assert e > 0 and err < e  # the oracle's refinement error is below the Monte Carlo error
            assert abs(m - v) <= 4 * e, (s["depth"], s["free_energy"], m, v, e)


def test_markdown_and_figures(results, tmp_path):
    figs = fe.figures(results, tmp_path)
    assert len(figs) == 3 and all((tmp_path / f).stat().st_size > 0 for f in figs)
    md = fe.markdown(results, figs)
    assert "not a probability law" in md and "quadrature" in md and "β → ∞" in md


def test_ratio_against_numpy_svd():
    X = np.random.default_rng(3).standard_normal((200, 2, 2))
    s = np.linalg.svd(X, compute_uv=False)
    np.testing.assert_allclose(fe.ratio(X), s[:, 1] / s[:, 0], rtol=1e-12, atol=1e-14)
    assert fe.ratio(np.array([[1.0, 2.0], [2.0, 4.0]])) == pytest.approx(0.0, abs=1e-15)  # rank one


def test_ridge_energy_gradient_is_the_derivative_of_its_loss():
    E = fe.RidgeEnergy(0.3)
    X = np.random.default_rng(4).standard_normal((2, 2))
    h = 1e-6
    fd = np.zeros((2, 2))
    for i in range(2):
        for j in range(2):
            D = np.zeros((2, 2))
            D[i, j] = h
            fd[i, j] = (E.loss(X + D) - E.loss(X - D)) / (2 * h)
    np.testing.assert_allclose(E.gradient(X), fd, rtol=1e-7, atol=1e-8)
    by_hand = 0.5 * ((X[0, 0] - 1) ** 2 + (X[1, 1] - 1) ** 2) + 0.15 * np.sum(X**2)
    assert float(E.loss(X)) == pytest.approx(by_hand, rel=1e-14)


def test_sampler_does_not_stall_where_the_untruncated_drift_did():
    """menon-2x2 + ridge at N = 4, beta = 2: plain MALA left 2-3 of 128 chains stuck at sigma_max ~ 5-7."""
    g = riemdln.gibbs_sample(fe.RidgeEnergy(0.05), 4, 2.0, 128 * 60, seed=1, n_chains=128, burn_in=1000)
    assert g.status.name == "FINISHED" and g.chain_acceptance.shape == (128,)
    assert g.chain_acceptance.min() > 0.3


def test_a_stalled_chain_makes_the_sampler_inaccurate(monkeypatch):
    """Without the truncation (cap = inf) the same run stalls; the sampler must say so, not FINISHED."""
    import riemdln.thermo.langevin_dynamics as ld

    monkeypatch.setattr(ld, "_DRIFT_CAP", math.inf)
    g = riemdln.gibbs_sample(fe.RidgeEnergy(0.05), 4, 2.0, 128 * 60, seed=1, n_chains=128, burn_in=1000)
    assert g.status.name == "INACCURATE" and not g.success
    assert g.chain_acceptance.min() < ld.STALLED_CHAIN and "stalled" in g.message


def test_plain_menon_2x2_gibbs_law_is_not_normalizable_at_depth_2():
    """The study's reason for the ridge: vol_g^2 decays like r^-2 on the zero-loss plane (log-divergent)."""
    with pytest.raises(riemdln.RiemdlnValueError, match="not normalizable"):
        riemdln.gibbs_expectation(fe.RidgeEnergy(0.0), lambda X: X[:, 0, 0], 2, 4.0)


def test_parameters_are_within_the_brief():
    full, quick = fe.parameters(False), fe.parameters(True)
    assert set(full["depths"]) >= {2, 3, 4} and len(full["betas"]) >= 3
    assert full["seed"] == quick["seed"] and not math.isinf(full["limit_depth"])


def test_volume_bias_comparison_quotes_that_study_when_it_ran(results):
    assert fe._volume_bias_percentiles(None) is None
    prev = {
        "volume_bias": {
            "rows": [{"depth": "2", "limit_percentile_median": 0.5}, {"depth": "3", "limit_percentile_median": 0.97}]
        }
    }
    pct = fe._volume_bias_percentiles(prev)
    assert pct == {"2": 0.5, "3": 0.97}
    md = fe.markdown({**results, "volume_bias": pct}, [])
    assert "N = 3: 0.97" in md and "N = 2: 0.5" not in md  # only the depths that study draws conclusions for
