"""The deviation of a recorded run from riemdln's exact flow at matched times, and its order in the step."""

from __future__ import annotations

import numpy as np

from riemdln.training._judge import SAFETY, CheckResult, skipped


def _energy_object(ev):
    from riemdln.problems.energies import Energy

    e = ev.run.energy
    if hasattr(e, "energy"):
        return e.energy
    return Energy(e._loss, e._grad, shape=e.shape)


def _products(W_records) -> np.ndarray:
    out = []
    for rec in W_records:
        X = rec[0]
        for w in rec[1:]:
            X = w @ X
        out.append(X)
    return np.array(out)


def _flow(ev, times: np.ndarray):
    from riemdln.flows import end_to_end_flow, factor_flow

    problem = _energy_object(ev)
    W0 = ev.run.W[0]
    if ev.balanced and ev.run.N > 1:
        X0 = _products([W0])[0]
        return end_to_end_flow(problem, X0, depth=ev.run.N, t_final=float(times[-1]), t_eval=times)
    return factor_flow(problem, W0, t_final=float(times[-1]), t_eval=times)


def _deviation(X: np.ndarray, Xf: np.ndarray) -> np.ndarray:
    nf = np.linalg.norm(Xf, axis=(1, 2))
    return np.linalg.norm(X - Xf, axis=(1, 2)) / np.where(nf > 0, nf, 1.0)


def _sv_deviation(X: np.ndarray, sf: np.ndarray) -> float:
    """max_k max_i |s_i(X_k) - s_i(X_flow)| / s_1(X_flow) (the singular-value trajectories against the flow's)."""
    s = np.linalg.svd(X, compute_uv=False)
    top = np.where(sf[:, :1] > 0, sf[:, :1], 1.0)
    return float(np.max(np.abs(s - sf) / top))


def reference_checks(ev, refinement) -> None:
    """Add ``"reference_flow"`` (and ``"order"`` with a refinement) to ``ev.checks``."""
    run = ev.run
    if run.energy is None or run.h is None:
        ev.checks["reference_flow"] = skipped("reference_flow", "needs `energy` and `lr` or `times`")
        return
    t = np.concatenate([[0.0], np.cumsum(run.h)])
    X = _products(run.W)
    t_all = t
    X2 = t2 = None
    if refinement is not None:
        if ev.lr is None or np.ndim(ev.lr) != 0:
            ev.checks["order"] = skipped("order", "a refinement needs a scalar `lr` (the refined run has lr / 2)")
        else:
            from riemdln.training._inputs import build_run

            run2, _ = build_run(
                refinement,
                lr=float(ev.lr) / 2,
                times=None,
                energy=None,
                order="WN_first" if ev.reverse else "W1_first",
                steps=None,
                name="refinement",
            )
            t2 = (run2.steps - run2.steps[0]) * float(ev.lr) / 2
            X2 = _products(run2.W)
            t_all = np.union1d(t, t2)
    res = _flow(ev, t_all)
    if not res.success or len(res.t) != len(t_all):
        ev.checks["reference_flow"] = CheckResult(
            name="reference_flow",
            status="skipped",
            passed=None,
            value=None,
            tolerance=None,
            why=f"the reference flow did not reach the last record: {res.message}",
        )
        return
    Xf = res.X
    idx = np.searchsorted(t_all, t)
    dev = _deviation(X, Xf[idx])
    # Euler's local error of the step k -> k+1 ~ 1/2 ||X_(k+1) - 2 X_k + X_(k-1)|| (the first step borrows the
    # second difference at record 1), accumulated without amplification
    second = np.zeros(len(t))
    if len(t) > 2:
        s_steps = np.maximum(np.diff(run.steps), 1).astype(float)
        d2 = 0.5 * np.linalg.norm(X[2:] - 2 * X[1:-1] + X[:-2], axis=(1, 2)) / s_steps[1:]
        local = np.concatenate([d2[:1], d2])  # s steps of (1/2) h^2 X'' each, h^2 X'' = second difference / s^2
        second[1:] = np.cumsum(local)
    nf = np.linalg.norm(Xf[idx], axis=(1, 2))
    tol = SAFETY * (second + 1e-6 * nf) / np.where(nf > 0, nf, 1.0)
    k = int(np.argmax(dev / tol))
    passed = bool(np.all(dev <= tol))
    ev.series["flow_deviation"] = dev
    ev.series["flow_loss"] = res["loss"][idx]
    ev.checks["reference_flow"] = CheckResult(
        name="reference_flow",
        status="passed" if passed else "failed",
        passed=passed,
        value=float(dev[k]),
        tolerance=float(tol[k]),
        why=(
            "||X_k - X_flow(t_k)|| / ||X_flow(t_k)||, t_k the accumulated time steps; the exact flow is "
            + ("end_to_end_flow (balanced start)" if ev.balanced else "factor_flow (unbalanced start)")
            + "; tolerance 10 [sum of the Euler local errors 1/2 ||X_(k+1) - 2 X_k + X_(k-1)|| + 1e-6 (the flow's "
            "own accuracy)], no amplification assumed (contracting dynamics)"
        ),
        numbers={  # type: ignore[arg-type]
            "max_deviation": float(dev.max()),
            "final_deviation": float(dev[-1]),
            "singular_value_deviation": _sv_deviation(X, res["singular_values"][idx]),
            "loss_deviation": float(
                np.max(np.abs(ev.stats["loss"] - res["loss"][idx][:-1]) / np.maximum(res["loss"][idx][:-1], 1e-300))
            )
            if "loss" in ev.stats
            else 0.0,
        },
        worst_step=int(run.steps[k]),
    )
    if X2 is not None and t2 is not None:
        common = np.intersect1d(t, t2)
        d1 = _deviation(X[np.searchsorted(t, common)], Xf[np.searchsorted(t_all, common)])
        d2_ = _deviation(X2[np.searchsorted(t2, common)], Xf[np.searchsorted(t_all, common)])
        ok = (d1 > 0) & (d2_ > 0)
        p = float(np.log2(np.max(d1[ok]) / np.max(d2_[ok]))) if ok.any() else float("nan")
        passed = bool(abs(p - 1) <= 0.5) if np.isfinite(p) else None
        ev.checks["order"] = CheckResult(
            name="order",
            status="passed" if passed else ("failed" if passed is False else "skipped"),
            passed=passed,
            value=p if np.isfinite(p) else None,
            tolerance=0.5,
            why="log2 of the largest deviation from the flow at lr over that at lr/2 (common times); gradient "
            "descent is first order: |order - 1| <= 0.5 (larger learning rates are not yet in the asymptotic regime)",
            numbers={"deviation_lr": float(np.max(d1)), "deviation_half_lr": float(np.max(d2_))},  # type: ignore[arg-type]
        )
