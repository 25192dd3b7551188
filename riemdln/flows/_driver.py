"""The integration loop shared by the continuous simulators.

It drives scipy.integrate's ``OdeSolver`` classes (the engines behind ``solve_ivp``) step by step, so that
it can stop on events, on divergence, on a wall-clock budget or on a non-finite state *and still return the
trajectory so far*, and show a tqdm progress bar on a terminal.
"""

from __future__ import annotations

import bisect
import math
import numbers
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import integrate, optimize

from riemdln._validation import RiemdlnValueError
from riemdln.flows import _cvode
from riemdln.flows.result import MESSAGES, Event, Status

METHODS = {
    "RK45": integrate.RK45,
    "RK23": integrate.RK23,
    "DOP853": integrate.DOP853,
    "Radau": integrate.Radau,
    "BDF": integrate.BDF,
    "LSODA": integrate.LSODA,
    "CVODE": _cvode.CVODESolver,
}


def check_method(method) -> str:
    if method not in METHODS:
        raise RiemdlnValueError(f"`method` must be one of {tuple(METHODS)} or 'auto'; got {method!r}.")
    return method


IMPLICIT = ("Radau", "BDF", "LSODA")
MAX_IMPLICIT_SIZE = 1600


def resolve_method(method, size: int, matrix_free: bool = True) -> str:
    """``"auto"``: LSODA, which switches between Adams (non-stiff) and BDF (stiff) as the flow requires — these
    flows are stiff once large singular values coexist with slowly moving small ones — for states up to
    MAX_IMPLICIT_SIZE numbers (its dense Jacobian has size**2 entries); above, CVODE's BDF with the
    matrix-free GMRES linear solver (``matrix_free``), else DOP853."""
    if method == "auto":
        if size <= MAX_IMPLICIT_SIZE:
            return "LSODA"
        return "CVODE" if matrix_free and _cvode.available() else "DOP853"
    return check_method(method)


def fallback(method) -> str | None:
    """The method ``run`` continues with if the one ``"auto"`` chose (LSODA) fails: BDF; none if chosen by hand."""
    return "BDF" if method == "auto" else None


def fd_jacobian(fun, chunk: int = 512):
    """Forward-difference Jacobian from *batched* right-hand-side calls (columns in chunks of ``chunk``)."""
    sqrt_eps = np.sqrt(np.finfo(float).eps)

    def jac(t, y):
        f0 = fun(t, y)
        h = sqrt_eps * np.maximum(1.0, np.abs(y))
        h = (y + h) - y  # exactly representable steps
        D = y.size
        J = np.empty((D, D))
        for a in range(0, D, chunk):
            b = min(D, a + chunk)
            Y = np.repeat(y[:, None], b - a, axis=1)
            Y[np.arange(a, b), np.arange(b - a)] += h[a:b]
            J[:, a:b] = (fun(t, Y) - f0[:, None]) / h[a:b]
        return J

    return jac


def check_tol(value, name) -> float:
    # numbers.Real declares only < and <=; NaN fails `value < 1`
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value <= 0 or not value < 1:
        raise RiemdlnValueError(f"`{name}` must be a real number in (0, 1); got {value!r}.")
    return float(value)


def check_max_steps(value, name: str = "max_steps") -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise RiemdlnValueError(f"`{name}` must be an integer >= 1; got {value!r}.")
    return int(value)


