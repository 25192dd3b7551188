r"""The end-to-end ("downstairs") flow :math:`\dot X = -A_N(X)\nabla E(X)`, in matrix form and SVD coordinates.

Two formulations of one flow (docs/theory.md §2, §5):

``"matrix"``
    integrate X itself; every right-hand side costs one SVD (:func:`riemdln.geometry.apply_A`).
``"svd"``
    integrate :math:`(\rho, Q, R)`, :math:`X = Q\,\mathrm{diag}(e^{\rho}) R^T` with
    :math:`\rho = \log s`; no SVD in the right-hand side, and small singular values keep full relative
    accuracy (they move on a log scale), which is what long small-initialization plateaus need. See
    :func:`svd_flow` for the equations and for how coincident singular values are handled.
"""

from __future__ import annotations

import bisect
import dataclasses
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from riemdln._validation import RiemdlnValueError, check_bool, check_depth, check_full_rank, check_matrix
from riemdln.flows import _driver, _energy, _krylov, _split
from riemdln.flows._frames import orthonormal as _orthonormal
from riemdln.flows._options import MAX_SAVED_BYTES, Derivatives, FlowOptions, FlowSystem
from riemdln.flows.result import Event, FlowResult, Status, check_events, loss_guard, trajectory_diagnostics
from riemdln.geometry._metric import (
    log_multiplier_log_derivative,
    unchecked_log_multiplier,
    unchecked_multiplier,
    unchecked_multiplier_slope,
)
from riemdln.symbolic import _twins

__all__ = ["end_to_end_flow", "svd_flow", "end_to_end_jacobian"]

_FORMULATIONS = ("auto", "matrix", "svd")
_LOG_TINY = math.log(1e-300)


def _check_problem(problem) -> _energy.EnergyOps:
    """Any energy (``shape``, ``loss``, ``gradient``; see riemdln.problems.energies), checked once."""
    return _energy.ops(problem)


def _check_X0(X0, problem, name: str = "X0") -> np.ndarray:
    X0 = check_matrix(X0, name)
    if X0.ndim != 2 or X0.shape != problem.shape:
        raise RiemdlnValueError(f"`{name}` must have the problem's shape {problem.shape}; got {X0.shape}.")
    return X0


def _max_saved(state_size: int, matrix_size: int, max_bytes: int = MAX_SAVED_BYTES) -> int:
    """Default bound K on the saved states (no ``t_eval``; fewer than 2K are held): about 1000, fewer for large
    X (~16 MB), and never more than ``max_bytes`` for the 2K states and their matrices."""
    count = min(1000, max(50, 16e6 / (8 * (state_size + matrix_size))))
    held = 8 * (2 * (state_size + matrix_size) + 16)  # per state: the state, X, the diagnostics (bounded above)
    return int(max(2, min(count, max_bytes / (2 * held))))


def check_max_saved_bytes(value) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise RiemdlnValueError(f"`max_saved_bytes` must be an integer >= 1 (bytes); got {value!r}.")
    return int(value)


def _result_bytes(res: FlowResult) -> int:
    """Bytes held by a result's saved states: X, the diagnostics and the factors."""
    extra = sum(np.asarray(v).nbytes for v in res.diagnostics.values())
    return int(res.X.nbytes + res.t.nbytes + extra + sum(f.nbytes for f in res.factors or ()))


def _thinned(res: FlowResult) -> FlowResult:
    """Every second saved state dropped (the first and the last kept)."""
    n = len(res.t)
    keep = np.unique(np.r_[np.arange(0, n - 1, 2), n - 1])
    return dataclasses.replace(
        res,
        t=res.t[keep],
        X=res.X[keep],
        diagnostics={k: np.asarray(v)[keep] for k, v in res.diagnostics.items()},
        factors=None if res.factors is None else tuple(f[keep] for f in res.factors),
    )


def _fit(parts: list[FlowResult], max_bytes: int) -> None:
    """Thin the earlier parts of a switched run (not their end points) until all fit in ``max_bytes``."""
    while sum(_result_bytes(p) for p in parts) > max_bytes:
        i = max(range(len(parts)), key=lambda j: len(parts[j].t) if j < len(parts) - 1 else -1)
        if i == len(parts) - 1 or len(parts[i].t) <= 2:
            return
        parts[i] = _thinned(parts[i])


def _degree(depth: float) -> float:
    """Homogeneity degree of the multiplier: a_N(cx, cy) = c^{(N-1)/N} a_N(x, y); L(cx, cy) = c L(x, y)."""
    return 1.0 if math.isinf(depth) else (depth - 1.0) / depth


# ----------------------------------------------------------------------------------------- matrix form
def _matrix_rhs(problem, depth: float, normalized: bool):
    """-A_N(X) grad E(X) through one SVD and the multiplier twins (as riemdln.geometry.apply_A, unchecked)."""
    problem = _energy.ops(problem)
    m, n = problem.shape
    k = min(m, n)
    grad = problem.grad
    identity = depth == 1.0  # a_1 = 1 (raw and normalized): A_1 = I

    def rhs(t, y):
        X = y.reshape(m, n)
        G = grad(X)
        if identity:
            return -G.ravel()
        Q, s, Rt = np.linalg.svd(X, full_matrices=m != n)
        xs = np.zeros(m)
        ys = np.zeros(n)
        xs[:k] = s * s
        ys[:k] = s * s
        M = unchecked_multiplier(xs[:, None], ys[None, :], depth, normalized)
        return -(Q @ (M * (Q.T @ G @ Rt.T)) @ Rt).ravel()

    return rhs


def _matrix_jacobian(problem, depth: float, normalized: bool):
    """jac(t, y): the exact (m n, m n) Jacobian of the matrix-form right-hand side (see end_to_end_jacobian)."""
    problem = _energy.ops(problem)
    m, n = problem.shape
    k = min(m, n)
    D = m * n

    def jac(t, y):
        X = y.reshape(m, n)
        if depth == 1.0:  # F = -grad E
            return -problem.hessian(X)
        Q, s, Rt = np.linalg.svd(X, full_matrices=True)
        R = Rt.T
        x = np.zeros(m)
        x[:k] = s * s
        z = np.zeros(n)
        z[:k] = s * s
        a = unchecked_multiplier(x[:, None], z[None, :], depth, normalized)
        Gt = Q.T @ problem.grad(X) @ R
        # second divided differences of a: D1[i, c, j] in the first argument, D2[i, j, c] in the second
        D1 = unchecked_multiplier_slope(x[:, None, None], x[None, :, None], z[None, None, :], depth, normalized)
        if m == n:  # a is symmetric and x = z: the second-argument slopes are a transpose of the first
            D2 = D1.transpose(2, 0, 1)
        else:
            D2 = unchecked_multiplier_slope(z[None, :, None], z[None, None, :], x[:, None, None], depth, normalized)
        sk = s[:k]
        U1 = np.einsum("lc,icj->ijl", R[:, :k] * sk, D1[:, :k, :] * Gt[None, :k, :])
        V1 = np.einsum("kc,icj->ijk", Q, D1 * Gt[None, :, :])
        U2 = np.einsum("kc,ijc->ijk", Q[:, :k] * sk, D2[:, :, :k] * Gt[:, None, :k])
        V2 = np.einsum("lc,ijc->ijl", R, D2 * Gt[:, None, :])
        sRT = np.zeros((m, n))  # [i, l] = s_i R[l, i]
        sRT[:k] = (R[:, :k] * sk).T
        sQT = np.zeros((n, m))  # [j, k] = s_j Q[k, j]
        sQT[:k] = (Q[:, :k] * sk).T
        QT = Q.T
        # Y[i, j, k, l] = (Q^T (dA[E_kl] G + A P_Omega E_kl) R)_ij for the basis matrices E_kl
        Y = np.empty((m, n, m, n))
        np.multiply(QT[:, None, :, None], U1[:, :, None, :], out=Y)
        Y += sRT[:, None, None, :] * V1[:, :, :, None]
        Y += Rt[None, :, None, :] * U2[:, :, :, None]
        Y += sQT[None, :, :, None] * V2[:, :, None, :]
        if problem.completion:  # the Hessian is P_Omega: only the observed basis matrices
            ko, lo = np.nonzero(problem.mask)
            Y[:, :, ko, lo] += (QT[:, None, ko] * Rt[None, :, lo]) * a[:, :, None]
        else:  # A(H E_kl) for every basis matrix: H E_kl from the energy's Hessian-vector products
            HE = problem.hessian(X).T.reshape(D, m, n)
            Y += (a * np.matmul(np.matmul(QT, HE), R)).transpose(1, 2, 0).reshape(m, n, m, n)
        # rotate back: J[(p, q), (k, l)] = -sum_ij Q[p, i] R[q, j] Y[i, j, (k, l)]
        Y = np.matmul(R, Y.reshape(m, n, D))
        return -(Q @ Y.reshape(m, n * D)).reshape(D, D)

    return jac


