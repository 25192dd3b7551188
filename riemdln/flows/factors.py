r"""The factor-level ("upstairs") network: balanced initialization, gradient flow and gradient descent.

The network has factors :math:`W_1, \dots, W_N` and end-to-end matrix :math:`X = W_N \cdots W_1`; it is
trained on :math:`L(W_1, \dots, W_N) = E(W_N\cdots W_1)`, whose gradient is

.. math:: \partial L/\partial W_p = (W_N\cdots W_{p+1})^T\,\nabla E(X)\,(W_{p-1}\cdots W_1)^T.
"""

from __future__ import annotations

import math
import numbers
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from riemdln._validation import (
    RiemdlnValueError,
    _short,
    check_allocation,
    check_bool,
    check_matrix,
    check_seed,
    rank_tolerance,
)
from riemdln.energies import CallableValueError
from riemdln.flows import _driver
from riemdln.flows._options import MAX_SAVED_BYTES, Derivatives, FlowOptions
from riemdln.flows.end_to_end import _check_problem, _max_saved, check_max_saved_bytes
from riemdln.flows.result import (
    MESSAGES,
    Event,
    FlowResult,
    Status,
    check_events,
    loss_guard,
    trajectory_diagnostics,
)

__all__ = ["balanced_factors", "factor_flow", "factor_descent"]


def _check_int_depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, numbers.Real):
        ok = False
    else:
        try:
            ok = math.isfinite(float(depth)) and float(depth).is_integer() and not depth < 1  # Real declares <
        except OverflowError:  # an int beyond the double range
            ok = False
    if not ok:
        raise RiemdlnValueError(
            f"`depth` must be an integer >= 1 for a network of factors; got {_short(depth)} "
            "(end_to_end_flow accepts any real depth >= 1)."
        )
    return int(depth)


def balanced_factors(
    X0: ArrayLike, depth: int, width: int | None = None, rng: np.random.Generator | int | None = None
) -> list[np.ndarray]:
    r"""A balanced tuple :math:`W_1, \dots, W_N` with :math:`W_N\cdots W_1 = X_0`.

    With the SVD :math:`X_0 = Q\,\mathrm{diag}(s) R^T` (docs/theory.md §1):

    .. math::

        W_1 = O_1 \Sigma^{1/N} R^T, \quad W_p = O_p \Sigma^{1/N} O_{p-1}^T, \quad
        W_N = Q\,\Sigma^{1/N} O_{N-1}^T,

    which satisfies :math:`W_{p+1}^T W_{p+1} = W_p W_p^T`. The :math:`O_p` are identities, or random
    orthogonal matrices (the gauge) when ``rng`` is given.

    Parameters
    ----------
    X0 : array_like, shape (m, n)
    depth : int
        Number of factors N >= 1.
    width : int, optional
        Hidden width (>= rank of X0; default min(m, n)). Extra hidden units start at zero.
    rng : numpy Generator or int, optional
        Draw the gauge :math:`O_p` at random (None, a non-negative integer seed or a Generator).

    Returns
    -------
    list of ndarray
        ``[W_1, ..., W_N]``; :math:`W_1` is width×n, :math:`W_N` is m×width (for N = 1, ``[X0]``).

    Examples
    --------
    >>> W = balanced_factors(np.array([[4.0, 0.0], [0.0, 1.0]]), depth=2)
    >>> print(W[1] @ W[0])
    [[4. 0.]
     [0. 1.]]
    >>> print(np.allclose(W[1].T @ W[1], W[0] @ W[0].T))
    True
    """
    X0 = check_matrix(X0, "X0")
    if X0.ndim != 2:
        raise RiemdlnValueError(f"`X0` must be a single matrix (2-d); got shape {X0.shape}.")
    N = _check_int_depth(depth)
    rng = check_seed(rng, "rng")
    m, n = X0.shape
    check_allocation(N * max(m, n) ** 2, "depth", f"{N} factors")
    Q, s, Rt = np.linalg.svd(X0, full_matrices=True)
    k = len(s)
    rank = int(np.sum(s > max(m, n) * np.finfo(float).eps * (s[0] if k else 0.0)))
    if width is None:
        width = k
    if isinstance(width, bool) or not isinstance(width, numbers.Integral) or width < max(rank, 1):
        raise RiemdlnValueError(f"`width` must be an integer >= rank(X0) = {rank} (and >= 1); got {width!r}.")
    if N == 1:
        return [X0.copy()]
    width = int(width)
    # W_1, W_N and N - 2 middle factors, plus the N - 1 gauge matrices (and their QR work) when rng is given
    n_square = (N - 2) + (2 * (N - 1) if rng is not None else 0)
    check_allocation(width * (m + n) + n_square * width**2, "width", f"{N} factors of width {width}")
    mu = np.zeros(width)
    kk = min(k, width)
    mu[:kk] = s[:kk] ** (1.0 / N)
    first = np.zeros((width, n))
    first[np.arange(kk), np.arange(kk)] = mu[:kk]
    first = first @ Rt
    last = np.zeros((m, width))
    last[np.arange(kk), np.arange(kk)] = mu[:kk]
    last = Q @ last
    middle = [np.diag(mu) for _ in range(N - 2)]
    W = [first, *middle, last]
    if rng is not None:
        gen = np.random.default_rng(rng)
        O = [np.linalg.qr(gen.standard_normal((width, width)))[0] for _ in range(N - 1)]
        W[0] = O[0] @ W[0]
        for p in range(1, N - 1):
            W[p] = O[p] @ W[p] @ O[p - 1].T
        W[N - 1] = W[N - 1] @ O[N - 2].T
    return W


