r"""Exact Jacobian-vector products and a spectral preconditioner for the matrix-form flow under CVODE/GMRES.

The matrix form is :math:`F(X) = -A(X)\nabla E(X)` with, in the SVD frame :math:`X = Q S R^T`,
:math:`A(X)G = Q\,(M \circ Q^T G R)\,R^T`, :math:`M_{ij} = a(x_i, z_j)`, :math:`x, z` the eigenvalues of
:math:`XX^T` and :math:`X^TX` (the squared singular values, padded with zeros).

**Jacobian-vector product** (derived by hand, certified in ``tests/test_krylov.py`` against the dense
Jacobian :func:`riemdln.flows.end_to_end_jacobian` and central differences of the right-hand side). With
:math:`\tilde V = Q^T V R`, :math:`\tilde G = Q^T \nabla E R`, :math:`\tilde H = Q^T D^2E[V] R`, the
perturbations of :math:`XX^T` and :math:`X^TX` in their eigenbases :math:`P = \tilde V S^T + S\tilde V^T`,
:math:`P' = \tilde V^T S + S^T \tilde V`, and Daleckii–Krein on each side of the separable multiplier:

.. math::

    -Q^T\,DF(X)[V]\,R = M\circ\tilde H + \sum_c D^{(1)}_{icj} P_{ic}\tilde G_{cj}
                        + \sum_c D^{(2)}_{ijc}\tilde G_{ic} P'_{cj},

:math:`D^{(1)}_{icj} = (a(x_i, z_j) - a(x_c, z_j))/(x_i - x_c)`, :math:`D^{(2)}_{ijc} = (a(x_i, z_j) - a(x_i,
z_c))/(z_j - z_c)` (the exact slopes of :func:`riemdln.geometry._metric.unchecked_multiplier_slope` at coincident
values). The
SVD and the tensors :math:`D^{(1)}\tilde G`, :math:`D^{(2)}\tilde G` are formed once per Newton iteration
(``setup``); each Krylov iteration then costs four matrix products and two (m, m, n) contractions instead of
one SVD (a difference quotient), and is exact where a difference quotient of this very stiff map
(:math:`\|J\| \gg` its spectral radius at N = ∞) loses digits.

**Preconditioner.** CVODE solves :math:`(I - \gamma J)z = r`. Dropping the curvature terms and replacing the
Hessian by a multiple :math:`p\,I` (p the observed fraction for completion — on the low-rank tangent spaces the
flow lives near, :math:`P_\Omega/p` acts about as the identity for incoherent factors — or a Rayleigh quotient
of :math:`D^2E` for other energies) leaves :math:`I + \gamma p A(X)`, diagonal in the SVD frame:
:math:`z = Q\,((Q^T r R) / (1 + \gamma p M))\,R^T`. It removes the spread of :math:`M` (nine decades at N = ∞
between the learned and the small singular values) that makes unpreconditioned GMRES slow.
"""

from __future__ import annotations

import numpy as np

from riemdln.flows._energy import EnergyOps
from riemdln.geometry._metric import unchecked_multiplier, unchecked_multiplier_slope

_CLOSE = 0.01  # |log x_i - log x_c| below which a slope is evaluated exactly (else a quotient of multipliers)


class _Side:
    """One side's slopes: (a(x_i, .) - a(x_c, .))/(x_i - x_c) split into a far part (a quotient with the
    cancellation bounded by 1/_CLOSE) and the close pairs (i, c), evaluated by the exact slope."""

    def __init__(self, x: np.ndarray):
        with np.errstate(divide="ignore", invalid="ignore"):
            u = np.log(x)
            close = (np.abs(u[:, None] - u[None, :]) < _CLOSE) | ((x[:, None] == 0) & (x[None, :] == 0))
            diff = x[:, None] - x[None, :]
            self.inv = np.where(close, 0.0, 1.0 / np.where(close, 1.0, diff))  # 1/(x_i - x_c), far pairs only
        self.i, self.c = np.nonzero(close)  # row-major: sorted by i, and every row holds its diagonal (i, i)
        self.starts = np.searchsorted(self.i, np.arange(len(x)))


class _Frame:
    """The SVD of one state and what the products need: Q, s, R, M, G̃ and (``add_slopes``) the close pairs."""

    def __init__(self, ops: EnergyOps, y: np.ndarray, depth: float, normalized: bool):
        m, n = ops.shape
        k = min(m, n)
        X = y.reshape(m, n)
        self.key = y.tobytes()
        self.X = X.copy()
        self.depth, self.normalized = depth, normalized
        Q, s, Rt = np.linalg.svd(X, full_matrices=m != n)
        self.Q, self.R, self.s, self.k = Q, Rt.T, s, k
        self.x = np.zeros(Q.shape[1])
        self.z = np.zeros(Rt.shape[0])
        self.x[:k] = s * s
        self.z[:k] = s * s
        self.M = unchecked_multiplier(self.x[:, None], self.z[None, :], depth, normalized)
        self.Gt = Q.T @ ops.grad(X) @ self.R
        self.has_slopes = False

    def add_slopes(self) -> None:
        """The far-pair quotients and the close pairs' exact slopes (once per frame)."""
        if self.has_slopes:
            return
        x, z, depth, normalized = self.x, self.z, self.depth, self.normalized
        self.MG = self.M * self.Gt
        self.left = _Side(x)
        self.right = self.left if len(x) == len(z) else _Side(z)
        L, Rs = self.left, self.right
        # close pairs, left: W1[p, j] = D1[i_p, c_p, j] G̃[c_p, j]; right: W2[p, i] = D2[i, j_p, c_p] G̃[i, c_p]
        self.W1 = unchecked_multiplier_slope(x[L.i, None], x[L.c, None], z[None, :], depth, normalized) * self.Gt[L.c]
        self.W2 = (
            unchecked_multiplier_slope(z[Rs.i, None], z[Rs.c, None], x[None, :], depth, normalized) * self.Gt[:, Rs.c].T
        )
        self.has_slopes = True

    def to_frame(self, V: np.ndarray) -> np.ndarray:
        return self.Q.T @ V @ self.R

    def from_frame(self, W: np.ndarray) -> np.ndarray:
        return self.Q @ W @ self.R.T

    def slope_terms(self, P: np.ndarray, Pp: np.ndarray) -> np.ndarray:
        """sum_c D1_icj P_ic G̃_cj + sum_c D2_ijc G̃_ic P'_cj (module docstring)."""
        L, R = self.left, self.right
        C = P * L.inv
        out = self.M * (C @ self.Gt) - C @ self.MG
        Cp = Pp * R.inv.T  # Cp[c, j] = P'_cj / (z_j - z_c)
        out += self.M * (self.Gt @ Cp) - self.MG @ Cp
        out += np.add.reduceat(P[L.i, L.c][:, None] * self.W1, L.starts, axis=0)
        out += np.add.reduceat(Pp[R.c, R.i][:, None] * self.W2, R.starts, axis=0).T
        return out


