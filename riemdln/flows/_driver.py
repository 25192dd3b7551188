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
from typing import Any, TypeVar, cast

import numpy as np
from scipy import integrate, optimize

from riemdln._validation import RiemdlnValueError
from riemdln.energies import CallableValueError, call_user, checked_scalar
from riemdln.flows import _cvode
from riemdln.flows._options import FlowOptions, FlowSystem
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
EXPLICIT = ("RK45", "RK23", "DOP853")
EXPLICIT_PROBE = 2000  # steps after which an explicit method's rate is judged (_Loop._hopeless_explicit)
EXPLICIT_HOPELESS = 10
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
    stop_event: str | None = None  # the terminal event that ended the run (status EVENT)
    error: CallableValueError | None = None  # the user callable's failure that ended the run (FAILED)


class _Dense:
    t0: float  # the first step's start, set by the first add

    def __init__(self):
        self.ts: list[float] = []
        self.interps: list = []

    def add(self, t_old, t_new, interp):
        self.ts.append(t_new)
        self.interps.append(interp)
        self.t0 = t_old if len(self.ts) == 1 else self.t0

    def __call__(self, t):
        i = min(bisect.bisect_left(self.ts, t), len(self.ts) - 1)
        return self.interps[i](t)


_F = TypeVar("_F", bound=Callable[..., Any])

_BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def blas_threads():
    """Context limiting BLAS to one thread while a simulator runs, unless the user chose a thread count.

    Measured on 2 cores (README, Benchmarks): the flows' matrices are small enough (one SVD and a few products
    of d×d matrices per right-hand side) that OpenBLAS's threads cost more than they gain up to d = 200 (3-5x
    the CPU from d = 30 up). Setting ``OPENBLAS_NUM_THREADS`` (or OMP/MKL/BLIS) to a non-empty value leaves
    the count alone; ``RIEMDLN_BLAS_THREADS=k`` (an integer >= 1; anything else means 1) uses k threads. On
    leaving the context the caller's count is restored.
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
    threads = int(wanted) if wanted and wanted.isdigit() and int(wanted) >= 1 else 1
    return threadpool_limits(limits=threads, user_api="blas")


def with_blas_threads(fn: _F) -> _F:
    """Decorator: run ``fn`` inside :func:`blas_threads` (signature, docstring and type kept).

    Applied to the public simulators, so that everything a call does — the integration, the diagnostics after
    it, chart changes and the SVDs between parts — runs under one thread policy (measured: a 100×100 depth-3
    flow took 10× the CPU when its diagnostics ran on the default BLAS threads).
    """
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with blas_threads():
            return fn(*args, **kwargs)

    return cast(_F, wrapper)


def run(system: FlowSystem, options: FlowOptions) -> Outcome:
    """Integrate ``system`` (:class:`~riemdln.flows._options.FlowSystem`) from its ``t0`` to ``options.t_final``,
    with BLAS limited as :func:`blas_threads` says.

    The solver gets the system's :class:`~riemdln.flows._options.Derivatives` (a dense Jacobian, a batched
    right-hand side to difference, or CVODE's Jacobian-vector product and preconditioner). If
    ``system.method`` fails, ``system.fallback`` continues once from the last accepted step (``"auto"`` uses
    BDF after LSODA: LSODA's stiff/non-stiff switching can fail where BDF does not). ``system.atol_fn(y)``:
    per-component absolute tolerances, updated after every accepted step (SVD coordinates scale the frames'
    tolerance by the singular values). The loss is checked on every accepted step (:class:`LossMonitor`).
    Without ``t_eval``, at most about ``system.max_saved`` states are kept (every accepted step until the
    buffer is full, then every second one, and so on: memory does not grow with the number of steps). The
    work is done by :class:`_Loop`, one method per concern.
    """
    with blas_threads():
        return _Loop(system, options).integrate()


class _Loop:
    """One integration of :func:`run`: the system, the options, and the state of the run.

    :meth:`integrate` is the loop. Each accepted step goes through :meth:`_step_or_fallback`,
    :meth:`_check_step` (failure, non-finite state, ``check_state``, loss monitor), :meth:`_accept`
    (tolerances, dense output), :meth:`_locate_events`, :meth:`_save`, :meth:`_stop_if_done` (terminal
    event, divergence) and :meth:`_budgets` (wall clock, ``max_steps``); :meth:`_finish` builds the
    :class:`Outcome`. A method returning True means the run stops, its ``status`` and message set.
    """

    def __init__(self, system: FlowSystem, options: FlowOptions) -> None:
        """Counters, the events split by kind, and the initial state saved (if ``t_eval`` starts at ``t0``)."""
        self.system, self.opt = system, options
        self.method, self.fallback = system.method, system.fallback
        self.t0, self.y0 = system.t0, system.y0
        self.nfev = self.njev = self.n_steps = 0
        self.watch = EventWatch(system.events, system.energy)
        self.t_events = self.watch.t_events
        self.ts: list[float] = []
        self.ys: list[np.ndarray] = []
        t_eval, t0 = options.t_eval, self.t0
        self.next_eval = 0 if t_eval is None else int(np.searchsorted(t_eval, t0, side="left"))
        if t_eval is None or (self.next_eval < len(t_eval) and t_eval[self.next_eval] == t0):
            self._keep(t0, np.array(self.y0, dtype=float))
            self.next_eval += 0 if t_eval is None else 1
        self.dense_sol = _Dense() if options.dense_output else None
        self.status = Status.FINISHED
        self.message_kw: dict = {}
        self.notes: list[str] = []
        self.step_interp = None  # the last step's dense output, once built (see _interp)
        self.error: CallableValueError | None = None

    def integrate(self) -> Outcome:
        """Run the loop with floating-point warnings silenced (the statuses report them) and the bar shown."""
        self.start = time.perf_counter()
        self.bar = make_bar(self.opt.progress, self.opt.t_final, self.system.desc, loss=self._loss)
        if self.bar is not None:
            self.bar.update(self.t0, self.y0)
        with (
            np.errstate(over="ignore", invalid="ignore", divide="ignore", under="ignore"),
            warnings.catch_warnings(),
        ):
            # LSODA's Fortran diagnostics; its failure is reported in the status and message instead
            warnings.filterwarnings("ignore", message="lsoda:", category=UserWarning)
            if self.t0 == 0:  # the events' first values: a bad one is a bad argument (RiemdlnValueError)
                self.watch.start([self._g(ev, self.t0, self.y0) for ev in self.watch.state])
            try:
                self._start()
                self._loop()
            except CallableValueError as exc:  # a user callable's bad value or exception, met mid-run
                self._user_failure(exc)
            finally:
                self._close_bar()
            self.njev += int(getattr(getattr(self, "solver", None), "njev", 0) or 0)
        return self._finish()

    def _user_failure(self, exc: CallableValueError) -> None:
        """End the run FAILED at the last accepted step, naming the callable (the trajectory so far kept)."""
        solver = getattr(self, "solver", None)
        t = solver.t if solver is not None else self.t0
        self.error = exc
        self._stop(Status.FAILED, t=t, reason=f"{exc} The run stopped there; the trajectory up to t = {t:.6g} is kept.")

    def _loop(self) -> None:
        """Step until the solver stops or a check ends the run; then the FINISHED message if none did."""
        while self.solver.status == "running":
            if not self._step_or_fallback():
                continue
            if self._check_step():
                return
            self._accept()
            stop = self._locate_events()
            diverged = self.system.norm(self.solver.y) > self.opt.blowup_norm
            self._save(stop[0])
            if self._stop_if_done(stop, diverged) or self._budgets():
                return
        self.message_kw = {"t": self.solver.t}
        if self.opt.t_eval is None and (not self.ts or self.ts[-1] != self.solver.t):  # pragma: no cover
            self._keep(self.solver.t, self.solver.y.copy())

    # ------------------------------------------------------------------------------------------ helpers
    def _counted(self, t, y):
        """``fun``, counting evaluations (a (D, B) batch counts B)."""
        self.nfev += 1 if y.ndim == 1 else y.shape[1]
        return self.system.rhs(t, y)

    def _g(self, ev: Event, t: float, y) -> float:
        """The value of state event ``ev`` at (t, y), on the X the events see."""
        return self.watch.value(ev, t, self.system.event_state(y))

    def _loss(self, y) -> float:
        """The loss at state ``y`` (for the progress bar)."""
        return float(self.system.energy.loss(self.system.event_state(y)))

    def _keep(self, t: float, y: np.ndarray) -> None:
        """Save the state ``y`` at time ``t``."""
        self.ts.append(t)
        self.ys.append(y)

    def _keep_current(self) -> None:
        """Save the solver's current state unless its time is already the last saved one."""
        if not self.ts or self.ts[-1] != self.solver.t:
            self._keep(self.solver.t, self.solver.y.copy())

    def _stop(self, status: Status, **message_kw) -> bool:
        """End the run with ``status``; ``message_kw`` fill its message (:data:`MESSAGES`)."""
        self.status, self.message_kw = status, message_kw
        return True

    def _interp(self):
        """The solver's dense output over the last step, built at most once per step (it may cost evaluations)."""
        if self.step_interp is None:
            self.step_interp = self.solver.dense_output()
        return self.step_interp

    def _close_bar(self) -> None:
        """Show where the run ended (an event's time lies within a step) and close the bar."""
        if self.bar is not None:
            if self.ts:
                self.bar.update(self.ts[-1], self.ys[-1])
            self.bar.close()

    # ---------------------------------------------------------------------------------------- the steps
    def _solver_options(self) -> dict:
        """Keyword arguments of the solver: tolerances, step sizes and the Jacobian (or CVODE's ``jvp``)."""
        atol_fn, derivatives = self.system.atol_fn, self.system.derivatives
        atol = self.opt.atol if atol_fn is None else atol_fn(np.asarray(self.y0, dtype=float))
        kwargs: dict = {"rtol": self.opt.rtol, "atol": atol, "max_step": np.inf}
        if self.method == "CVODE":
            kwargs["jvp"] = derivatives.jvp
            kwargs["precond"] = derivatives.precond
        elif derivatives.jac is not None and self.method in IMPLICIT:
            kwargs["jac"] = derivatives.jac
        elif derivatives.batched and self.method in IMPLICIT:
            kwargs["jac"] = fd_jacobian(self._counted)
        return kwargs

    def _make_solver(self, t: float, y: np.ndarray):
        """A ``self.method`` solver from (t, y) to ``t_final``."""
        return METHODS[self.method](self._counted, t, y, self.opt.t_final, **self.kwargs)

    def _start(self) -> None:
        """Build the solver; the events' first values, the loss monitor and the thinning buffer."""
        self.kwargs = self._solver_options()
        try:
            self.solver = self._make_solver(self.t0, np.array(self.y0, dtype=float))
        except CallableValueError:
            raise
        except ValueError as exc:  # pragma: no cover - scipy's own argument errors
            raise RiemdlnValueError(str(exc)) from None
        if self.t0 != 0:
            self.watch.start([self._g(ev, self.t0, self.solver.y) for ev in self.watch.state])
        self.monitor = LossMonitor(self.system.energy, self.opt.rtol, self.opt.atol)
        self.monitor.start(self.t0, self.system.event_state(self.solver.y))
        max_saved = self.system.max_saved
        self.saver = _Thinning(max_saved) if (self.opt.t_eval is None and max_saved) else None

    def _step_or_fallback(self) -> bool:
        """One solver step; False if LSODA failed and ``fallback`` takes over from the last accepted step."""
        if self.fallback is not None:
            t_prev, y_prev = self.solver.t, self.solver.y.copy()
        self.msg = self.solver.step()
        self.n_steps += 1
        if self.solver.status == "failed" and self.fallback is not None and self.method == "LSODA":
            self.njev += int(getattr(self.solver, "njev", 0) or 0)
            self.notes.append(
                f" ({self.method} failed at t = {t_prev:.6g}: {self.msg} Continued with {self.fallback}.)"
            )
            self.method, self.fallback = self.fallback, None
            if self.system.atol_fn is not None:
                self.kwargs["atol"] = self.system.atol_fn(y_prev)
            self.solver = self._make_solver(t_prev, y_prev)
            return False
        return True

    def _check_step(self) -> bool:
        """Stop on ``check_state``'s objection, a solver failure, a non-finite state or a rise of the loss."""
        solver = self.solver
        bad_state = self.system.check_state(solver.y)
        if bad_state is not None:
            self._keep(solver.t, solver.y.copy())
            return self._stop(Status.FAILED, t=solver.t, reason=bad_state)
        if solver.status == "failed" or not np.all(np.isfinite(solver.y)):
            reason = self.msg or "the state became non-finite (overflow)."
            if not np.all(np.isfinite(solver.y)):  # the last finite state is kept
                reason = "the state became non-finite (overflow); lower the tolerances or set blowup_norm."
            return self._stop(Status.FAILED, t=solver.t_old if solver.t_old is not None else self.t0, reason=reason)
        rise = self.monitor.check(solver.t, self.system.event_state(solver.y))
        if rise is not None:
            self._keep(solver.t, solver.y.copy())
            return self._stop(Status.INACCURATE, **rise)
        return False

    def _accept(self) -> None:
        """After an accepted step: new tolerances (``atol_fn``), and the step's interpolant if ``dense``."""
        self.step_interp = None
        if self.system.atol_fn is not None:
            set_atol(self.solver, self.system.atol_fn(self.solver.y))
        if self.dense_sol is not None:
            self.dense_sol.add(self.solver.t_old, self.solver.t, self._interp())

    def _locate_events(self) -> tuple[float | None, str | None]:
        """Record the state events that fired in the last step; the first terminal one's (time, name).

        A sign change of g over the step (in the event's ``direction``) is located by brentq on the step's
        dense output; events after the terminal one are not recorded."""
        state = self.watch.state
        if not state:
            return None, None
        t_new = self.solver.t
        g_new = [self._g(ev, t_new, self.solver.y) for ev in state]
        hits = []
        for k, (ev, b) in enumerate(zip(state, g_new, strict=True)):
            if self.watch.crossed(k, b):
                hits.append((self._event_time(ev, b), ev))
        hits.sort(key=lambda h: h[0])
        stop_t, stop_name = None, None
        for te, ev in hits:
            if stop_t is not None and te > stop_t:
                break
            self.t_events[ev.name].append(te)
            if ev.terminal and stop_t is None:
                stop_t, stop_name = te, ev.name
        return stop_t, stop_name

    def _event_time(self, ev: Event, g_new: float) -> float:
        """When ``ev`` fired in the last step: its end if g is 0 there, else the root of g found by brentq.

        The step's dense output is built first in either case (building it may cost evaluations: DOP853)."""
        sol, t_old, t_new = self._interp(), self.solver.t_old, self.solver.t
        if g_new == 0:
            return t_new
        return optimize.brentq(
            lambda tt: self._g(ev, tt, sol(tt)), t_old, t_new, xtol=4 * np.finfo(float).eps * max(1.0, abs(t_new))
        )

    def _save(self, stop_t: float | None) -> None:
        """Save the step: its end (thinned to ``max_saved``) or the ``t_eval`` times it passed, up to ``stop_t``."""
        t_new = self.solver.t
        t_eval = self.opt.t_eval
        if t_eval is None:
            if stop_t is None:
                self._keep(t_new, self.solver.y.copy())
                if self.saver is not None:
                    self.saver.thin(self.ts, self.ys)
            return
        limit = stop_t if stop_t is not None else t_new
        while self.next_eval < len(t_eval) and t_eval[self.next_eval] <= limit:
            self._keep_at(t_eval[self.next_eval])
            self.next_eval += 1

    def _keep_at(self, te: float) -> None:
        """Save the state at time ``te`` within the last step (the solver's own at its end, else interpolated)."""
        self._keep(float(te), self.solver.y.copy() if te == self.solver.t else np.asarray(self._interp()(te)))

    def _stop_if_done(self, stop: tuple[float | None, str | None], diverged: bool) -> bool:
        """Stop at a terminal event (its state saved), else on divergence (``norm(y) > blowup_norm``)."""
        stop_t, stop_name = stop
        if stop_t is not None:
            if not self.ts or self.ts[-1] != stop_t:
                self._keep_at(stop_t)
            return self._stop(Status.EVENT, t=stop_t, name=stop_name)
        if diverged:
            self._keep_current()
            return self._stop(Status.DIVERGED, t=self.solver.t, bound=self.opt.blowup_norm)
        return False

    def _budgets(self) -> bool:
        """Update the bar; stop on a wall-clock budget event or after ``max_steps`` steps."""
        solver, t_new = self.solver, self.solver.t
        if self.bar is not None:
            self.bar.update(t_new, solver.y)
        elapsed = time.perf_counter() - self.start
        budget_hit = self.watch.over_budget(elapsed)
        if budget_hit and solver.status == "running":
            for ev in budget_hit:
                self.t_events[ev.name].append(t_new)
            self._keep_current()
            return self._stop(Status.EVENT, t=t_new, name=budget_hit[0].name)
        max_steps = self.opt.max_steps
        if self.n_steps >= max_steps and solver.status == "running":
            self._keep_current()
            return self._stop(Status.FAILED, t=t_new, reason=f"`max_steps` = {max_steps} steps taken.")
        return self._hopeless_explicit()

    def _hopeless_explicit(self) -> bool:
        """Stop an explicit method that cannot reach ``t_final``: after :data:`EXPLICIT_PROBE` steps, the
        steps the rest of the span needs at the rate so far exceed ``EXPLICIT_HOPELESS * max_steps`` (its
        step is held by stability: the flow is stiff), so the run would only spend its step budget."""
        if self.method not in EXPLICIT or self.n_steps != EXPLICIT_PROBE:
            return False
        done, t_final, max_steps = self.solver.t - self.t0, self.opt.t_final, self.opt.max_steps
        projected = math.inf if done <= 0 else self.n_steps * (t_final - self.t0) / done
        if projected <= EXPLICIT_HOPELESS * max_steps:
            return False
        self._keep_current()
        return self._stop(
            Status.FAILED,
            t=self.solver.t,
            reason=(
                f"the explicit method {self.method} advanced only to t = {self.solver.t:.6g} in {self.n_steps} steps; "
                f"at that rate the span to t_final = {t_final:.6g} needs about {projected:.2g} steps, more than "
                f"{EXPLICIT_HOPELESS} times `max_steps` = {max_steps}: the flow is stiff here. Use method='auto' "
                "(LSODA) or 'BDF', or a shorter t_final."
            ),
        )

    def _finish(self) -> Outcome:
        """The :class:`Outcome`; a failed run's trajectory is cut back to its last finite state."""
        ts, ys, status = self.ts, self.ys, self.status
        if status == Status.FAILED and (not ts or not np.all(np.isfinite(ys[-1]))):
            while ys and not np.all(np.isfinite(ys[-1])):
                ys.pop()
                ts.pop()
        return Outcome(
            t=np.asarray(ts, dtype=float),
            y=ys,
            status=status,
            message=MESSAGES[status].format(**self.message_kw) + "".join(self.notes),
            nfev=self.nfev,
            njev=self.njev,
            t_events={k: np.asarray(v, dtype=float) for k, v in self.t_events.items()},
            sol=self.dense_sol,
            stop_event=self.message_kw.get("name") if status == Status.EVENT else None,
            error=self.error,
        )


class EventWatch:
    """The events of one run: the state events' last values and their crossings of 0 (:func:`_crosses`), the
    wall-clock budgets, and the times at which each fired (``t_events``). The flows' loop and
    :func:`riemdln.factor_descent` share it; the events see the user's energy object."""

    def __init__(self, events: Sequence[Event], energy) -> None:
        self.state = [ev for ev in events if ev.wall_seconds is None]
        self.wall = [ev for ev in events if ev.wall_seconds is not None]
        self.t_events: dict[str, list] = {ev.name: [] for ev in events}
        self.user = getattr(energy, "energy", energy)
        self.g_old: list[float] = []

    def value(self, ev: Event, t: float, X) -> float:
        """State event ``ev``'s value at (t, X) (:func:`event_value`)."""
        return event_value(ev, t, X, self.user)

    def start(self, values: list[float]) -> None:
        """The state events' values at the start."""
        self.g_old = list(values)

    def crossed(self, k: int, g: float) -> bool:
        """Whether state event k's value crossed 0 (in its direction) since its last one, now ``g``."""
        hit = _crosses(self.g_old[k], g, self.state[k].direction)
        self.g_old[k] = g
        return hit

    def over_budget(self, elapsed: float) -> list[Event]:
        """The wall-clock budgets that ``elapsed`` seconds exceed."""
        return [ev for ev in self.wall if ev.wall_seconds is not None and elapsed > ev.wall_seconds]


def event_value(ev: Event, t: float, X, problem) -> float:
    """The value of state event ``ev`` at (t, X): a finite real number, else :class:`CallableValueError`."""
    fn = ev.fn
    assert fn is not None  # state events have a function; wall-clock budgets are handled apart
    name = f"fn` of Event `{ev.name}"
    return checked_scalar(call_user(fn, name, t, X, problem), name, np.asarray(X))


def _crosses(a: float, b: float, direction: float) -> bool:
    """Whether an event's g went from ``a`` to ``b`` across 0 in ``direction`` (>0 up, <0 down, 0 either).

    A start at exactly 0 is no crossing (the event fired there, or starts there).

    >>> _crosses(-1.0, 0.0, +1), _crosses(1.0, -1.0, +1), _crosses(1.0, -1.0, 0), _crosses(0.0, 1.0, 0)
    (True, False, True, False)
    """
    if a == 0:
        return False
    up, down = a < 0 <= b, a > 0 >= b
    return (direction > 0 and up) or (direction < 0 and down) or (direction == 0 and (up or down))


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
