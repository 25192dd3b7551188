"""Every value a user's callable returns is checked where it is used: no run succeeds after a bad one.

Each case builds a riemdln.Energy whose callable (loss, gradient, hessian_vector) or an Event whose function
turns bad after a few good calls (NaN, a string, the wrong shape, an exception). Whenever the bad value was
actually handed to the simulator, the run must end with success=False, its message naming the callable,
and the trajectory up to there kept; a callable bad at the very first call is a RiemdlnValueError.
"""

from __future__ import annotations

import numpy as np
import pytest

import riemdln
from riemdln import Energy, RiemdlnValueError, Status

M = np.diag([2.0, 1.0])
X0 = 0.5 * np.eye(2) + 0.05 * np.array([[0.0, 1.0], [0.0, 0.0]])
BAD = {
    "nan": lambda shape: np.full(shape, np.nan) if shape else float("nan"),
    "inf": lambda shape: np.full(shape, np.inf) if shape else float("inf"),
    "str": lambda shape: "1.0",
    "shape": lambda shape: np.ones(3),
    "complex": lambda shape: np.ones(shape) * 1j if shape else 1j,
    "raise": None,
}


class Turning:
    """Callables that return good values for ``after`` calls of ``which``, then ``kind``; ``fired`` records
    whether a bad value was returned (or an exception raised)."""

    def __init__(self, which: str, kind: str, after: int):
        self.which, self.kind, self.after = which, kind, after
        self.calls, self.fired = 0, False

    def _maybe(self, name, good, shape):
        if name != self.which:
            return good
        self.calls += 1
        if self.calls <= self.after:
            return good
        self.fired = True
        if self.kind == "raise":
            raise ZeroDivisionError("the user's own bug")
        return BAD[self.kind](shape)

    def energy(self) -> Energy:
        return Energy(
            lambda X: self._maybe("loss", 0.5 * float(np.sum((X - M) ** 2)), ()),
            lambda X: self._maybe("gradient", X - M, (2, 2)),
            shape=(2, 2),
            hessian_vector=lambda X, V: self._maybe("hessian_vector", np.array(V, dtype=float), (2, 2)),
        )


FLOW_METHODS = ["auto", "LSODA", "BDF", "Radau", "RK45", "CVODE"]


def _sims():
    yield "end_to_end_flow", lambda E, m, ev: riemdln.end_to_end_flow(E, X0, 2, 4.0, method=m, events=ev)
    yield (
        "end_to_end_flow(matrix)",
        lambda E, m, ev: riemdln.end_to_end_flow(E, X0, 3, 4.0, method=m, events=ev, formulation="matrix"),
    )
    yield "svd_flow", lambda E, m, ev: riemdln.svd_flow(E, X0, 2, 4.0, method=m, events=ev)
    yield (
        "factor_flow",
        lambda E, m, ev: riemdln.factor_flow(E, riemdln.balanced_factors(X0, 2), 4.0, method=m, events=ev),
    )


CASES = [(sim, method) for sim, _ in _sims() for method in FLOW_METHODS] + [("factor_descent", "-"), ("langevin", "-")]
SIMS = dict(_sims())


def _run(sim, method, energy, events=None):
    if sim == "factor_descent":
        return riemdln.factor_descent(energy, riemdln.balanced_factors(X0, 2), 0.1, 100, events=events)
    if sim == "langevin":
        return riemdln.langevin(energy, X0, 2, 50.0, 0.2, 0.01, seed=0)
    return SIMS[sim](energy, method, events)


@pytest.mark.parametrize("sim,method", CASES)
@pytest.mark.parametrize("which", ["loss", "gradient", "hessian_vector"])
@pytest.mark.parametrize("kind", ["nan", "str", "shape", "raise"])
def test_no_success_after_a_bad_value(sim, method, which, kind):
    t = Turning(which, kind, after=6)
    res = _run(sim, method, t.energy())
    if not t.fired:  # never used after turning bad (e.g. explicit methods never ask for hessian_vector)
        assert res.success
        return
    assert not res.success, res.message
    assert res.status == Status.FAILED
    assert f"`{which}`" in res.message
    assert len(res.t) >= 1 and np.all(np.isfinite(res.X))  # the trajectory up to there is kept
    if sim != "langevin" and res.error is not None and kind == "raise":
        assert isinstance(res.error.cause, ZeroDivisionError)


@pytest.mark.parametrize("sim,method", [c for c in CASES if c[0] != "langevin"])
@pytest.mark.parametrize("kind", ["nan", "str", "raise"])
def test_event_turning_bad_fails_the_run(sim, method, kind):
    calls = {"n": 0}

    def fn(t, X, problem):
        calls["n"] += 1
        if calls["n"] <= 3:
            return 1.0
        if kind == "raise":
            raise KeyError("oops")
        return float("nan") if kind == "nan" else "1.0"

    res = _run(sim, method, riemdln.QuadraticEnergy(M), events=riemdln.Event("mine", fn))
    assert res.status == Status.FAILED and not res.success
    assert "Event `mine`" in res.message


@pytest.mark.parametrize("which", ["loss", "gradient", "hessian_vector"])
@pytest.mark.parametrize("kind", ["nan", "str", "shape", "complex", "raise"])
def test_bad_at_the_first_call_is_a_value_error(which, kind):
    for sim, method in [
        ("end_to_end_flow", "auto"),
        ("factor_flow", "auto"),
        ("factor_descent", "-"),
        ("langevin", "-"),
    ]:
        with pytest.raises(RiemdlnValueError, match=f"`{which}`"):
            _run(sim, method, Turning(which, kind, after=0).energy())


def test_event_bad_at_the_first_call_is_a_value_error():
    ev = riemdln.Event("mine", lambda t, X, p: float("nan"))
    with pytest.raises(RiemdlnValueError, match="Event `mine`"):
        riemdln.end_to_end_flow(riemdln.QuadraticEnergy(M), X0, 2, 1.0, events=ev)


def test_loss_returning_a_string_is_refused():
    E = Energy(lambda X: "1.0", lambda X: X, shape=(2, 2))
    with pytest.raises(RiemdlnValueError, match="`loss` must return a real number"):
        E.loss(np.eye(2))


def test_factor_descent_nan_gradient_is_not_called_divergence():
    t = Turning("gradient", "nan", after=20)
    res = riemdln.factor_descent(t.energy(), riemdln.balanced_factors(X0, 2), 0.05, 200)
    assert res.status == Status.FAILED
    assert "blowup_norm" not in res.message and "`gradient`" in res.message
    assert np.linalg.norm(res.X[-1]) < 10  # the last X is the last good one, nowhere near a blow-up


def test_cvode_nan_gradient_fails_fast():
    """CVODE used to retry a NaN right-hand side for tens of seconds; a checked gradient stops it at once."""
    t = Turning("gradient", "nan", after=30)
    res = riemdln.end_to_end_flow(t.energy(), X0, 3, 50.0, method="CVODE", formulation="matrix")
    assert res.status == Status.FAILED and res.nfev < 1000


def test_outside_energy_values_are_checked():
    class Outside:
        shape = (2, 2)

        def __init__(self):
            self.n = 0

        def loss(self, X):
            return 0.5 * float(np.sum((X - M) ** 2))

        def gradient(self, X):
            self.n += 1
            return X - M if self.n < 8 else np.full((2, 2), np.nan)

    res = riemdln.end_to_end_flow(Outside(), X0, 2, 4.0)
    assert res.status == Status.FAILED and "`problem.gradient`" in res.message
