r"""The split SVD chart: the learned singular values in SVD coordinates, the small ones as one matrix block.

.. math::

    X = Q_k\,\mathrm{diag}(e^{\rho})\,R_k^T + W, \qquad Q_k^T W = 0, \quad W R_k = 0,

with :math:`Q_k` (m×k), :math:`R_k` (n×k) orthonormal and :math:`\rho = \log s` for the k largest singular
values, and W (m×n) carrying the others. Full SVD coordinates turn slow on large clusters of small singular
values (their frames rotate at rates :math:`\propto 1/(s_i - s_j)` inside the cluster); the matrix form
resolves a singular value only to about :math:`\mathrm{rtol}\,s_1/s_{\min}` (its tolerances are relative to
the large entries of X). Here W has tolerances of its own scale, so its singular values keep a relative
accuracy of about :math:`\mathrm{rtol}\,\sigma_1(W)/\sigma_{\min}(W)`, and inside W nothing rotates: the
chart's only frame rates are :math:`1/(s_i - s_j)` among the k learned values and
:math:`1/(s_i^2 - \sigma_\beta^2)` across the gap.

**Derived by hand** (certified in ``tests/test_split_chart.py``: the chart velocity pushed forward is the
matrix-form velocity, and integrations agree with the matrix form and with SVD coordinates). Differentiate
X with :math:`\dot Q_k = Q_k\Omega + E_1`, :math:`\dot R_k = R_k\Psi + E_2` (:math:`\Omega, \Psi` skew,
:math:`E_1 = P\dot Q_k`, :math:`E_2 = P'\dot R_k`, :math:`P = I - Q_kQ_k^T`, :math:`P' = I - R_kR_k^T`),
differentiate the constraints (:math:`Q_k^T\dot W = -E_1^TW`, :math:`\dot W R_k = -W E_2`), and project
:math:`\dot X = F` on the four blocks:

.. math::

    Q_k^T F R_k = \Omega S + \dot S - S\Psi, \qquad
    P F R_k = E_1 S - W E_2, \qquad
    P' F^T Q_k = E_2 S - W^T E_1, \qquad
    \dot W = P F P' - Q_k E_1^T W - W E_2 R_k^T.

The first is the usual SVD system on the k×k block (:math:`\dot\rho_i = F_{ii}/s_i`, and for i ≠ j
:math:`\Omega_{ij} = \tfrac12\frac{F_{ij} + F_{ji}}{s_j - s_i} + \tfrac12\frac{F_{ij} - F_{ji}}{s_j + s_i}`,
:math:`\Psi_{ij} = \tfrac12\frac{F_{ij} + F_{ji}}{s_j - s_i} - \tfrac12\frac{F_{ij} - F_{ji}}{s_j + s_i}`).
The middle two decouple in the SVD :math:`W = U\Sigma V^T`: with :math:`g_1 = U^T PFR_k`, :math:`g_2 =
V^T P'F^TQ_k`, entry (β, j),

.. math::

    E_1 = PFR_k S^{-1} + U\big(a - g_1S^{-1}\big), \quad E_2 = P'F^TQ_k S^{-1} + V\big(b - g_2 S^{-1}\big),
    \quad a_{\beta j} = \frac{s_j g_{1,\beta j} + \sigma_\beta g_{2,\beta j}}{s_j^2 - \sigma_\beta^2},
    \quad b_{\beta j} = \frac{s_j g_{2,\beta j} + \sigma_\beta g_{1,\beta j}}{s_j^2 - \sigma_\beta^2}.

The velocity itself is :math:`F = -A_N(X)\nabla E(X)` in the frame :math:`[Q_k, U]`, :math:`[R_k, V]`,
singular values :math:`(e^{\rho}, \sigma)` — one SVD of the block W per right-hand side (the matrix form
takes one of X). The chart is valid while the gap holds (:math:`\sigma_1(W) < s_k`) and W stays resolved;
:func:`riemdln.flows.end_to_end.end_to_end_flow` re-charts before either fails (:meth:`SplitSystem.margin`).

**Preconditioner** (CVODE/GMRES): the matrix form's :math:`(I + \gamma p A_N)^{-1}` (``flows._krylov``),
carried through the chart: push the residual forward to an X-velocity, apply it there (diagonal in the
frame), and map back with the chart velocity; the components the chart's differential does not see (the
drift of :math:`Q_k^TQ_k` from I, of W from the complements) pass through unchanged. Jacobian-vector
products are CVODE's difference quotients: the matrix form's exact product carried through the chart (dropping
the derivative of the chart map itself) was measured slower (100×100 rank 5 from 1e-5, N = 3: 47.5 s against
30.4 s; its setups, one per Newton iteration, rebuild the slope tensors).
"""