def _check_factors(factors, problem) -> list[np.ndarray]:
    try:
        W = [check_matrix(w, f"factors[{p}]") for p, w in enumerate(factors)]
    except TypeError:
        raise RiemdlnValueError(f"`factors` must be a sequence of matrices [W_1, ..., W_N]; got {factors!r}.") from None
    if not W:
        raise RiemdlnValueError("`factors` must contain at least one matrix; got an empty sequence.")
    m, n = problem.shape
    for p, w in enumerate(W):
        if w.ndim != 2:
            raise RiemdlnValueError(f"`factors[{p}]` must be a 2-d matrix; got shape {w.shape}.")
    if W[0].shape[1] != n or W[-1].shape[0] != m:
        raise RiemdlnValueError(
            f"`factors` must multiply to the problem's shape {problem.shape}: W_1 needs {n} columns and W_N "
            f"{m} rows; got W_1 {W[0].shape}, W_N {W[-1].shape}."
        )
    for p in range(1, len(W)):
        if W[p].shape[1] != W[p - 1].shape[0]:
            raise RiemdlnValueError(
                f"`factors[{p}]` must have {W[p - 1].shape[0]} columns to follow factors[{p - 1}] "
                f"{W[p - 1].shape}; got {W[p].shape}."
            )
    return W


_BALANCE_TOL = 1.5e-8  # ~ sqrt(eps): balanced to rounding (balanced_factors, with or without a gauge)