def end_to_end_jacobian(problem, X: ArrayLike, depth: float, normalized: bool = False) -> np.ndarray:
    r"""Jacobian of the end-to-end flow's right-hand side :math:`F(X) = -A_N(X)\nabla E(X)`, exact.

    The (m n, m n) matrix :math:`J` with :math:`\operatorname{vec} DF(X)[Z] = J \operatorname{vec} Z`
    (row-major ``vec``, as ``X.ravel()``). With :math:`X = Q S R^T` (full SVD, s padded by zeros),
    :math:`\tilde Z = Q^T Z R`, :math:`\tilde G = Q^T\nabla E R`, :math:`x_i = s_i^2`, and the divided
    differences :math:`a[x_i, x_c; y_j] = (a(x_c, y_j) - a(x_i, y_j))/(x_c - x_i)` (the derivative where
    :math:`x_i = x_c`),

    .. math::

        -Q^T DF[Z] R = a\circ(Q^T P_\Omega(Z) R)
        + \Big[\sum_c (s_c\tilde Z_{ic} + s_i\tilde Z_{ci})\, a[x_i, x_c; y_j]\,\tilde G_{cj}
        + \sum_c (s_c\tilde Z_{cj} + s_j\tilde Z_{jc})\, a[y_j, y_c; x_i]\,\tilde G_{ic}\Big]_{ij}.

    This is the first-order perturbation of :math:`Q (a\circ\tilde G) R^T`: the singular 1/(s_c^2 - s_i^2)
    of the frame derivatives cancels against the difference of multipliers, leaving divided differences,
    which are smooth through coincident singular values; the c = i terms are the change of the
    singular values. The implicit solvers of :func:`end_to_end_flow` use it (instead of m n finite-difference
    right-hand sides per Jacobian); it is also the linearization for stability analysis of limit points.

    Parameters
    ----------
    problem : energy
        Any energy: an object with ``shape``, ``loss(X)`` and ``gradient(X)`` (the Frobenius gradient
        :math:`\nabla E`), optionally ``hessian_vector(X, V)`` (else the gradient is differenced), e.g. a
        CompletionProblem (:math:`\nabla E = P_\Omega(X - M)`), riemdln.Energy, QuadraticEnergy,
        SensingProblem.
    X : array_like, shape (m, n)
        Full-rank point (for N > 1, :math:`A_N` is not differentiable at rank-deficient X: an error).
    depth, normalized
        As in :func:`end_to_end_flow` (raw :math:`A_N`, :math:`A_N/N`, or :math:`A_\infty`).

    Returns
    -------
    ndarray, shape (m n, m n)

    Examples
    --------
    Depth one: :math:`F = -P_\Omega(X - M)`, so :math:`J = -\operatorname{diag}(\operatorname{vec}\,\Omega)`.

    >>> import numpy as np
    >>> from riemdln import CompletionProblem
    >>> p = CompletionProblem.named("menon-2x2")
    >>> print(np.diag(end_to_end_jacobian(p, np.eye(2), depth=1)))
    [-1. -0. -0. -1.]
    """
    problem = _check_problem(problem)
    normalized = check_bool(normalized, "normalized")
    depth = check_depth(depth, normalized)
    X = _check_X0(X, problem, "X")
    problem.check_outputs(X)
    if depth != 1.0:
        check_full_rank(np.linalg.svd(X, compute_uv=False), X.shape, "X", "A_N is not differentiable there for N > 1")
    return _matrix_jacobian(problem, depth, normalized)(0.0, X.ravel())