from __future__ import annotations

import math

import numpy as np

from riemdln.flows._energy import EnergyOps
from riemdln.geometry import _multiplier

#: the chart is chosen with s_{k+1} <= GAP * s_k and re-charted when sigma_1(W) reaches RECHART_GAP * s_k
GAP = 0.25
RECHART_GAP = 0.5
#: W's absolute tolerance is min(atol, rtol * sigma_1(W)) at the chart's start: W is resolved relative to its own
#: scale, so its singular values keep a relative accuracy of about rtol * sigma_1(W) / sigma_min(W) (rtol *
#: sigma_min(W) instead cost 26 % more time on a 100x100 N = inf run); re-charted when sigma_min(W) has fallen by
#: ATOL_FALL
ATOL_FALL = 1e-2


def choose_rank(s: np.ndarray, switch_ratio: float) -> int | None:
    """The number k of learned singular values for a split chart at singular values ``s`` (descending), or
    None: the smallest k >= 1 with a gap ``s[k] <= GAP * s[k-1]``, a block of at least two values, and the
    block resolved with margin, ``s[-1] >= 10 * switch_ratio * s[k]``.

    >>> choose_rank(np.array([50.0, 40.0, 1e-3, 5e-4, 2e-4]), 1e-7), choose_rank(np.array([2.0, 1.0, 0.5]), 1e-7)
    (2, None)
    """
    K = len(s)
    for k in range(1, K - 1):
        if s[k] <= GAP * s[k - 1] and s[-1] >= 10 * switch_ratio * s[k]:
            return k
    return None


