"""Guards of the factor-level simulators: rank-deficient balanced starts, bounded memory, bad arguments.

Truths used: the rank of the product of factors (structural: a width-one network's product has rank <= 1
whatever the integrator does; the first-order change of an unbalanced start); the number of accepted steps
counted independently of the saved states; the asked ``t_eval``.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

from riemdln import CompletionProblem, RiemdlnValueError
from riemdln.flows import _driver, balanced_factors, factor_descent, factor_flow
from riemdln.flows.end_to_end import _max_saved

RANK_ONE = 1e-3 * np.outer([1.0, 2.0], [0.5, -1.0])


# ---------------------------------------------------------------------------- rank-deficient balanced starts
@pytest.mark.parametrize("name", ["razin-cohen-2x2", "menon-2x2"])
@pytest.mark.parametrize("N", [2, 3])
@pytest.mark.parametrize("gauge", [None, 7])
def test_rank_one_balanced_factors_are_refused(name, N, gauge):
    """For N >= 2 the exact flow cannot change the rank of X from balanced factors: refuse, do not wander."""
    p = CompletionProblem.named(name)
    for X0 in (RANK_ONE, np.ones((2, 2))):
        W = balanced_factors(X0, N, rng=gauge)
        # the start really is rank one to numpy's tolerance (else the refusal would be the wrong truth)
        assert np.linalg.matrix_rank(W[-1] @ W[0] if N == 2 else W[2] @ W[1] @ W[0]) == 1
        with pytest.raises(RiemdlnValueError, match=r"`factors` are balanced and multiply to an X0 of rank 1 < 2"):
            factor_flow(p, W, 10.0)
        with pytest.raises(RiemdlnValueError, match=r"`factors` are balanced .* rank 1 < 2"):
            factor_descent(p, W, 0.01, 10)


@pytest.mark.parametrize("N", [2, 3])
def test_zero_factors_are_refused(N):
    """All-zero factors are balanced and multiply to rank 0 (a fixed point of the flow for N >= 2)."""
    p = CompletionProblem.named("menon-2x2")
    with pytest.raises(RiemdlnValueError, match=r"rank 0 < 2"):
        factor_flow(p, [np.zeros((2, 2))] * N, 1.0)


def test_unbalanced_rank_deficient_start_is_accepted_and_changes_rank():
    """W_1 = I, W_2 = 0: unbalanced, X0 = 0; the exact flow has dW_2/dt = -G W_1^T = M on the observed entries,
    so the rank of X changes at once: such starts must be integrated, not refused."""
    p = CompletionProblem.named("menon-2x2")
    res = factor_flow(p, [np.eye(2), np.zeros((2, 2))], 1e-3, t_eval=[1e-3], rtol=1e-10, atol=1e-12)
    assert res.status.name == "FINISHED"
    G0 = p.gradient(np.zeros((2, 2)))
    # X(t) = W_2(t) W_1(t) = -t G0 + O(t^2): full rank when G0 is (menon: observed identity-like pattern)
    assert np.linalg.matrix_rank(G0) == 2
    np.testing.assert_allclose(res.X[-1], -1e-3 * G0, atol=1e-5)


def test_narrow_network_is_not_refused_and_keeps_its_rank():
    """Width one: the product has rank <= 1 by construction, which is the network's full rank."""
    p = CompletionProblem.named("razin-cohen-2x2")
    res = factor_flow(p, balanced_factors(RANK_ONE, 2, width=1), 50.0)
    assert res.success
    s = np.linalg.svd(res.X, compute_uv=False)
    assert np.all(s[:, 1] <= 1e-12 * s[:, 0])
    assert res["loss"][-1] < res["loss"][0]


def test_full_rank_start_is_still_accepted():
    p = CompletionProblem.named("razin-cohen-2x2")
    res = factor_flow(p, balanced_factors(RANK_ONE + 1e-4 * np.eye(2), 2), 1.0)
    assert res.status.name == "FINISHED"