# -------------------------------------------------------------------------------------------- SVD form
class _SVDSystem:
    r"""Right-hand side of the flow in :math:`(\rho, Q, R)` (thin: Q is m×k, R is n×k, k = min(m, n)).

    :meth:`begin` sets the start and the solver's choices: the system is then a
    :class:`~riemdln.flows._options.FlowSystem`."""

    fallback: str | None  # the protocol's types (the others are inferred from begin)
    events: tuple[Event, ...]
    atol_fn: Callable[[np.ndarray], np.ndarray] | None

    def __init__(self, problem, depth: float, normalized: bool):
        problem = _energy.ops(problem)
        self.m, self.n = problem.shape
        self.k = min(self.m, self.n)
        self.energy = problem
        self.depth, self.normalized = depth, normalized
        self.deg = _degree(depth)
        one = np.ones(1)
        # a(x, x) = a(1, 1) x^deg and a(x, 0) = a(1, 0) x^deg: homogeneity, constants from the twins
        self.log_a10 = float(unchecked_log_multiplier(one, 0 * one, depth, normalized)[0])
        k = self.k
        self.iu = np.triu_indices(k, 1)
        self._output_key: bytes | None = None
        self._output = np.zeros((self.m, self.n))

    def begin(self, X0: np.ndarray, t0: float, options: FlowOptions, events: tuple[Event, ...]) -> _SVDSystem:
        """Start at X0 (frames aligned in clusters, :func:`_aligned_svd`) at time ``t0``, with ``events``."""
        k = self.k
        self.method = _driver.resolve_method(options.method, k * (1 + self.m + self.n))
        self.fallback = _driver.fallback(options.method)
        self.y0 = self.join(*_aligned_svd(X0, self))
        self.t0, self.events, self.desc = t0, events, f"svd flow N={self.depth:g}"
        self.derivatives = Derivatives(jac=self.jacobian)
        self.atol_fn = self.frame_atol(options.atol)
        self.max_saved = _max_saved(np.size(self.y0), self.m * self.n, options.max_saved_bytes)
        return self

    def event_state(self, y) -> np.ndarray:
        """X at y as :meth:`X_output`: events, the loss check and the saved states see the same X."""
        return self.X_output(y)

    def norm(self, y) -> float:
        return float(np.sqrt(np.sum(np.exp(2 * y[: self.k]))))

    def check_state(self, y) -> str | None:
        """For N < 2, fail once a singular value falls below 1e-300 (it reaches 0 in finite time there)."""
        if self.depth < 2 and np.min(y[: self.k]) < _LOG_TINY:
            return (
                "a singular value fell below 1e-300: at depth N < 2 singular values reach 0 in finite time "
                "(ds/dt ~ s^(2 - 2/N)), where log s is singular; use formulation='matrix'."
            )
        return None

    def result(self, out: _driver.Outcome) -> FlowResult:
        """The FlowResult: X from the orthonormalized frames, singular values e^rho, det Q det R (square)."""
        k, shape = self.k, self.energy.shape
        ys = np.array(out.y, dtype=float).reshape(len(out.t), np.size(self.y0))
        X = np.array([self.X_output(y) for y in ys]).reshape(len(out.t), *shape)
        s = np.exp(ys[:, :k])
        det_sign = None
        if self.m == self.n:
            det_sign = np.array(
                [np.sign(np.linalg.det(self.split(y)[1]) * np.linalg.det(self.split(y)[2])) for y in ys]
            )
        diags = trajectory_diagnostics(self.energy, X, self.depth, self.normalized, s=s, det_sign=det_sign)
        return _flow_result(out, X, diags, self, "svd")

    def log_velocity(self, rho: np.ndarray, g: np.ndarray | float) -> np.ndarray:
        """d rho_i/dt from the derived twin of the convention (catalog: log_singular_value_velocity*), g = Gt_ii."""
        if math.isinf(self.depth):
            return _twins.log_singular_value_velocity_infinite(rho, g)
        if self.normalized:
            return _twins.log_singular_value_velocity_normalized(rho, g, self.depth)
        return _twins.log_singular_value_velocity(rho, g, self.depth)

    def split(self, y):
        k, m, n = self.k, self.m, self.n
        rho = y[:k]
        Q = y[k : k + m * k].reshape(m, k)
        R = y[k + m * k :].reshape(n, k)
        return rho, Q, R

    @staticmethod
    def join(rho, Q, R):
        return np.concatenate([rho, Q.ravel(), R.ravel()])

    def X(self, y):
        rho, Q, R = self.split(y)
        return (Q * np.exp(rho)) @ R.T

    def X_output(self, y):
        """X for the saved trajectory: Q and R projected on orthonormal frames (polar factor), so the saved
        X has singular values exactly e^rho (up to rounding) however long the run; the projection removes
        only the drift of Q^T Q from I (the symmetric part of the integration error). The last state's X is
        kept: the events, the loss check and the saved trajectory ask for the same accepted step."""
        key = np.asarray(y).tobytes()
        if key != self._output_key:
            rho, Q, R = self.split(y)
            self._output = (_orthonormal(Q) * np.exp(rho)) @ _orthonormal(R).T
            self._output_key = key
        return self._output.copy()

    def frame_atol(self, atol: float):
        r"""Per-component absolute tolerances for :math:`(\rho, Q, R)`: ``atol`` on :math:`\rho`, and
        ``atol`` :math:`/\max(1, s_j)` on column j of Q and R.

        An error :math:`\delta q_j` in a frame column moves X by :math:`s_j\,\delta q_j r_j^T`: with one
        absolute tolerance for all frame entries, the large singular values' columns would carry errors of
        :math:`s_j\,\mathrm{atol}` into X. When ‖X‖ grows without bound (Razin–Cohen), the entries the loss
        sees stay O(1) while :math:`s_1 \to \infty`: their frame components are O(1/s_1) and must be
        resolved relative to themselves, which this scaling (with rtol) does. Updated after every step.
        """
        k, m, n = self.k, self.m, self.n

        def fn(y):
            col = atol / np.maximum(1.0, np.exp(y[:k]))
            return np.concatenate([np.full(k, atol), np.tile(col, m), np.tile(col, n)])

        return fn

    def pair_coefficients(self, rho):
        r"""H_ij = a_ij/(s_i + s_j) (smooth) and F_ij = a_ij/(s_i - s_j) (F_ii = 0), i ≠ j; rho (..., k).

        Evaluated in log space from :math:`\rho`: with :math:`r = \max(\rho_i, \rho_j)` and
        :math:`\Delta = \rho_i - \rho_j`, :math:`a_{ij} = e^{2r\,\deg} a(e^{2(\rho_i - r)}, e^{2(\rho_j - r)})`
        (homogeneity; the twin sees arguments in (0, 1]), :math:`s_i + s_j = e^r(e^{\rho_i - r} +
        e^{\rho_j - r})` and :math:`|s_i - s_j| = e^r\,|\mathrm{expm1}(-|\Delta|)|`, which is exact for
        small :math:`\Delta` — the quotient is never formed from a cancelling difference.
        """
        k = self.k
        H = np.zeros(rho.shape[:-1] + (k, k))
        F = np.zeros(rho.shape[:-1] + (k, k))
        if k == 1:
            return H, F
        i, j = self.iu
        ri, rj = rho[..., i], rho[..., j]
        r = np.maximum(ri, rj)
        di, dj = ri - r, rj - r
        log_a = unchecked_log_multiplier(np.exp(2 * di), np.exp(2 * dj), self.depth, self.normalized) + 2 * r * self.deg
        delta = ri - rj
        absd = np.abs(delta)
        h = np.exp(log_a - r - np.log(np.exp(di) + np.exp(dj)))
        gap = -np.expm1(-absd)  # |s_i - s_j| / e^r, exact
        nz = gap > 0
        # F_ij = a_ij / (s_i - s_j); at exactly coincident singular values the frame has been aligned so
        # that the symmetric numerator vanishes (see svd_flow, Notes): the term is then taken as 0.
        f = np.where(nz, np.sign(delta) * np.exp(log_a - r - np.log(np.where(nz, gap, 1.0))), 0.0)
        H[..., i, j] = h
        H[..., j, i] = h
        F[..., i, j] = f
        F[..., j, i] = -f
        return H, F

    def _state(self, y) -> dict:
        """What the right-hand side and its derivatives at ``y`` share."""
        rho, Q, R = self.split(y)
        s = np.exp(rho)
        X = (Q * s) @ R.T
        G = self.energy.grad(X)
        GR = G @ R
        Gt = Q.T @ GR
        Psym, Pant = Gt + Gt.T, Gt - Gt.T
        H, F = self.pair_coefficients(rho)
        z = dict(rho=rho, Q=Q, R=R, s=s, X=X, G=G, GR=GR, Gt=Gt, Psym=Psym, Pant=Pant, H=H, F=F)
        # the derived rotations in their split form (catalog: left_rotation_split, right_rotation_split),
        # on the stable pair coefficients F, H
        z["Omega"] = _twins.left_rotation_split(F, H, Gt, Gt.T)
        z["Theta"] = _twins.right_rotation_split(F, H, Gt, Gt.T)
        # d rho_i = -(a_ii / s_i) Gt_ii, a_ii / s_i = a(1, 1) s_i^(2 deg - 1)
        z["c"] = -self.log_velocity(rho, 1.0)  # the derived twin at g = 1; the RHS and its JVP share it
        # thin frames: a(s_j^2, 0) / s_j (none at N = inf, where L(x, 0) = 0)
        z["b"] = np.exp(self.log_a10 + rho * (2 * self.deg - 1)) if np.isfinite(self.log_a10) else None
        return z

    def rhs(self, t, y):
        """Right-hand side at one state ``y``."""
        k, m, n = self.k, self.m, self.n
        z = self._state(y)
        Q, R, G, GR, Gt, b = z["Q"], z["R"], z["G"], z["GR"], z["Gt"], z["b"]
        drho = -z["c"] * np.diag(Gt)  # = log_velocity(rho, Gt_ii): the velocity is linear in g
        dQ = Q @ z["Omega"]
        dR = R @ z["Theta"]
        if b is not None:
            # thin frames: the column (row) space also turns into its complement,
            # dQ += (I - QQ^T) Xdot R S^-1 = -(G R - Q Gt) diag(a(s_j^2, 0) / s_j)
            if m > k:
                dQ = dQ - (GR - Q @ Gt) * b
            if n > k:
                dR = dR - (G.T @ Q - R @ Gt.T) * b
        return np.concatenate([drho, dQ.ravel(), dR.ravel()])

    def pair_derivatives(self, rho, H, F):
        r"""Derivatives of H, F (:meth:`pair_coefficients`) in :math:`\rho_i` and :math:`\rho_j`.

        With :math:`\psi' = \partial\log a/\partial\log x` at :math:`\delta = 2(\rho_i - \rho_j)` (so the
        :math:`\rho_j` one is :math:`\deg - \psi'`, by homogeneity) and :math:`\Delta = \rho_i - \rho_j`:

        .. math::

            \partial_{\rho_i}\log H_{ij} = 2\psi' - \frac{1}{1 + e^{-\Delta}}, \quad
            \partial_{\rho_j}\log H_{ij} = 2(\deg - \psi') - \frac{1}{1 + e^{\Delta}}, \quad
            \partial_{\rho_i}\log|F_{ij}| = 2\psi' + \frac{1}{\operatorname{expm1}(-\Delta)}, \quad
            \partial_{\rho_j}\log|F_{ij}| = 2(\deg - \psi') + \frac{1}{\operatorname{expm1}(\Delta)}.

        Returns dH_i, dH_j, dF_i, dF_j, each (k, k) with [i, j] the derivative of the (i, j) entry.
        """
        Delta = rho[:, None] - rho[None, :]
        psi = log_multiplier_log_derivative(2 * Delta, self.depth)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            dH_i = H * (2 * psi - 1 / (1 + np.exp(-Delta)))
            dH_j = H * (2 * (self.deg - psi) - 1 / (1 + np.exp(Delta)))
            nz = F != 0  # the diagonal, and exactly coincident pairs (F taken as 0 there)
            dF_i = np.where(nz, F * (2 * psi + 1 / np.expm1(-Delta)), 0.0)
            dF_j = np.where(nz, F * (2 * (self.deg - psi) + 1 / np.expm1(Delta)), 0.0)
        np.fill_diagonal(dH_i, 0.0)
        np.fill_diagonal(dH_j, 0.0)
        return dH_i, dH_j, dF_i, dF_j

    def jvp(self, y, V):
        r"""Directional derivatives of :meth:`rhs` at ``y`` along the rows of ``V`` (B, D): exact, (B, D).

        The first-order perturbation of every step of :meth:`rhs` (X, G, :math:`\tilde G`, the pair
        coefficients through :meth:`pair_derivatives`, the frames); the coefficients are evaluated once for
        the whole batch, the directions only enter matrix products.
        """
        k, m, n = self.k, self.m, self.n
        B = V.shape[0]
        parts = (V[:, :k], V[:, k : k + m * k].reshape(B, m, k), V[:, k + m * k :].reshape(B, n, k))
        return self._jvp(self._base(y), *parts)

    def _base(self, y) -> dict:
        """:meth:`_state` and the derivatives of the pair coefficients: what every directional derivative shares."""
        z = self._state(y)
        z["dH_i"], z["dH_j"], z["dF_i"], z["dF_j"] = self.pair_derivatives(z["rho"], z["H"], z["F"])
        return z

    def _jvp(self, z: dict, dr, dQ, dR):
        """Batched directional derivative; ``dr`` (B, k), ``dQ`` (B, m, k), ``dR`` (B, n, k), None for zero."""
        k, m, n = self.k, self.m, self.n
        Q, R, s, G, GR, Gt = z["Q"], z["R"], z["s"], z["G"], z["GR"], z["Gt"]
        B = next(v.shape[0] for v in (dr, dQ, dR) if v is not None)
        dX = np.zeros((B, m, n))
        if dQ is not None:
            dX += _rmul(dQ * s, R.T)
        if dR is not None:
            dX += _lmul(Q * s, np.swapaxes(dR, -1, -2))
        if dr is not None:
            dX += _lmul(Q, (s * dr)[:, :, None] * R.T)
        dG = self.energy.hvp(z["X"], dX)
        dGR = _rmul(dG, R) + (0.0 if dR is None else _lmul(G, dR))
        dGt = _lmul(Q.T, dGR)
        if dQ is not None:
            dGt += _rmul(np.swapaxes(dQ, -1, -2), GR)
        dGtT = np.swapaxes(dGt, -1, -2)
        d_rho = -z["c"] * np.diagonal(dGt, axis1=-2, axis2=-1)
        sym = z["F"] * (dGt + dGtT)
        ant = z["H"] * (dGt - dGtT)
        if dr is not None:
            d_rho = d_rho - (2 * self.deg - 1) * z["c"] * dr * np.diag(Gt)
            sym = sym + (z["dF_i"] * dr[:, :, None] + z["dF_j"] * dr[:, None, :]) * z["Psym"]
            ant = ant + (z["dH_i"] * dr[:, :, None] + z["dH_j"] * dr[:, None, :]) * z["Pant"]
        d_dQ = _lmul(Q, 0.5 * (sym - ant))
        d_dR = _lmul(R, 0.5 * (sym + ant))
        if dQ is not None:
            d_dQ += _rmul(dQ, z["Omega"])
        if dR is not None:
            d_dR += _rmul(dR, z["Theta"])
        b = z["b"]
        if (m > k or n > k) and b is not None:
            db = None if dr is None else (2 * self.deg - 1) * b * dr[:, None, :]
            if m > k:
                inner = dGR - _lmul(Q, dGt)
                if dQ is not None:
                    inner -= _rmul(dQ, Gt)
                d_dQ -= inner * b
                if db is not None:
                    d_dQ -= (GR - Q @ Gt) * db
            if n > k:
                inner = _rmul(np.swapaxes(dG, -1, -2), Q) - _lmul(R, dGtT)
                if dQ is not None:
                    inner += _lmul(G.T, dQ)
                if dR is not None:
                    inner -= _rmul(dR, Gt.T)
                d_dR -= inner * b
                if db is not None:
                    d_dR -= (G.T @ Q - R @ Gt.T) * db
        return np.concatenate([d_rho, d_dQ.reshape(B, m * k), d_dR.reshape(B, n * k)], axis=1)

    def jacobian(self, t, y, chunk: int = 512):
        """The exact (D, D) Jacobian of :meth:`rhs`: column blocks of basis directions in rho, Q and R."""
        k, m, n = self.k, self.m, self.n
        z = self._base(y)
        D = y.size
        J = np.empty((D, D))
        J[:, :k] = self._jvp(z, np.eye(k), None, None).T
        for offset, rows, frame in ((k, m, "dQ"), (k + m * k, n, "dR")):
            size = rows * k
            for a in range(0, size, chunk):
                b = min(size, a + chunk)
                E = np.zeros((b - a, size))
                E[np.arange(b - a), np.arange(a, b)] = 1.0
                directions = {"dr": None, "dQ": None, "dR": None, frame: E.reshape(b - a, rows, k)}
                J[:, offset + a : offset + b] = self._jvp(z, **directions).T
        return J


