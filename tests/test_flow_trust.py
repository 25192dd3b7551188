"""Can the simulators' statuses be trusted? Each status checked against an independent truth.

Truths used: threadpoolctl's own report of the BLAS thread count inside a run; tight-tolerance reference runs
(rtol 1e-12) of the same flow for FINISHED and for INACCURATE (an accurate run agrees with them, an INACCURATE
one demonstrably does not); the loss recomputed from the returned state for events on the CVODE path.
"""

from __future__ import annotations

import numpy as np
import pytest

import riemdln
from riemdln import CompletionProblem
from riemdln.flows import Event, Status, _cvode, _driver, end_to_end_flow, loss_below

RAZIN_COHEN_X0 = 1e-3 * np.array([[1.0, 0.3], [-0.2, 0.8]])  # det > 0
T_EVAL = np.logspace(-1, 12, 60)


# ------------------------------------------------------------------------------------------ BLAS threads
def _blas_threads() -> int:
    """The largest thread count of the loaded BLAS libraries. (Not one common count: a library built
    single-threaded, such as the OpenBLAS an optional solver of cvxpy brings, reports 1 whatever is asked.)"""
    from threadpoolctl import threadpool_info

    counts = [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]
    assert counts, "no BLAS library loaded"
    return max(counts)


def _recording_event(seen: list) -> Event:
    """A non-terminal event whose function records the BLAS thread count each time the run evaluates it
    (events are evaluated only inside the integration loop, unlike the energy, which input checks call)."""

    def fn(t, X, problem):
        seen.append(_blas_threads())
        return 1.0

    return Event("threads", fn, terminal=False)


@pytest.mark.parametrize("flow", ["end_to_end_flow", "factor_flow", "factor_descent"])
@pytest.mark.parametrize(("wanted", "expected"), [(None, 1), ("2", 2)])
def test_blas_thread_policy(monkeypatch, flow, wanted, expected):
    """One BLAS thread inside a run by default; RIEMDLN_BLAS_THREADS=2 gives 2; the caller's count is back after."""
    from threadpoolctl import threadpool_limits

    for var in _driver._BLAS_ENV:
        monkeypatch.delenv(var, raising=False)
    if wanted is None:
        monkeypatch.delenv("RIEMDLN_BLAS_THREADS", raising=False)
    else:
        monkeypatch.setenv("RIEMDLN_BLAS_THREADS", wanted)
    seen: list[int] = []
    ev = _recording_event(seen)
    E = riemdln.QuadraticEnergy(np.array([[1.0, 0.5], [0.2, 2.0]]))
    X0 = np.array([[0.3, 0.1], [0.0, 0.4]])
    W = riemdln.balanced_factors(X0, 2)
    run = {
        "end_to_end_flow": lambda: end_to_end_flow(E, X0, 2, 1.0, events=ev),
        "factor_flow": lambda: riemdln.factor_flow(E, W, 1.0, events=ev),
        "factor_descent": lambda: riemdln.factor_descent(E, W, 0.01, 5, events=ev),
    }[flow]
    with threadpool_limits(limits=3, user_api="blas"):  # the caller's own choice, distinct from 1 and 2
        caller = _blas_threads()
        res = run()
        after = _blas_threads()
    assert caller == 3
    assert res.success
    assert len(seen) > 1 and set(seen) == {expected}
    assert after == caller


class _RecordingEnergy:
    """A quadratic energy (loss ½‖X − M‖², user API only) whose gradient records the BLAS thread count."""

    def __init__(self, M, seen: list):
        self.M, self.seen, self.shape = np.asarray(M, dtype=float), seen, np.shape(M)

    def loss(self, X):
        return 0.5 * float(np.sum((np.asarray(X) - self.M) ** 2))

    def gradient(self, X):
        self.seen.append(_blas_threads())
        return np.asarray(X) - self.M