def _check_rank_kept(W: list[np.ndarray], shape: tuple[int, ...], what: str) -> None:
    r"""Refuse balanced factors (N >= 2) whose product is numerically rank-deficient.

    The criterion is that of :func:`end_to_end_flow` (numpy's rank tolerance on the singular values of
    :math:`X_0 = W_N\cdots W_1`), against the largest rank the network allows, min(m, n, widths). From balanced
    factors (:math:`W_{p+1}^T W_{p+1} = W_p W_p^T` to ~sqrt(eps) relative) the exact flow is the end-to-end
    flow, whose rank cannot change in finite time for N >= 2, and gradient descent keeps it too in exact
    arithmetic (each update of :math:`W_p` has its columns in the range of :math:`W_{p+1}^T` and its rows in
    that of :math:`W_{p-1}`, so the hidden subspaces are kept); in floating point, rounding seeds the missing
    singular values, which grow away from the stratum. Unbalanced factors (e.g. a layer started at zero)
    are accepted: from them the exact flow can change the rank of X.
    """
    N = len(W)
    if N < 2:
        return
    X = _Network.product(W)
    k = min(*shape, *(w.shape[0] for w in W[:-1]))
    s = np.linalg.svd(X, compute_uv=False)
    rank = int(np.sum(s > rank_tolerance(s, shape))) if s.size and s[0] > 0 else 0
    if rank >= k:
        return
    scale = max(float(np.sum(w * w)) for w in W)
    for p in range(N - 1):
        gap = W[p + 1].T @ W[p + 1] - W[p] @ W[p].T
        if float(np.linalg.norm(gap)) > _BALANCE_TOL * scale:
            return  # unbalanced: the exact flow may change the rank
    raise RiemdlnValueError(
        f"`factors` are balanced and multiply to an X0 of rank {rank} < {k} = min(m, n, widths); from "
        f"balanced factors the exact {what} keeps the rank of X for N >= 2, but rounding seeds the missing "
        "singular values, which then grow: the simulation would leave the rank-"
        f"{rank} stratum and reach points the exact one cannot. Start from full-rank factors (e.g. "
        "balanced_factors(X0 + 1e-8 * a random matrix, N)) or use one factor (N = 1)."
    )


class _Network:
    def __init__(self, problem, shapes):
        self.problem = problem
        self.shapes = shapes
        sizes = [a * b for a, b in shapes]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)

    def split(self, y):
        return [y[self.offsets[p] : self.offsets[p + 1]].reshape(self.shapes[p]) for p in range(len(self.shapes))]

    @staticmethod
    def join(W):
        return np.concatenate([w.ravel() for w in W])

    @staticmethod
    def product(W):
        X = W[0]
        for w in W[1:]:
            X = w @ X
        return X

    def X(self, y):
        return self.product(self.split(y))

    def gradients(self, W):
        """Return X, G and [dL/dW_p]; the factors may carry a leading batch axis."""
        N = len(W)
        prefix: list[Any] = [None] * (N + 1)  # prefix[p] = W_p ... W_1 (prefix[0] = I)
        acc = None
        for p in range(N):
            acc = W[p] if acc is None else W[p] @ acc
            prefix[p + 1] = acc
        X = prefix[N]
        G = self.problem.grad(X)
        grads = [None] * N
        back = G  # (W_N ... W_{p+1})^T G
        for p in range(N - 1, -1, -1):
            grads[p] = back if p == 0 else back @ np.swapaxes(prefix[p], -1, -2)
            if p > 0:
                back = np.swapaxes(W[p], -1, -2) @ back
        return X, G, grads

    def rhs_batch(self, Y, scale):
        """-scale * dL/dW for a batch Y of shape (B, D)."""
        B = Y.shape[0]
        W = [Y[:, self.offsets[p] : self.offsets[p + 1]].reshape(B, *self.shapes[p]) for p in range(len(self.shapes))]
        _, _, grads = self.gradients(W)
        return -scale * np.concatenate([g.reshape(B, -1) for g in grads], axis=1)


