"""The diagnosis: findings and words from the pattern of failed checks and the rival models that fit."""

from __future__ import annotations

import numpy as np

from riemdln.training._judge import relative

FIRST_ORDER = 0.05  # median relative balance residual above which a defect is first order


def _fmt(x: float) -> str:
    return f"{x:.2g}"


def _lr_text(ev) -> str:
    lr = ev.lr
    if lr is None:
        return "the recorded times" if ev.run.h is not None else "some learning rate"
    if np.ndim(lr) == 0:
        return f"lr = {float(lr):g}"
    return "the given learning-rate schedule"


def _balance_pattern(ev) -> tuple[list[int], float]:
    """Failing pairs (0-based, pair j = layers j, j+1) and the median relative residual over them."""
    bal = ev.checks["balance"]
    N = ev.run.N
    failing = [j for j in range(N - 1) if bal.numbers.get(f"failed_steps_{j + 1}", 0) > 0]
    if not failing:
        return [], 0.0
    rel = relative(ev.stats["rn"], ev.stats["scale"])[:, failing]
    return failing, float(np.median(rel))


def _single_layer(failing: list[int], N: int) -> int | None:
    """The one layer every failing pair contains (None if none or ambiguous)."""
    candidates = [j for j in range(N) if all(p in (j - 1, j) for p in failing)]
    return candidates[0] if len(candidates) == 1 else None


def _energy_verdict(ev) -> tuple[str, str] | None:
    mp, fits = ev.model_pass, ev.fits
    lu = ev.checks["layer_updates"]
    N = ev.run.N
    if mp.get("lr_res") and abs(fits["lr_scale"] - 1) > 1e-6:
        return "lr_scale", (
            f"effective learning rate {fits['lr_scale']:.3g} η (loss scaled?): every layer's step is that multiple "
            f"of -η G_j (end-to-end velocity {fits['velocity_scale']:.3g} times the predicted one, second-order "
            "terms included)"
        )
    if mp.get("wd_res"):
        return "weight_decay", (
            f"weight decay λ ≈ {_fmt(fits['weight_decay'])}: each step is -η(G_j + λ W_j) with one λ for all "
            "layers and steps (gradient descent on E(W_N⋯W_1) + λ/2 Σ||W_j||², which adds -NλX to the end-to-end "
            "velocity at balanced points)"
        )
    if mp.get("mom_res"):
        return "momentum_or_adaptive", (
            f"momentum: heavy-ball steps Δ(k) = μ Δ(k-1) - η G(k) with μ ≈ {fits['momentum']:.3g} explain every "
            "layer's step (not gradient descent: the balance matrices drift at first order in the step)"
        )
    for key, which in (("seq_fwd_res", "first to last"), ("seq_bwd_res", "last to first")):
        if mp.get(key):
            return "sequential_updates", (
                f"layers updated sequentially ({which}): each layer's step is the gradient taken after the layers "
                "before it were already updated (in-place updates with fresh products), not the simultaneous "
                "gradient of E(W_N⋯W_1)"
            )
    bad = [j for j in range(N) if lu.numbers.get(f"failed_steps_{j + 1}", 0) > 0]
    if bad and len(bad) < N:
        parts = [f"{ev.layer_name(j)}: relative error {lu.numbers[f'max_relative_{j + 1}']:.2g}" for j in bad]
        good = max(lu.numbers[f"max_relative_{j + 1}"] for j in range(N) if j not in bad)
        return "layer_gradient", (
            f"{' and '.join(ev.layer_name(j).split(' (')[0] for j in bad)}'s update is not the gradient "
            f"({'; '.join(parts)}; the other layers match to {good:.1g})"
        )
    if bad:
        return "momentum_or_adaptive", (
            f"momentum or an adaptive optimizer: no layer's step is along its gradient (relative deviation "
            f"{lu.value:.2g} at step {lu.worst_step}) and neither a scaled learning rate, weight decay, heavy-ball "
            "momentum nor sequential updates explain the steps"
        )
    return None