def test_blas_thread_policy_langevin(monkeypatch):
    """Langevin dynamics runs under the same one-thread BLAS policy (the energy sees one thread)."""
    from threadpoolctl import threadpool_limits

    for var in (*_driver._BLAS_ENV, "RIEMDLN_BLAS_THREADS"):
        monkeypatch.delenv(var, raising=False)
    seen: list[int] = []
    E = _RecordingEnergy(np.diag([1.0, 2.0, 3.0]), seen)
    with threadpool_limits(limits=3, user_api="blas"):
        riemdln.langevin(E, np.eye(3), 2, 50.0, 0.005, 1e-3, n_chains=4, seed=0)
        after = _blas_threads()
    assert len(seen) > 1 and set(seen) == {1}
    assert after == 3


def test_blas_user_environment_is_respected(monkeypatch):
    """With OPENBLAS_NUM_THREADS set by the user the simulators leave the thread count alone."""
    from threadpoolctl import threadpool_limits

    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    seen: list[int] = []
    E = riemdln.QuadraticEnergy(np.eye(2))
    with threadpool_limits(limits=3, user_api="blas"):
        end_to_end_flow(E, np.array([[0.3, 0.1], [0.0, 0.4]]), 2, 1.0, events=_recording_event(seen))
    assert seen and set(seen) == {3}


# ------------------------------------------------------------------- razin-cohen: FINISHED and INACCURATE
@pytest.fixture(scope="module")
def razin_cohen_n2():
    """At N = 2: the default-tolerance run (it ends INACCURATE), the rtol = 1e-10 run, and a rtol = 1e-12 reference
    saved at T_EVAL and at the default run's last two times."""
    p = CompletionProblem.named("razin-cohen-2x2")
    kw = dict(normalized=True)
    default = end_to_end_flow(p, RAZIN_COHEN_X0, 2, 1e12, t_eval=T_EVAL, **kw)
    tight = end_to_end_flow(p, RAZIN_COHEN_X0, 2, 1e12, t_eval=T_EVAL, rtol=1e-10, atol=1e-12, **kw)
    times = np.union1d(T_EVAL, default.t[-2:])
    ref = end_to_end_flow(p, RAZIN_COHEN_X0, 2, 1e12, t_eval=times, rtol=1e-12, atol=1e-14, **kw)
    return default, tight, ref, times


def _check_accurate_run(res, ref_X, ref_loss, final_loss):
    """FINISHED, det X > 0, loss non-increasing, and agreement with the reference at every saved time."""
    assert res.status == Status.FINISHED, res.message
    assert res.success
    np.testing.assert_array_equal(res.t, T_EVAL)
    assert set(res["det_sign"].tolist()) == {1.0}
    loss = res["loss"]
    assert np.all(np.diff(loss) <= 1e-6 * loss[:-1])
    # entry-wise relative to each entry's scale (‖X‖ grows to 1e4; the observed entries stay ~1)
    assert np.max(np.abs(res.X - ref_X) / np.maximum(np.abs(ref_X), 1.0)) <= 1e-5
    # the loss (~1e-9, a difference of O(1) entries) to 1 %, and the audit's figure
    np.testing.assert_allclose(loss, ref_loss, rtol=1e-2)
    assert loss[-1] == pytest.approx(final_loss, rel=2e-2)


@pytest.mark.slow
def test_razin_cohen_n2_rtol_1e10_is_finished_and_accurate(razin_cohen_n2):
    _, tight, ref, times = razin_cohen_n2
    keep = np.isin(times, T_EVAL)
    _check_accurate_run(tight, ref.X[keep], ref["loss"][keep], 2.40e-9)


@pytest.mark.slow
def test_razin_cohen_n3_rtol_1e10_is_finished_and_accurate():
    p = CompletionProblem.named("razin-cohen-2x2")
    kw = dict(normalized=True, t_eval=T_EVAL)
    res = end_to_end_flow(p, RAZIN_COHEN_X0, 3, 1e12, rtol=1e-10, atol=1e-12, **kw)
    ref = end_to_end_flow(p, RAZIN_COHEN_X0, 3, 1e12, rtol=1e-12, atol=1e-14, **kw)
    _check_accurate_run(res, ref.X, ref["loss"], 2.40e-10)