def _rmul(A, W):
    """A @ W for a batch A (B, p, q) and one W (q, r), as one matrix product."""
    B, p, q = A.shape
    return (A.reshape(B * p, q) @ W).reshape(B, p, W.shape[1])


def _lmul(W, A):
    """W @ A for one W (p, q) and a batch A (B, q, r), as one matrix product."""
    return np.moveaxis(np.tensordot(W, A, axes=(1, 1)), 0, 1)


def _aligned_svd(X0: np.ndarray, system: _SVDSystem):
    r"""SVD of X0 with the frame chosen, inside clusters of coincident singular values, so the flow is smooth.

    Singular values equal to rounding (relative difference <= 4 k eps) are made exactly equal and the
    frames of the cluster are rotated by the eigenvectors of the symmetric part of
    :math:`\tilde G = Q^T \nabla E R` restricted to it (degenerate perturbation theory: those are the
    directions in which the singular values split).
    """
    Q, s, Rt = np.linalg.svd(X0, full_matrices=False)
    R = Rt.T.copy()
    k = len(s)
    if np.any(s <= 0) or np.any(~np.isfinite(np.log(s))):
        raise RiemdlnValueError(
            f"`X0` must have full rank min(m, n) = {k} for the SVD formulation (it integrates log s); "
            f"got singular values down to {float(s.min())!r}. Use formulation='matrix'."
        )
    rho = np.log(s)
    tol = 4 * k * np.finfo(float).eps
    G = system.energy.grad(X0)
    start = 0
    while start < k:
        stop = start + 1
        while stop < k and (s[stop - 1] - s[stop]) <= tol * s[stop - 1]:
            stop += 1
        if stop - start > 1:
            idx = slice(start, stop)
            rho[idx] = np.mean(rho[idx])
            Gt = Q[:, idx].T @ G @ R[:, idx]
            _, O = np.linalg.eigh(Gt + Gt.T)
            Q[:, idx] = Q[:, idx] @ O
            R[:, idx] = R[:, idx] @ O
        start = stop
    return rho, Q, R


_MAX_RAW_DEPTH = 1e12


def _check_flow_depth(depth, normalized: bool) -> float:
    depth = check_depth(depth, normalized)
    if not normalized and depth > _MAX_RAW_DEPTH:
        raise RiemdlnValueError(
            f"`depth` = {depth:.3g} with normalized=False: the raw flow's rates grow like N (a_N(x, x) = N x^(1-1/N)), "
            f"so [0, t_final] spans about N * t_final relaxation times, which no integrator resolves; raw depth must "
            f"be <= {_MAX_RAW_DEPTH:.0e}. Use normalized=True (time tau = N t), or depth=math.inf."
        )
    return depth


# The most relaxation times of the largest singular value a run may span: past it the solver's steps fall
# below the resolution of t and products of the state overflow (1e150 I at N = 2: rates ~ 1e150).
MAX_RELAXATIONS = 1e100