class SplitSystem:
    r"""The flow in the split chart :math:`(\rho, Q_k, R_k, W)` (module docstring) for one k."""

    def __init__(self, ops: EnergyOps, depth: float, normalized: bool, k: int, switch_ratio: float, p: float = 0.0):
        self.energy, self.depth, self.normalized, self.k = ops, float(depth), bool(normalized), int(k)
        self.switch_ratio, self.p = float(switch_ratio), float(p)  # p: the preconditioner's Hessian scale
        self.m, self.n = ops.shape
        self.K = min(self.m, self.n)
        self.r = self.K - self.k
        self._frame_key: bytes | None = None
        self._frame: dict = {}
        self._output_key: bytes | None = None
        self._output = np.zeros((self.m, self.n))
        self._pre: dict | None = None
        self.sigma_min0 = self.sigma_max0 = 1.0
        self._rho0 = np.zeros(self.k)
        self._last_y = np.zeros(0)

    # ------------------------------------------------------------------------------------------ the state
    def split(self, y):
        k, m, n = self.k, self.m, self.n
        rho = y[:k]
        Q = y[k : k + m * k].reshape(m, k)
        R = y[k + m * k : k + (m + n) * k].reshape(n, k)
        W = y[k + (m + n) * k :].reshape(m, n)
        return rho, Q, R, W

    @staticmethod
    def join(rho, Q, R, W):
        return np.concatenate([np.ravel(rho), np.ravel(Q), np.ravel(R), np.ravel(W)])

    def start(self, Q: np.ndarray, s: np.ndarray, R: np.ndarray) -> np.ndarray:
        """The state of the chart at a thin SVD ``Q diag(s) R^T`` (descending s): its first k triplets are the
        learned ones, the rest form W."""
        k = self.k
        W = (Q[:, k:] * s[k:]) @ R[:, k:].T
        self.sigma_min0, self.sigma_max0 = float(s[-1]), float(s[k])
        self._rho0 = np.log(s[:k])
        return self.join(np.log(s[:k]), Q[:, :k], R[:, :k], W)

    def atol(self, atol: float, rtol: float) -> np.ndarray:
        """Per-component absolute tolerances: ``atol`` on rho, ``atol / max(1, s_j)`` on column j of the frames
        (as in SVD coordinates), and on W the smaller of ``atol`` and ``rtol * sigma_1(W)`` at the start."""
        k, m, n = self.k, self.m, self.n
        col = atol / np.maximum(1.0, np.exp(self._rho0))
        w = min(atol, rtol * self.sigma_max0)
        return np.concatenate([np.full(k, atol), np.tile(col, m), np.tile(col, n), np.full(m * n, w)])

    def frame(self, y) -> dict:
        """The frame at y: orthonormalized :math:`Q_k, R_k`, W projected on the complements, its SVD, the
        full frame and singular values, X. Kept while y is unchanged (the right-hand side, the margin and
        the preconditioner's setup at one state share it)."""
        key = np.asarray(y).tobytes()
        if key == self._frame_key:
            return self._frame
        from riemdln.flows.end_to_end import _orthonormal

        rho, Q, R, W = self.split(np.asarray(y, dtype=float))
        Q, R = _orthonormal(Q), _orthonormal(R)
        s = np.exp(rho)
        W = W - Q @ (Q.T @ W)
        W = W - (W @ R) @ R.T
        U, sig, Vt = np.linalg.svd(W, full_matrices=False)
        U, sig, V = U[:, : self.r], sig[: self.r], Vt[: self.r].T
        fr = dict(Q=Q, R=R, s=s, W=W, U=U, sig=sig, V=V, X=(Q * s) @ R.T + W)
        fr["Qf"], fr["Rf"], fr["sf"] = np.hstack([Q, U]), np.hstack([R, V]), np.concatenate([s, sig])
        x = fr["sf"] ** 2
        fr["M"] = _multiplier(x[:, None], x[None, :], self.depth, self.normalized)
        fr["b"] = _multiplier(x, np.zeros_like(x), self.depth, self.normalized) if self.m != self.n else None
        self._frame_key, self._frame = key, fr
        return fr

    def X_output(self, y) -> np.ndarray:
        """X at y (frames orthonormalized, W projected); the events and the saved trajectory see it."""
        self._last_y = np.asarray(y)
        key = self._last_y.tobytes()
        if key != self._output_key:
            self._output = self.frame(y)["X"]
            self._output_key = key
        return self._output.copy()

    def margin(self, y) -> float:
        r"""How far the chart is from re-charting, > 0 while valid: the minimum of the log-margins of the gap
        (:math:`\sigma_1(W) <` ``RECHART_GAP`` :math:`s_k`), of W's resolution (:math:`\sigma_{\min}(W) >`
        ``switch_ratio`` :math:`\sigma_1(W)`) and of W's absolute tolerance (:math:`\sigma_{\min}(W)` above
        ``ATOL_FALL`` times its starting value)."""
        fr = self.frame(y)
        sig, s = fr["sig"], fr["s"]
        with np.errstate(divide="ignore"):
            return float(
                min(
                    math.log(RECHART_GAP * s.min()) - math.log(sig[0]),
                    math.log(sig[-1]) - math.log(self.switch_ratio * sig[0]) if sig[-1] > 0 else -np.inf,
                    math.log(sig[-1] / (ATOL_FALL * self.sigma_min0)) if sig[-1] > 0 else -np.inf,
                )
            )

    def margin_last(self) -> float:
        """:meth:`margin` at the state whose X the events were last given (:meth:`X_output`)."""
        return self.margin(self._last_y)

    # ----------------------------------------------------------------------------------- the two maps
    def ambient_velocity(self, fr: dict, G: np.ndarray) -> np.ndarray:
        r""":math:`-A_N(X)G` in the frame; thin frames add the complements' terms :math:`a(s_j^2, 0)`."""
        Qf, Rf, M = fr["Qf"], fr["Rf"], fr["M"]
        GR = G @ Rf
        Gt = Qf.T @ GR
        F = Qf @ (M * Gt) @ Rf.T
        b = fr["b"]
        if b is not None:
            if self.m > self.n:
                F += ((GR - Qf @ Gt) * b) @ Rf.T
            else:
                F += (Qf * b) @ (Qf.T @ G - Gt @ Rf.T)
        return -F

    def chart_velocity(self, fr: dict, F: np.ndarray) -> np.ndarray:
        """The chart's velocity for the X-velocity F (module docstring); linear in F."""
        Q, R, s, W, U, sig, V = (fr[key] for key in ("Q", "R", "s", "W", "U", "sig", "V"))
        FR = F @ R
        FtQ = F.T @ Q
        Fb = Q.T @ FR
        G1 = FR - Q @ Fb
        G2 = FtQ - R @ Fb.T
        g1, g2 = U.T @ G1, V.T @ G2
        den = s[None, :] ** 2 - sig[:, None] ** 2
        a = (s * g1 + sig[:, None] * g2) / den
        b = (s * g2 + sig[:, None] * g1) / den
        E1 = G1 / s + U @ (a - g1 / s)
        E2 = G2 / s + V @ (b - g2 / s)
        drho = np.diag(Fb) / s
        Omega, Psi = _rotations(Fb, s)
        dQ = Q @ Omega + E1
        dR = R @ Psi + E2
        PFP = F - Q @ (Q.T @ F)
        PFP = PFP - (PFP @ R) @ R.T
        dW = PFP - Q @ (E1.T @ W) - (W @ E2) @ R.T
        return self.join(drho, dQ, dR, dW)

    def push(self, fr: dict, dy: np.ndarray) -> np.ndarray:
        r"""The X-velocity of a chart velocity ``dy``: :math:`\delta Q_k S R_k^T + Q_k S\,\delta\rho\,R_k^T +
        Q_k S\,\delta R_k^T + \delta W`."""
        drho, dQ, dR, dW = self.split(np.asarray(dy, dtype=float))
        Q, R, s = fr["Q"], fr["R"], fr["s"]
        return (dQ * s) @ R.T + (Q * (s * drho)) @ R.T + (Q * s) @ dR.T + dW

    # ------------------------------------------------------------------------------ what the solver calls
    def rhs(self, t, y):
        fr = self.frame(y)
        return self.chart_velocity(fr, self.ambient_velocity(fr, self.energy.grad(fr["X"])))

    def precond_setup(self, t, y, gamma, jok=False) -> bool:
        if jok and self._pre is not None:
            return False
        self._pre = self.frame(y)
        return True

    def precond_solve(self, r, gamma) -> np.ndarray:
        fr = self._pre
        if fr is None:  # pragma: no cover - CVODE sets up before it solves
            return np.array(r, dtype=float)
        r = np.asarray(r, dtype=float)
        dX = self.push(fr, r)
        Qf, Rf = fr["Qf"], fr["Rf"]
        inner = Qf.T @ dX @ Rf
        zX = dX + Qf @ (inner * (1.0 / (1.0 + gamma * self.p * fr["M"]) - 1.0)) @ Rf.T
        return self.chart_velocity(fr, zX) + (r - self.chart_velocity(fr, dX))


def _rotations(Fb: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""The k×k block's frame rates :math:`\Omega, \Psi` (module docstring), from sums and differences of the
    singular values (no cancelling product is formed)."""
    k = len(s)
    sym = 0.5 * (Fb + Fb.T)
    ant = 0.5 * (Fb - Fb.T)
    diff = s[None, :] - s[:, None]  # s_j - s_i
    tot = s[None, :] + s[:, None]
    off = ~np.eye(k, dtype=bool)
    with np.errstate(divide="ignore", invalid="ignore"):
        first = np.where(off, sym / np.where(off, diff, 1.0), 0.0)
        second = np.where(off, ant / tot, 0.0)
    return first + second, first - second
