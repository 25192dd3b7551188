"""riemdln.check_training against training loops with known defects (tests/training_runs.py).

The truth is the planted defect (what the loop really does), never a number from the checker: a correct loop
must pass, each defective one must be diagnosed by name, and the fitted parameters must be the planted ones.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import training_runs as tr

import riemdln
from riemdln import RiemdlnValueError, TrainingRecorder, check_training

# the finding each planted defect must produce when the energy and the learning rate are given
EXPECTED = {
    "none": (),
    "layer_gradient": ("layer_gradient",),
    "missing_transpose": ("layer_gradient",),
    "sequential": ("sequential_updates",),
    "weight_decay": ("weight_decay",),
    "momentum": ("momentum_or_adaptive",),
    "adam": ("momentum_or_adaptive",),
    "loss_scale": ("lr_scale",),
    "wrong_order": ("factor_order",),
}
# from the weights alone (no energy): what the balance residual can tell
EXPECTED_WEIGHTS_ONLY = {
    "none": (),
    "weight_decay": ("weight_decay",),
    "momentum": ("momentum_or_adaptive",),
    "adam": ("momentum_or_adaptive",),
    "loss_scale": (),  # a scaled loss is still a loss of the product: only the energy can tell
    "wrong_order": ("factor_order",),
}

FAST = [(5, 2), (10, 3), (8, 5)]
GRID = [(d, N) for d in (5, 20, 50, 100) for N in (2, 3, 4, 5)]


def _run(d, N, defect, steps=25, frac=0.3, seed=0):
    p = tr.problem(d, seed=seed)
    lr = 1e-3 if defect == "adam" else frac * tr.stable_lr(p, N)
    W0 = tr.start(p, N, seed=seed)
    return p, lr, tr.train(p, W0, lr, steps, defect)


def _assert_defects(d, N):
    for defect, expected in EXPECTED.items():
        p, lr, recs = _run(d, N, defect)
        c = check_training(recs, lr=lr, energy=p)
        assert c.findings == expected, (defect, c.diagnosis)
        assert c.consistent == (defect == "none"), (defect, c.summary())
        if defect in EXPECTED_WEIGHTS_ONLY:
            c0 = check_training(recs, lr=lr)
            assert c0.findings == EXPECTED_WEIGHTS_ONLY[defect], (defect, c0.diagnosis)
        if defect == "weight_decay":
            assert c.fits["weight_decay"] == pytest.approx(1e-2, rel=1e-6)
            assert c.diagnosis.startswith("Weight decay λ ≈ 0.01")
        if defect == "momentum":
            assert c.fits["momentum"] == pytest.approx(0.9, rel=1e-6)
        if defect == "loss_scale":
            assert c.fits["lr_scale"] == pytest.approx(2.0, rel=1e-9)
            assert c.diagnosis.startswith("Effective learning rate 2 η")
        if defect in ("layer_gradient", "missing_transpose"):
            bad = N // 2 + 1  # the planted layer (theory numbering)
            assert c.diagnosis.startswith(f"Layer {bad}'s update is not the gradient"), c.diagnosis
            assert c.checks["layer_updates"].worst_layer == bad


def _assert_no_false_alarm_at_the_edge(d, N, fraction=0.95):
    p = tr.problem(d, seed=1)
    lr = tr.edge_lr(p, N, seed=1, fraction=fraction)
    recs = tr.train(p, tr.start(p, N, seed=1), lr, 150)
    c = check_training(recs, lr=lr, energy=p)
    assert c.consistent and c.findings == (), c.summary()
    assert c.diagnosis == f"Consistent with gradient descent on E(W_N⋯W_1) at lr = {lr:g}."


@pytest.mark.parametrize(("d", "N"), FAST, ids=[f"{d}x{d}-N{N}" for d, N in FAST])
def test_planted_defects_are_diagnosed(d, N):
    _assert_defects(d, N)


@pytest.mark.parametrize(("d", "N"), FAST, ids=[f"{d}x{d}-N{N}" for d, N in FAST])
def test_correct_run_near_the_stability_limit_is_not_flagged(d, N):
    _assert_no_false_alarm_at_the_edge(d, N)


@pytest.mark.slow
@pytest.mark.parametrize(("d", "N"), GRID, ids=[f"{d}x{d}-N{N}" for d, N in GRID])
def test_planted_defects_grid(d, N):
    _assert_defects(d, N)
    _assert_no_false_alarm_at_the_edge(d, N)
    p = tr.problem(d, seed=2)
    lr = 0.3 * 0.3 * tr.stable_lr(p, N)
    recs = tr.train(p, tr.start(p, N, seed=2, balanced=False), lr, 25)
    c = check_training(recs, lr=lr, energy=p)
    assert c.findings == ("unbalanced_start",) and c.consistent, c.summary()


def test_unbalanced_start_is_reported_not_flagged():
    p = tr.problem(10, seed=3)
    lr = 0.1 * tr.stable_lr(p, 3)
    recs = tr.train(p, tr.start(p, 3, seed=3, balanced=False), lr, 40)
    c = check_training(recs, lr=lr, energy=p)
    assert c.consistent and c.findings == ("unbalanced_start",)
    assert "unbalanced start" in c.diagnosis and "network's own end-to-end dynamics" in c.diagnosis
    assert c.checks["start"].status == "note" and c.checks["start"].value > 0.01
    # a defect from an unbalanced start is still found
    recs = tr.train(p, tr.start(p, 3, seed=3, balanced=False), lr, 40, "weight_decay")
    c = check_training(recs, lr=lr, energy=p)
    assert c.findings == ("weight_decay", "unbalanced_start")
    c = check_training(recs, lr=lr)  # from an unbalanced start D_j is O(1): the weights alone identify λ
    assert c.findings == ("weight_decay", "unbalanced_start")
    assert c.fits["balance_weight_decay"] == pytest.approx(1e-2, rel=1e-6)


def test_localized_layer_without_energy():
    """Depth 4, planted in layer 3: only the pairs (2, 3) and (3, 4) fail, so the weights alone name layer 3."""
    p, lr, recs = _run(12, 4, "missing_transpose")
    c = check_training(recs, lr=lr)
    assert c.findings == ("layer_gradient",)
    assert c.diagnosis.startswith("Layer 3's update is not the gradient")


def test_sequential_without_energy_at_moderate_lr():
    p, lr, recs = _run(20, 3, "sequential", frac=0.1)
    assert check_training(recs, lr=lr).findings == ("sequential_updates",)


def test_wn_first_order_and_list_reversal():
    p, lr, recs = _run(6, 3, "wrong_order")
    c = check_training(recs, lr=lr, order="WN_first")  # the run's own order: X = weights[0] @ ... @ weights[-1]
    assert c.consistent and c.findings == ("unbalanced_start",)  # its start was balanced for the other order
    p, lr, recs = _run(6, 3, "none")
    c1 = check_training(recs, lr=lr, energy=p)
    c2 = check_training([r[::-1] for r in recs], lr=lr, energy=p, order="WN_first")
    assert c1.findings == c2.findings == () and c1.checks["balance"].value == c2.checks["balance"].value


def test_records_every_k_steps_and_schedule():
    p, lr, recs = _run(10, 3, "none", steps=60)
    steps = list(range(0, 61, 5))
    c = check_training(recs[::5], steps=steps, lr=lr, energy=p)
    assert c.consistent, c.summary()
    assert c.checks["balance_identity"].status == "skipped"
    c = check_training(recs[::5], steps=steps, lr=[lr] * 60, energy=p)  # the same as a schedule
    assert c.consistent
    # first-order defects are still found with every-5-step records
    p, lr, recs = _run(10, 3, "missing_transpose", steps=60)
    assert check_training(recs[::5], steps=steps, lr=lr, energy=p).findings == ("layer_gradient",)


def test_reference_flow_and_order():
    p = tr.problem(8, seed=4)
    N = 3
    lr = 0.2 * tr.stable_lr(p, N)
    W0 = tr.start(p, N, seed=4)
    recs, half = tr.train(p, W0, lr, 80), tr.train(p, W0, lr / 2, 160)
    c = check_training(recs, lr=lr, energy=p, refinement=half)
    assert c.consistent, c.summary()
    assert c.checks["reference_flow"].passed and c.checks["order"].value == pytest.approx(1.0, abs=0.2)
    assert c.series["flow_deviation"].shape == (81,)


def test_bit_for_bit_from_a_recorder_and_copies():
    p, lr, recs = _run(6, 2, "momentum")
    rec = TrainingRecorder()
    for k, r in enumerate(recs):
        rec.record(k, r)
    assert check_training(rec, lr=lr, energy=p) == check_training(recs, lr=lr, energy=p)
    recs[0][0][:] = 0.0  # the recorder kept copies
    assert not np.array_equal(rec.weights[0][0], recs[0][0])


def test_recorder_memory_is_bounded():
    rec = TrainingRecorder(every=1, max_records=10)
    for k in range(1000):
        rec.record(k, [np.full((2, 2), float(k))])
        assert len(rec) <= 10
    steps = np.array(rec.steps)
    assert steps[0] == 0 and len(set(np.diff(steps))) == 1  # evenly spaced after thinning
    assert rec.every == steps[1] - steps[0]
    assert all(float(w[0][0, 0]) == s for w, s in zip(rec.weights, rec.steps, strict=True))
    with pytest.raises(RiemdlnValueError, match="`step`"):
        rec.record(3, [np.eye(2)])
    with pytest.raises(RiemdlnValueError, match="`max_records`"):
        TrainingRecorder(max_records=2)


def test_float32_records_are_judged_by_float32_rounding():
    p, lr, recs = _run(10, 3, "none")
    W = [[w.astype(np.float32) for w in r] for r in recs]  # an honest float32 run: recompute in float32
    W = [[w.astype(np.float32) for w in tr.start(p, 3)]]
    for _ in range(25):
        G = tr.layer_grads(p, [w.astype(np.float64) for w in W[-1]])
        W.append(
            [(w - np.float32(lr) * g.astype(np.float32)).astype(np.float32) for w, g in zip(W[-1], G, strict=True)]
        )
    c = check_training(W, lr=lr, energy=p)
    assert c.consistent, c.summary()
    assert c.checks["balance"].tolerance > 1e-6  # float32 rounding, not float64's


def test_user_energy_callables_are_checked():
    p, lr, recs = _run(5, 2, "none")
    calls = {"n": 0}

    def grad(X):
        calls["n"] += 1
        return np.where(p.mask, X - p.target, 0.0)

    def loss(X):
        return float(p.loss(X))

    assert check_training(recs, lr=lr, energy=(loss, grad)).consistent
    assert calls["n"] > 0

    def nan_at_record_3(X):  # the records are evaluated in order: the 4th call is record 3 (step 3)
        calls["bad"] = calls.get("bad", 0) + 1
        return np.full(X.shape, np.nan) if calls["bad"] == 4 else grad(X)

    with pytest.raises(RiemdlnValueError, match=r"`energy\[1\] \(the gradient\)` returned non-finite.*step 3"):
        check_training(recs, lr=lr, energy=(loss, nan_at_record_3))


def test_user_energy_wrong_shape_and_loss():
    p, lr, recs = _run(5, 2, "none")
    with pytest.raises(RiemdlnValueError, match=r"`energy\[1\] \(the gradient\)` must return a real array of shape"):
        check_training(recs, lr=lr, energy=(lambda X: 0.0, lambda X: np.zeros((2, 2))))
    with pytest.raises(RiemdlnValueError, match=r"`energy\[0\] \(the loss\)` must return a finite real number"):
        check_training(recs, lr=lr, energy=(lambda X: float("inf"), lambda X: np.zeros((5, 5))))
    with pytest.raises(RiemdlnValueError, match="`energy` must be an energy of 5x5"):
        check_training(recs, lr=lr, energy=riemdln.QuadraticEnergy(np.eye(3)))


def test_bad_input():
    p, lr, recs = _run(5, 3, "none", steps=4)
    with pytest.raises(RiemdlnValueError, match="at least two records"):
        check_training(recs[:1])
    ragged = [r[:] for r in recs]
    ragged[2] = [np.zeros((5, 4)), *ragged[2][1:]]
    with pytest.raises(RiemdlnValueError, match="same layer shapes.*record 2"):
        check_training(ragged)
    with pytest.raises(RiemdlnValueError, match="do not chain in order='W1_first'; they chain with order='WN_first'"):
        check_training([[np.ones((4, 5)), np.ones((5, 3))], [np.ones((4, 5)), np.ones((5, 3))]])
    bad = [[w.copy() for w in r] for r in recs]
    bad[3][1][0, 0] = np.nan
    bad[4][0][0, 0] = np.inf
    with pytest.raises(RiemdlnValueError, match=r"weights\[3\]\[1\] \(step 3\) is the first"):
        check_training(bad)
    with pytest.raises(RiemdlnValueError, match="`lr` as a schedule must give one learning rate per step.*4 steps"):
        check_training(recs, lr=[lr] * 3)
    with pytest.raises(RiemdlnValueError, match="`lr` must be a finite real number > 0"):
        check_training(recs, lr=-1.0)
    with pytest.raises(RiemdlnValueError, match="`steps` must be 5 increasing"):
        check_training(recs, steps=[0, 1, 1, 2, 3])
    with pytest.raises(RiemdlnValueError, match="`order` must be one of"):
        check_training(recs, order="forward")
    with pytest.raises(RiemdlnValueError, match="`lr` and `times` exclude each other"):
        check_training(recs, lr=lr, times=[0, 1, 2, 3, 4])
    with pytest.raises(RiemdlnValueError, match=r"`weights\[0\]\[0\]` must be a real 2-d matrix"):
        check_training([[np.zeros((2, 2, 2))], [np.zeros((2, 2, 2))]])
    same = [np.eye(3), np.eye(3)]
    with pytest.raises(RiemdlnValueError, match=r"`weights\[1\]\[0\]` is the same object as `weights\[0\]\[0\]`"):
        check_training([same, same])  # the same arrays appended at every step, updated in place
    with pytest.raises(RiemdlnValueError, match=r"`weights\[1\]\[1\]` shares memory with `weights\[0\]\[1\]`"):
        check_training([[np.eye(3), same[1]], [np.eye(3), same[1][:]]])  # views of one array
    with pytest.raises(RiemdlnValueError, match="`energy` must be a riemdln energy"):
        check_training(recs, lr=lr, energy="quadratic")


def test_continuous_time_run():
    """A factor_flow solution sampled at its own times is a continuous run: consistent, no balance drift."""
    p = tr.problem(6, seed=5)
    W0 = tr.start(p, 2, seed=5)
    t = np.linspace(0.0, 0.5, 41)
    res = riemdln.factor_flow(p, W0, t_final=0.5, t_eval=t, rtol=1e-12, atol=1e-14)
    recs = [[f[k] for f in res.factors] for k in range(len(t))]
    c = check_training(recs, times=t, energy=p)
    assert c.consistent, c.summary()
    assert c.checks["balance_identity"].status == "skipped"


def test_summary_and_plot():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    p, lr, recs = _run(5, 2, "none")
    c = check_training(recs, lr=lr, energy=p, reference_flow=True)
    text = c.summary()
    assert text.splitlines()[0] == c.diagnosis and "balance" in text and "reference_flow" in text
    fig = c.plot()
    assert len(fig.axes) == 3
    assert math.isfinite(c.checks["velocity"].value)


def test_sequential_residual_structure():
    """The derivation behind the sequential-updates rule, certified on a planted run.

    Forward in-place updates: layer j's gradient is taken with layers 1..j-1 already updated. For a quadratic E
    the balance residual is exactly R_j = D_j D_j^T - eta S_j^T P_Omega(S_j D_j P') P'^T W_j(k+1)^T, with S_j the
    (not yet updated) layers above j and P' the product of the updated layers below it: second order in the step.
    """
    p = tr.problem(7, seed=9)
    N = 3
    lr = 0.2 * tr.stable_lr(p, N)
    recs = tr.train(p, tr.start(p, N, seed=9), lr, 3, "sequential")
    for k in range(3):
        old, new = recs[k], recs[k + 1]
        for j in range(N - 1):
            D = [b - a for a, b in zip(old, new, strict=True)]
            R = old[j + 1].T @ D[j + 1] - D[j] @ old[j].T
            S = np.eye(7)
            for w in old[j + 1 :][::-1]:
                S = S @ w
            P = np.eye(7)
            for w in new[:j]:
                P = w @ P
            pred = D[j] @ D[j].T - lr * S.T @ np.where(p.mask, S @ D[j] @ P, 0.0) @ P.T @ new[j].T
            assert np.linalg.norm(R - pred) <= 1e-12 * np.linalg.norm(R)
            assert np.linalg.norm(R) > 1e-3 * np.linalg.norm(old[j + 1].T @ D[j + 1])  # not rounding