def _check_scale(X0: np.ndarray, depth: float, normalized: bool, t_final: float) -> None:
    """Refuse, before any work, an X0 so large that the flow's fastest rate a_N(s_1^2, s_1^2) (normalized:
    / N) times t_final exceeds :data:`MAX_RELAXATIONS` (the rate grows like s_1^(2 - 2/N))."""
    s1 = float(np.linalg.norm(X0, 2))
    with np.errstate(over="ignore"):
        rate = float(unchecked_multiplier(np.float64(s1) ** 2, np.float64(s1) ** 2, depth, normalized))
    if math.isfinite(rate) and rate * t_final <= MAX_RELAXATIONS:
        return
    raise RiemdlnValueError(
        f"`X0` has largest singular value {s1:.3g}: the flow's fastest rate there, a_N(s^2, s^2) = {rate:.3g}, "
        f"times t_final = {t_final:.3g} spans more than {MAX_RELAXATIONS:.0e} relaxation times, which float64 "
        "cannot integrate (the steps fall below the resolution of t and products overflow). Rescale the "
        "problem (X0 and the target by 1/c, time by c^(2-2/N)) or start from a smaller X0."
    )


def _checked_call(problem, X0, depth, t_final, normalized, given: Mapping[str, Any]):
    """The arguments of a public end-to-end call checked (in this order: problem, normalized, depth, X0 and the
    energy's values there, t_final and the scale of X0, then ``given``, the keyword options; ``switch_ratio``
    only if given, default ``10 * rtol``); returns
    (problem, X0, depth, normalized, options) with the options as one :class:`FlowOptions`."""
    problem = _check_problem(problem)
    normalized = check_bool(normalized, "normalized")
    depth = _check_flow_depth(depth, normalized)
    X0 = _check_X0(X0, problem)
    problem.check_outputs(X0)
    t_final = _driver.check_time(t_final, "t_final")
    _check_scale(X0, depth, normalized, t_final)
    rtol = _driver.check_tol(given["rtol"], "rtol")
    options = FlowOptions(
        t_final=t_final,
        method=given["method"],
        rtol=rtol,
        atol=_driver.check_tol(given["atol"], "atol"),
        t_eval=_driver.check_t_eval(given["t_eval"], t_final),
        events=check_events(given["events"]),
        blowup_norm=_driver.check_blowup_norm(given["blowup_norm"], problem, X0),
        progress=_driver.want_progress(given["progress"]),
        max_steps=_driver.check_max_steps(given["max_steps"]),
        switch_ratio=_check_switch_ratio(given.get("switch_ratio"), rtol),
        dense_output=given["dense_output"],
        max_saved_bytes=check_max_saved_bytes(given["max_saved_bytes"]),
    )
    return problem, X0, depth, normalized, options


def _check_switch_ratio(switch_ratio, rtol: float) -> float:
    """``switch_ratio`` checked: a real number in (0, 1); None is ``10 * rtol``."""
    if switch_ratio is None:
        return 10 * rtol
    # numbers.Real declares only < and <=; NaN fails `switch_ratio < 1`
    if (
        isinstance(switch_ratio, bool)
        or not isinstance(switch_ratio, numbers.Real)
        or switch_ratio <= 0
        or not switch_ratio < 1
    ):
        raise RiemdlnValueError(f"`switch_ratio` must be a real number in (0, 1); got {switch_ratio!r}.")
    return switch_ratio  # type: ignore[return-value]  # a Real, kept as given (bit for bit)


@_driver.with_blas_threads
def svd_flow(
    problem,
    X0: ArrayLike,
    depth: float,
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
    dense_output: bool = False,
    progress: bool | None = None,
    max_saved_bytes: int = MAX_SAVED_BYTES,
) -> FlowResult:
    r"""The end-to-end flow integrated in SVD coordinates :math:`(\log s, Q, R)` (docs/theory.md §5).

    With :math:`X = Q\,\mathrm{diag}(s) R^T`, :math:`\tilde G = Q^T \nabla E(X) R`, :math:`a_{ij} =
    a_N(s_i^2, s_j^2)` (raw; :math:`a_N/N` normalized; :math:`L` at ``depth=math.inf``),
    :math:`\dot Q = Q\Omega`, :math:`\dot R = R\Theta`:

    .. math::

        \frac{d \log s_i}{dt} = -\frac{a_{ii}}{s_i}\tilde G_{ii}, \qquad
        \Omega_{ij} = \frac{s_j \tilde G_{ij} + s_i \tilde G_{ji}}{s_i^{2/N} - s_j^{2/N}}, \qquad
        \Theta_{ij} = \frac{s_i \tilde G_{ij} + s_j \tilde G_{ji}}{s_i^{2/N} - s_j^{2/N}},

    computed as :math:`\Omega = \tfrac12(F\circ P - H\circ M)`, :math:`\Theta = \tfrac12(F\circ P +
    H\circ M)` with :math:`P = \tilde G + \tilde G^T`, :math:`M = \tilde G - \tilde G^T`,
    :math:`H_{ij} = a_{ij}/(s_i + s_j)` and :math:`F_{ij} = a_{ij}/(s_i - s_j)`, using
    :math:`a_{ij}/(s_i^2 - s_j^2) = 1/(s_i^{2/N} - s_j^{2/N})`. For rectangular X the thin frames also
    turn into the complements with rate :math:`a_N(s_j^2, 0)/s_j`.

    Parameters
    ----------
    problem : energy
        Any energy: an object with ``shape``, ``loss(X)`` and ``gradient(X)`` (the Frobenius gradient
        :math:`\nabla E`), optionally ``hessian_vector(X, V)`` (else the gradient is differenced), e.g. a
        CompletionProblem (:math:`\nabla E = P_\Omega(X - M)`), riemdln.Energy, QuadraticEnergy,
        SensingProblem.
    X0 : array_like, shape (m, n)
        Initial matrix, full rank (numpy's rank tolerance; rank-deficient X0 is refused).
    depth : float or math.inf
        Depth N >= 1 (any real); ``math.inf`` requires ``normalized=True``. For N < 2 a singular value
        can reach 0 in finite time (:math:`\dot s \propto s^{2 - 2/N}`), where log s leaves every
        bounded set: use the matrix form there.
    t_final : float
        End of the time span (t raw, :math:`\tau = N t` normalized).
    normalized : bool
        Raw :math:`\dot X = -A_N\nabla E` or normalized :math:`dX/d\tau = -(A_N/N)\nabla E`.
    method : str
        A scipy ``OdeSolver`` name (``"DOP853"``, ``"RK45"``, ``"Radau"``, ``"BDF"``, ``"LSODA"``, ...);
        ``"auto"`` is ``"LSODA"`` (see :func:`end_to_end_flow`).
    rtol, atol : float
        Tolerances on the state :math:`(\log s, Q, R)` (all entries O(1): relative accuracy of every
        singular value, however small).
    t_eval, events, blowup_norm, max_steps, dense_output, progress, max_saved_bytes
        As in :func:`end_to_end_flow`.

    Returns
    -------
    FlowResult
        ``formulation="svd"``; ``diagnostics["singular_values"]`` are :math:`e^{\rho}` (full relative
        accuracy), ``det_sign`` is :math:`\det Q \det R`.

    Notes
    -----
    Coincident singular values. :math:`F_{ij}` is singular where :math:`s_i = s_j`, and there the SVD frame
    is not unique. Along a trajectory singular values generically do not meet (for real matrices that is
    a codimension-two event), but an initial matrix such as :math:`\epsilon I` starts exactly on the
    coincidence set. The initial frame is therefore chosen by degenerate perturbation theory: in each
    cluster of singular values equal to rounding, the singular values are made exactly equal and the
    frames rotated (together, which leaves X unchanged) to the eigenvectors of the symmetric part of the
    cluster block of :math:`\tilde G` — the directions in which the singular values split. In that frame
    the numerator :math:`P_{ij}` of the singular term vanishes and the term (0/0) is taken as 0, its
    value in the aligned frame; the smooth part :math:`H\circ M` needs no such care. No epsilon enters
    the right-hand side. det X never changes sign in these coordinates (Q, R move by rotations; s > 0),
    which is the structural reason the Razin–Cohen failure of the matrix form cannot happen here.

    Jacobian. The implicit methods get the exact Jacobian of the right-hand side in (rho, Q, R): every step
    of it perturbed to first order, with the derivatives of the pair coefficients

    .. math::

        \partial_{\rho_i}\log H_{ij} = 2\psi' - \frac{1}{1 + e^{-\Delta}},\qquad
        \partial_{\rho_i}\log|F_{ij}| = 2\psi' + \frac{1}{\operatorname{expm1}(-\Delta)}

    (:math:`\Delta = \rho_i - \rho_j`, :math:`\psi' = \partial\log a/\partial\log x`; the
    :math:`\rho_j` derivatives follow by homogeneity), checked against central differences in
    tests/test_jacobian.py.

    Statuses and BLAS threads: as in :func:`end_to_end_flow` (Notes).

    Examples
    --------
    >>> import math, numpy as np
    >>> from riemdln import CompletionProblem
    >>> p = CompletionProblem.named("razin-cohen-2x2")
    >>> res = svd_flow(p, 1e-3 * np.eye(2), depth=2, t_final=200.0)
    >>> print(res.status.name, set(res["det_sign"].tolist()), res["loss"][-1] < 5e-3, res.X[-1, 0, 0] > 10)
    FINISHED {1.0} True True
    """
    given = dict(method=method, rtol=rtol, atol=atol, t_eval=t_eval, events=events, blowup_norm=blowup_norm)
    given.update(max_steps=max_steps, dense_output=dense_output, progress=progress, max_saved_bytes=max_saved_bytes)
    problem, X0, depth, normalized, options = _checked_call(problem, X0, depth, t_final, normalized, given)
    check_full_rank(
        np.linalg.svd(X0, compute_uv=False), X0.shape, "X0", "SVD coordinates integrate log s (full rank only)"
    )
    return _integrate(_SVDSystem(problem, depth, normalized).begin(X0, 0.0, options, options.events), options)


