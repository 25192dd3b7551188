r"""Geodesics of the DLN metric in the chart-free Hamiltonian form (docs/theory.md §12).

The cometric of :math:`g^N` is :math:`A_N` itself: :math:`H(X, P) = \tfrac12\langle P, A_N(X)P\rangle`,
:math:`\dot X = A_N(X)P`, :math:`\dot P = -\nabla_X H`. Any full-rank m×n X. With the full SVD
:math:`X = QSR^T` (Q m×m, R n×n, S m×n with :math:`s_1, \dots, s_k` on its diagonal, :math:`k = \min(m, n)`),
:math:`x = (s^2, 0, \dots, 0)` of length m (eigenvalues of :math:`XX^T`), :math:`z = (s^2, 0, \dots, 0)` of
length n (eigenvalues of :math:`X^TX`), :math:`\sigma^L, \sigma^R` the singular values padded by zeros to
lengths m and n, :math:`M_{ij} = a(x_i, z_j)` (so :math:`Q^T(A_N Z)R = M \circ Q^TZR`), :math:`\tilde P = Q^TPR`
and the divided differences on each side

.. math::
    S^L_{ijc} = \frac{a(x_i, z_c) - a(x_j, z_c)}{x_i - x_j}\ (m \times m \times n), \qquad
    S^R_{ijc} = \frac{a(x_c, z_i) - a(x_c, z_j)}{z_i - z_j}\ (n \times n \times m)

(the partial derivative at coincident values, evaluated stably by
``riemdln.geometry._metric.unchecked_multiplier_slope``;
a is symmetric). **Derivation** (by hand, as in ``riemdln/flows/_krylov.py``): a perturbation V of X, with
:math:`\tilde V = Q^TVR`, moves :math:`XX^T` and :math:`X^TX` by :math:`\Pi = \tilde VS^T + S\tilde V^T` and
:math:`\Pi' = \tilde V^TS + S^T\tilde V` in their eigenbases, and Daleckii–Krein on each side of the separable
multiplier gives the frame form of the derivative of the operator,

.. math::
    Q^T(DA_N[V]P)R = \sum_{c=1}^m S^L_{icj}\,\Pi_{ic}\tilde P_{cj} + \sum_{c=1}^n S^R_{jci}\,\tilde P_{ic}\Pi'_{cj}.

With :math:`H = \tfrac12\langle\tilde P, M\circ\tilde P\rangle`, :math:`\Pi_{ic} = \tilde V_{ic}\sigma^L_c +
\sigma^L_i\tilde V_{ci}` and :math:`\Pi'_{cj} = \tilde V_{jc}\sigma^R_j + \sigma^R_c\tilde V_{cj}` (symmetric
matrices, paired with tensors symmetric in the same two indices), :math:`dH = \langle\tilde G, \tilde V\rangle`:

.. math::
    \nabla_X H = Q\tilde G R^T, \qquad
    \tilde G_{ij} = \sigma^L_j \sum_{c=1}^n S^L_{ijc}\tilde P_{ic}\tilde P_{jc}
                  + \sigma^R_i \sum_{c=1}^m S^R_{ijc}\tilde P_{ci}\tilde P_{cj}

(the first sum only for :math:`j \le k`, the second only for :math:`i \le k`). For square X (x = z,
:math:`S^L = S^R`) this is :math:`\tilde G_{ij} = \sum_k S(x_i, x_j; x_k)(s_j\tilde P_{ik}\tilde P_{jk} +
s_i\tilde P_{ki}\tilde P_{kj})`, the formula of docs/theory.md §12 with its removable quotient written as a
divided difference (the diagonal :math:`i = j` is its first line). The zero-padded entries need
:math:`a(x, 0) = x^{(N-1)/N} > 0`, true for finite N; :math:`L(x, 0) = 0` makes :math:`A_\infty` singular on
rectangular matrices, so ``depth=math.inf`` is refused there. Conventions: raw (:math:`A_N`), normalized
(:math:`A_N/N`, the cometric of :math:`N g^N`), ``depth=math.inf`` normalized and square only (:math:`A_\infty`).
"""

from __future__ import annotations

import math
import numbers
import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.integrate import solve_ivp

from riemdln._blas import with_blas_threads
from riemdln._errors import ConvergenceError
from riemdln._status import Status
from riemdln._validation import (
    RiemdlnValueError,
    check_bool,
    check_finite_array,
    check_full_rank,
    check_integer,
    check_matrix,
    rank_tolerance,
    short,
)
from riemdln.geometry import _metric as geometry
from riemdln.geometry._metric import conventions
from riemdln.geometry._spectral import pad, segment_lengths, spectral_sides

__all__ = [
    "GeodesicResult",
    "GeodesicBetweenResult",
    "hamiltonian_gradient",
    "christoffel",
    "geodesic",
    "exp_map",
    "geodesic_between",
    "log_map",
    "distance",
    "DiscreteDistanceResult",
    "discrete_distance",
]


def _full_rank(X, name, depth):
    """One full-rank m x n matrix; square when depth is infinite (A_inf is singular on rectangular matrices)."""
    X = check_matrix(X, name)
    if X.ndim != 2:
        raise RiemdlnValueError(f"`{name}` must be one m x n matrix (not a stack); got shape {X.shape}.")
    m, n = X.shape
    if math.isinf(depth) and m != n:
        raise RiemdlnValueError(
            f"`{name}` must be square for depth=math.inf; got shape {X.shape}: A_inf is singular on rectangular "
            f"matrices (the multiplier L(s^2, 0) = 0 on the zero-padded directions), so g^inf is not defined there."
        )
    if depth == 1.0:  # A_1 = identity: the Euclidean metric, defined at every matrix
        return X
    s = np.linalg.svd(X, compute_uv=False)
    check_full_rank(s, X.shape, name, "the metric is not defined at rank-deficient matrices")
    return X


def _check(X, others, depth, normalized, name="X"):
    """X full rank (m x n), the ``others`` of its shape; depth and normalized already checked (``conventions``)."""
    X = _full_rank(X, name, depth)
    out = []
    for zname, Z in others:
        Z = check_matrix(Z, zname)
        if Z.shape != X.shape:
            raise RiemdlnValueError(f"`{zname}` must have the shape of `{name}` {X.shape}; got {Z.shape}.")
        out.append(Z)
    return X, depth, normalized, out


def _frame(X, depth, normalized):
    """Full SVD frame of X (or of a stack of m x n X): Q, s, Rt, the multiplier M and the slopes SL, SR."""
    Q, s, Rt = np.linalg.svd(X)
    return (Q, s, Rt, *spectral_sides(s, X.shape[-2:], depth, normalized))


def _grad_in_frame(s, SL, SR, A, B):
    r"""The polarized gradient formula :math:`\tilde G(A, B)` of the module docstring (A, B in the frame, m x n).

    :math:`\tilde G(\tilde P, \tilde P)` is :math:`Q^T\nabla_X H R`; with the slopes of 1/a in place of SL, SR
    it is the gradient of :math:`\tfrac12 g_X(V, V)` (:func:`_path_energy`). Leading batch axes broadcast.
    """
    m, n = A.shape[-2:]
    k = s.shape[-1]
    rows = np.einsum("...ic,...jc->...ijc", A, B)  # (m, m, n): the left (XX^T) side
    cols = np.einsum("...ci,...cj->...ijc", A, B)  # (n, n, m): the right (X^TX) side
    if A is not B:  # symmetrize in (i, j): the polarization of s_j A_ic A_jc + s_i A_ci A_cj
        rows = 0.5 * (rows + np.swapaxes(rows, -3, -2))
        cols = 0.5 * (cols + np.swapaxes(cols, -3, -2))
    rows = rows * pad(s, m)[..., None, :, None]
    cols = cols * pad(s, n)[..., :, None, None]
    if m == n:
        return np.sum(SL * (rows + cols), axis=-1)
    GL, GR = np.sum(SL * rows, axis=-1), np.sum(SR * cols, axis=-1)
    out = np.zeros((*np.broadcast_shapes(GL.shape[:-2], GR.shape[:-2]), m, n))
    out[..., :, :k] = GL[..., :, :k]  # sigma^L_j = 0 beyond k
    out[..., :k, :] += GR[..., :k, :]  # sigma^R_i = 0 beyond k
    return out


def _grad_from_frame(frame, P):
    """grad_X H in the frame of X; X, P may be stacks (..., m, n)."""
    Q, s, Rt, _M, SL, SR = frame
    Pt = np.swapaxes(Q, -1, -2) @ P @ np.swapaxes(Rt, -1, -2)
    return Q @ _grad_in_frame(s, SL, SR, Pt, Pt) @ Rt


def _apply(frame, P):
    """A_N(X) P in the frame of X; X, P may be stacks (..., m, n)."""
    Q, _s, Rt, M, _SL, _SR = frame
    return Q @ (M * (np.swapaxes(Q, -1, -2) @ P @ np.swapaxes(Rt, -1, -2))) @ Rt