@_driver.with_blas_threads
def factor_flow(
    problem,
    factors: Sequence[ArrayLike],
    t_final: float,
    normalized: bool = False,
    *,
    method: str = "auto",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    t_eval: ArrayLike | None = None,
    events: Event | Sequence[Event] | None = None,
    blowup_norm: float | None = None,
    max_steps: int = 1_000_000,
    progress: bool | None = None,
    max_saved_bytes: int = MAX_SAVED_BYTES,
) -> FlowResult:
    r"""Gradient flow of the factors, :math:`\dot W_p = -\partial L/\partial W_p` (any initialization).

    .. math:: \dot W_p = -(W_N\cdots W_{p+1})^T\,\nabla E(X)\,(W_{p-1}\cdots W_1)^T

    From a balanced start the end-to-end matrix follows :func:`end_to_end_flow` (raw, depth N = number of
    factors). ``normalized=True`` scales time, :math:`\tau = N t`, to match the normalized convention.

    Parameters
    ----------
    problem : energy
        Any energy: an object with ``shape``, ``loss(X)`` and ``gradient(X)`` (optionally
        ``hessian_vector(X, V)``), e.g. a CompletionProblem, riemdln.Energy, QuadraticEnergy, SensingProblem.
    factors : sequence of array_like
        ``[W_1, ..., W_N]`` (``W_1`` acts first), e.g. from :func:`balanced_factors`. For N >= 2, balanced
        factors whose product is numerically rank-deficient (rank below min(m, n, widths), numpy's rank
        tolerance as in :func:`end_to_end_flow`) are refused with a RiemdlnValueError: the exact flow keeps
        that rank, the numerical one would leave it (rounding seeds the missing singular values). Unbalanced
        ones (e.g. a layer started at zero) are accepted: from them the exact flow can change the rank.
    t_final : float
    normalized : bool
    method, rtol, atol, t_eval, events, blowup_norm, max_steps, progress, max_saved_bytes
        As in :func:`end_to_end_flow` (tolerances apply to the factor entries). ``"auto"`` is LSODA (with a
        batched finite-difference Jacobian) up to 1600 factor entries, CVODE's matrix-free BDF/GMRES above.
        Without ``t_eval`` a bounded number of states is saved (see :func:`end_to_end_flow`), so memory does
        not grow with the number of steps.

    Returns
    -------
    FlowResult
        With ``factors``: ``factors[p]`` is :math:`W_{p+1}` along the trajectory, shape (len(t), ...).

    Notes
    -----
    Statuses and BLAS threads: as in :func:`end_to_end_flow` (Notes).

    Examples
    --------
    >>> from riemdln import CompletionProblem
    >>> p = CompletionProblem.named("menon-2x2")
    >>> res = factor_flow(p, balanced_factors(0.1 * np.eye(2), 2), t_final=20.0)
    >>> print(np.round(res.X[-1], 6))
    [[1. 0.]
     [0. 1.]]
    """
    problem = _check_problem(problem)
    normalized = check_bool(normalized, "normalized")
    W0 = _check_factors(factors, problem)
    _check_rank_kept(W0, problem.shape, "flow")
    t_final = _driver.check_time(t_final, "t_final")
    rtol, atol = _driver.check_tol(rtol, "rtol"), _driver.check_tol(atol, "atol")
    t_eval, events = _driver.check_t_eval(t_eval, t_final), check_events(events)
    max_steps = _driver.check_max_steps(max_steps)
    system = _FactorSystem(problem, W0, normalized, method, events)
    problem.check_outputs(system.X0)
    options = FlowOptions(
        t_final=t_final,
        method=method,
        rtol=rtol,
        atol=atol,
        t_eval=t_eval,
        events=events,
        blowup_norm=_driver.check_blowup_norm(blowup_norm, problem, system.X0),
        max_steps=max_steps,
        progress=_driver.want_progress(progress),
        max_saved_bytes=check_max_saved_bytes(max_saved_bytes),
    )
    system.max_saved = _max_saved(system.y0.size, problem.shape[0] * problem.shape[1], options.max_saved_bytes)
    return system.result(_driver.run(system, options))