def _integrate(system: FlowSystem, options: FlowOptions) -> FlowResult:
    """Run ``system`` under ``options`` (:func:`riemdln.flows._driver.run`) and build its result."""
    return system.result(_driver.run(system, options))


def _flow_result(out: _driver.Outcome, X: np.ndarray, diags: dict, system, formulation: str) -> FlowResult:
    """The FlowResult of one integration ``out`` of an end-to-end ``system`` (its energy, depth, convention;
    ``sol`` maps the dense states through ``system.event_state``)."""
    sol: Callable[[float], np.ndarray] | None = None
    status, message = loss_guard(system.energy, out.t, X, diags, out.status, out.message)
    if out.sol is not None:
        dense, to_X = out.sol, system.event_state

        def sol(t):
            return to_X(np.asarray(dense(t)))

    return FlowResult(
        t=out.t,
        X=X,
        status=status,
        message=message,
        nfev=out.nfev,
        njev=out.njev,
        diagnostics=diags,
        t_events=out.t_events,
        depth=system.depth,
        normalized=system.normalized,
        formulation=formulation,
        sol=sol,
        stop_event=out.stop_event,
        error=out.error,
    )


class _MatrixSystem:
    """The matrix form from X0 (a :class:`~riemdln.flows._options.FlowSystem`): X itself is the state.

    Under CVODE (large X, N != 1) it gets exact Jacobian-vector products and the spectral preconditioner
    (``flows._krylov``); the implicit dense methods get the exact Jacobian (:func:`end_to_end_jacobian`)."""

    t0 = 0.0
    fallback: str | None
    max_saved: int
    atol_fn: Callable[[np.ndarray], np.ndarray] | None = None

    def __init__(self, problem, depth: float, normalized: bool, X0: np.ndarray, options: FlowOptions, events):
        m, n = problem.shape
        self.energy, self.depth, self.normalized, self.shape = problem, depth, normalized, (m, n)
        self.method, self.fallback = _driver.resolve_method(options.method, m * n), _driver.fallback(options.method)
        krylov = None
        if self.method == "CVODE" and depth != 1.0:  # exact products and the spectral preconditioner
            krylov = _krylov.MatrixKrylov(_energy.ops(problem), depth, normalized, X0)
        self.rhs = _matrix_rhs(problem, depth, normalized) if krylov is None else krylov.rhs
        self.derivatives = Derivatives(
            jac=_matrix_jacobian(problem, depth, normalized),
            jvp=None if krylov is None else krylov.jvp,
            precond=None if krylov is None else krylov.precond,
        )
        self.y0, self.events, self.desc = X0.ravel().copy(), tuple(events), f"matrix flow N={depth:g}"
        self.max_saved = _max_saved(m * n, 0, options.max_saved_bytes)

    def event_state(self, y) -> np.ndarray:
        return y.reshape(self.shape)

    def norm(self, y) -> float:
        return float(np.linalg.norm(y))

    def check_state(self, y) -> str | None:
        return None

    def result(self, out: _driver.Outcome) -> FlowResult:
        X = np.array(out.y).reshape(len(out.t), *self.shape)
        diags = trajectory_diagnostics(self.energy, X, self.depth, self.normalized)
        return _flow_result(out, X, diags, self, "matrix")


def _switch_event(ratio: float) -> Event:
    def fn(t, X, problem):
        s = np.linalg.svd(X, compute_uv=False)
        return float(s[-1] - ratio * s[0])

    return Event(_SWITCH, fn, True, -1.0)


_SWITCH = "__riemdln_switch_to_svd__"
_RANK_DEFICIENT = (
    "for N > 1 the exact flow keeps the rank of X (A_N maps onto the tangent space of the rank-r stratum), "
    "and neither formulation integrates it on that stratum (the matrix form drifts off it, SVD coordinates "
    "need log s). Start from a full-rank X0 (e.g. X0 + 1e-8 * a random matrix) or use depth=1"
)


_RECHART = "__riemdln_rechart__"
_CHART = "__riemdln_split_chart_available__"
_INTERNAL = (_SWITCH, _RECHART, _CHART)


def _chart_event(switch_ratio: float) -> Event:
    """Terminal event of SVD coordinates inside auto: a split chart has become available (a gap has opened
    above a resolved bulk; riemdln.flows._split.choose_rank), so the run can leave SVD coordinates."""

    def fn(t, X, problem):
        s = np.linalg.svd(X, compute_uv=False)
        return 1.0 if _split.choose_rank(s, switch_ratio, slack=0.9) is None else -1.0

    return Event(_CHART, fn, True, -1.0)


def _uses_split(problem, method) -> bool:
    """Whether auto continues in split charts: where full SVD coordinates would run under CVODE (large
    states, clusters of small singular values), not where the proven dense-Jacobian path runs."""
    m, n = problem.shape
    K = min(m, n)
    return method in ("auto", "CVODE") and _driver.resolve_method(method, K * (1 + m + n)) == "CVODE"