def hamiltonian_gradient(X: ArrayLike, P: ArrayLike, depth: float, normalized: bool = False) -> NDArray[np.float64]:
    r""":math:`\nabla_X H(X, P)`, :math:`H = \tfrac12\langle P, A_N(X) P\rangle` (full-rank m×n X).

    See the module docstring for the formula (separate left and right divided differences; square X:
    :math:`\tilde G_{ij} = \sum_k S(x_i, x_j; x_k)(s_j\tilde P_{ik}\tilde P_{jk} + s_i\tilde P_{ki}\tilde P_{kj})`);
    coincident singular values are handled by stable divided differences. ``depth=math.inf`` needs square X.
    Checked against finite differences of :math:`H` (tests/test_geodesics.py, tests/test_rectangular_geometry.py).

    >>> import numpy as np
    >>> g = hamiltonian_gradient(np.diag([2.0, 1.0]), np.eye(2), depth=1)   # A_1 = identity: H constant
    >>> print(np.abs(g).max())
    0.0
    """
    return _hamiltonian_gradient(X, P, *conventions(depth, normalized))


def _hamiltonian_gradient(X, P, depth, normalized):
    X, depth, normalized, (P,) = _check(X, [("P", P)], depth, normalized)
    return _grad_from_frame(_frame(X, depth, normalized), P)


def christoffel(
    X: ArrayLike, U: ArrayLike, V: ArrayLike, depth: float, normalized: bool = False
) -> NDArray[np.float64]:
    r"""Christoffel form :math:`\Gamma_X(U, V)` of :math:`g^N` in matrix coordinates (full-rank m×n X).

    Geodesics solve :math:`\ddot X + \Gamma_X(\dot X, \dot X) = 0`.

    :math:`\Gamma_X(U, U) = A_N(X)\nabla_X H(X, P) - DA_N(X)[U]\,P`, :math:`P = A_N(X)^{-1}U`, where
    :math:`\langle W, DA_N[U]P\rangle = \langle \nabla_X\langle W, A_N(X)P\rangle, U\rangle` is the adjoint of the
    polarized gradient formula (einsum in the SVD frame, Daleckii–Krein on the left and right sides; see the
    module docstring); :math:`\Gamma_X(U, V)` by polarization of the quadratic form. Convention as in the module
    docstring (``depth=math.inf`` for square X only).

    >>> import numpy as np
    >>> G = christoffel(np.diag([2.0, 1.0]), np.eye(2), np.eye(2), depth=1)   # N = 1: flat
    >>> print(np.abs(G).max())
    0.0
    """
    return _checked_christoffel(X, U, V, *conventions(depth, normalized))


def _checked_christoffel(X, U, V, depth, normalized):
    X, depth, normalized, (U, V) = _check(X, [("U", U), ("V", V)], depth, normalized)
    return _christoffel(X, depth, normalized, U, V)


def _christoffel(X, depth, normalized, U, V, frame=None):
    """Gamma_X(U, V) without input checks (full-rank m x n X)."""
    Q, s, Rt, M, SL, SR = _frame(X, depth, normalized) if frame is None else frame
    Qt, R = np.swapaxes(Q, -1, -2), np.swapaxes(Rt, -1, -2)
    return Q @ _gamma_in_frame(s, M, SL, SR, Qt @ U @ R, Qt @ V @ R) @ Rt


def _gamma_in_frame(s, M, SL, SR, Ut, Vt):
    r"""The symmetric bilinear form :math:`Q^T\Gamma_X(U, V)R` from :math:`\tilde U = Q^TUR`, :math:`\tilde V = Q^TVR`.

    With :math:`\tilde P = \tilde U/M` (and :math:`\tilde P'` for V), the polarization of
    :math:`\Gamma(U, U) = A_N\nabla_X H(P) - DA_N[U]P`: :math:`M \circ \tilde G(\tilde P, \tilde P') -
    \tfrac12(C(\tilde U, \tilde P') + C(\tilde V, \tilde P))`, with :math:`\tilde G` the polarized gradient
    formula of the module docstring and :math:`C(W, P)` the frame form of :math:`DA_N[W]P` (:func:`_da_adjoint`).
    Every array may carry leading batch axes (broadcast together): s (..., k), M (..., m, n), SL (..., m, m, n),
    SR (..., n, n, m), Ut, Vt (..., m, n).
    """
    Pu, Pv = Ut / M, Vt / M
    G = _grad_in_frame(s, SL, SR, Pu, Pv)
    return M * G - 0.5 * (_da_adjoint(s, SL, SR, Ut, Pv) + _da_adjoint(s, SL, SR, Vt, Pu))


def _da_adjoint(s, SL, SR, W, P):
    r""":math:`Q^T(DA_N[W]P)R` from W, P in the frame (the adjoint of the polarized gradient formula).

    Daleckii–Krein on each side (module docstring): with :math:`\Pi = WS^T + SW^T`, :math:`\Pi' = W^TS + S^TW`,
    :math:`C_{ab} = \sum_c S^L_{acb}\Pi_{ac}P_{cb} + \sum_c S^R_{bca}P_{ac}\Pi'_{cb}`, expanded into four terms
    (:math:`\Pi_{ac} = W_{ac}s_c + s_aW_{ca}`, :math:`\Pi'_{cb} = W_{bc}s_b + s_cW_{cb}`, each s zero beyond k):

    .. math::
        C_{ab} = \sum_{c \le k} S^L_{acb}W_{ac}s_cP_{cb} + s_a\sum_c S^L_{cab}W_{ca}P_{cb}
               + s_b\sum_c S^R_{bca}W_{bc}P_{ac} + \sum_{c \le k} S^R_{cba}s_cW_{cb}P_{ac}.
    """
    k = s.shape[-1]
    sc = s[..., :, None]
    out = np.einsum("...ajb,...aj,...jb->...ab", SL[..., :, :k, :], W[..., :, :k], P[..., :k, :] * sc)
    out[..., :k, :] += sc * np.einsum("...iab,...ia,...ib->...ab", SL[..., :, :k, :], W[..., :, :k], P)
    out[..., :, :k] += s[..., None, :] * np.einsum("...bja,...bj,...aj->...ab", SR[..., :k, :, :], W[..., :k, :], P)
    out += np.einsum("...iba,...ib,...ai->...ab", SR[..., :k, :, :], W[..., :k, :] * sc, P[..., :, :k])
    return out


@dataclass
class GeodesicResult:
    """A geodesic :math:`X(t)` (Hamiltonian integration), in the style of the flows' results.

    Attributes: ``t`` (times), ``X`` (shape (len(t), m, n)), ``P`` (covectors), ``status``
    (:class:`riemdln.Status`: FINISHED, EVENT when the smallest singular value collapsed, FAILED),
    ``message``, ``energy_drift`` (max relative change of :math:`H`, a conserved quantity),
    ``nfev``; ``success`` is ``status == FINISHED``.
    """

    t: NDArray[np.float64]
    X: NDArray[np.float64]
    P: NDArray[np.float64]
    status: Status
    message: str
    energy_drift: float
    nfev: int
    extra: dict = field(default_factory=dict)

    @property
    def success(self) -> bool:
        return self.status == Status.FINISHED


class _Budget(Exception):
    """Raised inside an integration's right-hand side when its evaluation count or wall-clock budget runs out."""


def _integrate(X0, P0, depth, normalized, t_eval, rtol, atol, max_nfev, time_budget=math.inf):
    """solve_ivp (DOP853) of the Hamiltonian system; (solution, evaluations, None) or (None, evaluations, why)."""
    m, n = X0.shape
    size = m * n
    count = [0]
    deadline = time.monotonic() + time_budget

    def rhs(_t, y):
        count[0] += 1
        if count[0] > max_nfev:
            raise _Budget(f"stopped after max_nfev = {max_nfev} evaluations")
        if count[0] % 64 == 0 and time.monotonic() > deadline:
            raise _Budget(f"stopped after the time budget of {time_budget:g} s")
        X, P = y[:size].reshape(m, n), y[size:].reshape(m, n)
        frame = _frame(X, depth, normalized)
        return np.concatenate([_apply(frame, P).ravel(), -_grad_from_frame(frame, P).ravel()])

    def collapse(_t, y):
        s = np.linalg.svd(y[:size].reshape(m, n), compute_uv=False)
        return s[-1] / s[0] - 1e-10

    collapse.terminal = True  # type: ignore[attr-defined]  # scipy's event attribute
    y0 = np.concatenate([X0.ravel(), P0.ravel()])
    t_eval = np.asarray(t_eval, dtype=float)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            sol = solve_ivp(
                rhs, (0.0, float(t_eval[-1])), y0, method="DOP853", t_eval=t_eval, rtol=rtol, atol=atol,
                events=collapse,
            )  # fmt: skip
    except _Budget as stop:
        return None, count[0], str(stop)
    except (np.linalg.LinAlgError, ValueError, OverflowError) as exc:  # the state overflowed (a huge t_eval)
        return None, count[0], f"the integration failed: the state became non-finite ({type(exc).__name__})"
    return sol, count[0], None