# ---------------------------------------------------------------------------- bounded saved states
def _count_accepted_steps(monkeypatch) -> dict:
    """Count the driver's accepted steps (each goes through ``_Loop._save`` once), apart from what is saved."""
    count = {"steps": 0}
    original = _driver._Loop._save

    def counting(self, stop_t):
        count["steps"] += 1
        return original(self, stop_t)

    monkeypatch.setattr(_driver._Loop, "_save", counting)
    return count


def _ten_by_ten():
    p = CompletionProblem.random(10, 10, 2, 60, seed=0)
    X0 = 1e-2 * np.random.default_rng(1).standard_normal((10, 10))
    return p, balanced_factors(X0, 2)


def test_factor_flow_saved_states_stay_bounded(monkeypatch):
    """A 10x10 run of thousands of accepted steps keeps fewer than 2K states (K = _max_saved), first and last
    included, times increasing."""
    p, W = _ten_by_ten()
    count = _count_accepted_steps(monkeypatch)
    res = factor_flow(p, W, 200.0, method="RK23", rtol=1e-10, atol=1e-12)
    K = _max_saved(sum(w.size for w in W), 100)
    assert res.status.name == "FINISHED"
    assert count["steps"] > 3 * K  # the run really is long enough to need thinning
    assert len(res.t) < 2 * K
    assert len(res.t) == res.X.shape[0] == res.factors[0].shape[0]
    assert res.t[0] == 0.0 and res.t[-1] == 200.0 and np.all(np.diff(res.t) > 0)
    # what is kept is the trajectory: its product is the saved X, and the loss decreases to the end's
    np.testing.assert_allclose(res.factors[1][-1] @ res.factors[0][-1], res.X[-1], rtol=1e-12, atol=1e-14)
    assert res["loss"][-1] < 1e-8


def test_factor_flow_t_eval_gives_exactly_the_asked_times(monkeypatch):
    p, W = _ten_by_ten()
    count = _count_accepted_steps(monkeypatch)
    t_eval = np.linspace(0.0, 200.0, 3001)
    res = factor_flow(p, W, 200.0, method="RK23", rtol=1e-10, atol=1e-12, t_eval=t_eval)
    assert count["steps"] > 2000
    np.testing.assert_array_equal(res.t, t_eval)
    assert res.X.shape == (3001, 10, 10)
    # and the states there agree with the thinned run's at the times both have (interpolant vs step ends)
    free = factor_flow(p, W, 200.0, method="RK23", rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(res.X[-1], free.X[-1], rtol=0, atol=1e-9)


# ---------------------------------------------------------------------------- balanced_factors arguments
@pytest.mark.parametrize("rng", ["x", -1, 1.5, True, [1, 2]])
def test_balanced_factors_rejects_bad_seeds(rng):
    with pytest.raises(RiemdlnValueError, match=r"`rng` must be None, a non-negative integer or a numpy"):
        balanced_factors(np.eye(2), 2, rng=rng)


@pytest.mark.parametrize("rng", [None, 0, np.random.default_rng(0)])
def test_balanced_factors_accepts_good_seeds(rng):
    W = balanced_factors(np.diag([2.0, 1.0]), 3, rng=rng)
    np.testing.assert_allclose(W[2] @ W[1] @ W[0], np.diag([2.0, 1.0]), atol=1e-12)


@pytest.mark.parametrize(("depth", "rng"), [(3, None), (2, 0), (5, None)])
def test_balanced_factors_refuses_huge_width_up_front(depth, rng):
    """width = 10**6: width**2 floats per middle factor (or gauge) is terabytes; refused before allocating."""
    start = time.perf_counter()
    with pytest.raises(RiemdlnValueError, match=r"`width` asks for .* floats"):
        balanced_factors(np.eye(2), depth, width=10**6, rng=rng)
    assert time.perf_counter() - start < 1.0


def test_balanced_factors_wide_but_thin_is_allowed():
    """N = 2 without a gauge needs only width·(m + n) floats: a width of 10**5 is 3 MB, not refused."""
    W = balanced_factors(np.eye(2), 2, width=10**5)
    assert W[0].shape == (10**5, 2)
    np.testing.assert_allclose(W[1] @ W[0], np.eye(2))