class _FactorSystem:
    """Gradient flow of the factors from ``W0`` (a :class:`~riemdln.flows._options.FlowSystem`): the state is
    the factors' entries; ``rhs`` also takes (D, B) batches (the implicit methods difference it in batches)."""

    t0 = 0.0
    atol_fn: Callable[[np.ndarray], np.ndarray] | None = None
    derivatives = Derivatives(batched=True)
    max_saved = 0

    def __init__(self, problem, W0: list[np.ndarray], normalized: bool, method: str, events: tuple[Event, ...]):
        size = sum(w.size for w in W0)
        self.method, self.fallback = _driver.resolve_method(method, size), _driver.fallback(method)
        self.energy, self.normalized, self.N = problem, normalized, len(W0)
        self.net = _Network(problem, [w.shape for w in W0])
        self.X0 = self.net.product(W0)
        self.y0, self.events, self.desc = self.net.join(W0), events, f"factor flow N={self.N}"
        self.scale = 1.0 / self.N if normalized else 1.0

    def rhs(self, t, y):
        net = self.net
        if y.ndim == 1:
            _, _, grads = net.gradients(net.split(y))
            return -self.scale * net.join(grads)
        return net.rhs_batch(y.T, self.scale).T

    def event_state(self, y) -> np.ndarray:
        return self.net.X(y)

    def norm(self, y) -> float:
        return float(np.linalg.norm(self.net.X(y)))

    def check_state(self, y) -> str | None:
        return None

    def result(self, out: _driver.Outcome) -> FlowResult:
        return _factor_result(self.energy, self.net, out, normalized=self.normalized, formulation="factors")


def _factor_result(problem, net: _Network, out: _driver.Outcome, *, normalized: bool, formulation: str) -> FlowResult:
    """The FlowResult of a factor-level run ``out``: the factors and X along it, the diagnostics (depth N)."""
    t, N = out.t, len(net.shapes)
    Ws = [net.split(np.asarray(y)) for y in out.y]
    factors = tuple(np.array([w[p] for w in Ws]).reshape(len(t), *net.shapes[p]) for p in range(N))
    m, n = problem.shape
    X = np.array([net.product(w) for w in Ws]).reshape(len(t), m, n)
    diags = trajectory_diagnostics(problem, X, float(N), normalized)
    status, message = loss_guard(problem, t, X, diags, out.status, out.message)
    return FlowResult(
        t=np.asarray(t, dtype=float),
        X=X,
        status=status,
        message=message,
        nfev=out.nfev,
        njev=out.njev,
        diagnostics=diags,
        t_events=out.t_events,
        factors=factors,
        depth=float(N),
        normalized=normalized,
        formulation=formulation,
        stop_event=out.stop_event,
        error=out.error,
    )