def geodesic(
    X0: ArrayLike,
    V0: ArrayLike,
    depth: float,
    t_eval: ArrayLike = (0.0, 1.0),
    normalized: bool = False,
    rtol: float = 1e-12,
    atol: float = 1e-13,
    max_nfev: int = 200_000,
    *,
    time_budget: float = 60.0,
) -> GeodesicResult:
    r"""The geodesic with :math:`X(0) = X_0`, :math:`\dot X(0) = V_0`, by the Hamiltonian system (DOP853).

    Any full-rank m×n :math:`X_0` (square for ``depth=math.inf``; any matrix for N = 1, where it is the straight
    line); :math:`V_0` of its shape. ``t_eval``: at least two finite times, starting at 0, strictly increasing.

    Guards: the integration stops (status EVENT) when :math:`s_{\min}/s_{\max} < 10^{-10}`, and fails (status
    FAILED, with what was reached so far discarded) after ``max_nfev`` right-hand-side evaluations, after
    ``time_budget`` seconds of wall-clock time, or when the state overflows (``t_eval=[0, 1e300]``): it never
    hangs and never raises a numerical error.

    >>> import numpy as np
    >>> res = geodesic(np.diag([2.0, 1.0]), np.diag([0.3, 0.1]), depth=2)
    >>> bool(res.success), res.X.shape
    (True, (2, 2, 2))
    """
    depth, normalized = conventions(depth, normalized)
    return _geodesic(X0, V0, depth, normalized, t_eval, rtol, atol, max_nfev, time_budget=time_budget)


def _check_t_eval(t_eval) -> Array:
    """At least two finite real times, from 0, strictly increasing (strings, None, complex refused)."""
    if t_eval is None or isinstance(t_eval, str | bytes):
        raise RiemdlnValueError(f"`t_eval` must be an array of times starting at 0; got {short(t_eval)}.")
    t = check_finite_array(t_eval, "t_eval")
    if t.ndim != 1 or t.size < 2 or t[0] != 0.0 or np.any(np.diff(t) <= 0):
        raise RiemdlnValueError(
            f"`t_eval` must be a 1-D array of at least two times, starting at 0 and increasing strictly; "
            f"got {short(t_eval)}."
        )
    return t


@with_blas_threads
def _geodesic(X0, V0, depth, normalized, t_eval, rtol=1e-12, atol=1e-13, max_nfev=200_000, *, time_budget=60.0):
    X0, depth, normalized, (V0,) = _check(X0, [("V0", V0)], depth, normalized, "X0")
    rtol = _check_positive(rtol, "rtol")
    if not (isinstance(atol, numbers.Real) and not isinstance(atol, bool) and math.isfinite(atol) and float(atol) >= 0):
        raise RiemdlnValueError(f"`atol` must be a finite number >= 0; got {atol!r}.")
    max_nfev = check_integer(max_nfev, "max_nfev", low=1)
    time_budget = _check_positive(time_budget, "time_budget", allow_inf=True)
    t_eval = _check_t_eval(t_eval)
    if depth == 1.0:
        return _euclidean_geodesic(X0, V0, t_eval)
    P0 = geometry._apply_A_inverse(X0, V0, depth, normalized)
    sol, nfev, why = _integrate(X0, P0, depth, normalized, t_eval, rtol, atol, max_nfev, time_budget)
    m, n = X0.shape
    if sol is None:
        empty = np.empty((0, m, n))
        return GeodesicResult(np.empty(0), empty, empty, Status.FAILED, str(why), math.inf, nfev)
    Xs = sol.y[: m * n].T.reshape(-1, m, n)
    Ps = sol.y[m * n :].T.reshape(-1, m, n)
    H = np.array([0.5 * np.sum(P * geometry._apply_A(X, P, depth, normalized)) for X, P in zip(Xs, Ps, strict=True)])
    H0 = 0.5 * np.sum(P0 * V0)
    drift = float(np.max(np.abs(H - H0)) / abs(H0)) if H0 != 0 and H.size else 0.0
    if sol.status == 1:
        status, msg = Status.EVENT, f"the smallest singular value collapsed at t = {sol.t_events[0][0]:.6g}"
    elif sol.status < 0:
        status, msg = Status.FAILED, f"the integration failed: {sol.message}"
    else:
        status, msg = Status.FINISHED, f"reached t = {sol.t[-1]:.6g}"
    return GeodesicResult(sol.t, Xs, Ps, status, msg, drift, nfev)


def exp_map(X: ArrayLike, V: ArrayLike, depth: float, normalized: bool = False, t: float = 1.0) -> NDArray[np.float64]:
    r"""Riemannian exponential :math:`\exp_X(tV)` of :math:`g^N` (the endpoint of :func:`geodesic`).

    ``t``: a positive finite number (numpy scalars accepted, booleans refused). Raises
    :class:`riemdln.ConvergenceError` if the geodesic leaves the full-rank set (incomplete metric) or the
    integration fails.

    >>> import numpy as np
    >>> Y = exp_map(np.diag([4.0, 1.0]), np.diag([4.0, 1.0]), depth=2)   # aligned: (sqrt(s) + t sqrt(s)/2)^2
    >>> print(np.round(np.diag(Y), 10))
    [9.   2.25]
    """
    return _exp_map(X, V, *conventions(depth, normalized), t)


@with_blas_threads
def _exp_map(X, V, depth, normalized, t=1.0):
    t = _check_positive(t, "t")
    _check(X, [("V", V)], depth, normalized)  # named as exp_map's arguments (geodesic calls them X0, V0)
    res = _geodesic(X, V, depth, normalized, (0.0, t))
    if not res.success:
        raise ConvergenceError(f"exp_map: {res.message} (the geodesic does not reach t = {t:g}).")
    return res.X[-1]


@dataclass
class GeodesicBetweenResult:
    """A geodesic between two endpoints (:func:`geodesic_between`).

    Attributes: ``length`` (of the geodesic found), ``path`` (:class:`GeodesicResult` on ``t`` in [0, 1]),
    ``velocity`` (:math:`\\dot X(0)`, the logarithm), ``method`` (the route that produced the result:
    ``"closed form"``, ``"straight segment"`` (N = 1), or ``"boundary-value solver from the ..."`` followed by
    ``path``, ``power path``, ``straight segment``, ``discrete path energy`` or ``log path``), ``residual``
    (:math:`\\|X(1) - X_1\\|_F / \\|X_1\\|_F`), ``upper_bound`` (length of the straight segment
    :math:`X_0 + t(X_1 - X_0)`, ``inf`` if it leaves the full-rank set), ``status``, ``message`` (which routes
    were tried and which one succeeded), ``continuation_steps`` (0: kept for compatibility),
    ``path_length`` (``None``: kept for compatibility). The solver finds *a* geodesic, not necessarily the
    shortest one.
    """

    length: float
    path: GeodesicResult | None
    velocity: NDArray[np.float64] | None
    method: str
    residual: float
    upper_bound: float
    status: Status
    message: str
    continuation_steps: int = 0
    path_length: float | None = None

    @property
    def success(self) -> bool:
        return self.status == Status.FINISHED


Array = NDArray[np.float64]
_GL_NODES, _GL_WEIGHTS = np.polynomial.legendre.leggauss(48)


def _straight_length(X0, X1, depth, normalized):
    D = X1 - X0
    total = 0.0
    for node, w in zip(_GL_NODES, _GL_WEIGHTS, strict=True):
        Xt = X0 + 0.5 * (node + 1.0) * D
        s = np.linalg.svd(Xt, compute_uv=False)
        if s[-1] <= 1e-14 * s[0]:
            return math.inf
        total += 0.5 * w * math.sqrt(float(geometry._metric(Xt, D, D, depth, normalized)))
    return total


# ---------------------------------------------------------------------------------------------
# batched integrations of geodesics from X0 (the Newton polish of the boundary-value solution)
_FALLBACK_SAMPLES = 1025  # samples of the straight segment and of the log path
_FINAL_RTOL = 1e-12  # integration tolerance of the Newton polish (on X1)


