r"""Study — Langevin check: samplers of the Gibbs law of :math:`(M_2, g^N)` against quadrature.

For a 2x2 quadratic energy at N = 2, 3 and :math:`\beta` = 4 (quick) or 4, 16: the quadrature oracle
(:func:`riemdln.gibbs_expectation`), the exact sampler (:func:`riemdln.gibbs_sample`, MALA in balanced factors),
the Langevin dynamics (:func:`riemdln.langevin`, ``coordinates="auto"``) and the same dynamics in X coordinates
without the Itô correction. Observables: the means of X_11 and X_22, P(det X < 0), E[E] and E[|det X|], with
Monte Carlo standard errors (per-chain means of the dynamics; effective sample size of the sampler). Then the
det = 0 bias of the X-coordinate scheme against dt, next to the auto (Y near det = 0) scheme, in the observables
that see det = 0 (P(det < 0), E[|det X|]); the summary's verdict on it is computed from those rows.
docs/theory.md §13.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from riemdln.studies import Claim, fmt, legacy_summary, run_record, save_figure, table
from riemdln.studies._params import StudyParams, depth_list, integer, real, reals

NAME = "langevin_check"
RUN_KEYS = ("runs",)
TITLE = "Langevin check: Euler–Maruyama and MALA against quadrature, with and without the Itô correction"

_M = [[1.0, 0.3], [0.0, 0.5]]
_NAMES = ("E[X11]", "E[X22]", "P(det<0)", "E[E]", "E[|det X|]")
_DET_SENSITIVE = (2, 4)  # P(det<0) and E[|det X|]: the observables that see the det = 0 bias
_ABS_DET = 4


@dataclass(frozen=True)
class LangevinCheckParams(StudyParams):
    """Depths, temperatures, chains and step sizes of the Langevin check."""

    depths: tuple[float, ...] = depth_list((2, 3), whole=True, infinite=False)
    betas: tuple[float, ...] = reals((4.0, 16.0), positive=True, doc="inverse temperatures")
    n_chains: int = integer(200, low=1)
    t_final: float = real(10.0, positive=True)
    dt: float = real(0.01, positive=True)
    n_samples: int = integer(20000, low=1)
    bias_dts: tuple[float, ...] = reals((0.04, 0.02, 0.01), positive=True)
    tol: float = real(1e-4, positive=True)
    seed: int = integer(0)

    @classmethod
    def quick(cls) -> LangevinCheckParams:
        return cls(depths=(3.0,), betas=(4.0,), n_chains=20, t_final=2.0, n_samples=1000, bias_dts=(0.04,), tol=1e-3)


PARAMS = LangevinCheckParams


def parameters(quick: bool) -> dict:
    return (PARAMS.quick() if quick else PARAMS.full()).to_json()


def _observables(X, M):
    D = X - M
    det = np.linalg.det(X)
    return np.stack(
        [X[..., 0, 0], X[..., 1, 1], (det < 0).astype(float), 0.5 * np.sum(D * D, axis=(-2, -1)), np.abs(det)],
        axis=-1,
    )


def _chain_stats(r, M):
    burn = 1  # the chains start at exact Gibbs draws: no burn-in needed
    per_chain = _observables(r.X[burn:], M).mean(axis=0)
    return per_chain.mean(axis=0).tolist(), (per_chain.std(axis=0) / math.sqrt(per_chain.shape[0])).tolist()


def _starts(samples, p):
    """Starting points for the dynamics: exact Gibbs draws (every chain starts in equilibrium)."""
    idx = np.linspace(0, len(samples) - 1, p["n_chains"]).astype(int)
    return samples[idx]


def _one(depth, beta, p) -> dict:
    import riemdln

    M = np.array(_M)
    E = riemdln.QuadraticEnergy(M)
    q = riemdln.gibbs_expectation(E, lambda X: _observables(X, M), depth, beta, rtol=p["tol"])
    g = riemdln.gibbs_sample(E, depth, beta, p["n_samples"], seed=p["seed"])
    vals = _observables(g.samples, M)
    out = {
        "depth": depth,
        "beta": beta,
        "quadrature": np.asarray(q.value).tolist(),
        "quadrature_error": float(np.max(q.error)),
        "mala": vals.mean(axis=0).tolist(),
        "mala_se": (vals.std(axis=0) / math.sqrt(g.effective_sample_size)).tolist(),
        "mala_acceptance": g.acceptance_rate,
    }
    X0 = _starts(g.samples, p)
    kw = dict(n_chains=p["n_chains"], seed=p["seed"], save_every=10)
    r = riemdln.langevin(E, X0, depth, beta, p["t_final"], p["dt"], **kw)
    out["langevin"], out["langevin_se"] = _chain_stats(r, M)
    r_plain = riemdln.langevin(E, X0, depth, beta, p["t_final"], p["dt"], _ito=False, **kw)
    out["no_ito"], out["no_ito_se"] = _chain_stats(r_plain, M)
    out["langevin_message"] = r.message
    # runs asked for a time (t_final), not a loss: reached when the dynamics finished
    return run_record(status=r.status.name, final_loss=None, target_loss=None, **out)


def _bias(depth, beta, p) -> dict:
    import riemdln

    M = np.array(_M)
    E = riemdln.QuadraticEnergy(M)
    q = riemdln.gibbs_expectation(E, lambda X: _observables(X, M), depth, beta, rtol=p["tol"])
    X0 = _starts(riemdln.gibbs_sample(E, depth, beta, p["n_samples"], seed=p["seed"] + 1).samples, p)
    rows = []
    for dt in p["bias_dts"]:
        for coords in ("X", "auto"):
            r = riemdln.langevin(
                E,
                X0,
                depth,
                beta,
                p["t_final"],
                dt,
                n_chains=p["n_chains"],
                seed=p["seed"],
                coordinates=coords,
                save_every=max(1, int(0.05 / dt)),
            )
            mean, se = _chain_stats(r, M)
            rows.append({"dt": dt, "coordinates": coords, "error": (np.array(mean) - q.value).tolist(), "se": se})
    return {"depth": depth, "beta": beta, "rows": rows}


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    from riemdln.studies.sweep import run_sweep

    tasks = [(N, b, params) for N in params["depths"] for b in params["betas"]]
    runs = run_sweep(_one, tasks, executor=executor, progress=progress, desc=NAME)
    bias = run_sweep(_bias, [(3, 4.0, params)], executor=executor, progress=progress, desc=NAME + " bias")[0]

    def z(key):
        return max(
            abs(a - b) / s if s > 0 else 0.0
            for r in runs
            for a, b, s in zip(r[key], r["quadrature"], r[key + "_se"], strict=True)
        )

    return {
        "runs": runs,
        "bias": bias,
        "max_z_mala": z("mala"),
        "max_z_langevin": z("langevin"),
        "max_z_no_ito": z("no_ito"),
    }


def figures(results: dict, outdir) -> list[str]:
    from riemdln.studies import PAPER_WIDTH, legend_above, pyplot

    plt = pyplot()
    fig, axes = plt.subplots(2, 1, figsize=(PAPER_WIDTH, 4.2), sharex=True)
    rows = results["bias"]["rows"]
    for ax, k, label in ((axes[0], _ABS_DET, "E[|det X|] − quadrature"), (axes[1], 2, "P(det X < 0) − quadrature")):
        for j, (coords, marker) in enumerate((("X", "o"), ("auto", "s"))):
            sel = sorted((r for r in rows if r["coordinates"] == coords), key=lambda r: r["dt"])
            shift = 1.04 if j else 1 / 1.04  # side by side on the log axis
            ax.errorbar(
                [r["dt"] * shift for r in sel],
                [r["error"][k] for r in sel],
                yerr=[2 * r["se"][k] for r in sel],
                fmt=marker,
                label="X coordinates" if coords == "X" else "auto (Y near det X = 0)",
                capsize=3,
            )
        ax.axhline(0.0, color="k", lw=0.6)
        ax.set_ylabel(label)
    dts = sorted({r["dt"] for r in rows})
    axes[1].set_xscale("log")
    axes[1].set_xlim(dts[0] / 1.6, dts[-1] * 1.6)
    axes[1].set_xticks(dts, [f"{v:g}" for v in dts])
    axes[1].minorticks_off()
    axes[1].set_xlabel("time step dt")
    legend_above(fig, axes[0], 2)
    return [save_figure(fig, outdir, f"{NAME}.png", dpi=200)]


def _caption(results: dict) -> str:
    b = results["bias"]
    return (
        f"*Bias of the Euler–Maruyama dynamics against quadrature (N = {fmt(b['depth'])}, β = {fmt(b['beta'])}) in "
        "the two observables that see det X = 0, E[|det X|] (the claim's quantity) and P(det X < 0), against the "
        "time step, for the X-coordinate scheme and the auto scheme (markers slightly offset). Error bars: ± 2 "
        "Monte Carlo standard errors of the chain mean (per-chain means over independent chains); the "
        "quadrature's own error is negligible.*"
    )


def markdown(results: dict, figs: list[str]) -> str:
    rows = []
    for r in results["runs"]:
        for k, name in enumerate(_NAMES):
            rows.append(
                [
                    fmt(r["depth"]),
                    fmt(r["beta"]),
                    name,
                    r["quadrature"][k],
                    f"{fmt(r['mala'][k])} ± {fmt(r['mala_se'][k])}",
                    f"{fmt(r['langevin'][k])} ± {fmt(r['langevin_se'][k])}",
                    f"{fmt(r['no_ito'][k])} ± {fmt(r['no_ito_se'][k])}",
                ]
            )
    brows = [
        [
            fmt(r["dt"]),
            r["coordinates"],
            f"{fmt(r['error'][1])} ± {fmt(r['se'][1])}",
            f"{fmt(r['error'][2])} ± {fmt(r['se'][2])}",
            f"{fmt(r['error'][_ABS_DET])} ± {fmt(r['se'][_ABS_DET])}",
        ]
        for r in results["bias"]["rows"]
    ]
    return "\n\n".join(
        [
            "Quadrature (the oracle), MALA in balanced factors, Langevin dynamics (auto coordinates) and the X "
            "scheme without the Itô correction (every chain started at an exact Gibbs draw, so a deviation is the "
            "scheme's bias, not a burn-in), on E = ½‖X − M‖², M = [[1, 0.3], [0, 0.5]] (± one standard error).",
            table(["N", "β", "observable", "quadrature", "MALA", "Langevin", "no Itô correction"], rows),
            f"Largest deviation from quadrature in standard errors: MALA {fmt(results['max_z_mala'])}, Langevin "
            f"{fmt(results['max_z_langevin'])}, without the Itô correction {fmt(results['max_z_no_ito'])} "
            "(the Langevin column also carries its O(dt) bias).",
            "Bias against dt (observed; X coordinates versus auto = Y near det X = 0):",
            table(
                ["dt", "coordinates", "E[X22] − quadrature", "P(det<0) − quadrature", "E[|det X|] − quadrature"],
                brows,
            ),
            *[f"![{NAME}: bias in E[|det X|] and P(det X < 0) against dt]({f})\n\n{_caption(results)}" for f in figs],
        ]
    )


#: a deviation beyond this many standard errors is resolved (|z| > 4 has probability < 1e-4 for a normal mean)
Z_RESOLVED = 4


def _n_statistics(results: dict) -> int:
    return len(results["runs"]) * len(_NAMES)


def claims(results: dict) -> list[Claim]:
    """MALA and the dynamics agree with quadrature; dropping the Itô correction does not; the det = 0 bias."""
    n = len(results["runs"])
    stats = _n_statistics(results)
    done = sum(r["reached_target"] for r in results["runs"])
    depths = ", ".join(fmt(d) for d in sorted({r["depth"] for r in results["runs"]}))
    no_ito = results["max_z_no_ito"]
    bias = _det_zero_claim(results["bias"])
    return [
        Claim(
            claim=f"the exact sampler (MALA) reproduces quadrature (2×2, N = {depths})",
            kind="theorem",
            measured=f"largest deviation {fmt(results['max_z_mala'])} standard errors over {stats} statistics",
            expected=f"within {Z_RESOLVED} standard errors (an exact sampler of the Gibbs law)",
            verdict="supported" if results["max_z_mala"] <= Z_RESOLVED else "contradicted",
            n=stats,
            reference="docs/theory.md §13",
        ),
        Claim(
            claim="the Langevin dynamics (auto coordinates) reproduce quadrature",
            kind="theorem",
            measured=f"largest deviation {fmt(results['max_z_langevin'])} standard errors over {stats} statistics",
            expected=f"within {Z_RESOLVED} standard errors, up to the O(dt) bias of Euler–Maruyama",
            verdict="cannot tell"
            if done < n
            else "supported"
            if results["max_z_langevin"] <= Z_RESOLVED
            else "contradicted",
            n=stats,
            reference="docs/theory.md §13",
        ),
        Claim(
            claim="without the Itô correction the dynamics miss the Gibbs law",
            kind="theorem",
            measured=f"largest deviation {fmt(no_ito)} standard errors over {stats} statistics",
            expected=f"beyond {Z_RESOLVED} standard errors (cannot tell when the run does not resolve it)",
            verdict="supported" if no_ito > Z_RESOLVED else "cannot tell",
            n=stats,
            reference="docs/theory.md §13",
        ),
        bias,
    ]


def summary(results: dict) -> list[dict]:
    """The claims in the older row form (``holds``)."""
    return legacy_summary(claims(results))


def _det_zero_claim(bias: dict) -> Claim:
    """At the smallest dt the X scheme is off quadrature by > 4 standard errors in E[|det X|] (its det = 0 bias),
    while "auto" is within 4 in every det-sensitive observable. "cannot tell" when the run cannot resolve the X
    scheme's bias (quick mode: few chains), "contradicted" when auto is off."""
    rows = bias["rows"]
    dt_min, dt_max = min(r["dt"] for r in rows), max(r["dt"] for r in rows)

    def z(coords, dt, k):
        (r,) = [r for r in rows if r["coordinates"] == coords and r["dt"] == dt]
        return r["error"][k] / r["se"][k] if r["se"][k] > 0 else (0.0 if r["error"][k] == 0 else math.inf)

    def err(coords, dt):
        (r,) = [r for r in rows if r["coordinates"] == coords and r["dt"] == dt]
        return r["error"][_ABS_DET]

    z_x = z("X", dt_min, _ABS_DET)
    z_auto = max(abs(z("auto", dt_min, k)) for k in _DET_SENSITIVE)
    measured = (
        f"dt = {fmt(dt_min)}: X scheme {fmt(z_x)} standard errors off in E[|det X|], auto within "
        f"{fmt(z_auto)} (P(det<0), E[|det X|])"
    )
    if dt_max > dt_min:
        measured += (
            f"; X bias {fmt(err('X', dt_max))} at dt = {fmt(dt_max)} → {fmt(err('X', dt_min))} "
            f"(auto {fmt(err('auto', dt_max))} → {fmt(err('auto', dt_min))})"
        )
    verdict = "contradicted" if z_auto > 4 else "supported" if abs(z_x) > 4 else "cannot tell"
    return Claim(
        claim=f"auto avoids the det = 0 bias of X coordinates (N = {fmt(bias['depth'])}, β = {fmt(bias['beta'])})",
        kind="observed",
        measured=measured,
        expected="X off by > 4 standard errors at the smallest dt, auto within 4 (cannot tell if X's bias is not "
        "resolved)",
        verdict=verdict,
        n=len({r["dt"] for r in rows}),
    )