def check_time(value, name, low: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= low:
        raise RiemdlnValueError(f"`{name}` must be a finite real number > {low:g}; got {value!r}.")
    return float(value)


def check_blowup_norm(blowup_norm, problem, X0) -> float:
    r"""``blowup_norm`` checked, or its default :math:`10^8\max(1, \|M\|_F, \|X_0\|_F)`."""
    if blowup_norm is None:
        return 1e8 * max(1.0, problem.scale(), float(np.linalg.norm(X0)))
    return check_time(blowup_norm, "blowup_norm")


def check_t_eval(t_eval, t_final) -> np.ndarray | None:
    if t_eval is None:
        return None
    arr = np.asarray(t_eval, dtype=float)
    if arr.ndim != 1 or arr.size == 0 or not np.all(np.isfinite(arr)):
        raise RiemdlnValueError(f"`t_eval` must be a non-empty 1-d array of finite times; got {t_eval!r}.")
    if np.any(np.diff(arr) <= 0) or arr[0] < 0 or arr[-1] > t_final:
        raise RiemdlnValueError(
            f"`t_eval` must be strictly increasing within [0, t_final] = [0, {t_final:g}]; got {t_eval!r}."
        )
    return arr


def want_progress(progress) -> bool:
    if progress is None:
        try:
            return bool(sys.stderr.isatty())
        except (AttributeError, ValueError):
            return False
    if not isinstance(progress, bool):
        raise RiemdlnValueError(f"`progress` must be True, False or None (auto); got {progress!r}.")
    return progress


class Progress:
    """A tqdm bar for a run to ``total`` (a time, or a number of steps with ``log=False``).

    Flows are usually asked for a far-away ``t_final`` and stop on an event, and their plateaus span
    decades of t: beyond ``total`` = 1e3 the bar advances in log(1 + t). The postfix shows where the run is
    and, given ``loss(y)``, the loss there (refreshed at most every 0.2 s, so it costs nothing per step).
    """

    RESOLUTION = 1000

    def __init__(
        self, total: float, desc: str, *, loss: Callable | None = None, log: bool | None = None, unit: str = "t"
    ):
        from tqdm.auto import tqdm

        self.total, self.loss, self.unit = float(total), loss, unit
        self.log = self.total > 1e3 if log is None else log
        self.bar = tqdm(total=self.RESOLUTION, desc=desc, bar_format="{l_bar}{bar}| {unit} [{elapsed}]")
        self._shown = -math.inf
        self._last: tuple | None = None

    def update(self, t: float, y=None) -> None:
        if self.total > 0:
            frac = math.log1p(max(t, 0.0)) / math.log1p(self.total) if self.log else t / self.total
            n = min(self.RESOLUTION, int(self.RESOLUTION * frac))
        else:
            n = self.RESOLUTION
        self._last = (t, y)
        now = time.perf_counter()
        if now - self._shown >= 0.2:
            self._shown = now
            self._describe(t, y)
            if n <= self.bar.n:
                self.bar.refresh()
        if n > self.bar.n:
            self.bar.update(n - self.bar.n)

    def _describe(self, t, y) -> None:
        if self.unit == "step":
            text = f"step={int(t)}/{int(self.total)}"
        else:
            text = f"{self.unit}={t:.4g}/{self.total:.4g}"
        if self.loss is not None and y is not None:
            text += f" loss={self.loss(y):.3g}"
        self.bar.unit = text  # shown by the bar_format (tqdm's postfix would start with ", ")

    def close(self) -> None:
        if self._last is not None:
            self._describe(*self._last)
            self.bar.refresh()
        self.bar.close()


def make_bar(enabled: bool, total: float, desc: str, **kwargs) -> Progress | None:
    """A :class:`Progress` bar when ``enabled`` (see :func:`want_progress`), else None."""
    return Progress(total, desc, **kwargs) if enabled else None


@dataclass
class Outcome:
    t: np.ndarray
    y: list
    status: Status
    message: str
    nfev: int
    njev: int
    t_events: dict = field(default_factory=dict)
    sol: Callable | None = None


class _Dense:
    def __init__(self) -> None:
        self.ts: list[float] = []
        self.interps: list = []

    def add(self, t_old, t_new, interp):
        self.ts.append(t_new)
        self.interps.append(interp)
        self.t0 = t_old if len(self.ts) == 1 else self.t0

    def __call__(self, t):
        i = min(bisect.bisect_left(self.ts, t), len(self.ts) - 1)
        return self.interps[i](t)


_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def blas_threads():
    """Context limiting BLAS to one thread while a simulator runs, unless the user chose a thread count.

    Measured on 2 cores (README, Benchmarks): the flows' matrices are small enough (one SVD and a few products
    of d×d matrices per right-hand side) that OpenBLAS's threads cost more than they gain up to d = 200 (3-5x
    the CPU from d = 30 up). Setting ``OPENBLAS_NUM_THREADS`` (or OMP/MKL/BLIS) before starting Python, or
    ``RIEMDLN_BLAS_THREADS``, overrides it.
    """
    import contextlib
    import os

    if any(os.environ.get(v) for v in _BLAS_ENV):
        return contextlib.nullcontext()
    wanted = os.environ.get("RIEMDLN_BLAS_THREADS")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency
        return contextlib.nullcontext()
    return threadpool_limits(limits=int(wanted) if wanted and wanted.isdigit() else 1, user_api="blas")


def with_blas_threads(fn):
    """Decorator: run ``fn`` inside :func:`blas_threads` (signature and docstring kept)."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with blas_threads():
            return fn(*args, **kwargs)

    return wrapper


def run(*args, **kwargs) -> Outcome:
    """:func:`_run` with BLAS limited as :func:`blas_threads` says."""
    with blas_threads():
        return _run(*args, **kwargs)


def _run(
    fun: Callable[[float, np.ndarray], np.ndarray],
    y0: np.ndarray,
    t_final: float,
    *,
    method: str,
    rtol: float,
    atol: float,
    t_eval: np.ndarray | None,
    events: Sequence[Event],
    event_state: Callable[[np.ndarray], object],
    problem,
    norm: Callable[[np.ndarray], float],
    blowup_norm: float,
    max_steps: int,
    progress: bool,
    desc: str,
    dense: bool = False,
    first_step: float | None = None,
    max_step: float = np.inf,
    batched: bool = False,
    t0: float = 0.0,
    check_state: Callable[[np.ndarray], str | None] | None = None,
    jac: Callable[[float, np.ndarray], np.ndarray] | None = None,
    fallback: str | None = None,
    jvp: Callable[[float, np.ndarray, np.ndarray], np.ndarray] | None = None,
    atol_fn: Callable[[np.ndarray], np.ndarray] | None = None,
    monotone: bool = True,
    max_saved: int | None = None,
) -> Outcome:
    """Integrate ``y' = fun(t, y)`` on [0, t_final]; ``event_state(y)`` gives the X the events see.

    ``jac(t, y)``: the Jacobian for the implicit methods; else ``batched`` (``fun`` takes (D, B) batches)
    gives a batched forward-difference one, and otherwise the solver differences ``fun`` itself.
    ``fallback``: a method to continue with, once, from the last accepted step if ``method`` fails there
    (``"auto"`` uses BDF after LSODA: LSODA's stiff/non-stiff switching can fail where BDF does not).
    ``atol_fn(y)``: per-component absolute tolerances, updated after every accepted step (SVD coordinates
    scale the frames' tolerance by the singular values). ``monotone``: check the loss on every accepted step
    (:class:`LossMonitor`). ``max_saved``: without ``t_eval``, keep at most about this many states (every
    accepted step until the buffer is full, then every second one, and so on: memory does not grow with
    the number of steps)."""
    nfev = 0

    def counted(t, y):
        nonlocal nfev
        nfev += 1 if y.ndim == 1 else y.shape[1]
        return fun(t, y)

    state_events = [ev for ev in events if ev.wall_seconds is None]
    wall_events = [ev for ev in events if ev.wall_seconds is not None]
    t_events: dict[str, list] = {ev.name: [] for ev in events}

    user_problem = getattr(problem, "energy", problem)  # events see the user's energy object

    def g(ev, t, y):
        return float(ev.fn(t, event_state(y), user_problem))

    ts: list[float] = []
    ys: list[np.ndarray] = []
    next_eval = 0 if t_eval is None else int(np.searchsorted(t_eval, t0, side="left"))
    if t_eval is None or (next_eval < len(t_eval) and t_eval[next_eval] == t0):
        ts.append(t0)
        ys.append(np.array(y0, dtype=float))
        next_eval += 0 if t_eval is None else 1
    dense_sol = _Dense() if dense else None

    status = Status.FINISHED
    message_kw: dict = {}
    start = time.perf_counter()
    bar = make_bar(progress, t_final, desc, loss=lambda y: problem.loss(event_state(y)))
    if bar is not None:
        bar.update(t0, y0)
    njev = 0
    with (
        np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"),
        warnings.catch_warnings(),
    ):
        # LSODA's Fortran diagnostics; its failure is reported in the status and message instead
        warnings.filterwarnings("ignore", message="lsoda:", category=UserWarning)
        kwargs: dict[str, Any] = {
            "rtol": rtol,
            "atol": atol if atol_fn is None else atol_fn(np.asarray(y0, dtype=float)),
            "max_step": max_step,
        }
        if first_step is not None:
            kwargs["first_step"] = first_step
        if method == "CVODE":
            kwargs["jvp"] = jvp
        elif jac is not None and method in IMPLICIT:
            kwargs["jac"] = jac
        elif batched and method in IMPLICIT:
            kwargs["jac"] = fd_jacobian(counted)
        try:
            solver = METHODS[method](counted, t0, np.array(y0, dtype=float), t_final, **kwargs)
        except ValueError as exc:  # pragma: no cover - scipy's own argument errors
            raise RiemdlnValueError(str(exc)) from None
        g_old = [g(ev, t0, solver.y) for ev in state_events]
        monitor = LossMonitor(problem, rtol, atol) if monotone else None
        if monitor is not None:
            monitor.start(t0, event_state(solver.y))
        saver = _Thinning(max_saved) if (t_eval is None and max_saved) else None
        n_steps = 0
        notes = []
        try:
            while True:
                if solver.status != "running":
                    break
                if fallback is not None:
                    t_prev, y_prev = solver.t, solver.y.copy()
                msg = solver.step()
                n_steps += 1
                if solver.status == "failed" and fallback is not None and method == "LSODA":
                    njev += int(getattr(solver, "njev", 0) or 0)
                    notes.append(f" ({method} failed at t = {t_prev:.6g}: {msg} Continued with {fallback}.)")
                    method, fallback = fallback, None
                    if atol_fn is not None:
                        kwargs["atol"] = atol_fn(y_prev)
                    solver = METHODS[method](counted, t_prev, y_prev, t_final, **kwargs)
                    continue
                bad_state = check_state(solver.y) if check_state is not None else None
                if bad_state is not None:
                    status = Status.FAILED
                    message_kw = {"t": solver.t, "reason": bad_state}
                    ts.append(solver.t)
                    ys.append(solver.y.copy())
                    break
                if solver.status == "failed" or not np.all(np.isfinite(solver.y)):
                    status = Status.FAILED
                    reason = msg or "the state became non-finite (overflow)."
                    if not np.all(np.isfinite(solver.y)):
                        reason = "the state became non-finite (overflow); lower the tolerances or set blowup_norm."
                        # keep the last finite state
                    message_kw = {"t": solver.t_old if solver.t_old is not None else t0, "reason": reason}
                    break
                t_old, t_new = solver.t_old, solver.t
                interp = None
                if monitor is not None:
                    rise = monitor.check(t_new, event_state(solver.y))
                    if rise is not None:
                        ts.append(t_new)
                        ys.append(solver.y.copy())
                        status, message_kw = Status.INACCURATE, rise
                        break
                if atol_fn is not None:
                    set_atol(solver, atol_fn(solver.y))

                def get_interp(solver=solver):
                    nonlocal interp
                    if interp is None:
                        interp = solver.dense_output()
                    return interp

                if dense_sol is not None:
                    dense_sol.add(t_old, t_new, get_interp())
                # events
                stop_t = None
                stop_name = None
                if state_events:
                    g_new = [g(ev, t_new, solver.y) for ev in state_events]
                    hits = []
                    for k, ev in enumerate(state_events):
                        a, b = g_old[k], g_new[k]
                        up = a < 0 <= b if a != 0 else False
                        down = a > 0 >= b if a != 0 else False
                        if (
                            (ev.direction > 0 and up)
                            or (ev.direction < 0 and down)
                            or (ev.direction == 0 and (up or down))
                        ):
                            sol = get_interp()
                            if b == 0:
                                te = t_new
                            else:
                                te = optimize.brentq(
                                    lambda tt, ev=ev, sol=sol: g(ev, tt, sol(tt)),
                                    t_old,
                                    t_new,
                                    xtol=4 * np.finfo(float).eps * max(1.0, abs(t_new)),
                                )
                            hits.append((te, ev))
                    hits.sort(key=lambda h: h[0])
                    for te, ev in hits:
                        if stop_t is not None and te > stop_t:
                            break
                        t_events[ev.name].append(te)
                        if ev.terminal and stop_t is None:
                            stop_t, stop_name = te, ev.name
                    g_old = g_new
                # divergence
                diverged = norm(solver.y) > blowup_norm
                # save points
                limit = stop_t if stop_t is not None else t_new
                if t_eval is None:
                    if stop_t is None:
                        ts.append(t_new)
                        ys.append(solver.y.copy())
                        if saver is not None:
                            saver.thin(ts, ys)
                else:
                    while next_eval < len(t_eval) and t_eval[next_eval] <= limit:
                        te = t_eval[next_eval]
                        ts.append(float(te))
                        ys.append(solver.y.copy() if te == t_new else np.asarray(get_interp()(te)))
                        next_eval += 1
                if stop_t is not None:
                    if not ts or ts[-1] != stop_t:
                        ts.append(stop_t)
                        ys.append(solver.y.copy() if stop_t == t_new else np.asarray(get_interp()(stop_t)))
                    status = Status.EVENT
                    message_kw = {"t": stop_t, "name": stop_name}
                    break
                if diverged:
                    if not ts or ts[-1] != t_new:
                        ts.append(t_new)
                        ys.append(solver.y.copy())
                    status = Status.DIVERGED
                    message_kw = {"t": t_new, "bound": blowup_norm}
                    break
                if bar is not None:
                    bar.update(t_new, solver.y)
                elapsed = time.perf_counter() - start
                budget_hit = [ev for ev in wall_events if ev.wall_seconds is not None and elapsed > ev.wall_seconds]
                if budget_hit and solver.status == "running":
                    for ev in budget_hit:
                        t_events[ev.name].append(t_new)
                    if not ts or ts[-1] != t_new:
                        ts.append(t_new)
                        ys.append(solver.y.copy())
                    status = Status.EVENT
                    message_kw = {"t": t_new, "name": budget_hit[0].name}
                    break
                if n_steps >= max_steps and solver.status == "running":
                    if not ts or ts[-1] != t_new:
                        ts.append(t_new)
                        ys.append(solver.y.copy())
                    status = Status.FAILED
                    message_kw = {"t": t_new, "reason": f"`max_steps` = {max_steps} steps taken."}
                    break
            if status == Status.FINISHED:
                message_kw = {"t": solver.t}
                if t_eval is None and (not ts or ts[-1] != solver.t):  # pragma: no cover
                    ts.append(solver.t)
                    ys.append(solver.y.copy())
        finally:
            if bar is not None:
                if ts:
                    bar.update(ts[-1], ys[-1])  # where the run ended (an event's time lies within a step)
                bar.close()
        njev += int(getattr(solver, "njev", 0) or 0)
    if status == Status.FAILED and (not ts or not np.all(np.isfinite(ys[-1]))):
        # make sure the trajectory ends at a finite state
        while ys and not np.all(np.isfinite(ys[-1])):
            ys.pop()
            ts.pop()
    return Outcome(
        t=np.asarray(ts, dtype=float),
        y=ys,
        status=status,
        message=MESSAGES[status].format(**message_kw) + "".join(notes),
        nfev=nfev,
        njev=njev,
        t_events={k: np.asarray(v, dtype=float) for k, v in t_events.items()},
        sol=dense_sol,
    )


def set_atol(solver, atol: np.ndarray) -> None:
    """Change a running scipy solver's absolute tolerances in place (read at every step)."""
    if isinstance(solver, _cvode.CVODESolver):
        return  # fixed at construction
    if isinstance(solver, integrate.LSODA):
        # the Fortran integrator reads the atol array of its call arguments at every call
        current = solver._lsoda_solver._integrator.call_args[1]
        if isinstance(current, np.ndarray) and current.shape == atol.shape:
            current[:] = atol
        return
    solver.atol = atol


class _Thinning:
    """Keep at most ``2 * size`` saved states: when full, drop every second one (the first and last stay)."""

    def __init__(self, size: int):
        self.size = max(int(size), 2)

    def thin(self, ts: list, ys: list) -> None:
        if len(ts) < 2 * self.size:
            return
        keep = list(range(0, len(ts) - 1, 2)) + [len(ts) - 1]
        ts[:] = [ts[i] for i in keep]
        ys[:] = [ys[i] for i in keep]


class LossMonitor:
    r"""Stop a gradient flow whose loss rises: the guard behind ``Status.INACCURATE``.

    The exact flow's loss never increases. After every accepted step the loss is compared with its minimum
    so far; a rise larger than what one step's local error could explain,

    .. math:: 100\Big(\sum_{ij}|\nabla E_{ij}|\,(\mathrm{rtol}\,|X_{ij}| + \mathrm{atol}) + \mathrm{rtol}\,E_{\min}\Big)
        + 10^{3}\epsilon\,(E_{\min} + \langle|\nabla E|, |X|\rangle),

    (the first-order change of E under an error of the tolerances' size in each entry, and rounding) means
    the trajectory is no longer accurate. Entry-wise, not in norms: on Razin–Cohen-like runs ‖X‖ grows without
    bound while the observed entries, which are all the loss sees, stay O(1).
    """

    def __init__(self, problem, rtol: float, atol: float):
        self.problem, self.rtol, self.atol = problem, rtol, atol

    def start(self, t: float, X) -> None:
        self.low, self.t_low = float(self.problem.loss(np.asarray(X))), t

    def check(self, t: float, X) -> dict | None:
        X = np.asarray(X)
        value = float(self.problem.loss(X))
        if not value > self.low:  # also NaN: the non-finite check reports it
            if value < self.low:
                self.low, self.t_low = value, t
            return None
        G = np.abs(self.problem.grad(X))
        first = float(np.sum(G * (self.rtol * np.abs(X) + self.atol)))
        rounding = 1e3 * np.finfo(float).eps * (self.low + float(np.sum(G * np.abs(X))))
        allowed = 100 * (first + self.rtol * self.low) + rounding
        if value - self.low > allowed:
            return {"low": self.low, "t_low": self.t_low, "high": value, "t": t, "allowed": allowed}
        return None