@dataclass
class _Shooter:
    """Integrates geodesics from X0 for stacks of covectors, inside a box; counts the integrations."""

    X0: NDArray[np.float64]
    depth: float
    normalized: bool
    box: tuple[float, float]  # (smallest s_min/s_max, largest s_max) before an integration is abandoned
    max_nfev: int
    calls: int = 0

    def ends(self, P: NDArray[np.float64], rtol: float) -> NDArray[np.float64] | None:
        r""":math:`X(1)` of the geodesics with covectors ``P`` (B, m, n); None if one leaves the box or runs long."""
        self.calls += 1
        B, shape = P.shape[0], (P.shape[0], *self.X0.shape)
        n = B * self.X0.size
        count = [0]

        def rhs(_t, y):
            count[0] += 1
            if count[0] > self.max_nfev:
                raise OverflowError
            frame = _frame(y[:n].reshape(shape), self.depth, self.normalized)
            Pk = y[n:].reshape(shape)
            return np.concatenate([_apply(frame, Pk).ravel(), -_grad_from_frame(frame, Pk).ravel()])

        def leave(_t, y):
            s = np.linalg.svd(y[:n].reshape(shape), compute_uv=False)
            return min(float(np.min(s[:, -1] / s[:, 0])) - self.box[0], self.box[1] - float(np.max(s[:, 0])))

        leave.terminal = True  # type: ignore[attr-defined]
        y0 = np.concatenate([np.broadcast_to(self.X0, P.shape).ravel(), P.ravel()])
        try:
            sol = solve_ivp(rhs, (0.0, 1.0), y0, method="DOP853", rtol=rtol, atol=rtol * 1e-1, events=leave)
        except OverflowError:
            return None
        return sol.y[:n, -1].reshape(shape) if sol.status == 0 else None

    def residual(self, P: NDArray[np.float64], target: NDArray[np.float64], rtol: float) -> float:
        r""":math:`\|X(1; P) - \text{target}\|_F/\|\text{target}\|_F` (``inf`` when the integration was abandoned)."""
        ends = self.ends(P[None], rtol)
        return math.inf if ends is None else float(np.linalg.norm(ends[0] - target) / np.linalg.norm(target))


def _shooter_for(X0: Array, path: Array, depth: float, normalized: bool, max_nfev: int) -> _Shooter:
    """A :class:`_Shooter` whose box is 1e-3 times the worst conditioning and 10 times the largest s_max on path."""
    s = np.linalg.svd(path, compute_uv=False)
    box = (1e-3 * float(np.min(s[:, -1] / s[:, 0])), 10.0 * float(np.max(s[:, 0])))
    return _Shooter(X0, depth, normalized, box, max_nfev)


def _straight_path(X0: Array, X1: Array, n: int = _FALLBACK_SAMPLES) -> Array | None:
    """n samples of the straight segment X0 + t (X1 - X0); None if a sample's det has the other sign or is 0
    (square), or if a sample is rank-deficient by numpy's rank tolerance, as for a user ``path`` (rectangular:
    the full-rank set is connected; a rank drop between samples is caught by the Newton polish's box, not here)."""
    out = X0[None] + np.linspace(0.0, 1.0, n)[:, None, None] * (X1 - X0)[None]
    if X0.shape[0] != X0.shape[1]:
        s = np.linalg.svd(out, compute_uv=False)
        return out if np.all(s[:, -1] > rank_tolerance(s, X0.shape)[:, 0]) else None
    return out if np.all(np.sign(np.linalg.det(out)) == np.sign(np.linalg.det(X0))) else None


def _log_path(X0: Array, X1: Array, n: int = _FALLBACK_SAMPLES) -> Array | None:
    r"""n samples of :math:`X(t) = U_0\exp(tL)\exp((1-t)\log S_0 + t\log S_1)` (polar parts :math:`X = US`).

    :math:`L = \log(U_0^TU_1)` (real, skew: :math:`U_0^TU_1 \in SO(d)` for endpoints with the same sign of
    det). Full rank throughout and geometric in scale. None when :math:`U_0^TU_1` has no real logarithm within
    rounding (a rotation by exactly :math:`\pi`), and for rectangular X (not generalized: the polar factor is
    then a partial isometry).
    """
    from scipy.linalg import expm, logm

    if X0.shape[0] != X0.shape[1]:
        return None

    def polar(X):
        W, s, Vt = np.linalg.svd(X)
        return W @ Vt, Vt.T @ np.diag(np.log(s)) @ Vt

    (U0, logS0), (U1, logS1) = polar(X0), polar(X1)
    O = U0.T @ U1
    L = np.real(logm(O))
    L = 0.5 * (L - L.T)
    if not np.allclose(expm(L), O, atol=1e-10):
        return None
    t = np.linspace(0.0, 1.0, n)
    w, W = np.linalg.eigh(1j * L)  # iL Hermitian: exp(tL) = W diag(exp(-i t w)) W^H
    rot = np.real(np.einsum("ij,tj,kj->tik", W, np.exp(-1j * t[:, None] * w[None, :]), W.conj()))
    e, E = np.linalg.eigh((1 - t)[:, None, None] * logS0 + t[:, None, None] * logS1)  # symmetric: batched
    out = U0 @ rot @ ((E * np.exp(e)[:, None, :]) @ np.swapaxes(E, -1, -2))
    out[0], out[-1] = X0, X1
    return out


@dataclass
class _Route:
    """One attempt of :func:`geodesic_between`: its name, covector, residual and cost."""

    method: str
    covector: NDArray[np.float64]
    residual: float
    calls: int
    steps: int = 0
    path_length: float | None = None
    geodesic: GeodesicResult | None = None  # the geodesic of the covector, when the route integrated it already

    def describe(self, tol: float) -> str:
        verdict = "converged" if self.residual <= tol else "failed"
        steps = f", {self.steps} continuation steps" if self.path_length is not None else ""
        return f"{self.method} {verdict} (residual {self.residual:.3g}{steps}, {self.calls} integrations)"


def _check_endpoints(X0, X1, depth, normalized):
    X0, depth, normalized, (X1,) = _check(X0, [("X1", X1)], depth, normalized, "X0")
    _full_rank(X1, "X1", depth)
    if depth != 1.0 and X0.shape[0] == X0.shape[1] and np.sign(np.linalg.det(X0)) != np.sign(np.linalg.det(X1)):
        raise RiemdlnValueError(
            "`X0` and `X1` have opposite signs of det: they lie in different components of GL_d (joined only "
            "through rank-deficient matrices, where the metric is singular)."
        )
    return X0, X1, depth, normalized


def _euclidean_geodesic(X0: Array, V0: Array, t_eval: Array) -> GeodesicResult:
    """N = 1 (A_1 = identity, raw and normalized alike): the straight line X0 + t V0 through any matrices."""
    X = X0[None] + t_eval[:, None, None] * V0[None]
    P = np.broadcast_to(V0, X.shape).copy()
    msg = f"reached t = {t_eval[-1]:.6g} (N = 1: the Euclidean metric, straight lines)"
    return GeodesicResult(t_eval, X, P, Status.FINISHED, msg, 0.0, 0)


def _euclidean_between(X0: Array, X1: Array) -> GeodesicBetweenResult:
    """N = 1: the straight segment between any two matrices (rank-deficient, either sign of det), length
    ||X1 - X0||_F."""
    V = X1 - X0
    length = float(np.linalg.norm(V))
    path = _euclidean_geodesic(X0, V, np.linspace(0.0, 1.0, 33))
    message = "straight segment (N = 1: A_1 is the identity, the Frobenius metric on all matrices)"
    return GeodesicBetweenResult(length, path, V, "straight segment", 0.0, length, Status.FINISHED, message)


_PATH_END_TOL = 1e-10  # relative to the largest ||X||_F on the path: path[0] = X0, path[-1] = X1 "within rounding"


def _check_path(path: ArrayLike, X0: Array, X1: Array) -> Array:
    """An (n, m, n) array, n >= 2, from X0 to X1, full rank throughout (square: with the sign of det X0)."""
    P = check_matrix(path, "path")
    if P.ndim != 3 or P.shape[0] < 2 or P.shape[1:] != X0.shape:
        raise RiemdlnValueError(
            f"`path` must be an array (n, m, n) of n >= 2 matrices shaped like `X0` {X0.shape}; got shape {P.shape}."
        )
    scale = float(np.max(np.linalg.norm(P, axis=(-1, -2))))
    for k, end, name in ((0, X0, "X0"), (-1, X1, "X1")):
        gap = float(np.linalg.norm(P[k] - end))
        if gap > _PATH_END_TOL * scale:
            raise RiemdlnValueError(
                f"`path`[{k}] must equal `{name}` (within rounding); ||path[{k}] - {name}|| = {gap:.3g}."
            )
    s = np.linalg.svd(P, compute_uv=False)
    low = np.flatnonzero(s[:, -1] <= rank_tolerance(s, X0.shape)[:, 0])
    if low.size:
        raise RiemdlnValueError(f"`path` must be full rank throughout; path[{low[0]}] is rank-deficient.")
    if X0.shape[0] != X0.shape[1]:
        return P
    flip = np.flatnonzero(np.sign(np.linalg.det(P)) != np.sign(np.linalg.det(X0)))
    if flip.size:
        raise RiemdlnValueError(f"`path` must keep the sign of det `X0`; path[{flip[0]}] has the opposite sign.")
    return P