class MatrixKrylov:
    """``jvp(t, y, v)`` (with ``jvp.setup``) and ``precond`` for :class:`riemdln.flows._cvode.CVODESolver`."""

    def __init__(self, ops: EnergyOps, depth: float, normalized: bool, X0: np.ndarray):
        self.ops, self.depth, self.normalized = ops, float(depth), bool(normalized)
        self.shape = ops.shape
        self.p = hessian_scale(ops, X0)
        self._last: _Frame | None = None  # the frame of the last state seen (CVODE calls f(t, y) before setups)
        self._jac: _Frame | None = None  # the frame the products and the preconditioner use
        self.jvp = _JVP(self)
        self.precond = _Precond(self)

    def frame(self, y: np.ndarray) -> _Frame:
        """The frame at y (reused while y is unchanged)."""
        y = np.asarray(y, dtype=float)
        if self._last is None or self._last.key != y.tobytes():
            self._last = _Frame(self.ops, y, self.depth, self.normalized)
        return self._last

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """:math:`-A(X)\\nabla E(X)` (as ``end_to_end._matrix_rhs``), keeping the frame for the setups."""
        f = self.frame(y)
        return -f.from_frame(f.M * f.Gt).ravel()

    def product(self, f: _Frame, v: np.ndarray) -> np.ndarray:
        """DF(X)[V] at the frame's X (module docstring)."""
        m, n = self.shape
        k, s = f.k, f.s
        V = v.reshape(m, n)
        Vt = f.to_frame(V)
        out = f.M * f.to_frame(self.ops.hvp(f.X, V))
        P = np.zeros((f.Q.shape[1], f.Q.shape[1]))
        P[:, :k] = Vt[:, :k] * s
        P[:k, :] += s[:, None] * Vt[:, :k].T
        Pp = np.zeros((f.R.shape[0], f.R.shape[0]))
        Pp[:, :k] = Vt[:k, :].T * s
        Pp[:k, :] += s[:, None] * Vt[:k, :]
        out += f.slope_terms(P, Pp)
        return -f.from_frame(out).ravel()


class _JVP:
    """CVODE's Jacobian-times-vector: exact products :math:`DF(X_J)[v]` at the state :math:`X_J` of the last
    preconditioner setup (CVODE's Newton iteration is a modified Newton: it renews that state, through
    ``setup`` with ``jok = 0``, when its iterations converge slowly or fail)."""

    def __init__(self, owner: MatrixKrylov):
        self.owner = owner

    def __call__(self, t: float, y: np.ndarray, v: np.ndarray) -> np.ndarray:
        f = self.owner._jac
        if f is None:  # a product before any setup: at y itself
            f = self.owner.frame(y)
            f.add_slopes()
        return self.owner.product(f, np.asarray(v, dtype=float))


class _Precond:
    """``setup(t, y, gamma, jok)``: the frame of y with its slopes (kept while ``jok``); ``solve(r, gamma)``:
    :math:`(I + \\gamma p A(X_J))^{-1} r`."""

    def __init__(self, owner: MatrixKrylov):
        self.owner = owner

    def setup(self, t: float, y: np.ndarray, gamma: float, jok: bool = False) -> bool:
        """Renew the Jacobian's state unless ``jok`` and one is kept; True if renewed."""
        o = self.owner
        if jok and o._jac is not None:
            return False
        f = o.frame(y)
        f.add_slopes()
        o._jac = f
        return True

    def solve(self, r: np.ndarray, gamma: float) -> np.ndarray:
        o = self.owner
        f = o._jac
        if f is None:  # pragma: no cover - CVODE sets up before it solves
            return np.array(r, dtype=float)
        W = f.to_frame(np.asarray(r, dtype=float).reshape(o.shape)) / (1.0 + gamma * o.p * f.M)
        return f.from_frame(W).ravel()


def hessian_scale(ops: EnergyOps, X0: np.ndarray) -> float:
    """p with :math:`D^2E \\approx p I` for the preconditioner: the observed fraction for completion, else the
    Rayleigh quotient of the Hessian along a fixed pseudo-random direction at X0 (at least 0)."""
    if ops.completion:
        return float(np.mean(ops.mask))
    V = np.random.default_rng(0).standard_normal(ops.shape)
    value = float(np.vdot(V, ops.hvp(np.asarray(X0, dtype=float), V)) / np.vdot(V, V))
    return max(value, 0.0) if np.isfinite(value) else 0.0