@_driver.with_blas_threads
def factor_descent(
    problem,
    factors: Sequence[ArrayLike],
    lr: float,
    steps: int,
    *,
    record_every: int | None = None,
    events: Event | Sequence[Event] | None = None,
    blowup_norm: float | None = None,
    progress: bool | None = None,
) -> FlowResult:
    r"""Plain gradient descent on the factors, as deep-learning code trains them.

    .. math:: W_p \leftarrow W_p - \eta\,(W_N\cdots W_{p+1})^T\,\nabla E(X)\,(W_{p-1}\cdots W_1)^T

    Step k corresponds to time :math:`t = k\eta` of :func:`factor_flow` (error :math:`O(\eta)`).

    Parameters
    ----------
    problem : energy
        Any energy (see :func:`factor_flow`).
    factors : sequence of array_like
        ``[W_1, ..., W_N]``. Balanced factors (N >= 2) whose product is numerically rank-deficient are
        refused, as in :func:`factor_flow`. In exact arithmetic gradient descent keeps their rank too, even
        with a finite step: each update of :math:`W_p` has its columns in the range of :math:`W_{p+1}^T` and
        its rows in that of :math:`W_{p-1}`, so the hidden subspaces, and the rank of X, are kept. In floating
        point, rounding seeds the missing directions and the steps amplify them, so where the run goes would
        be decided by rounding, not by the algorithm.
    lr : float
        Learning rate :math:`\eta > 0`.
    steps : int
        Number of steps.
    record_every : int, optional
        Save every this many steps (default: about 1000 records in all); the last step is always saved.
    events : Event or sequence of Event, optional
        Checked after every step (``loss_below``, ``norm_above``, ``time_budget``, or any Event whose
        ``fn`` becomes <= 0 for direction -1 / >= 0 for direction +1).
    blowup_norm : float, optional
        ``Status.DIVERGED`` when :math:`\|X\|_F` exceeds it or an entry becomes non-finite (a learning
        rate above the stability limit); default :math:`10^8\max(1, \|M\|_F, \|X_0\|_F)`.
    progress : bool or None
        tqdm bar showing the step and the loss (None: only on a terminal).

    Returns
    -------
    FlowResult
        ``t`` = step·lr, ``X``, ``factors``, diagnostics; ``nfev`` counts gradient evaluations.

    Notes
    -----
    Statuses: FINISHED, all ``steps`` taken; EVENT, a terminal event fired (the returned last state is the
    one it saw); DIVERGED, :math:`\|X\|_F` passed ``blowup_norm`` or an entry overflowed (the learning rate
    is above the stability limit). Descent does not check the loss for rises (a finite step may raise it),
    so it never ends INACCURATE. BLAS runs on one thread unless ``OPENBLAS_NUM_THREADS`` (or OMP/MKL/BLIS)
    or ``RIEMDLN_BLAS_THREADS=k`` is set.

    Examples
    --------
    >>> from riemdln import CompletionProblem
    >>> p = CompletionProblem.named("menon-2x2")
    >>> res = factor_descent(p, balanced_factors(0.1 * np.eye(2), 2), lr=0.1, steps=500)
    >>> print(res.status.name, np.round(res.X[-1], 6))
    FINISHED [[1. 0.]
     [0. 1.]]
    """
    problem = _check_problem(problem)
    W = [w.copy() for w in _check_factors(factors, problem)]
    N = len(W)
    _check_rank_kept(W, problem.shape, "gradient descent (in exact arithmetic)")
    if isinstance(lr, bool) or not isinstance(lr, numbers.Real) or not (lr > 0) or not math.isfinite(lr):
        raise RiemdlnValueError(f"`lr` must be a finite real number > 0; got {lr!r}.")
    if isinstance(steps, bool) or not isinstance(steps, numbers.Integral) or steps < 1:
        raise RiemdlnValueError(f"`steps` must be an integer >= 1; got {steps!r}.")
    if record_every is None:
        record_every = max(1, steps // 1000)
    elif isinstance(record_every, bool) or not isinstance(record_every, numbers.Integral) or record_every < 1:
        raise RiemdlnValueError(f"`record_every` must be an integer >= 1; got {record_every!r}.")
    events = check_events(events)
    net = _Network(problem, [w.shape for w in W])
    X = net.product(W)
    plan = _DescentPlan(lr, steps, record_every, _driver.check_blowup_norm(blowup_norm, problem, X))
    bar = _driver.make_bar(
        _driver.want_progress(progress), float(steps), f"descent N={N}", log=False, unit="step", loss=problem.loss
    )
    watch = _driver.EventWatch(events, problem)  # events see the user's energy object
    descent = _Descent(net, W, plan, watch)
    problem.check_outputs(X)
    watch.start([watch.value(ev, 0.0, X) for ev in watch.state])
    return _factor_result(problem, net, descent.run(bar), normalized=False, formulation="descent")


@dataclass(frozen=True, slots=True)
class _DescentPlan:
    r"""What a :func:`factor_descent` run does: ``steps`` steps of size ``lr``, a state saved every
    ``record_every`` (and the last), DIVERGED once :math:`\|X\|_F` exceeds ``blowup_norm``."""

    lr: float
    steps: int
    record_every: int
    blowup_norm: float


class _Descent:
    """One :func:`factor_descent` run: the factors ``W`` (updated in place), the saved states and how it ended.

    Each step (:meth:`run`) is :meth:`_advance` (the gradient and the update), :meth:`_check` (divergence,
    then the events: the flows' event test, :class:`riemdln.flows._driver.EventWatch`, at the step's end) and
    the saving; :meth:`_outcome` is the record :func:`_factor_result` reads."""

    def __init__(self, net: _Network, W: list[np.ndarray], plan: _DescentPlan, watch: _driver.EventWatch):
        self.net, self.W, self.plan, self.watch = net, W, plan, watch
        self.ts, self.ys = [0.0], [net.join(W)]
        self.status, self.message_kw = Status.FINISHED, dict[str, Any]()
        self.error: CallableValueError | None = None
        self.step = 0
        self.start = time.perf_counter()

    def run(self, bar) -> _driver.Outcome:
        """All steps, or until one stops the run; the progress ``bar`` (or None) updated and closed."""
        plan = self.plan
        with np.errstate(over="ignore", invalid="ignore"):
            try:
                for step in range(1, plan.steps + 1):
                    self.step = step
                    X = self._advance(step)
                    if X is None:
                        break
                    stop = self._check(step * plan.lr, X)
                    if stop or step % plan.record_every == 0 or step == plan.steps:
                        if self.status != Status.DIVERGED or np.all(np.isfinite(X)):
                            self.ts.append(step * plan.lr)
                            self.ys.append(self.net.join(self.W))
                    if bar is not None and step % max(1, plan.steps // 1000) == 0:
                        bar.update(step, X)
                    if stop:
                        break
            finally:
                if bar is not None:
                    bar.close()
        return self._outcome()

    def _advance(self, step: int) -> np.ndarray | None:
        """The step's update of the factors and the new X; None if the user's gradient failed (FAILED at the
        last good state, saved)."""
        net, W, lr = self.net, self.W, self.plan.lr
        try:
            _, _, grads = net.gradients(W)
        except CallableValueError as exc:
            t = (step - 1) * lr
            self._fail(exc, t)
            if self.ts[-1] != t:
                self.ts.append(t)
                self.ys.append(net.join(W))
            return None
        for p in range(len(W)):
            W[p] -= lr * grads[p]
        return net.product(W)

    def _check(self, t: float, X: np.ndarray) -> bool:
        """Whether the run stops at (t, X): divergence (or overflow), a terminal event, a budget, a bad event."""
        if not np.all(np.isfinite(X)) or np.linalg.norm(X) > self.plan.blowup_norm:
            self.status, self.message_kw = Status.DIVERGED, {"t": t, "bound": self.plan.blowup_norm}
            return True
        watch, stop = self.watch, None
        for k, ev in enumerate(watch.state):
            try:
                g = watch.value(ev, t, X)
            except CallableValueError as exc:
                self._fail(exc, t)
                return True
            if watch.crossed(k, g):
                watch.t_events[ev.name].append(t)
                if ev.terminal and stop is None:
                    stop = ev.name
        if stop is None and watch.wall:
            for ev in watch.over_budget(time.perf_counter() - self.start):
                watch.t_events[ev.name].append(t)
                stop = stop or ev.name
        if stop is not None:
            self.status, self.message_kw = Status.EVENT, {"t": t, "name": stop}
        return stop is not None

    def _fail(self, exc: CallableValueError, t: float) -> None:
        self.error, self.status = exc, Status.FAILED
        self.message_kw = {"t": t, "reason": f"{exc} The trajectory up to there is kept."}

    def _outcome(self) -> _driver.Outcome:
        status = self.status
        if status == Status.FINISHED:
            self.message_kw = {"t": self.plan.steps * self.plan.lr}
        return _driver.Outcome(
            t=np.asarray(self.ts, dtype=float),
            y=self.ys,
            status=status,
            message=MESSAGES[status].format(**self.message_kw),
            nfev=self.step,
            njev=0,
            t_events={k: np.asarray(v) for k, v in self.watch.t_events.items()},
            stop_event=self.message_kw.get("name") if status == Status.EVENT else None,
            error=self.error,
        )