def _diag(v: Array, shape: tuple[int, ...]) -> Array:
    """The m x n matrix with v on its diagonal."""
    out = np.zeros(shape)
    out[np.arange(v.size), np.arange(v.size)] = v
    return out


def _shared_frame(X0: Array, X1: Array) -> tuple[Array, Array, Array, Array] | None:
    r"""(Q, R, s0, s1) with :math:`X_k \approx Q\,\mathrm{diag}(s_k)R^T`, :math:`s_k > 0`, from the SVD frame of
    either endpoint; None when neither frame diagonalizes the other endpoint with positive entries (to
    1e-12 relative in the off-diagonal part)."""
    for A, B, swap in ((X0, X1, False), (X1, X0, True)):
        Q, sA, Rt = np.linalg.svd(A)
        D = Q.T @ B @ Rt.T
        sB = np.diag(D).copy()
        if np.all(sB > 0) and np.linalg.norm(D - _diag(sB, D.shape)) <= 1e-12 * np.linalg.norm(B):
            return (Q, Rt.T, sB, sA) if swap else (Q, Rt.T, sA, sB)
    return None


def _closed_form(
    X0: Array, X1: Array, depth: float, normalized: bool, tol: float, upper: float
) -> GeodesicBetweenResult | None:
    r"""Chen's geodesic when the endpoints share their singular vectors (docs/theory.md §8); else None.

    :math:`X(t) = Q\,\mathrm{diag}(\mu(t)^N)R^T` with :math:`\mu = s^{1/N}` affine in t (:math:`\hat g^\infty`:
    :math:`\log s` affine); length :math:`\sqrt{N}\|\mu_1 - \mu_0\|` for :math:`g^N` (catalog
    ``geodesic_length_aligned``), :math:`N\|\mu_1 - \mu_0\|` for :math:`\hat g^N = Ng^N`,
    :math:`\|\log s_1 - \log s_0\|` for :math:`\hat g^\infty`. ``residual`` is
    :math:`\|Q\,\mathrm{diag}(s_1)R^T - X_1\|_F/\|X_1\|_F` (the part of :math:`X_1` off the shared frame).

    Rectangular m×n X (finite N): the same path, diag the m×n matrix with s on its diagonal. The diagonal
    m×n matrices are the fixed set of the isometries :math:`X \mapsto EXF` (E, F diagonal sign matrices agreeing
    on the first k entries, free beyond), hence totally geodesic, and their induced metric is
    :math:`\sum_i ds_i^2/a(s_i^2, s_i^2) = N\sum_i d\mu_i^2` as for square X: flat in μ.
    """
    frame = _shared_frame(X0, X1)
    if frame is None:
        return None
    Q, R, s0, s1 = frame
    residual = float(np.linalg.norm(Q @ _diag(s1, X1.shape) @ R.T - X1) / np.linalg.norm(X1))
    if residual > tol:
        return None
    t = np.linspace(0.0, 1.0, 33)
    if math.isinf(depth):
        rho0, rho1 = np.log(s0), np.log(s1)
        s_t = np.exp(rho0 + t[:, None] * (rho1 - rho0))
        ds_t = s_t * (rho1 - rho0)
        length = float(np.linalg.norm(rho1 - rho0))
    else:
        mu0, mu1 = s0 ** (1.0 / depth), s1 ** (1.0 / depth)
        mu_t = mu0 + t[:, None] * (mu1 - mu0)
        s_t, ds_t = mu_t**depth, depth * mu_t ** (depth - 1.0) * (mu1 - mu0)
        length = math.sqrt(depth) * float(np.linalg.norm(mu1 - mu0)) * (math.sqrt(depth) if normalized else 1.0)
    k = s0.size
    X_t = np.einsum("ij,kj,lj->kil", Q[:, :k], s_t, R[:, :k])
    V_t = np.einsum("ij,kj,lj->kil", Q[:, :k], ds_t, R[:, :k])
    P_t = geometry._apply_A_inverse(X_t, V_t, depth, normalized)  # the covectors, one batched call
    path = GeodesicResult(t, X_t, P_t, Status.FINISHED, "closed form (shared singular vectors)", 0.0, 0)
    message = (
        "closed form (shared singular vectors): mu = s^(1/N) affine in t"
        if math.isfinite(depth)
        else "closed form (shared singular vectors): log s affine in t"
    )
    return GeodesicBetweenResult(
        length, path, V_t[0], "closed form", residual, upper, Status.FINISHED, message
    )  # fmt: skip


# ---------------------------------------------------------------------------------------------
# the boundary-value solver: scipy.integrate.solve_bvp on the Hamiltonian system in the SVD frame
@dataclass(frozen=True)
class _BVPOptions:
    """Conventions and budgets of one geodesic_between call."""

    depth: float
    normalized: bool
    tol: float
    max_iterations: int
    max_nfev: int


_BVP_NODES = 33  # initial mesh of solve_bvp (the guess path resampled at equal arc length)
_BVP_TOL = 1e-8  # solve_bvp's collocation tolerance; the Newton polish then meets ``tol`` on the endpoint
_BVP_MAX_NODES = 300
_POLISH_ITERATIONS = 4
_JACOBIAN_RTOL = 1e-9  # the polish's Jacobian stack (its trajectories share their steps: differences are smooth)
_GUESS_SAMPLES = 129  # samples of the log path as a guess
_PATH_T = np.linspace(0.0, 1.0, 33)  # the samples of the returned geodesic
_DISCRETE_SEGMENTS = 8  # segments of the discrete path energy minimized when the first guesses fail


def _routes(X0: Array, X1: Array, straight: Array | None, opts: _BVPOptions):
    """The boundary-value solves in order, each from a guess that stays in the full-rank set: the power path
    (finite N), the straight segment, the minimized discrete path energy of 8 segments (from the first of the
    power path, the straight segment and the log path that is full rank), the log path (square)."""
    power = _power_path(X0, X1, opts.depth)
    log = None if power is not None or straight is not None else _log_path(X0, X1, _GUESS_SAMPLES)
    for name, guess in (("power path", power), ("straight segment", straight)):
        if guess is not None:
            yield _bvp_route(X0, X1, guess, opts, name)
    start = next((g for g in (power, straight, log) if g is not None), None)
    yield _discrete_bvp_route(X0, X1, start, opts)
    log = _log_path(X0, X1, _GUESS_SAMPLES) if log is None else log
    if log is not None:
        yield _bvp_route(X0, X1, log, opts, "log path")


def _power_path(X0: Array, X1: Array, depth: float, n: int = 129) -> Array | None:
    r"""n samples of :math:`X(t) = P((1 - t)X_0^{1/N} + tX_1^{1/N})`, :math:`P(Y) = Q\operatorname{diag}(\mu^N)R^T`
    for :math:`Y = Q\operatorname{diag}(\mu)R^T` (and :math:`X^{1/N}` the same with :math:`s^{1/N}`).

    In the chart :math:`Y = X^{1/N}` the metric's weights lie between 1/N and N (riemdln.geometry.curvature) and the
    geodesics between endpoints with shared singular vectors are straight: the straight segment there is close
    to the geodesic even where one endpoint is nearly rank-deficient. None for ``depth=math.inf`` and where a
    sample is rank-deficient (or, square, has the other sign of det)."""
    if math.isinf(depth):
        return None

    def power(X, e):
        Q, s, Rt = np.linalg.svd(X, full_matrices=False)
        return (Q * s**e) @ Rt

    Y0, Y1 = power(X0, 1.0 / depth), power(X1, 1.0 / depth)
    Y = Y0[None] + np.linspace(0.0, 1.0, n)[:, None, None] * (Y1 - Y0)[None]
    s = np.linalg.svd(Y, compute_uv=False)
    if not np.all(s[:, -1] > rank_tolerance(s, X0.shape)[:, 0]):
        return None
    if X0.shape[0] == X0.shape[1] and not np.all(np.sign(np.linalg.det(Y)) == np.sign(np.linalg.det(X0))):
        return None
    out = np.array([power(y, depth) for y in Y])
    out[0], out[-1] = X0, X1
    return out


def _resample(sample: Array, depth: float, normalized: bool, nodes: int) -> tuple[Array, Array]:
    """``nodes`` points of the sampled path at equal g-length (chords), and their parameters t in [0, 1]."""
    chords = segment_lengths(sample[:-1], sample[1:], depth, normalized)
    arc = np.concatenate([[0.0], np.cumsum(chords)])
    if not (math.isfinite(arc[-1]) and arc[-1] > 0):
        arc = np.linspace(0.0, 1.0, sample.shape[0])
    u = arc / arc[-1]
    t = np.linspace(0.0, 1.0, nodes)
    flat = sample.reshape(sample.shape[0], -1)
    X = np.stack([np.interp(t, u, flat[:, k]) for k in range(flat.shape[1])], axis=1)
    return t, X.reshape(nodes, *sample.shape[1:])


