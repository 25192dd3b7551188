"""Every sentence of the report with a verdict word is computed from the data: flip the data, the sentence changes.

Each test feeds a study's text function a small synthetic results dict, then the same dict with the finding
reversed, and checks that the verdict sentence follows (changes or disappears). No simulation runs here.
"""

from __future__ import annotations

import numpy as np

from riemdln.studies import (
    deep_completion,
    deep_completion_report,
    free_energy_report,
    geodesics,
    langevin_check,
    menon_2x2,
    operator_convergence,
    razin_cohen,
    upstairs_downstairs,
)


# ------------------------------------------------------------------------------------------ upstairs_downstairs
def _updown(deviation: float) -> dict:
    row = {
        "shape": [3, 3],
        "depth": 2,
        "max_relative_deviation": deviation,
        "balance_defect": 1e-12,
        "final_loss": 0.1,
        "reached_target": True,
        "factor_status": "FINISHED",
    }
    return {"rows": [row], "max_deviation": deviation, "max_balance_defect": 1e-12}


def test_upstairs_downstairs_agreement_sentence_follows_the_deviation():
    good, bad = _updown(5e-12), _updown(3e-4)
    assert "the two simulators agree to integration tolerance" in upstairs_downstairs.markdown(good, [])
    text = upstairs_downstairs.markdown(bad, [])
    assert "agree to integration tolerance." not in text and "do NOT agree" in text
    assert [c.verdict for c in upstairs_downstairs.claims(good)][0] == "supported"
    assert [c.verdict for c in upstairs_downstairs.claims(bad)][0] == "contradicted"


# ------------------------------------------------------------------------------------------------- razin_cohen
def _razin(growth: float, signs=(1.0,)) -> dict:
    t = np.logspace(-1, 6, 60)
    x = 1e-3 + t**growth if growth >= 0 else 1e3 * t**growth
    eff = 1 + 1e-3 * t**-0.5
    run = {
        "depth": "2",
        "t": t.tolist(),
        "loss": (1 / (1 + t)).tolist(),
        "abs_x11": x.tolist(),
        "nuclear_norm": (x + 2).tolist(),
        "effective_rank": eff.tolist(),
        "det_signs": list(signs),
        "status": "FINISHED",
    }
    return {"runs": [run]}


def test_razin_cohen_small_norm_sentence_needs_a_growth_rate():
    grows, shrinks = _razin(0.35), _razin(-0.2)
    assert "not a bias towards small norms" in razin_cohen.markdown(grows, [])
    assert "not a bias towards small norms" not in razin_cohen.markdown(shrinks, [])
    assert [razin_cohen.claims(r)[0].verdict for r in (grows, shrinks)] == ["supported", "contradicted"]
    fit = razin_cohen.growth(grows["runs"][0])["fit"]
    assert abs(fit["p"] - 0.35) < 1e-3 and fit["lo"] <= 0.35 + 1e-9  # the law the data were made with


def test_razin_cohen_sign_and_rank_sentences_follow_the_data():
    assert "never changed sign" in razin_cohen.markdown(_razin(0.35), [])
    flipped = razin_cohen.markdown(_razin(0.35, signs=(-1.0, 1.0)), [])
    assert "never changed sign" not in flipped and "CHANGED SIGN" in flipped
    assert razin_cohen.claims(_razin(0.35, signs=(-1.0, 1.0)))[2].verdict == "contradicted"
    # effective rank − 1 ≥ 0 by definition: the claim reads how fast it falls, and a rise contradicts it
    rising = _razin(0.35)
    rising["runs"][0]["effective_rank"] = (1 + 1e-6 * np.logspace(-1, 6, 60) ** 0.3).tolist()
    assert razin_cohen.claims(_razin(0.35))[1].verdict == "supported"
    assert razin_cohen.claims(rising)[1].verdict == "contradicted"


# --------------------------------------------------------------------------------------------------- geodesics
def _flows(ratios: dict) -> dict:
    runs = [
        {"seed": s, "depth": d, "reached_target": True, "ratio": r, "max_gap": r - 1} for (s, d), r in ratios.items()
    ]
    return {"flow_runs": runs, "flow_depths": ["1", "2", "inf"]}


def test_geodesic_growth_sentence_is_computed_per_seed():
    grow = {(0, "1"): 1.0, (0, "2"): 1.1, (0, "inf"): 1.2, (1, "1"): 1.0, (1, "2"): 1.05, (1, "inf"): 1.3}
    text = " ".join(geodesics._flow_sentences(_flows(grow)))
    assert "in every seed (2) the ratio and the gap grow with N" in text and "straight segment" in text
    mixed = {**grow, (1, "inf"): 1.01}  # seed 1: the ratio falls from N = 2 to N = inf
    text = " ".join(geodesics._flow_sentences(_flows(mixed)))
    assert "in every seed" not in text and "in 1 of 2 seeds" in text
    bent = {**grow, (0, "1"): 1.01}  # N = 1 is not straight
    assert "straight segment" not in " ".join(geodesics._flow_sentences(_flows(bent)))


# --------------------------------------------------------------------------------------------------- menon_2x2
def _menon(exponents: dict) -> dict:
    scales = [1e-1, 1e-2, 1e-3, 1e-4]
    wobble = [1.0, 1.05, 0.97, 1.01]
    return {
        "scale": 1e-3,
        "fractions": [
            {"depth": d, "sign": s, "runs": 2, "converged": 2, "rank_one_fraction": 0.5, "sigma_min_median": 0.1}
            for d, s in exponents
        ],
        "slopes": [
            {
                "depth": d,
                "sign": s,
                "index": i,
                "scales": scales,
                "sigma_min": [(1 + i) * e**p * w for e, w in zip(scales, wobble[i:] + wobble[:i], strict=True)],
                "slope": p,
            }
            for (d, s), p in exponents.items()
            for i in range(2)
        ],
    }