def _balance_verdict(ev) -> tuple[str, str] | None:
    mp, fits = ev.model_pass, ev.fits
    N = ev.run.N
    failing, med = _balance_pattern(ev)
    if not failing:
        return None
    if mp.get("balance_wd") and fits["balance_weight_decay"] > 0:
        lam = fits["balance_weight_decay"]
        what = f"λ ≈ {_fmt(lam)}" if ev.run.h is not None else f"η λ ≈ {_fmt(lam)} (give `lr` for λ)"
        return (
            "weight_decay",
            f"weight decay {what}: the balance residual is -ηλ D_j with one λ for every layer and step",
        )
    if mp.get("balance_mom") and fits["balance_momentum"] > 0:
        return "momentum_or_adaptive", (
            f"momentum (heavy ball, μ ≈ {fits['balance_momentum']:.3g}): the balance residual follows "
            "R_j(k) = μ R'_j(k) (the previous step carried forward)"
        )
    bal = ev.checks["balance"]
    where = f"first-order balance residual {bal.value:.2g} at step {bal.worst_step}"
    layer = _single_layer(failing, N) if len(failing) < N - 1 else None  # every pair failing: not one layer
    if med > FIRST_ORDER and layer is not None:
        return "layer_gradient", (
            f"{ev.layer_name(layer).split(' (')[0]}'s update is not the gradient ({where}, only at the pairs "
            f"containing {ev.layer_name(layer)})"
        )
    if med > FIRST_ORDER:
        extra = " or a wrong gradient in one layer (every pair fails: give `energy` to tell)" if N <= 3 else ""
        return "momentum_or_adaptive", (
            f"momentum or an adaptive optimizer{extra}: the steps are not along the gradient ({where}, median "
            f"{med:.2g} over the failing pairs: first order)"
        )
    if ev.run.every_step:
        return "sequential_updates", (
            f"layers updated sequentially (probably): the balance residual is second order in the step ({where}, "
            f"median {med:.2g}) at every pair and no momentum fits; give `energy` to confirm"
        )
    return "momentum_or_adaptive", f"not gradient descent on a loss of the product ({where})"


def diagnose(ev) -> tuple[tuple[str, ...], str]:
    """``(findings, diagnosis)`` from an evaluation (see :func:`riemdln.check_training`, Notes)."""
    findings: list[str] = []
    sentences: list[str] = []
    fo = ev.checks.get("factor_order")
    if fo is not None and fo.passed is False:
        findings.append("factor_order")
        sentences.append(
            "factors multiplied in the opposite order: the steps are gradient descent on E(W_1⋯W_N) (balance "
            f"residual {fo.value:.2g} in that order against {ev.checks['balance'].value:.2g} in the declared one); "
            "pass order='WN_first' or fix the product"
        )
    elif not ev.gd_consistent():
        verdict = _energy_verdict(ev) if ev.has_energy else None
        if verdict is None and ev.run.N > 1:
            verdict = _balance_verdict(ev)
        if verdict is None:
            failed = [n for n, c in ev.checks.items() if c.passed is False]
            verdict = (
                "momentum_or_adaptive",
                f"not gradient descent on E(W_N⋯W_1) at {_lr_text(ev)} (failed: {', '.join(failed)})",
            )
        findings.append(verdict[0])
        sentences.append(verdict[1])
    else:
        if ev.has_energy:
            sentences.append(f"consistent with gradient descent on E(W_N⋯W_1) at {_lr_text(ev)}")
        else:
            sentences.append(
                "consistent with gradient descent on some loss of W_N⋯W_1 (balance residual at rounding level; "
                "give `energy` and `lr` to check the loss and the learning rate)"
            )
    rf = ev.checks.get("reference_flow")
    if rf is not None and rf.status in ("passed", "failed"):
        sentences.append(f"deviation from the exact flow {rf.value:.2g} (tolerance {rf.tolerance:.2g})")
    order = ev.checks.get("order")
    if order is not None and order.value is not None:
        sentences.append(f"estimated order of the deviation {order.value:.2f}")
    if not ev.balanced:
        findings.append("unbalanced_start")
        sentences.append(
            f"unbalanced start (balance defect {ev.start_rel:.2g}): the Riemannian flow does not apply; compared "
            "with the network's own end-to-end dynamics"
        )
    text = "; ".join(sentences)
    return tuple(findings), text[:1].upper() + text[1:] + "."