def _bvp_guess(sample: Array, opts: _BVPOptions) -> tuple[Array, Array]:
    """Mesh and initial (X, V) of solve_bvp from a sampled path: X at equal length, V = dX/dt."""
    t, X = _resample(sample, opts.depth, opts.normalized, _BVP_NODES)
    V = np.gradient(X, t, axis=0, edge_order=2)
    size = X[0].size
    return t, np.concatenate([X.reshape(-1, size).T, V.reshape(-1, size).T])


def _solve_bvp(X0: Array, X1: Array, sample: Array, opts: _BVPOptions):
    """solve_bvp on the second-order form X' = V, V' = -Gamma_X(V, V) (the velocity is well scaled where the
    covector A_N^{-1} V is not) with X(0) = X0, X(1) = X1; the solution, or None."""
    from scipy.integrate import solve_bvp

    shape, size = X0.shape, X0.size

    def rhs(_t, y):
        X = y[:size].T.reshape(-1, *shape)
        V = y[size:].T.reshape(-1, *shape)
        dV = -_christoffel(X, opts.depth, opts.normalized, V, V)
        return np.concatenate([y[size:], dV.reshape(-1, size).T])

    def jac(t, y):
        """d rhs / dy (2mn, 2mn, nodes) by forward differences, all 2mn perturbations in one batched call."""
        n_y, nodes = y.shape
        h = 1.5e-8 * np.maximum(1.0, np.abs(y))  # (2mn, nodes)
        shifted = y[None] + np.eye(n_y)[:, :, None] * h[:, None, :]  # (perturbed component, 2mn, nodes)
        stack = np.concatenate([y, np.swapaxes(shifted, 0, 1).reshape(n_y, -1)], axis=1)
        f = rhs(t, stack)
        f0, f1 = f[:, :nodes], f[:, nodes:].reshape(n_y, n_y, nodes)  # f1[:, i]: component i perturbed
        return (f1 - f0[:, None, :]) / h[None, :, :]

    def bc(ya, yb):
        return np.concatenate([ya[:size] - X0.ravel(), yb[:size] - X1.ravel()])

    t, y = _bvp_guess(sample, opts)
    with np.errstate(all="ignore"):
        try:
            sol = solve_bvp(rhs, bc, t, y, fun_jac=jac, tol=_BVP_TOL, max_nodes=_BVP_MAX_NODES)
        except (np.linalg.LinAlgError, ValueError, FloatingPointError):
            return None
    if not np.all(np.isfinite(sol.y)):
        return None
    return sol


def _polish(X0: Array, X1: Array, p: Array, shot: _Shooter, opts: _BVPOptions) -> _Route:
    """Newton on the endpoint X(1; X0, p) = X1 from the boundary-value covector p: each residual from the geodesic
    itself (DOP853 at rtol 1e-12, the one returned), the finite-difference Jacobian once, from one stack (p and
    its mn perturbations at rtol 1e-9: the stack shares its steps, so the differences are smooth); at most four
    steps. The best covector as a :class:`_Route` (method and calls filled in later)."""
    size = X0.size
    scale = float(np.linalg.norm(X1))
    best = _Route("", p, math.inf, 0)
    J = None
    for _ in range(_POLISH_ITERATIONS + 1):
        V0 = geometry._apply_A(X0, p, opts.depth, opts.normalized)
        geo = _geodesic(X0, V0, opts.depth, opts.normalized, _PATH_T, max_nfev=opts.max_nfev)
        res = float(np.linalg.norm(geo.X[-1] - X1)) / scale if geo.success else math.inf
        if res < best.residual:
            best = _Route("", p, res, 0, geodesic=geo)
        if res <= opts.tol or not math.isfinite(res) or res > 10 * best.residual:
            break
        if J is None:
            h = 1e-7 * max(float(np.linalg.norm(p)), 1e-300)
            basis = np.eye(size).reshape(size, *X0.shape)
            ends = shot.ends(np.concatenate([p[None], p[None] + h * basis]), _JACOBIAN_RTOL)
            if ends is None:
                break
            J = np.stack([(e - ends[0]).ravel() / h for e in ends[1:]], axis=1)
        p = p + np.linalg.lstsq(J, (X1 - geo.X[-1]).ravel(), rcond=None)[0].reshape(X0.shape)
    return best


def _bvp_route(X0: Array, X1: Array, sample: Array, opts: _BVPOptions, name: str) -> _Route:
    """The boundary-value solve from the guess ``sample`` (a sampled path from X0 to X1), then the polish."""
    method = f"boundary-value solver from the {name}"
    shot = _shooter_for(X0, sample, opts.depth, opts.normalized, opts.max_nfev)
    sol = _solve_bvp(X0, X1, sample, opts)
    if sol is None:
        return _Route(method + " (non-finite iterate)", np.zeros_like(X0), math.inf, 0)
    V0 = sol.y[X0.size :, 0].reshape(X0.shape)
    route = _polish(X0, X1, geometry._apply_A_inverse(X0, V0, opts.depth, opts.normalized), shot, opts)
    if sol.status != 0 and route.residual > opts.tol:
        method += f" ({sol.message.rstrip('.').lower()})"
    route.method, route.calls = method, shot.calls
    return route


def _discrete_bvp_route(X0: Array, X1: Array, start: Array | None, opts: _BVPOptions) -> _Route:
    r"""Minimize the discrete path energy of :math:`K = 8` segments from ``start`` (resampled), then the
    boundary-value solve from the minimized path (a guess that already bends like the geodesic)."""
    name = "boundary-value solver from the discrete path energy"
    if start is None:
        return _Route(name + " (no full-rank starting path)", np.zeros_like(X0), math.inf, 0)
    _t, guess = _resample(start, opts.depth, opts.normalized, _DISCRETE_SEGMENTS + 1)
    guess[0], guess[-1] = X0, X1
    path, length, _ok, _res = _minimize_path(guess, X0, X1, opts.depth, opts.normalized, 2000)  # length: O(K^-2)
    if not math.isfinite(length):
        return _Route(name + " (the minimization left the full-rank set)", np.zeros_like(X0), math.inf, 0)
    return _bvp_route(X0, X1, path, opts, "discrete path energy")


def _bounds(upper: float, path_length: float | None) -> str:
    """The upper bounds on the distance known after a failure, as a sentence."""
    parts = [f"the straight-line length {upper:.6g}"] if math.isfinite(upper) else []
    if path_length is not None and math.isfinite(path_length):
        parts.append(f"the path's chord length {path_length:.6g}")
    if not parts:
        return "no upper bound on the distance is known (the straight segment leaves the full-rank set)"
    return " and ".join(parts) + (" are upper bounds" if len(parts) > 1 else " is an upper bound") + " on the distance"


def _finish(
    X0: Array, depth: float, normalized: bool, tol: float, upper: float, route: _Route, tried: list[_Route]
) -> GeodesicBetweenResult:
    """The :class:`GeodesicBetweenResult` of the last route (``tried``: the routes that failed before it)."""
    history = "; ".join(r.describe(tol) for r in [*tried, route])
    if route.residual > tol:
        return GeodesicBetweenResult(
            upper, None, None, route.method, route.residual, upper, Status.FAILED,
            f"{history}; {_bounds(upper, route.path_length)}",
            route.steps, route.path_length,
        )  # fmt: skip
    P0 = route.covector
    V0 = geometry._apply_A(X0, P0, depth, normalized)
    length = math.sqrt(max(float(np.sum(P0 * V0)), 0.0))
    path = route.geodesic if route.geodesic is not None else _geodesic(X0, V0, depth, normalized, _PATH_T)
    bound = min(upper, math.inf if route.path_length is None else route.path_length)
    if length > bound * (1 + 1e-9):
        history += "; this geodesic is longer than the straight segment or the path, so it is not the shortest"
    return GeodesicBetweenResult(
        length, path, V0, route.method, route.residual, upper, Status.FINISHED, history, route.steps, route.path_length
    )