def test_menon_scale_sentence_and_verdict_follow_the_fitted_exponent():
    falling = _menon({("3", 1): 1.0})
    flat = _menon({("3", 1): 0.0})
    assert "falls like ε^p" in menon_2x2._summary(falling) and "does not fall" not in menon_2x2._summary(falling)
    assert "does not fall" in menon_2x2._summary(flat) and "falls like" not in menon_2x2._summary(flat)
    assert menon_2x2.claims(falling)[0].verdict == "supported"
    assert menon_2x2.claims(flat)[0].verdict == "contradicted"
    (fit,) = menon_2x2.scale_fits(falling)
    assert fit["fit"]["lo"] < 1.0 < fit["fit"]["hi"]  # the interval covers the exponent the data were made with


# ----------------------------------------------------------------------------------------- operator_convergence
def test_operator_coefficient_sentence_follows_the_gap():
    assert " matches " in operator_convergence._coefficient_sentence({"coefficient_relative_gap_max": 3e-4})
    assert "does NOT match" in operator_convergence._coefficient_sentence({"coefficient_relative_gap_max": 0.3})


# ------------------------------------------------------------------------------------------------- free_energy
def _free(d_ratio: float, depth_trend: float) -> dict:
    quads = [
        {"depth": N, "beta": 4.0, "free_energy": fe, "value": [0.3 - depth_trend * N, 0.1]}
        for N in (2, 3, 4)
        for fe in (False, True)
    ]
    return {
        "entropy_effect": [{"d_ratio": d_ratio, "error": 1e-6}],
        "quadratures": quads,
        "volume_bias": {"3": 0.9, "4": 0.95},
    }


def test_free_energy_trend_sentences_follow_the_signs():
    text = " ".join(free_energy_report._trend_sentences(_free(0.02, 0.05)))
    assert "pushes the Gibbs law away from rank one" in text and "volume pulling towards rank one" in text
    text = " ".join(free_energy_report._trend_sentences(_free(-0.02, -0.05)))
    assert "pushes the Gibbs law away" not in text and "volume pulling" not in text
    assert "smaller with the entropic term" in text and "does not decrease with N" in text
    assert free_energy_report._volume_bias_sentence({"3": 0.4}) == ""  # the limits not high: no agreement claimed


# --------------------------------------------------------------------------------------------- deep_completion
def _completion(deep: float, nuclear: float) -> dict:
    def run(depth, err, seed=0):
        return {"depth": depth, "n_observed": 100, "seed": seed, "reached_target": True, "test_error": err}

    rows = [run("1", 0.5), run("2", 0.1), run("3", deep), run(deep_completion.EXACT, nuclear)]
    return {"rows": rows, "observed": [100], "size": 10}


def test_deep_completion_names_the_winner_and_says_single_instance():
    deep_wins, nuclear_wins = _completion(1e-4, 2e-2), _completion(8.8e-5, 2.05e-6)
    assert "100 observed: N = 3" in deep_completion_report._best_sentence(deep_wins)
    assert "100 observed: nuclear norm (cvxpy)" in deep_completion_report._best_sentence(nuclear_wins)
    a, b = deep_completion.claims(deep_wins)[0], deep_completion.claims(nuclear_wins)[0]
    assert (a.verdict, b.verdict) == ("supported", "contradicted")
    assert "single instance" in a.claim and a.n == 1
    assert "lowest of all methods: nuclear norm (cvxpy)" in b.measured


# ---------------------------------------------------------------------------------------------- langevin_check
def test_langevin_ito_verdict_is_cannot_tell_when_not_resolved():
    bias = {
        "depth": 3,
        "beta": 4.0,
        "rows": [{"dt": 0.04, "coordinates": c, "error": [0.0] * 5, "se": [0.01] * 5} for c in ("X", "auto")],
    }
    base = {
        "runs": [{"depth": 3, "reached_target": True}],
        "bias": bias,
        "max_z_mala": 1.0,
        "max_z_langevin": 1.0,
        "max_z_no_ito": 9.0,
    }
    assert langevin_check.claims(base)[2].verdict == "supported"
    assert langevin_check.claims({**base, "max_z_no_ito": 1.5})[2].verdict == "cannot tell"
    assert langevin_check.claims(base)[3].verdict == "cannot tell"  # the X scheme's bias is not resolved


# ------------------------------------------------------------------------------------------- depth_convergence
def test_small_init_order_verdict_reads_the_interval():
    from riemdln.studies import depth_convergence

    def small(distances):
        depths = [4.0, 16.0, 64.0, 256.0]
        return {
            "depths": depths,
            "max_relative_distance": distances,
            "scale": 1e-3,
            "tau_final": 1e5,
            "all_reached": True,
        }

    one_over_n = small([0.25 * w / N for N, w in zip([4, 16, 64, 256], [1.0, 1.1, 0.95, 1.02], strict=True)])
    assert depth_convergence.small_init_claim(one_over_n).verdict == "supported"
    assert depth_convergence.small_init_claim(small([1.06, 1.07, 1.04, 1.05])).verdict == "contradicted"
    # flat, then a sudden drop: no power law, the interval straddles 1
    assert depth_convergence.small_init_claim(small([0.995, 0.926, 0.00977, 2.1e-4])).verdict == "cannot tell"
