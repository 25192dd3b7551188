r"""Results, statuses and events shared by every simulator (solve_ivp-like results, diffrax-like statuses)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from riemdln._status import Status  # defined at the bottom of the package, re-exported here
from riemdln._validation import RiemdlnValueError, check_finite_array, short

__all__ = ["Status", "MESSAGES", "FlowResult", "Event", "loss_below", "norm_above", "time_budget"]


MESSAGES: dict[Status, str] = {
    Status.INACCURATE: (
        "The loss rose from its minimum {low:.6g} (t = {t_low:.6g}) to {high:.6g} at t = {t:.6g}, more than the "
        "tolerances allow ({allowed:.3g}): a gradient flow's loss never increases, so the integration is no "
        "longer accurate; tighten rtol/atol."
    ),
    Status.FAILED: "The integration failed at t = {t:.6g}: {reason}",
    Status.FINISHED: "Reached the end of the time span (t = {t:.6g}).",
    Status.EVENT: "Event {name!r} occurred at t = {t:.6g}.",
    Status.DIVERGED: (
        "‖X‖_F exceeded `blowup_norm` = {bound:.3g} at t = {t:.6g}: the trajectory diverges "
        "(the loss may still go to 0)."
    ),
}


@dataclass(frozen=True, kw_only=True)
class FlowResult:
    r"""The outcome of a simulation, read like :func:`scipy.integrate.solve_ivp`'s.

    Attributes
    ----------
    t : ndarray, shape (n_t,)
        Saved times: ``t_eval`` if given; else ends of accepted steps, thinned to a bounded number (fewer
        than 2K, K = min(1000, max(50, 2e6 / (state entries + m n))): every second one is dropped when 2K are
        held), so memory does not grow with the number of steps; for descent, ``step * lr`` every
        ``record_every`` steps.
    X : ndarray, shape (n_t, m, n)
        End-to-end matrices at those times (time first).
    status : Status
        How the run ended; ``message`` says it in words, ``success`` is ``status >= 0``.
    message : str
    nfev : int
        Number of right-hand-side (gradient) evaluations.
    njev : int
        Number of Jacobian evaluations (implicit methods only).
    diagnostics : mapping of str to ndarray
        Along the trajectory (leading axis n_t): ``"loss"``, ``"singular_values"`` (n_t, min(m, n)),
        ``"effective_rank"`` (Roy–Vetterli), ``"nuclear_norm"``, ``"frobenius_norm"``, ``"det_sign"``
        (square only), ``"test_error"`` (if the problem has a ground truth), ``"log_volume_density"`` and
        ``"entropy"`` (see :func:`riemdln.flows.result.trajectory_diagnostics` for their conventions).
    t_events : mapping of str to ndarray
        Times at which each event fired.
    factors : tuple of ndarray or None
        ``factors[p]`` has shape (n_t, ...): the factor :math:`W_{p+1}` along the trajectory
        (factor simulators only).
    depth : float
    normalized : bool
    formulation : str
        ``"matrix"``, ``"svd"``, ``"matrix+svd"``, ``"matrix+split"``, ``"matrix+svd+split"``, ``"split"``
        (switched, see :func:`end_to_end_flow`), ``"factors"`` or ``"descent"``.
    sol : callable or None
        ``sol(t)`` gives X at any t in the span (continuous solutions only; ``dense_output=True``).
    stop_event : str or None
        The name of the terminal event that ended the run (``status`` EVENT), else ``None``.
    error : riemdln.problems.energies.CallableValueError or None
        Why a user's callable (the energy's loss, gradient or Hessian–vector product, an event's function)
        ended the run FAILED: the bad value it returned or the exception it raised (``error.cause``), else
        ``None``.
    """

    t: np.ndarray
    X: np.ndarray
    status: Status
    message: str
    nfev: int = 0
    njev: int = 0
    diagnostics: Mapping[str, np.ndarray] = field(default_factory=dict)
    t_events: Mapping[str, np.ndarray] = field(default_factory=dict)
    factors: tuple[np.ndarray, ...] | None = None
    depth: float = 1.0
    normalized: bool = False
    formulation: str = "matrix"
    sol: Callable[[float], np.ndarray] | None = None
    stop_event: str | None = None
    error: Exception | None = None

    @property
    def success(self) -> bool:
        """True if the run reached what was asked (``t_final``, ``steps`` or an event) accurately (``status >= 0``).

        ``DIVERGED`` counts as success of the integration (the trajectory really escapes); check ``status`` to
        tell it from convergence."""
        return self.status >= 0

    def __getitem__(self, name: str) -> np.ndarray:
        """``result["loss"]`` is ``result.diagnostics["loss"]``."""
        return self.diagnostics[name]

    def __repr__(self) -> str:
        return (
            f"FlowResult(formulation={self.formulation!r}, depth={self.depth}, normalized={self.normalized}, "
            f"n_t={len(self.t)}, status={self.status.name}, message={self.message!r})"
        )


@dataclass(frozen=True)
class Event:
    r"""A stopping (or recording) condition, as in :func:`scipy.integrate.solve_ivp`.

    ``fn(t, X, problem)`` is a continuous function whose zero is the event; ``direction`` selects
    crossings (-1: from positive to negative, +1: upward, 0: both). A terminal event stops the run with
    ``Status.EVENT``. ``wall_seconds`` (set by :func:`time_budget`) makes it a wall-clock budget checked
    after every step instead of a function of the state.
    """

    name: str
    fn: Callable | None
    terminal: bool = True
    direction: float = 0.0
    wall_seconds: float | None = None

    def __post_init__(self) -> None:
        # checked at construction: a bad Event would otherwise fail deep inside a run (or never fire)
        if not isinstance(self.name, str) or not self.name:
            raise RiemdlnValueError(f"`name` of an Event must be a non-empty string; got {short(self.name)}.")
        if self.wall_seconds is None:
            if not callable(self.fn):
                raise RiemdlnValueError(
                    f"`fn` of Event {self.name!r} must be callable as fn(t, X, problem); got {short(self.fn)}."
                )
        else:
            _positive(self.wall_seconds, "wall_seconds")
            if self.fn is not None:
                raise RiemdlnValueError(f"`fn` of Event {self.name!r} must be None when `wall_seconds` is given.")
        if not isinstance(self.terminal, bool | np.bool_):
            raise RiemdlnValueError(
                f"`terminal` of Event {self.name!r} must be True or False; got {short(self.terminal)}."
            )
        d = self.direction
        if isinstance(d, bool) or not isinstance(d, numbers.Real) or not math.isfinite(d):
            raise RiemdlnValueError(
                f"`direction` of Event {self.name!r} must be a finite real number (-1, 0 or 1: its sign); got "
                f"{short(d)}."
            )


def _positive(value, name):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not (float(value) > 0) or math.isinf(value):
        raise RiemdlnValueError(f"`{name}` must be a finite real number > 0; got {value!r}.")
    return float(value)


def loss_below(tol: float) -> Event:
    """Terminal event: the loss falls below ``tol``.

    >>> print(loss_below(1e-10).name)
    loss_below
    """
    tol = _positive(tol, "tol")
    return Event("loss_below", lambda t, X, problem: _loss_of(problem, X) - tol, True, -1.0)


def _loss_of(problem, X) -> float:
    """E(X) for any energy (the riemdln energies' unchecked hook where there is one)."""
    fn = getattr(problem, "_loss", None)
    return float(fn(X)) if callable(fn) else float(problem.loss(X))


def norm_above(bound: float) -> Event:
    """Terminal event: the Frobenius norm of X rises above ``bound``.

    >>> ev = norm_above(10.0)
    >>> print(ev.name, ev.direction, ev.fn(0.0, np.eye(2), None) < 0)
    norm_above 1.0 True
    """
    bound = _positive(bound, "bound")
    return Event("norm_above", lambda t, X, problem: float(np.linalg.norm(X)) - bound, True, 1.0)


def time_budget(seconds: float) -> Event:
    """Terminal event: the wall-clock time spent integrating exceeds ``seconds`` (checked after every step).

    >>> print(time_budget(60).wall_seconds)
    60.0
    """
    return Event("time_budget", None, True, 0.0, _positive(seconds, "seconds"))


def check_events(events) -> tuple[Event, ...]:
    if events is None:
        return ()
    if isinstance(events, Event):
        return (events,)
    try:
        events = tuple(events)
    except TypeError:
        raise RiemdlnValueError(f"`events` must be an Event or a sequence of Events; got {events!r}.") from None
    for ev in events:
        if not isinstance(ev, Event):
            raise RiemdlnValueError(
                f"`events` must contain riemdln.Event objects (e.g. loss_below(1e-10)); got {ev!r}."
            )
    names = [ev.name for ev in events]
    if len(set(names)) != len(names):
        raise RiemdlnValueError(f"`events` must have distinct names; got {names}.")
    return events


def effective_rank(s: np.ndarray) -> np.ndarray:
    r"""Roy–Vetterli effective rank :math:`\exp(-\sum_i p_i \log p_i)`, :math:`p = s/\|s\|_1`.

    Rows of ``s`` (shape (..., k)) are singular values; :math:`0 \log 0 = 0`; the zero matrix gets 0.

    >>> print(round(float(effective_rank(np.array([1.0, 1.0, 0.0]))), 12))
    2.0
    """
    s = check_finite_array(s, "s", min_ndim=1)
    if s.shape[-1] == 0:
        raise RiemdlnValueError(f"`s` must hold at least one singular value; got shape {s.shape}.")
    if np.any(s < 0):
        raise RiemdlnValueError(f"`s` must be >= 0 (singular values); got {short(s)}.")
    return _effective_rank(s)


def _effective_rank(s: np.ndarray) -> np.ndarray:
    """:func:`effective_rank` without the checks (a trajectory's singular values, NaN where it diverged)."""
    s = np.asarray(s, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        top = np.max(s, axis=-1, keepdims=True)  # scaled before summing: s = [1e308, 1e308] has rank 2
        s = np.where(top > 0, s / np.where(top > 0, top, 1.0), s)
    total = s.sum(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = np.where(total > 0, s / np.where(total > 0, total, 1.0), 0.0)
        plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    h = -plogp.sum(axis=-1)
    return np.where(total[..., 0] > 0, np.exp(h), 0.0)


def trajectory_diagnostics(
    problem,
    X: np.ndarray,
    depth: float,
    normalized: bool,
    s: np.ndarray | None = None,
    det_sign: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    r"""Diagnostics along a trajectory ``X`` (shape (n_t, m, n)).

    Returns a dict with

    ``loss``
        :math:`E(X)`.
    ``singular_values``
        shape (n_t, min(m, n)), descending (from the SVD-coordinate state when the flow has one: those keep
        full relative accuracy, also far below :math:`\epsilon\|X\|`).
    ``effective_rank``
        Roy–Vetterli, :func:`effective_rank`.
    ``nuclear_norm``, ``frobenius_norm``
    ``det_sign``
        square X only: the sign of :math:`\det X` (from the orthogonal frames in SVD coordinates).
    ``test_error``
        :math:`\|X - W^*\|_F/\|W^*\|_F`, only if the problem has a ground truth.
    ``log_volume_density``
        :func:`riemdln.geometry.log_volume_density` of the metric of the run (``depth``, ``normalized``)
        on the open set of full-rank m×n matrices (``shape=(m, n)``; w.r.t. :math:`ds\,dQ\,dR`). The log
        is reported because the density over- and underflows. At points where it is not a finite number
        the value is its limit, never an unexplained NaN: ``+inf`` at rank-deficient X for N > 1 (the
        density blows up towards lower rank, docs/theory.md §6), and ``+inf`` everywhere for normalized
        ``depth=math.inf`` on non-square X (:math:`L(s^2, 0) = 0` makes :math:`\det A_\infty = 0`); at N = 1
        rank-deficient points give the Euclidean value :math:`\sum_{i<j}\log|s_i^2 - s_j^2| +
        (m + n - 2k)\sum_i\log s_i` (``-inf`` if m ≠ n); coincident singular values give ``-inf``.
    ``entropy``
        :func:`riemdln.geometry.entropy` (Menon–Yu fibre entropy) of the singular values, same depth and
        convention, constant included in the raw convention; finite with one zero singular value
        (:math:`a_N(x, 0) = x^{(N-1)/N}`), ``-inf`` with two or more for N > 1. For
        rectangular X it is the same formula in the min(m, n) singular values.
    """
    X = np.asarray(X, dtype=float)
    n_t, m, n = X.shape
    chunk = max(1, _DIAGNOSTIC_ENTRIES // max(1, m * n))
    if n_t <= chunk:
        return _diagnostics_chunk(problem, X, depth, normalized, s, det_sign)
    parts = [
        _diagnostics_chunk(
            problem,
            X[a : a + chunk],
            depth,
            normalized,
            None if s is None else np.asarray(s)[a : a + chunk],
            None if det_sign is None else np.asarray(det_sign)[a : a + chunk],
        )
        for a in range(0, n_t, chunk)
    ]
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}


# Diagnostics are computed this many matrix entries of states at a time: the pairwise quantities (volume
# density, entropy) hold a few (states, k, k) temporaries, which for every saved state of a 100 x 100 run at
# once made the diagnostics the peak of the whole run (202 MB of 307 MB); per chunk they stay ~10 MB.
_DIAGNOSTIC_ENTRIES = 250_000


def _losses(energy, X: np.ndarray) -> np.ndarray:
    """The loss at each state; NaN where a user's loss returned a bad value (see :func:`loss_guard`)."""
    from riemdln.problems.energies import CallableValueError

    try:
        return np.asarray(energy.loss_stack(X), dtype=float).reshape(len(X))
    except CallableValueError:
        values = np.full(len(X), np.nan)
        for i, x in enumerate(X):
            try:
                values[i] = energy.loss(x)
            except CallableValueError:
                pass
        return values


def loss_guard(problem, t, X: np.ndarray, diagnostics, status: Status, message: str) -> tuple[Status, str]:
    """FAILED if a user's loss was not a finite number at a saved finite state of a run that succeeded.

    The simulators check every value they use during the run; the saved states' losses are evaluated
    afterwards (the diagnostics), and a bad one there must not leave a successful status either."""
    from riemdln.flows._energy import ops

    if status < 0 or not ops(problem).user:
        return status, message
    loss = np.asarray(diagnostics["loss"])
    bad = ~np.isfinite(loss) & np.all(np.isfinite(X), axis=(-2, -1))
    if not np.any(bad):
        return status, message
    i = int(np.argmax(bad))
    return Status.FAILED, (
        f"The loss of the problem was not a finite number at the saved state t = {float(np.asarray(t)[i]):.6g} "
        f"(`loss` returned {loss[i]!r} there, or a malformed value); the run is not trusted. ({message})"
    )


def _diagnostics_chunk(problem, X, depth, normalized, s, det_sign) -> dict[str, np.ndarray]:
    """:func:`trajectory_diagnostics` of one chunk of states."""
    from riemdln import geometry

    n_t, m, n = X.shape
    k = min(m, n)
    if s is None:
        s = np.linalg.svd(X, compute_uv=False) if n_t else np.zeros((0, k))
    s = -np.sort(-np.asarray(s, dtype=float), axis=-1)
    out: dict[str, np.ndarray] = {}
    from riemdln.flows._energy import ops

    energy = ops(problem)
    out["loss"] = _losses(energy, X)
    out["singular_values"] = s
    out["effective_rank"] = _effective_rank(s)
    out["nuclear_norm"] = s.sum(axis=-1)
    out["frobenius_norm"] = np.sqrt(np.sum(s * s, axis=-1))
    if m == n:
        if det_sign is None:
            det_sign = np.linalg.slogdet(X)[0] if n_t else np.zeros(0)
        out["det_sign"] = np.asarray(det_sign, dtype=float)
    if energy.has_test_error:
        out["test_error"] = np.asarray(energy.energy.test_error(X), dtype=float).reshape(n_t)
    # volume density
    logvol = np.full(n_t, np.inf)
    full = np.all(s > 0, axis=-1)
    if math.isinf(depth) and m != n:
        pass
    elif n_t:
        if np.any(full):
            shape = (m, n) if m != n else None
            logvol[full] = geometry.log_volume_density(s[full], depth, normalized, shape=shape)
        if depth == 1 and np.any(~full):
            sd = s[~full]
            i, j = np.triu_indices(k, 1)
            with np.errstate(divide="ignore"):
                val = np.sum(np.log(np.abs(sd[:, i] - sd[:, j])) + np.log(sd[:, i] + sd[:, j]), axis=-1)
                if m != n:
                    val = val + (m + n - 2 * k) * np.sum(np.log(sd), axis=-1)
            logvol[~full] = val
    out["log_volume_density"] = logvol
    out["entropy"] = (
        np.asarray(geometry.entropy(s, depth, normalized), dtype=float).reshape(n_t) if n_t else np.zeros(0)
    )
    return out