@pytest.mark.slow
def test_inaccurate_status_is_honest(razin_cohen_n2):
    """Default tolerances at N = 2 to 1e12 end INACCURATE; the state where that was declared really is off the
    tight reference by far more than the tolerances (and the early trajectory is not: the reference is sound)."""
    default, _, ref, times = razin_cohen_n2
    assert default.status == Status.INACCURATE and not default.success
    assert "loss rose" in default.message
    assert default.t[-1] < 1e12
    i = int(np.searchsorted(times, default.t[-1]))
    assert times[i] == default.t[-1]
    X, X_ref = default.X[-1], ref.X[i]
    # the observed off-diagonal entries (exactly 1 at the limit) are off by > 1000 rtol ...
    assert np.max(np.abs(X[[0, 1], [1, 0]] - X_ref[[0, 1], [1, 0]])) > 1e3 * 1e-8
    # ... and the loss by more than 5 %
    assert abs(default["loss"][-1] / ref["loss"][i] - 1) > 0.05
    # early on (t <= 10, matrix form, before the drift) the same run agrees with the reference to ~ rtol
    early = default.t <= 10
    j = np.searchsorted(times, default.t[early])
    np.testing.assert_allclose(default.X[early], ref.X[j], rtol=1e-5, atol=1e-9)


# ------------------------------------------------------------------------ events on the CVODE path
def test_loss_below_event_matches_returned_state_on_cvode(monkeypatch):
    """45x45 (2025 states > 1600): method="auto" runs CVODE matrix-free; the event's threshold is the returned
    state's loss, recomputed from X, and the returned time is the event's."""
    d = 45
    assert _driver.resolve_method("auto", d * d) == "CVODE"
    p = CompletionProblem.random(d, d, 2, int(0.4 * d * d), seed=0)
    X0 = 1e-3 * np.random.default_rng(1).standard_normal((d, d)) / np.sqrt(d)
    steps = {"n": 0}
    original = _cvode.CVODESolver.step

    def counted(self):
        steps["n"] += 1
        return original(self)

    monkeypatch.setattr(_cvode.CVODESolver, "step", counted)
    res = end_to_end_flow(p, X0, 3, 1e9, normalized=True, events=loss_below(1e-6))
    assert steps["n"] > 10  # the run went through CVODE
    assert res.status == Status.EVENT and res.stop_event == "loss_below"
    assert res.t[-1] == res.t_events["loss_below"][-1]
    assert float(p.loss(res.X[-1])) == pytest.approx(1e-6, rel=1e-6)
    assert res["loss"][-1] == pytest.approx(1e-6, rel=1e-6)
    assert res["loss"][-2] > 1e-6  # the state before the event had not yet crossed


# ------------------------------------------------------------------------------------------ diagnostics memory
@pytest.mark.parametrize("shape", [(6, 6), (4, 7)])
def test_diagnostics_in_chunks_equal_the_whole_stack(monkeypatch, shape):
    """Diagnostics are computed a chunk of states at a time (memory); the numbers are the whole stack's."""
    from riemdln.flows import result

    rng = np.random.default_rng(3)
    X = rng.standard_normal((50, *shape))
    X[7] = np.outer(np.arange(1.0, shape[0] + 1), np.ones(shape[1]))  # a rank-one state among them
    p = CompletionProblem.random(*shape, 2, 15, seed=1)
    whole = result.trajectory_diagnostics(p, X, 3.0, True)
    monkeypatch.setattr(result, "_DIAGNOSTIC_ENTRIES", 7 * shape[0] * shape[1])  # chunks of 7 states
    chunked = result.trajectory_diagnostics(p, X, 3.0, True)
    assert whole.keys() == chunked.keys()
    for key in whole:  # to rounding: numpy's vectorized sums may group a reduction differently per array size
        np.testing.assert_allclose(chunked[key], whole[key], rtol=1e-14, atol=0, err_msg=key)