class _SplitRun(_split.SplitSystem):
    """The flow in the split chart with k learned values (``flows._split``) from a thin SVD ``frame`` at ``t0``
    (a :class:`~riemdln.flows._options.FlowSystem`); it stops (event ``_RECHART``) when the chart should be
    renewed, and :meth:`end_frame` is the thin SVD at its end.

    CVODE/GMRES with the chart's preconditioner, also below the dense-Jacobian size: the chart is used only
    where full SVD coordinates would run under CVODE (:func:`_uses_split`: method "auto" or "CVODE"), and
    LSODA's difference-quotient Jacobian of the chart would cost one right-hand side per state variable."""

    method = "CVODE"
    fallback: str | None = None
    atol_fn: Callable[[np.ndarray], np.ndarray] | None

    def __init__(self, ops, depth: float, normalized: bool, k: int, options: FlowOptions, start: tuple):
        """``start``: (frame, t0, events), the thin SVD (Q, s, R) the chart starts from, its time and the
        user's events (wall-clock budgets reduced to what is left)."""
        (Q, s, R), t0, events = start
        super().__init__(ops, depth, normalized, k, options.switch_ratio, _krylov.hessian_scale(ops, (Q * s) @ R.T))
        self.y0, self.t0 = self.start(Q, s, R), t0
        rechart = Event(_RECHART, lambda t, X, problem: self.margin_last(), True, -1.0)
        self.events, self.desc = (*events, rechart), f"split chart k={k} N={depth:g}"
        tol = self.atol(options.atol, options.rtol)
        self.atol_fn = lambda y: tol
        self.derivatives = Derivatives(precond=_split.SplitPrecond(self))
        self.max_saved = _max_saved(self.y0.size, self.m * self.n, options.max_saved_bytes)
        self._end: dict | None = None

    def event_state(self, y) -> np.ndarray:
        return self.X_output(y)

    def norm(self, y) -> float:
        return float(np.linalg.norm(self.frame(y)["sf"]))

    def check_state(self, y) -> str | None:
        return None

    def result(self, out: _driver.Outcome) -> FlowResult:
        """X and the singular values at the saved states, one frame at a time (one SVD of W per state): a frame
        holds about seven m×n matrices, and one kept per saved state was most of a large run's memory (2.1 MiB
        a state at 200×200, against 0.32 MiB for the state itself). Only the last frame is kept."""
        X = np.empty((len(out.t), *self.energy.shape))
        sv = np.empty((len(out.t), self.K))
        for i, y in enumerate(out.y):
            fr = self.frame(np.asarray(y, dtype=float))
            X[i], sv[i] = fr["X"], np.sort(fr["sf"])[::-1]
            self._end = fr
        diags = trajectory_diagnostics(self.energy, X, self.depth, self.normalized, s=sv)
        return _flow_result(out, X, diags, self, f"split(k={self.k})")

    def end_frame(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The thin SVD (Q, s, R), s descending, at the last saved state (after :meth:`result`)."""
        fr = self._end
        assert fr is not None
        order = np.argsort(-fr["sf"], kind="stable")
        return fr["Qf"][:, order], fr["sf"][order], fr["Rf"][:, order]


def _thin_svd(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(Q, s, R) with X = Q diag(s) R^T, s descending."""
    Q, s, Rt = np.linalg.svd(X, full_matrices=False)
    return Q, s, Rt.T


def _budget_left(events, start: float):
    """The events with their wall-clock budgets reduced by the time since ``start``."""
    import time

    elapsed = time.perf_counter() - start
    return tuple(
        dataclasses.replace(ev, wall_seconds=max(ev.wall_seconds - elapsed, 1e-9)) if ev.wall_seconds else ev
        for ev in events
    )


def _hybrid(problem, X0: np.ndarray, depth: float, normalized: bool, options: FlowOptions) -> FlowResult:
    """Matrix form while min(s) >= switch_ratio * max(s); then split charts while one fits (large problems),
    re-charted as the spectrum moves; then SVD coordinates from that state on."""
    import time

    start = time.perf_counter()
    switch_ratio, events = options.switch_ratio, options.events
    parts: list[FlowResult] = []
    frame = _thin_svd(X0)  # where the next chart starts
    t_now, X_now = 0.0, X0
    if frame[1][-1] >= switch_ratio * frame[1][0]:
        matrix = _MatrixSystem(problem, depth, normalized, X0, options, (*events, _switch_event(switch_ratio)))
        parts.append(_integrate(matrix, options))
        if not (parts[-1].status == Status.EVENT and parts[-1].stop_event in _INTERNAL):
            return _merge(parts)
        t_now, X_now = float(parts[-1].t[-1]), parts[-1].X[-1]
        frame = _thin_svd(X_now)
    split_ok = _uses_split(problem, options.method)
    while True:
        k = _split.choose_rank(frame[1], switch_ratio) if split_ok and len(parts) <= _MAX_CHARTS else None
        left = _budget_left(events, start)
        if k is None:
            back = split_ok and len(parts) < _MAX_CHARTS  # back to a split chart once one exists
            svd_events = (*left, _chart_event(switch_ratio)) if back else left
            svd = _SVDSystem(problem, depth, normalized).begin(X_now, t_now, options, svd_events)
            parts.append(_integrate(svd, options))
            stop = _CHART
        else:
            chart = _SplitRun(_energy.ops(problem), depth, normalized, k, options, (frame, t_now, left))
            parts.append(_integrate(chart, options))
            stop = _RECHART
        if options.t_eval is None:
            _fit(parts, options.max_saved_bytes)
        if not (parts[-1].status == Status.EVENT and parts[-1].stop_event == stop):
            return _merge(parts)
        t_now, X_now = float(parts[-1].t[-1]), parts[-1].X[-1].copy()  # a copy: a view would keep the part's X
        frame = _thin_svd(X_now) if k is None else chart.end_frame()


_MAX_CHARTS = 24


def _merge(parts: list[FlowResult]) -> FlowResult:
    """One result from consecutive parts; each part ends at the state the next one starts from."""
    if len(parts) == 1:
        only = parts[0]
        return dataclasses.replace(only, t_events={k: v for k, v in only.t_events.items() if k not in _INTERNAL})
    last = parts[-1]
    # every part but the last ends with its stop point, where the next starts (saved there if t_eval asks)
    t = np.concatenate([p.t[:-1] for p in parts[:-1]] + [last.t])
    X = np.concatenate([p.X[:-1] for p in parts[:-1]] + [last.X])
    diags = {
        key: np.concatenate([p.diagnostics[key][: len(p.t) - 1] for p in parts[:-1]] + [val])
        for key, val in last.diagnostics.items()
    }
    names = {k for p in parts for k in p.t_events if k not in _INTERNAL}
    merged_events = {k: np.concatenate([p.t_events.get(k, np.zeros(0)) for p in parts]) for k in sorted(names)}
    bounds = [float(p.t[-1]) for p in parts[:-1]]
    sol: Callable[[float], np.ndarray] | None = None
    if all(p.sol is not None for p in parts):
        sols: list[Any] = [p.sol for p in parts]

        def sol(tt):
            return sols[bisect.bisect_left(bounds, tt)](tt)

    pieces = [f"{_describe(p.formulation)} until t = {b:.6g}" for p, b in zip(parts[:-1], bounds, strict=True)]
    story = ", then ".join(pieces)
    story = story[0].upper() + story[1:] + f", then {_describe(last.formulation)}"
    formulation = "+".join(dict.fromkeys(p.formulation.split("(")[0] for p in parts))
    return FlowResult(
        t=t,
        X=X,
        status=last.status,
        message=last.message + f" ({story}.)",
        nfev=sum(p.nfev for p in parts),
        njev=sum(p.njev for p in parts),
        diagnostics=diags,
        t_events=merged_events,
        depth=last.depth,
        normalized=last.normalized,
        formulation=formulation,
        sol=sol,
        stop_event=last.stop_event,
        error=last.error,
    )


def _describe(formulation: str) -> str:
    """'matrix' -> 'matrix form', 'svd' -> 'SVD coordinates', 'split(k=5)' -> 'the split chart with k = 5'."""
    if formulation.startswith("split(k="):
        return f"the split chart with k = {formulation[8:-1]}"
    return {"matrix": "matrix form", "svd": "SVD coordinates"}.get(formulation, formulation)


@_driver.with_blas_threads
def end_to_end_flow(
    problem,
    X0: ArrayLike,
    depth: float,
    t_final: float,
    normalized: bool = False,
    *,
    formulation: str = "auto",
    switch_ratio: float | None = None,
    method: str = "auto",
    rtol: float = 1e-8,
    atol: float = 1e-10,
    t_eval: ArrayLike | None = None,
    events: Event | Sequence[Event] | None = None,
    blowup_norm: float | None = None,
    max_steps: int = 1_000_000,
    dense_output: bool = False,
    progress: bool | None = None,
    max_saved_bytes: int = MAX_SAVED_BYTES,
) -> FlowResult:
    r"""Integrate the end-to-end ("downstairs") DLN flow :math:`\dot X = -A_N(X)\nabla E(X)`.

    .. math::

        A_N(X) Z = \sum_{k=1}^{N} (XX^T)^{(N-k)/N} Z (X^TX)^{(k-1)/N}
        \quad\text{(raw, time } t\text{)}, \qquad
        \frac{dX}{d\tau} = -\frac{A_N(X)}{N}\nabla E(X) \quad\text{(normalized, } \tau = N t\text{)},

    and at ``depth=math.inf`` (normalized only) :math:`A_\infty(X) Z = \int_0^1 (XX^T)^{1-t} Z (X^TX)^t dt`
    (multiplier: the logarithmic mean). From a balanced start it is exactly what gradient flow on the
    factors of a depth-N network produces (:func:`factor_flow`); ``depth`` may be any real N >= 1.

    Parameters
    ----------
    problem : energy
        Any energy: an object with ``shape``, ``loss(X)`` and ``gradient(X)`` (the Frobenius gradient
        :math:`\nabla E`), optionally ``hessian_vector(X, V)`` (else the gradient is differenced), e.g. a
        CompletionProblem (:math:`\nabla E = P_\Omega(X - M)`), riemdln.Energy, QuadraticEnergy,
        SensingProblem.
    X0 : array_like, shape (m, n)
        Initial end-to-end matrix. For N > 1 it must have full numerical rank (every singular value above
        numpy's rank tolerance, max(m, n)·eps·s_max), else a RiemdlnValueError: the exact flow keeps the rank
        of X, and neither formulation integrates on the lower-rank stratum.
    depth : float or math.inf
        Depth N >= 1; ``math.inf`` requires ``normalized=True``.
    t_final : float
        End of the time span.
    normalized : bool, optional
        Use :math:`\hat g^N = N g^N` (time :math:`\tau = N t`). Default False.
    formulation : {"auto", "matrix", "svd"}
        ``"matrix"`` integrates X (one SVD per right-hand side); ``"svd"`` integrates
        :math:`(\log s, Q, R)` (:func:`svd_flow`: no SVD per right-hand side and full relative accuracy of
        small singular values, but its frames rotate fast wherever singular values crowd together, which
        makes it slow on large clusters of small singular values). ``"auto"`` integrates the matrix form
        while every singular value is resolved, :math:`s_{\min} \ge` ``switch_ratio`` :math:`\cdot s_{\max}`,
        and continues in SVD coordinates from the first time that fails (formulation ``"matrix+svd"``), so
        that a singular value heading to 0 keeps its relative accuracy and never changes sign (the
        Razin–Cohen failure). Where SVD coordinates would run under CVODE (more than 1600 of their state
        variables), it continues instead in split charts :math:`X = Q_k B R_k^T + W`
        (``riemdln.flows._split``: the k values above a gap :math:`\sigma_1(W) \le s_k/4` as one k×k
        block B, the bulk below it as one matrix W, each resolved to its own scale), renewed when
        :math:`\sigma_1(W)` reaches :math:`s_k/2` or W's own ratio falls below ``switch_ratio``
        (formulation ``"matrix+split"``); while no such gap exists it integrates SVD coordinates and returns
        to a split chart once one opens (e.g. ``"matrix+svd+split"``); ``message`` lists the charts and
        their times. It starts in these charts if X0
        already fails the test, and stays in the matrix form for N < 2, where a singular value can reach 0 in
        finite time (rank-deficient X0 is refused for N > 1, see ``X0``).
    switch_ratio : float, optional
        See ``formulation="auto"``; default ``10 * rtol``. The matrix form resolves the smallest singular value
        to relative accuracy about ``rtol * s_max / s_min``: measured on razin-cohen-2x2 (N = 2, rtol = 1e-8)
        against SVD coordinates, 5e-4 at s_min/s_max = 1e-6, 2e-3 at 1e-7, 5e-3 at 1e-8, and 90 % at 1e-9.
    method : str
        A scipy ``OdeSolver`` name; ``"auto"`` is ``"LSODA"``, which switches between a non-stiff and a
        stiff (BDF) method: these flows turn stiff once large singular values (fast relaxation, rate
        ~ :math:`a_N(s_1^2, s_1^2)`) coexist with slowly moving small ones. The implicit methods (LSODA,
        BDF, Radau) get the exact Jacobian of the matrix form (:func:`end_to_end_jacobian`, one SVD and
        O((mn)^2 min(m, n)) work) and the exact one in SVD coordinates (``_SVDSystem.jacobian``: the
        directional derivatives of the right-hand side along the coordinate directions, in batches of matrix
        products; no finite differences). Above 1600 state
        variables (the dense Jacobian no longer pays) ``"auto"`` is SUNDIALS CVODE's BDF with the matrix-free
        GMRES linear solver; in the matrix form it gets exact Jacobian-vector products (Daleckii–Krein in the
        SVD frame, one SVD per Jacobian renewal) and the right preconditioner :math:`(I + \gamma p A_N(X))^{-1}`,
        diagonal in the SVD frame (``riemdln.flows._krylov``); in SVD coordinates, difference quotients.
        If LSODA chosen by ``"auto"`` fails (its stiffness switching can, where
        BDF does not: razin-cohen-2x2 at N = inf), the run continues with BDF from the last accepted step
        and ``message`` says so; a method named by hand is used as given.
    rtol, atol : float
        Integration tolerances (on X, or on :math:`(\log s, Q, R)`).
    t_eval : array_like, optional
        Times to save (within [0, t_final]); the states there are interpolated from the solver's steps.
        Default: the ends of accepted steps, thinned so memory does not grow with the number of steps: with
        K = min(1000, max(50, 2e6 / (entries of the state + m n))) (K states take at most ~16 MB), once 2K
        states are held every second one is dropped (the first and the last stay), so fewer than 2K are kept,
        spaced in steps, not in time; and never more than ``max_saved_bytes`` (K is lowered; the charts of a
        switched ``"auto"`` run are thinned together). A run that stops early also saves its final time.
    events : Event or sequence of Event, optional
        E.g. ``loss_below(1e-10)``, ``norm_above(1e6)``, ``time_budget(60)``.
    blowup_norm : float, optional
        Stop with ``Status.DIVERGED`` when :math:`\|X\|_F` exceeds it (default
        :math:`10^8\max(1, \|M\|_F, \|X_0\|_F)`).
    max_steps : int
        Stop with ``Status.FAILED`` after this many steps (never hang).
    dense_output : bool
        Provide ``result.sol(t)``.
    progress : bool or None
        tqdm progress bar showing t and the loss; None (default) shows it only when stderr is a terminal.
        For ``t_final`` > 1e3 it advances in log(1 + t), since runs stop on events and plateaus span decades.
    max_saved_bytes : int
        Bound on the memory of the saved states without ``t_eval`` (default 100 MB: :data:`MAX_SAVED_BYTES`);
        the saved states (with their diagnostics) are thinned to stay below it, whatever d and the run's length.

    Returns
    -------
    FlowResult
        ``t``, ``X`` (len(t), m, n), ``status``, ``message``, ``success``, ``diagnostics`` (see
        :func:`riemdln.flows.result.trajectory_diagnostics`), ``t_events``.

    Notes
    -----
    Statuses (``riemdln.Status``, ``result.status``; ``message`` says which and when): FINISHED, reached
    ``t_final`` with every accepted step within tolerance; EVENT, a terminal event fired (the returned last
    state is the one the event saw); DIVERGED, :math:`\|X\|_F` passed ``blowup_norm`` (the loss may still go
    to 0); these have ``success=True``. INACCURATE, the loss rose on an accepted step by more than the
    tolerances allow (the exact flow's loss never increases, so the numerical trajectory has left it; the
    state where the rise was seen is the last one saved); FAILED, the integrator failed (step-size underflow,
    non-finite state, ``max_steps``); these have ``success=False``.

    BLAS runs on one thread during the run unless ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``,
    ``MKL_NUM_THREADS``, ``BLIS_NUM_THREADS``) or ``RIEMDLN_BLAS_THREADS=k`` is set; the caller's setting is
    restored afterwards.

    Examples
    --------
    Depth one is the linear flow :math:`X(t) = M + e^{-t}(X_0 - M)` on the observed entries:

    >>> import numpy as np
    >>> from riemdln import CompletionProblem
    >>> p = CompletionProblem.named("menon-2x2")
    >>> res = end_to_end_flow(p, np.zeros((2, 2)), depth=1, t_final=1.0, t_eval=[1.0])
    >>> print(round(float(res.X[-1, 0, 0]), 8), round(1 - np.exp(-1), 8))
    0.63212056 0.63212056
    """
    if formulation not in _FORMULATIONS:
        raise RiemdlnValueError(f"`formulation` must be one of {_FORMULATIONS}; got {formulation!r}.")
    given = dict(method=method, rtol=rtol, atol=atol, t_eval=t_eval, events=events, blowup_norm=blowup_norm)
    given.update(max_steps=max_steps, dense_output=dense_output, progress=progress, max_saved_bytes=max_saved_bytes)
    given["switch_ratio"] = switch_ratio
    problem, X0, depth, normalized, options = _checked_call(problem, X0, depth, t_final, normalized, given)
    s = np.linalg.svd(X0, compute_uv=False)
    if depth > 1:
        check_full_rank(s, X0.shape, "X0", _RANK_DEFICIENT)
    if formulation == "svd":
        return _integrate(_SVDSystem(problem, depth, normalized).begin(X0, 0.0, options, options.events), options)
    if formulation == "auto" and depth >= 2:
        return _hybrid(problem, X0, depth, normalized, options)
    return _integrate(_MatrixSystem(problem, depth, normalized, X0, options, options.events), options)
