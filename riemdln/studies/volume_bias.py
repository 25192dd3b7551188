r"""Study 5 — volume bias (the paper's thesis, made measurable) on the 2×2 diagonal problem.

For every limit of study 4 (menon-2x2), the log volume density that :math:`\hat g^N` induces on the
zero-loss set :math:`\{[[1, a], [b, 1]]\}` is compared with

* the same density at the Frobenius-minimal completion (:math:`a = b = 0`, the identity);
* the density along the nuclear-norm-minimal completions (:math:`\|X\|_* = 2` on the whole segment
  :math:`a = b \in [-1, 1]`: nuclear norm does not pick one point);
* its distribution over the zero-loss set (uniform samples of :math:`(a, b) \in [-R, R]^2`): the
  percentile of the limit's density.
"""

from __future__ import annotations

import numpy as np

from riemdln.studies import depth_value, fmt, pyplot, save_figure, table
from riemdln.studies.menon_2x2 import restricted_log_density

NAME = "volume_bias"
TITLE = "Volume bias: log volume density at the flow's limit against other completions"


def parameters(quick: bool) -> dict:
    return {"box": 2.5, "samples": 4000 if quick else 40000, "segment_points": 101, "seed": 5}


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    landing = previous["menon_2x2"]["landing"]
    rng = np.random.default_rng(params["seed"])
    R = params["box"]
    a_s = rng.uniform(-R, R, params["samples"])
    b_s = rng.uniform(-R, R, params["samples"])
    seg = np.linspace(-1, 1, params["segment_points"])[1:-1]  # the endpoints are rank one (density infinite)
    rows = []
    for label in previous["menon_2x2"]["depths"]:
        N = depth_value(label)
        sample = restricted_log_density(a_s, b_s, N)
        sample = np.sort(sample[np.isfinite(sample)])
        frob = float(restricted_log_density(0.0, 0.0, N))
        nuclear = restricted_log_density(seg, seg, N)
        runs = [r for r in landing if r["depth"] == label]
        limits = np.array([[r["X"][0][1], r["X"][1][0]] for r in runs])
        dens = restricted_log_density(limits[:, 0], limits[:, 1], N)
        finite = dens[np.isfinite(dens)]
        constant = sample[-1] - sample[0] < 1e-9  # N = 1: Euclidean, no ranking to speak of
        percentiles = np.searchsorted(sample, finite) / len(sample) if len(finite) and not constant else np.array([])
        rows.append(
            {
                "depth": label,
                "runs": len(runs),
                "limit_log_density_median": float(np.median(finite)) if len(finite) else None,
                "limit_percentile_median": float(np.median(percentiles)) if len(percentiles) else None,
                "fraction_above_frobenius": float(np.mean(finite > frob + 1e-12)) if len(finite) else None,
                "frobenius_log_density": frob,
                "nuclear_segment_log_density_min": float(np.nanmin(nuclear)),
                "nuclear_segment_log_density_max": float(np.nanmax(nuclear)),
                "sample_log_density_median": float(np.median(sample)),
                "sample_log_density_99": float(np.quantile(sample, 0.99)),
            }
        )
    return {"rows": rows, "box": R, "samples": params["samples"]}


def figures(results: dict, outdir) -> list[str]:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    rows = [r for r in results["rows"] if r["limit_percentile_median"] is not None]
    labels = [r["depth"] for r in rows]
    ax.bar(labels, [r["limit_percentile_median"] for r in rows], color="tab:blue")
    ax.axhline(0.5, color="k", lw=0.8, ls="--")
    ax.set_ylim(0, 1)
    ax.set_xlabel("depth N")
    ax.set_ylabel("median percentile of the limit's\nlog volume density on the zero-loss set")
    fig.tight_layout()
    return [save_figure(fig, outdir, f"{NAME}.png", dpi=120)]


def markdown(results: dict, figs: list[str]) -> str:
    table_rows = [
        [
            r["depth"],
            r["runs"],
            r["limit_log_density_median"],
            r["limit_percentile_median"],
            r["fraction_above_frobenius"],
            r["frobenius_log_density"],
            f"{fmt(r['nuclear_segment_log_density_min'])} … {fmt(r['nuclear_segment_log_density_max'])}",
        ]
        for r in results["rows"]
    ]
    deep = [r for r in results["rows"] if r["depth"] not in ("1", "2") and r["limit_percentile_median"] is not None]
    supported = all(r["limit_percentile_median"] > 0.9 for r in deep) if deep else False
    sentences = [
        "Log volume density of ĝ^N restricted to the zero-loss set, at the flow's limits, against "
        f"{results['samples']} "
        f"uniform samples of (a, b) ∈ [−{fmt(results['box'])}, {fmt(results['box'])}]², the Frobenius-minimal "
        "completion (the identity) and the nuclear-norm-minimal segment a = b ∈ (−1, 1).",
        table(
            [
                "N",
                "runs",
                "median log density at limit",
                "median percentile",
                "fraction above Frobenius-min",
                "Frobenius-min",
                "nuclear-min segment",
            ],
            table_rows,
        ),
        "What the numbers support: "
        + (
            "for N ≥ 3 the limits sit in the top decile of the density over the zero-loss set, far above the "
            "Frobenius-minimal completion — a measurable bias towards high volume, which on this set is a bias "
            "towards the rank-one hyperbola, where the density is infinite for N ≥ 2. "
            if supported
            else "the limits are not uniformly in the top decile of the density for N ≥ 3 in this run. "
        )
        + "What they do not support: a variational principle. The density is unbounded near the whole hyperbola "
        "ab = 1 (and at both ends of the nuclear-norm segment), so 'maximal volume' does not single out a limit; "
        "which rank-one point is reached depends on the initialization. At N = 1 the density is constant (no "
        "bias), matching a flow that leaves the unobserved entries where they start.",
        *[f"![{NAME}]({f})" for f in figs],
    ]
    return "\n\n".join(sentences)