def geodesic_between(
    X0: ArrayLike,
    X1: ArrayLike,
    depth: float,
    normalized: bool = False,
    tol: float = 1e-11,
    max_iterations: int = 60,
    max_nfev: int = 20_000,
    path: ArrayLike | None = None,
    closed_form: bool = True,
) -> GeodesicBetweenResult:
    r"""A geodesic of :math:`g^N` from :math:`X_0` to :math:`X_1` (full rank, same shape m×n; square: same sign of det).

    The boundary-value problem :math:`\dot X = V`, :math:`\dot V = -\Gamma_X(V, V)`, :math:`X(0) = X_0`,
    :math:`X(1) = X_1` (:func:`christoffel`, in the SVD frame), solved by ``scipy.integrate.solve_bvp``
    (collocation, tolerance 1e-8, at most 300 nodes, Jacobian by forward differences in one batched call) from
    an initial path, then polished by Newton's method on the endpoint of the Hamiltonian integration from
    :math:`P_0 = A_N(X_0)^{-1}\dot X(0)` (each residual from the returned geodesic itself, DOP853 at rtol 1e-12;
    the Jacobian once, at most four steps) until :math:`\|X(1) - X_1\|_F/\|X_1\|_F \le` ``tol``. Length
    :math:`= \sqrt{\langle P_0, A_N(X_0) P_0\rangle}` (constant speed on [0, 1]).

    Initial paths, in order, each used only where it stays in the full-rank set (square: with the sign of det):

    * ``path`` when given (an array (n, m, n) of matrices from :math:`X_0` to :math:`X_1`, e.g. a gradient
      flow's samples), resampled at equal length on the solver's initial mesh of 33 nodes;
    * the closed form when the endpoints share their singular vectors (one endpoint's SVD frame diagonalizes
      the other with positive entries, to 1e-12): Chen's geodesic, straight in :math:`\mu = s^{1/N}`
      (:math:`\hat g^\infty`: in :math:`\log s`), no solve (``method="closed form"``; ``closed_form=False``
      solves instead);
    * the power path :math:`X(t) = ((1 - t)X_0^{1/N} + tX_1^{1/N})^N` (powers of the singular values, finite
      N): straight in the chart where the metric's weights lie between 1/N and N (riemdln.geometry.curvature), exact
      for shared frames, close to the geodesic when an endpoint is nearly rank-deficient or small;
    * the straight segment :math:`X_0 + t(X_1 - X_0)`;
    * the minimized discrete path energy of 8 segments (as in :func:`discrete_distance`) from the first of
      those paths, or from the log path;
    * the log path :math:`X(t) = U_0 e^{tL} e^{(1-t)\log S_0 + t\log S_1}` (polar parts, :math:`L = \log
      U_0^TU_1`; square only), full rank for every pair of endpoints with one sign of det.

    N = 1 (the Euclidean metric) is the straight segment between any two matrices. ``max_nfev`` caps each
    integration's right-hand-side evaluations; ``max_iterations`` is kept for compatibility (the solver's
    budget is its node cap). On failure the status is FAILED, ``length`` is the straight-line length and the
    message lists the routes tried and the upper bounds known. The boundary-value solver finds *a* geodesic,
    not necessarily the shortest; the message says when it is longer than the straight segment or the path.

    Rectangular endpoints (m ≠ n, finite N only: :math:`A_\infty` is singular there) take the same routes
    except the log path, with no det condition (the full-rank m×n matrices form one connected set); the closed
    form applies to them too (the diagonal m×n matrices of a fixed frame are totally geodesic and flat in μ).

    Raises
    ------
    RiemdlnValueError
        Rank-deficient endpoint (N > 1), shape mismatch, endpoints with opposite signs of det for N > 1
        (different components of :math:`GL_d`, joined only through the rank-deficient set, where the metric is
        singular), a bad ``path`` (wrong shape, ends that are not ``X0`` and ``X1`` within 1e-10 relative, a
        rank-deficient sample or one with the other sign of det), or ``depth=math.inf`` with rectangular endpoints.

    See Also
    --------
    distance, log_map, discrete_distance, riemdln.DLNMetric.geodesic_between

    Examples
    --------
    >>> import numpy as np
    >>> res = geodesic_between(np.diag([4.0, 1.0]), np.diag([1.0, 4.0]), depth=2)
    >>> print(res.method, round(res.length, 9))    # Chen: sqrt(2) |sqrt(s1) - sqrt(s0)|
    closed form 2.0
    >>> t = np.linspace(0.0, 1.0, 65)[:, None, None]                 # a path: X(t) = diag(4 - 3t, 1 + 3t)
    >>> steps = np.diag([4.0, 1.0]) + t * np.diag([-3.0, 3.0])
    >>> res = geodesic_between(steps[0], steps[-1], depth=2, path=steps)
    >>> print(res.method, round(res.length, 9))
    boundary-value solver from the path 2.0
    """
    depth, normalized = conventions(depth, normalized)
    return _geodesic_between(
        X0, X1, depth, normalized, tol=tol, max_iterations=max_iterations, max_nfev=max_nfev, path=path,
        closed_form=closed_form,
    )  # fmt: skip


@with_blas_threads
def _geodesic_between(X0, X1, depth, normalized, *, tol=1e-11, max_iterations=60, max_nfev=20_000, path=None,
                      closed_form=True):  # fmt: skip
    X0, X1, depth, normalized = _check_endpoints(X0, X1, depth, normalized)
    tol = _check_positive(tol, "tol")
    max_iterations = check_integer(max_iterations, "max_iterations", low=1)
    max_nfev = check_integer(max_nfev, "max_nfev", low=1)
    closed_form = check_bool(closed_form, "closed_form")
    sample = None if path is None else _check_path(path, X0, X1)
    if depth == 1.0:
        return _euclidean_between(X0, X1)
    opts = _BVPOptions(depth, normalized, tol, max_iterations, max_nfev)
    straight = _straight_path(X0, X1)
    upper = _straight_length(X0, X1, depth, normalized) if straight is not None else math.inf
    tried: list[_Route] = []
    if sample is not None:
        route = _bvp_route(X0, X1, sample, opts, "path")
        if route.residual <= tol:
            return _finish(X0, depth, normalized, tol, upper, route, [])
        tried.append(route)
    closed = _closed_form(X0, X1, depth, normalized, tol, upper) if closed_form else None
    if closed is not None:
        return closed
    for route in _routes(X0, X1, straight, opts):
        if route.residual <= tol:
            return _finish(X0, depth, normalized, tol, upper, route, tried)
        tried.append(route)
    return _finish(X0, depth, normalized, tol, upper, tried.pop(), tried)


def _check_positive(value: object, name: str, allow_inf: bool = False) -> float:
    """A positive finite (or, with ``allow_inf``, infinite) real number, numpy scalars included, not bool."""
    number = float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else math.nan
    if not (number > 0 and (allow_inf or math.isfinite(number))):
        kind = "a positive number (math.inf for none)" if allow_inf else "a positive finite number"
        raise RiemdlnValueError(f"`{name}` must be {kind}; got {short(value)}.")
    return number


def log_map(X0: ArrayLike, X1: ArrayLike, depth: float, normalized: bool = False) -> NDArray[np.float64]:
    r"""Riemannian logarithm: the initial velocity :math:`V` with :math:`\exp_{X_0}(V) = X_1` (geodesic_between).

    Full-rank m×n endpoints of one shape (square for ``depth=math.inf``).

    Raises :class:`riemdln.ConvergenceError` when the solve fails (see :func:`geodesic_between`).

    >>> import numpy as np
    >>> print(np.round(np.diag(log_map(np.diag([4.0, 1.0]), np.diag([9.0, 2.25]), depth=2)), 8))
    [4. 1.]
    """
    return _log_map(X0, X1, *conventions(depth, normalized))


@with_blas_threads
def _log_map(X0, X1, depth, normalized):
    res = _geodesic_between(X0, X1, depth, normalized)
    if not res.success or res.velocity is None:  # a finished solve always carries its velocity
        raise ConvergenceError(f"log_map: {res.message}.")
    return res.velocity


def distance(X0: ArrayLike, X1: ArrayLike, depth: float, normalized: bool = False) -> float:
    r"""Geodesic distance of :math:`g^N` (or :math:`N g^N`; ``math.inf``: :math:`\hat g^\infty`): the length of the
    geodesic found by :func:`geodesic_between` (boundary-value solver; a geodesic, checked shorter than the straight
    segment when that is in the full-rank set). Full-rank m×n endpoints of one shape (square for
    ``depth=math.inf``). Raises :class:`riemdln.ConvergenceError` when the solve fails.

    >>> import numpy as np, math
    >>> d = distance(np.diag([4.0, 1.0]), np.diag([1.0, 4.0]), math.inf, normalized=True)
    >>> print(round(d / (math.sqrt(2) * math.log(4)), 9))     # aligned: |log s1 - log s0|
    1.0
    """
    return _distance(X0, X1, *conventions(depth, normalized))


@with_blas_threads
def _distance(X0, X1, depth, normalized):
    res = _geodesic_between(X0, X1, depth, normalized)
    if not res.success:
        raise ConvergenceError(f"distance: {res.message}.")
    return res.length


