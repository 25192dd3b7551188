r"""The split chart: the learned singular values as one small matrix block, the bulk of small ones as another.

.. math::

    X = Q_k B R_k^T + W, \qquad Q_k^T W = 0, \quad W R_k = 0,

with :math:`Q_k` (m×k), :math:`R_k` (n×k) orthonormal, B (k×k) carrying the k largest singular values and W
(m×n) the others. Full SVD coordinates turn slow on large clusters of small singular values (their frames
rotate at rates :math:`\propto 1/(s_i - s_j)` inside the cluster) and on coincident learned ones; the matrix
form resolves a singular value only to about :math:`\mathrm{rtol}\,s_1/s_{\min}` (its tolerances are relative
to the large entries of X). Here each block has tolerances of its own scale, so W's singular values keep a
relative accuracy of about :math:`\mathrm{rtol}\,\sigma_1(W)/\sigma_{\min}(W)`, and nothing rotates inside a
block: the chart's only frame rates are :math:`1/(s_i^2 - \sigma_\beta^2)` across the gap between them.

**Derived by hand** (certified in ``tests/test_split_chart.py``: the chart velocity pushed forward is the
matrix-form velocity, and integrations agree with the matrix form and with SVD coordinates). Differentiate
X with :math:`\dot Q_k = E_1 \perp Q_k`, :math:`\dot R_k = E_2 \perp R_k` (the rotations inside the blocks are
left to B and W), differentiate the constraints (:math:`Q_k^T\dot W = -E_1^TW`, :math:`\dot W R_k = -W E_2`),
and project :math:`\dot X = F` on the four blocks (:math:`P = I - Q_kQ_k^T`, :math:`P' = I - R_kR_k^T`):

.. math::

    \dot B = Q_k^T F R_k, \qquad
    P F R_k = E_1 B - W E_2, \qquad
    P' F^T Q_k = E_2 B^T - W^T E_1, \qquad
    \dot W = P F P' - Q_k E_1^T W - W E_2 R_k^T.

The middle two decouple in the SVDs :math:`B = U_b S V_b^T` and :math:`W = U\Sigma V^T`: with
:math:`e_1 = E_1U_b`, :math:`e_2 = E_2V_b`, :math:`G_1 = PFR_kV_b`, :math:`G_2 = P'F^TQ_kU_b`,
:math:`g_1 = U^TG_1`, :math:`g_2 = V^TG_2`, entry (β, j),

.. math::

    e_1 = G_1 S^{-1} + U\big(a - g_1S^{-1}\big), \quad e_2 = G_2 S^{-1} + V\big(b - g_2 S^{-1}\big),
    \quad a_{\beta j} = \frac{s_j g_{1,\beta j} + \sigma_\beta g_{2,\beta j}}{s_j^2 - \sigma_\beta^2},
    \quad b_{\beta j} = \frac{s_j g_{2,\beta j} + \sigma_\beta g_{1,\beta j}}{s_j^2 - \sigma_\beta^2}.

The velocity itself is :math:`F = -A_N(X)\nabla E(X)` in the frame :math:`[Q_kU_b, U]`, :math:`[R_kV_b, V]`,
singular values :math:`(s, \sigma)` — one SVD of the block W per right-hand side (the matrix form takes one
of X). The chart is valid while the gap holds (:math:`\sigma_1(W) < s_k`) and W stays resolved;
:func:`riemdln.flows.end_to_end.end_to_end_flow` re-charts before either fails (:meth:`SplitSystem.margin`).
A first version kept the learned values in SVD coordinates (B diagonal, :math:`\rho = \log s`); on a target
with three equal singular values its frame rates :math:`1/(s_i - s_j)` made a 30×30 run crawl (60 s budget
spent at τ = 23 of 60), where the matrix block takes 1.0 s.

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
from riemdln.flows._frames import orthonormal
from riemdln.geometry._metric import unchecked_multiplier

#: the chart is chosen with s_{k+1} <= GAP * s_k and re-charted when sigma_1(W) reaches RECHART_GAP * s_k
GAP = 0.25
RECHART_GAP = 0.5
#: W's absolute tolerance is min(atol, rtol * sigma_1(W)) at the chart's start: W is resolved relative to its own
#: scale, so its singular values keep a relative accuracy of about rtol * sigma_1(W) / sigma_min(W) (rtol *
#: sigma_min(W) instead cost 26 % more time on a 100x100 N = inf run); re-charted when sigma_min(W) has fallen by
#: ATOL_FALL
ATOL_FALL = 1e-2


def choose_rank(s: np.ndarray, switch_ratio: float, slack: float = 1.0) -> int | None:
    """The number k of learned singular values for a split chart at singular values ``s`` (descending), or
    None: the smallest k >= 1 with a gap ``s[k] <= GAP * s[k-1]``, a block of at least two values, and the
    block resolved with margin, ``s[-1] >= 10 * switch_ratio * s[k]``. ``slack`` < 1 asks for that much
    more of both (the event that leaves SVD coordinates uses it, so that the chart exists where it stops).

    >>> choose_rank(np.array([50.0, 40.0, 1e-3, 5e-4, 2e-4]), 1e-7), choose_rank(np.array([2.0, 1.0, 0.5]), 1e-7)
    (2, None)
    """
    K = len(s)
    for k in range(1, K - 1):
        if s[k] <= slack * GAP * s[k - 1] and slack * s[-1] >= 10 * switch_ratio * s[k]:
            return k
    return None


class SplitSystem:
    r"""The flow in the split chart :math:`(B, Q_k, R_k, W)` (module docstring) for one k."""

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
        self.sigma_min0 = self.sigma_max0 = 1.0
        self._s0 = np.ones(self.k)
        self._last_y = np.zeros(0)

    # ------------------------------------------------------------------------------------------ the state
    def split(self, y):
        k, m, n = self.k, self.m, self.n
        kk = k * k
        B = y[:kk].reshape(k, k)
        Q = y[kk : kk + m * k].reshape(m, k)
        R = y[kk + m * k : kk + (m + n) * k].reshape(n, k)
        W = y[kk + (m + n) * k :].reshape(m, n)
        return B, Q, R, W

    @staticmethod
    def join(B, Q, R, W):
        return np.concatenate([np.ravel(B), np.ravel(Q), np.ravel(R), np.ravel(W)])

    def start(self, Q: np.ndarray, s: np.ndarray, R: np.ndarray) -> np.ndarray:
        """The state of the chart at a thin SVD ``Q diag(s) R^T`` (descending s): its first k triplets are the
        learned ones (B = diag(s_1..s_k)), the rest form W."""
        k = self.k
        W = (Q[:, k:] * s[k:]) @ R[:, k:].T
        self.sigma_min0, self.sigma_max0 = float(s[-1]), float(s[k])
        self._s0 = np.array(s[:k], dtype=float)
        return self.join(np.diag(s[:k]), Q[:, :k], R[:, :k], W)

    def atol(self, atol: float, rtol: float) -> np.ndarray:
        """Per-component absolute tolerances: on B the smaller of ``atol`` and ``rtol * s_k``; on the frames
        ``atol / max(1, s_1)`` (an error in a frame entry moves X by up to s_1 times it); on W the smaller of
        ``atol`` and ``rtol * sigma_1(W)``, all at the chart's start."""
        k, m, n = self.k, self.m, self.n
        b = min(atol, rtol * float(self._s0.min()))
        col = atol / max(1.0, float(self._s0.max()))
        w = min(atol, rtol * self.sigma_max0)
        return np.concatenate([np.full(k * k, b), np.full((m + n) * k, col), np.full(m * n, w)])

    def frame(self, y) -> dict:
        """The frame at y: orthonormalized :math:`Q_k, R_k`, W projected on the complements, the SVDs of B and
        W, the full frame and singular values, X. Kept while y is unchanged (the right-hand side, the margin
        and the preconditioner's setup at one state share it)."""
        key = np.asarray(y).tobytes()
        if key == self._frame_key:
            return self._frame
        B, Q, R, W = self.split(np.asarray(y, dtype=float))
        Q, R = orthonormal(Q), orthonormal(R)
        W = W - Q @ (Q.T @ W)
        W = W - (W @ R) @ R.T
        Ub, s, Vbt = np.linalg.svd(B)
        U, sig, Vt = np.linalg.svd(W, full_matrices=False)
        U, sig, V = U[:, : self.r], sig[: self.r], Vt[: self.r].T
        fr = dict(Q=Q, R=R, B=B, Ub=Ub, s=s, Vb=Vbt.T, W=W, U=U, sig=sig, V=V, X=Q @ B @ R.T + W)
        fr["Qf"], fr["Rf"] = np.hstack([Q @ Ub, U]), np.hstack([R @ Vbt.T, V])
        fr["sf"] = np.concatenate([s, sig])
        x = fr["sf"] ** 2
        fr["M"] = unchecked_multiplier(x[:, None], x[None, :], self.depth, self.normalized)
        fr["b"] = unchecked_multiplier(x, np.zeros_like(x), self.depth, self.normalized) if self.m != self.n else None
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
        if not sig[-1] > 0:  # W lost rank: the chart no longer applies
            return -math.inf
        return min(
            math.log(RECHART_GAP * s.min() / sig[0]),
            math.log(sig[-1] / (self.switch_ratio * sig[0])),
            math.log(sig[-1] / (ATOL_FALL * self.sigma_min0)),
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
        Q, R, W, U, sig, V, Ub, Vb, s = (fr[key] for key in ("Q", "R", "W", "U", "sig", "V", "Ub", "Vb", "s"))
        FR = F @ R
        Fb = Q.T @ FR
        G1 = (FR - Q @ Fb) @ Vb  # P F R_k, on the right singular vectors of B
        G2 = (F.T @ Q - R @ Fb.T) @ Ub  # P' F^T Q_k, on the left ones
        g1, g2 = U.T @ G1, V.T @ G2
        den = s[None, :] ** 2 - sig[:, None] ** 2
        a = (s * g1 + sig[:, None] * g2) / den
        b = (s * g2 + sig[:, None] * g1) / den
        E1 = (G1 / s + U @ (a - g1 / s)) @ Ub.T
        E2 = (G2 / s + V @ (b - g2 / s)) @ Vb.T
        PFP = F - Q @ (Q.T @ F)
        PFP = PFP - (PFP @ R) @ R.T
        dW = PFP - Q @ (E1.T @ W) - (W @ E2) @ R.T
        return self.join(Fb, E1, E2, dW)

    def push(self, fr: dict, dy: np.ndarray) -> np.ndarray:
        r"""The X-velocity of a chart velocity ``dy``: :math:`\delta Q_k B R_k^T + Q_k\,\delta B\,R_k^T +
        Q_k B\,\delta R_k^T + \delta W`."""
        dB, dQ, dR, dW = self.split(np.asarray(dy, dtype=float))
        Q, R, B = fr["Q"], fr["R"], fr["B"]
        return dQ @ (B @ R.T) + Q @ (dB @ R.T) + (Q @ B) @ dR.T + dW

    # ------------------------------------------------------------------------------ what the solver calls
    def rhs(self, t, y):
        fr = self.frame(y)
        return self.chart_velocity(fr, self.ambient_velocity(fr, self.energy.grad(fr["X"])))


class SplitPrecond:
    r"""CVODE's preconditioner for :class:`SplitSystem` (module docstring): ``setup(t, y, gamma, jok)`` keeps
    the frame of y (renewed unless ``jok``), ``solve(r, gamma)`` applies :math:`(I + \gamma p A_N)^{-1}`
    carried through the chart."""

    def __init__(self, system: SplitSystem):
        self.system = system
        self._frame: dict | None = None

    def setup(self, t, y, gamma, jok=False) -> bool:
        if jok and self._frame is not None:
            return False
        self._frame = self.system.frame(y)
        return True

    def solve(self, r, gamma) -> np.ndarray:
        fr, system = self._frame, self.system
        if fr is None:  # pragma: no cover - CVODE sets up before it solves
            return np.array(r, dtype=float)
        r = np.asarray(r, dtype=float)
        dX = system.push(fr, r)
        Qf, Rf = fr["Qf"], fr["Rf"]
        inner = Qf.T @ dX @ Rf
        zX = dX + Qf @ (inner * (1.0 / (1.0 + gamma * system.p * fr["M"]) - 1.0)) @ Rf.T
        return system.chart_velocity(fr, zX) + (r - system.chart_velocity(fr, dX))