# ---------------------------------------------------------------------------------------------
# discrete path energy (docs/theory.md §12): an independent route to the distance
@dataclass
class DiscreteDistanceResult:
    r"""Distance from minimized discrete path energies, Richardson-extrapolated in the number of segments.

    Attributes: ``segments`` (the K used, e.g. (16, 32, 64)), ``lengths`` (:math:`L_K = \sqrt{E_K}` of each
    minimized discrete path), ``length`` (at the largest K), ``extrapolated`` (Richardson, error
    :math:`O(K^{-2})` removed, then :math:`O(K^{-4})`), ``error_estimate`` (the change made by the last
    Richardson level), ``path`` (the finest discrete path, shape (K + 1, m, n)), ``status`` (FINISHED when every
    minimization converged, FAILED otherwise), ``message``; ``success`` is ``status == FINISHED``.
    """

    segments: tuple[int, ...]
    lengths: tuple[float, ...]
    length: float
    extrapolated: float
    error_estimate: float
    path: NDArray[np.float64]
    status: Status
    message: str

    @property
    def success(self) -> bool:
        return self.status == Status.FINISHED


def _path_energy(inner, X0, X1, K, depth, normalized):
    r"""E_K = K \sum_k g_{m_k}(\Delta_k, \Delta_k), m_k the midpoints, and its exact gradient in the inner points.

    :math:`\nabla_X g_X(V, V)` is the Hamiltonian gradient with the multiplier a replaced by 1/a, whose
    divided difference is :math:`-S/(a_i a_j)` (stable at coincident singular values): on the left
    :math:`-S^L_{ijc}/(M_{ic}M_{jc})`, on the right :math:`-S^R_{ijc}/(M_{ci}M_{cj})` (m×n X).
    """
    pts = np.concatenate([X0[None], inner.reshape(K - 1, *X0.shape), X1[None]])
    delta, mid = np.diff(pts, axis=0), 0.5 * (pts[1:] + pts[:-1])
    Q, s, Rt = np.linalg.svd(mid)
    if depth != 1.0 and np.any(s[:, -1] <= 1e-12 * s[:, 0]):
        return math.inf, np.zeros_like(inner)
    M, SL, SR = spectral_sides(s, X0.shape, depth, normalized)
    SLb = -SL / (M[..., :, None, :] * M[..., None, :, :])  # divided differences of 1/a, left side
    if SR is SL:
        SRb = SLb
    else:
        Mt = np.swapaxes(M, -1, -2)
        SRb = -SR / (Mt[..., :, None, :] * Mt[..., None, :, :])  # right side
    Vt = np.swapaxes(Q, -1, -2) @ delta @ np.swapaxes(Rt, -1, -2)
    Wt = Vt / M
    dmid = 2.0 * (Q @ _grad_in_frame(s, SLb, SRb, Vt, Vt) @ Rt)  # grad_X g_X(Delta, Delta) at m_k
    W = Q @ Wt @ Rt  # A^{-1}(m_k) Delta_k
    grad = K * (2.0 * (W[:-1] - W[1:]) + 0.5 * (dmid[:-1] + dmid[1:]))
    return K * float(np.sum(Vt * Wt)), grad.ravel()


def _minimize_path(path, X0, X1, depth, normalized, max_iterations):
    from scipy.optimize import minimize

    K = path.shape[0] - 1
    res = minimize(
        _path_energy,
        path[1:-1].ravel(),
        args=(X0, X1, K, depth, normalized),
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iterations, "maxcor": 30, "ftol": 1e-16, "gtol": 1e-12},
    )
    out = np.concatenate([X0[None], res.x.reshape(K - 1, *X0.shape), X1[None]])
    ok = res.success or (res.status == 2 and math.isfinite(res.fun))  # 2: no further decrease in double precision
    return out, math.sqrt(res.fun) if math.isfinite(res.fun) else math.inf, bool(ok), res


def _refine(path):
    """Insert the midpoint of every segment (K -> 2K), the warm start of the next minimization."""
    mids = 0.5 * (path[1:] + path[:-1])
    out = np.empty((2 * path.shape[0] - 1, *path.shape[1:]))
    out[0::2], out[1::2] = path, mids
    return out


def discrete_distance(
    X0: ArrayLike,
    X1: ArrayLike,
    depth: float,
    normalized: bool = False,
    segments: tuple[int, ...] = (16, 32, 64),
    max_iterations: int = 20_000,
) -> DiscreteDistanceResult:
    r"""Distance of :math:`g^N` by minimizing discrete path energies, Richardson-extrapolated in K.

    .. math::
        E_K = K \sum_{k=0}^{K-1} g_{(X_k + X_{k+1})/2}(X_{k+1} - X_k,\, X_{k+1} - X_k), \qquad
        L_K = \sqrt{\min E_K} = d(X_0, X_1) + c_2 K^{-2} + c_4 K^{-4} + \dots

    over paths with :math:`X_0, X_K` fixed (midpoint metric; exact gradient; L-BFGS from the straight segment,
    each K warm-started from the previous path with its midpoints inserted). ``segments`` must double
    (K, 2K[, 4K]); the Richardson values are :math:`(4L_{2K} - L_K)/3`, then :math:`(16R_{4K} - R_{2K})/15`.
    A cross-check of :func:`distance` that never integrates the geodesic equations (docs/theory.md §12).
    The minimizer may be a local one; it starts from the straight segment. Conventions as in :func:`distance`;
    full-rank m×n endpoints of one shape (square for ``depth=math.inf``; square endpoints need one sign of det).

    Examples
    --------
    >>> import numpy as np
    >>> res = discrete_distance(np.diag([4.0, 1.0]), np.diag([1.0, 4.0]), depth=2)
    >>> print(round(res.extrapolated, 8))    # Chen: sqrt(2) |sqrt(s1) - sqrt(s0)| = 2
    2.0
    """
    depth, normalized = conventions(depth, normalized)
    return _discrete_distance(X0, X1, depth, normalized, segments, max_iterations)


@with_blas_threads
def _discrete_distance(X0, X1, depth, normalized, segments=(16, 32, 64), max_iterations=20_000):
    X0, depth, normalized, (X1,) = _check(X0, [("X1", X1)], depth, normalized, "X0")
    _full_rank(X1, "X1", depth)
    segments = _check_segments(segments)
    max_iterations = check_integer(max_iterations, "max_iterations", low=1)
    if depth != 1.0 and X0.shape[0] == X0.shape[1] and np.sign(np.linalg.det(X0)) != np.sign(np.linalg.det(X1)):
        raise RiemdlnValueError("`X0` and `X1` have opposite signs of det: they lie in different components of GL_d.")
    path = X0 + np.linspace(0.0, 1.0, segments[0] + 1)[:, None, None] * (X1 - X0)
    lengths, failed = [], []
    for i, K in enumerate(segments):
        path = path if i == 0 else _refine(path)
        path, L, ok, res = _minimize_path(path, X0, X1, depth, normalized, max_iterations)
        lengths.append(L)
        if not ok:
            failed.append(f"K = {K}: {res.message}")
    ext, err = _richardson(lengths)
    if failed or not math.isfinite(ext):
        status, msg = Status.FAILED, "discrete energy minimization did not converge (" + "; ".join(failed) + ")"
    else:
        status, msg = Status.FINISHED, f"converged at K = {segments}; Richardson change {err:.2g}"
    return DiscreteDistanceResult(tuple(segments), tuple(lengths), lengths[-1], ext, err, path, status, msg)


_MAX_SEGMENTS = 4096  # the finest discrete path: K SVDs per energy evaluation, L-BFGS memory 60 K m n doubles


def _check_segments(segments):
    """(K, 2K) or (K, 2K, 4K), integers (numpy integers too; not strings or booleans), K >= 2, 4K <= 4096."""
    ok = isinstance(segments, tuple | list) and all(
        isinstance(k, numbers.Integral) and not isinstance(k, bool) for k in segments
    )
    seg = tuple(int(k) for k in segments) if ok else ()
    if not 2 <= len(seg) <= 3 or seg[0] < 2 or any(b != 2 * a for a, b in zip(seg, seg[1:], strict=False)):
        raise RiemdlnValueError(
            f"`segments` must be (K, 2K) or (K, 2K, 4K) with integers K >= 2; got {short(segments)}."
        )
    if seg[-1] > _MAX_SEGMENTS:
        raise RiemdlnValueError(
            f"`segments` may go up to {_MAX_SEGMENTS} segments; got {short(segments)}: each energy evaluation would "
            f"take {seg[-1]} SVDs and the minimizer about {60 * seg[-1]} matrices of memory per iteration, for an "
            "O(K^-2) error that Richardson extrapolation already removes at K = 16, 32, 64."
        )
    return seg


def _richardson(lengths):
    """Richardson in K^{-2} (doubling K): one or two levels; returns the value and the last level's change."""
    r1 = [(4.0 * b - a) / 3.0 for a, b in zip(lengths, lengths[1:], strict=False)]
    if len(r1) == 1:
        return r1[0], abs(r1[0] - lengths[-1])
    r2 = (16.0 * r1[1] - r1[0]) / 15.0
    return r2, abs(r2 - r1[1])
