r"""Study implicit_bias — does the volume bias predict where small initializations land better than its rivals?

On instances where the hypotheses disagree, each hypothesis's prediction on the rank-r zero-loss set
:math:`\mathcal Z_r = \{X : \operatorname{rank} X = r,\ X_\Omega = M_\Omega\}` (r the minimal completion rank) is
computed before any flow runs:

* **V** (volume, depth N): the argmax on :math:`\mathcal Z_r` of the log density of the volume that
  :math:`\hat g^N` induces on it (:func:`log_density`; at N = ∞ its normalized limit), found by ascent on the
  manifold from several starts;
* **NN** (minimum nuclear norm): :math:`\arg\min \|X\|_*` s.t. :math:`X_\Omega = M_\Omega` (cvxpy), with the
  width of its optimal face (it need not be unique, nor of rank r);
* **GLRL** (greedy low-rank learning, Li, Luo & Lyu 2021): from 0, repeatedly add
  :math:`\sqrt\varepsilon\,(u, v)` along the top singular pair of the residual gradient :math:`-\nabla E` and run the
  depth-2 gradient flow of the rank-k factorization to its limit, until the loss vanishes;
* **MF** (minimum Frobenius norm among the completions of minimal rank): :math:`\arg\min_{\mathcal Z_r} \|X\|_F`.

Then normalized flows from small random starts (several scales, N = 2, 3, 4, ∞) are run to a loss target; for
each limit the Frobenius distance to each prediction is measured, and :func:`decide` judges each pair (V, rival)
with a sign test on :math:`D = d(L, V) - d(L, \text{rival})` over the seeds, a bootstrap interval of the median of
D and the effect size :math:`\operatorname{median} D / d(V, \text{rival})` (between −1 and +1 by the triangle
inequality; −1 when V lies on the way from the rival to every limit, e.g. the limits at V).

The figures and the report text are in :mod:`riemdln.studies.implicit_bias_report`.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import asdict, dataclass, field

import numpy as np

from riemdln.studies import Claim, depth_value, run_record
from riemdln.studies._params import (
    Spec,
    StudyParams,
    _parse,
    depth_spec,
    integer,
    ints,
    listing,
    nested_list,
    real,
    reals,
    text,
)

NAME = "implicit_bias"
RUN_KEYS = ("flows",)
TITLE = "Implicit bias: volume against nuclear norm, greedy low rank and minimum Frobenius norm"
HYPOTHESES = ("volume", "nuclear", "glrl", "frobenius")
RIVALS = ("nuclear", "glrl", "frobenius")
LABELS = {
    "volume": "volume (argmax of the ĝ^N density on the rank-r zero-loss set)",
    "nuclear": "minimum nuclear norm",
    "glrl": "greedy low-rank learning",
    "frobenius": "minimum Frobenius norm of minimal rank",
}


# --------------------------------------------------------------------------- parameters


@dataclass(frozen=True)
class Instance(StudyParams):
    """A completion problem of the study: observed ``entries`` ``(i, j, value)`` of a ``shape`` matrix, or a random
    problem (``random_rank``, ``n_observed``, ``seed``: :meth:`riemdln.CompletionProblem.random`); ``rank`` is its
    minimal completion rank r (checked numerically by :func:`check_minimal_rank`)."""

    name: str = text("custom")
    shape: tuple[int, int] = ints((2, 2), low=1, min_len=2, max_len=2)  # type: ignore[assignment]
    rank: int = integer(1, low=1)
    entries: tuple[tuple[int, int, float], ...] = listing(
        (), Spec("list", item=Spec("number"), min_len=3, max_len=3), min_len=0, doc="observed (i, j, value)"
    )
    n_observed: int = integer(0)
    seed: int = integer(0)

    def problem(self):
        """The :class:`riemdln.CompletionProblem`."""
        from riemdln import CompletionProblem

        if self.entries:
            obs = {(int(i), int(j)): float(v) for i, j, v in self.entries}
            return CompletionProblem((int(self.shape[0]), int(self.shape[1])), obs, name=self.name)
        m, n = self.shape
        return CompletionProblem.random(m, n, self.rank, self.n_observed, seed=self.seed)

    @classmethod
    def from_json(cls, doc, where: str = "parameters") -> Instance:
        inst = super().from_json(doc, where)
        entries = tuple((int(i), int(j), float(v)) for i, j, v in inst.entries)
        return dataclasses.replace(inst, entries=entries)


# 2×2: unequal diagonal (transposition is still a symmetry; its fixed rank-one points are ±(2, 2));
# 3×3 rank two, two random 5×5 and one 6×6 rank-two problems (connected observations, every row and column observed at
# least twice, GLRL converging; screened for separations of the predictions well above 0.1): no symmetry at all.
_INSTANCES = (
    Instance("diag-2x2 (1, 4)", (2, 2), 1, ((0, 0, 1.0), (1, 1, 4.0))),
    Instance("3x3 rank 2", (3, 3), 2, ((0, 0, 1.0), (0, 1, 0.3), (1, 0, -0.4), (1, 1, 2.0), (2, 0, 1.5), (1, 2, -0.7))),
    Instance("random 5x5 r2 #1", (5, 5), 2, n_observed=14, seed=1),
    Instance("random 5x5 r2 #14", (5, 5), 2, n_observed=14, seed=14),
    Instance("random 6x6 r2 #15", (6, 6), 2, n_observed=17, seed=15),
)


@dataclass(frozen=True)
class ImplicitBiasParams(StudyParams):
    """Sizes of the study. ``alpha`` is family-wise over every (instance, N, rival) row (Bonferroni); a verdict other
    than "cannot tell" also needs ``|effect| >= min_effect``. Depths are kept as their labels ("3", "inf")."""

    instances: tuple[Instance, ...] = nested_list(Instance, _INSTANCES, max_len=64)
    depths: tuple[str, ...] = listing(("2", "3", "4", "inf"), Spec("str"), doc="depth labels: '3', 'inf'")
    scales: tuple[float, ...] = reals((1e-2, 1e-3), positive=True)
    n_seeds: int = integer(20, low=1)
    loss_tol: float = real(1e-10, positive=True)
    t_final: float = real(1e8, positive=True)
    max_steps: int = integer(20000, low=1)
    volume_starts: int = integer(6, low=1)
    glrl_eps: float = real(1e-6, positive=True)
    alpha: float = real(0.05, positive=True, high=1.0)
    min_effect: float = real(0.1, low=0.0)
    n_boot: int = integer(2000, low=1)
    seed: int = integer(31)

    def check(self, where: str) -> None:
        for i, label in enumerate(self.depths):
            _parse(label, depth_spec(), f"{where}.depths[{i}]")

    @classmethod
    def full(cls) -> ImplicitBiasParams:
        return cls()

    @classmethod
    def quick(cls) -> ImplicitBiasParams:
        return cls(instances=_INSTANCES[:2], depths=("2", "inf"), scales=(1e-3,), n_seeds=6, volume_starts=3,
                   n_boot=400)  # fmt: skip

    def to_json(self) -> dict:
        return json_ready(asdict(self))

    @classmethod
    def from_json(cls, doc, where: str = "parameters") -> ImplicitBiasParams:
        p = super().from_json(doc, where)
        return dataclasses.replace(p, instances=tuple(Instance.from_json(x.to_json()) for x in p.instances))


def json_ready(obj):
    """Tuples as lists, recursively (what json.dumps and a resumed run produce)."""
    if isinstance(obj, dict):
        return {k: json_ready(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [json_ready(v) for v in obj]
    return obj


PARAMS = ImplicitBiasParams


def parameters(quick: bool) -> dict:
    return (ImplicitBiasParams.quick() if quick else ImplicitBiasParams.full()).to_json()


# --------------------------------------------------------------------------- the density on the stratum


def _stratum_parts(X, rank: int, basis) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Tangent coordinates split into the block i, j <= r and the rest (one index > r), with s."""
    from riemdln.studies.volume_bias import _check_rank_r, _tangent_mask

    X, r, Q, s, Rt = _check_rank_r(X, rank)
    Tt = Q.T @ np.asarray(basis, float) @ Rt.T
    tangent = _tangent_mask(X.shape, r)
    inner = np.zeros(X.shape, bool)
    inner[:r, :r] = True
    # the singular value that carries each off-block entry (i <= r, j > r: s_i; i > r, j <= r: s_j)
    ii, jj = np.nonzero(tangent & ~inner)
    s_off = s[np.minimum(ii, jj)]
    return Tt[:, inner], Tt[:, ii, jj], s[:r], s_off


def log_density(X, rank: int, mask, depth: float) -> float:
    r"""Log density of the volume :math:`\hat g^N` induces on the rank-r zero-loss set, at X (normalized convention).

    For finite N it is :func:`riemdln.studies.volume_bias.zero_loss_log_density` (½ log det of the Gram matrix of
    :math:`\hat g^N` on a Euclidean-orthonormal basis of the set's tangent space). At N = ∞ that Gram matrix is
    :math:`G_N = A_N + N B_N` with :math:`A_N = \sum_{i,j\le r} \tilde T\tilde T^T N/a_N(s_i^2, s_j^2)` (→ multiplier
    :math:`L(s_i^2, s_j^2)`) and :math:`B_N = \sum_{\text{one index} > r} \tilde T \tilde T^T s_i^{-2(N-1)/N}` (the
    off-block multiplier :math:`a_N(s_i^2, 0)/N = s_i^{2(N-1)/N}/N` vanishes like 1/N: rotating the row or column
    space of a rank-r matrix costs ever more). Hence, with :math:`k' = \operatorname{rank} B_\infty` and K an
    orthonormal basis of :math:`\ker B_\infty`,

    .. math:: \tfrac12\log\det G_N - \tfrac{k'}{2}\log N \;\to\; \ell_\infty =
        \tfrac12\log\operatorname{pdet} B_\infty + \tfrac12\log\det(K^T A_\infty K),

    which is returned at ``depth=math.inf`` (the constant :math:`\tfrac{k'}{2}\log N` does not move the argmax as long
    as k' is constant on the set).

    Parameters
    ----------
    X : array_like, shape (m, n)
        A point of the rank-r zero-loss set.
    rank : int
        r.
    mask : array_like of bool
        The observed entries Ω.
    depth : float or math.inf
        N (normalized convention :math:`\hat g^N = N g^N`).

    Returns
    -------
    float

    See Also
    --------
    riemdln.studies.volume_bias.zero_loss_log_density : the finite-N density.

    Examples
    --------
    >>> X = np.array([[1.0, 2.0], [0.5, 1.0]])
    >>> abs(log_density(X, 1, np.eye(2, dtype=bool), 1)) < 1e-12      # N = 1: Euclidean, log 1
    True
    """
    from riemdln.studies.volume_bias import stratum_tangent_basis, zero_loss_log_density

    if not math.isinf(depth):
        return float(zero_loss_log_density(X, rank, mask, depth, normalized=True)[0])
    T = stratum_tangent_basis(X, rank, mask)
    return limit_log_density(X, rank, T)[0]


def limit_log_density(X, rank: int, basis) -> tuple[float, int]:
    r""":math:`\ell_\infty` of :func:`log_density` on ``basis`` and the exponent k' (see there)."""
    from riemdln import multiplier

    T_in, T_off, s, s_off = _stratum_parts(X, rank, basis)
    L = multiplier((s**2)[:, None], (s**2)[None, :], math.inf, True).reshape(-1)
    A = (T_in / np.sqrt(L)) @ (T_in / np.sqrt(L)).T
    W = T_off / s_off
    U, sv, _ = np.linalg.svd(W, full_matrices=True)
    k = len(A)
    k_off = int(np.sum(sv > 1e-9 * sv[0])) if len(sv) and sv[0] > 0 else 0
    K = U[:, k_off:]
    part = 2.0 * float(np.sum(np.log(sv[:k_off])))
    if k_off < k:
        sign, ld = np.linalg.slogdet(K.T @ A @ K)
        part += ld if sign > 0 else -np.inf
    return 0.5 * part, k_off


# --------------------------------------------------------------------------- optimization on the zero-loss set


def retract(problem, Y, rank: int) -> np.ndarray | None:
    r"""The point of the rank-r zero-loss set that minimum-norm Gauss–Newton on the factors reaches from Y.

    From the balanced factors of the best rank-r approximation of Y, each step solves the linearized observation
    equations :math:`(\delta U V^T + U \delta V^T)_\Omega = -(UV^T - M)_\Omega` in the least-norm sense (a
    retraction: first-order it leaves a tangent step unchanged). Falls back to the damped projection
    :func:`riemdln.studies.volume_bias.project_to_zero_loss`; None when neither gets there (residual above
    1e-12 max |M_Ω|, or not finite).
    """
    from riemdln.studies.volume_bias import _balanced_factors, project_to_zero_loss

    a, b = np.nonzero(problem.mask)
    target = problem.target[a, b]
    tol = 1e-12 * max(float(np.max(np.abs(target))), 1e-300)
    m, n = problem.shape
    U, V = _balanced_factors(np.asarray(Y, float), rank)
    rows = np.arange(len(a))
    for _ in range(12):
        res = np.sum(U[a] * V[b], axis=1) - target
        if not np.all(np.isfinite(res)):
            break
        if np.max(np.abs(res)) <= tol:
            return U @ V.T
        J = np.zeros((len(a), (m + n) * rank))
        for k in range(rank):
            J[rows, a * rank + k] = V[b, k]
            J[rows, m * rank + b * rank + k] = U[a, k]
        step = np.linalg.lstsq(J, -res, rcond=None)[0]
        U = U + step[: m * rank].reshape(m, rank)
        V = V + step[m * rank :].reshape(n, rank)
    with np.errstate(all="ignore"):  # its damping can overflow where no point is near; the residual decides
        out = project_to_zero_loss(problem, Y, rank, tol=1e-13, max_iter=100)
    return out["X"] if out["residual"] <= tol else None


def _chart_objective(problem, rank: int, Xc: np.ndarray, T: np.ndarray, fn):
    """θ ↦ −fn(retract(Xc + Σ θ_i T_i)) (+inf where the retraction fails)."""

    def f(theta):
        X = retract(problem, Xc + np.tensordot(theta, T, 1), rank)
        if X is None:
            return np.inf, None
        v = fn(X)
        return (-v if np.isfinite(v) else np.inf), X

    return f


def maximize_on_set(problem, rank: int, fn, X0, *, rounds: int = 6, gtol: float = 1e-8) -> dict:
    r"""Local maximum of ``fn`` on the rank-r zero-loss set from X0 (a point of the set).

    In the chart :math:`\theta \mapsto R(X_c + \sum_i \theta_i T_i)` (T an orthonormal basis of the set's tangent
    space at :math:`X_c`, R the Levenberg–Marquardt retraction :func:`retract`), BFGS with central-difference
    gradients; the chart is re-centred at the result up to ``rounds`` times, until BFGS stays at its centre.

    Returns
    -------
    dict
        ``X``, ``value``, ``success`` (the last chart's BFGS converged and did not move), ``rounds``.
    """
    from scipy.optimize import minimize

    from riemdln.studies.volume_bias import stratum_tangent_basis

    Xc = np.asarray(X0, float)
    value = float(fn(Xc))
    ok = False
    h = 1e-6 * max(float(np.linalg.norm(Xc)), 1.0)
    for it in range(rounds):
        T = stratum_tangent_basis(Xc, rank, problem.mask)
        if len(T) == 0:
            return {"X": Xc, "value": value, "success": True, "rounds": it}
        f = _chart_objective(problem, rank, Xc, T, fn)

        def grad(theta, f=f):
            k = len(theta)
            g = np.empty(k)
            for i in range(k):
                e = np.zeros(k)
                e[i] = h
                g[i] = (f(theta + e)[0] - f(theta - e)[0]) / (2 * h)
            return g if np.all(np.isfinite(g)) else np.zeros(k)

        res = minimize(lambda th, f=f: f(th)[0], np.zeros(len(T)), jac=grad, method="BFGS", options={"gtol": gtol})
        v, X = f(res.x)
        if X is None or not np.isfinite(v):
            break
        step = float(np.linalg.norm(res.x))
        Xc, value = X, -v
        if step <= 1e-7 * max(float(np.linalg.norm(Xc)), 1.0):
            ok = bool(res.success) or float(np.linalg.norm(grad(np.zeros(len(T))))) <= 10 * gtol
            break
    return {"X": Xc, "value": value, "success": ok, "rounds": it + 1}


def random_points(problem, rank: int, count: int, rng: np.random.Generator, tries: int = 10) -> list[np.ndarray]:
    """``count`` points of the rank-r zero-loss set: projections of Gaussian matrices (entries of the scale of M_Ω)."""
    scale = float(np.sqrt(np.mean(problem.target[problem.mask] ** 2)))
    out: list[np.ndarray] = []
    for _ in range(count * tries):
        X = retract(problem, scale * rng.standard_normal(problem.shape), rank)
        if X is not None:
            out.append(X)
        if len(out) == count:
            break
    return out


def check_minimal_rank(problem, rank: int, rng: np.random.Generator, tries: int = 20) -> dict:
    """Numerical evidence that r is the minimal completion rank: rank r reached, rank r − 1 never (``tries`` starts)."""
    lower = 0 if rank == 1 else sum(retract(problem, rng.standard_normal(problem.shape), rank - 1) is not None
                                    for _ in range(tries))  # fmt: skip
    found = random_points(problem, rank, 1, rng)
    return {"rank_r_found": bool(found), "lower_rank_found": int(lower), "lower_rank_tries": 0 if rank == 1 else tries}


def _distinct(points: list[dict], tol: float) -> list[dict]:
    """Local optima that differ by more than ``tol`` (relative Frobenius), best first."""
    out: list[dict] = []
    for p in sorted(points, key=lambda p: -p["value"]):
        if all(np.linalg.norm(p["X"] - q["X"]) > tol * max(float(np.linalg.norm(q["X"])), 1.0) for q in out):
            out.append(p)
    return out


def _argmax_set(problem, rank: int, fn, starts: list[np.ndarray]) -> dict:
    """The best local maximum of fn from the starts, with the ties (value within 1e-7) that symmetry produces."""
    runs = [maximize_on_set(problem, rank, fn, X) for X in starts]
    runs = [r for r in runs if np.isfinite(r["value"])]
    if not runs:
        return {"points": [], "value": None, "success": False, "local_maxima": 0, "second_gap": None}
    opt = _distinct(runs, 1e-5)
    best = opt[0]["value"]
    tie = [best - p["value"] <= 1e-7 * max(1.0, abs(best)) for p in opt]
    ties = [p for p, t in zip(opt, tie, strict=True) if t]
    rest = [p for p, t in zip(opt, tie, strict=True) if not t]
    return {
        "points": [p["X"] for p in ties],
        "value": float(best),
        "success": all(p["success"] for p in ties),
        "local_maxima": len(opt),
        "second_gap": float(best - rest[0]["value"]) if rest else None,
        "converged_starts": int(sum(r["success"] for r in runs)),
        "starts": len(starts),
    }


# --------------------------------------------------------------------------- the four predictions


def volume_prediction(problem, rank: int, depth: float, starts: list[np.ndarray]) -> dict:
    """Argmax of :func:`log_density` on the rank-r zero-loss set from ``starts`` (ties kept as a set)."""
    mask = problem.mask
    return _argmax_set(problem, rank, lambda X: log_density(X, rank, mask, depth), starts)


def frobenius_prediction(problem, rank: int, starts: list[np.ndarray]) -> dict:
    """Argmin of ‖X‖_F on the rank-r zero-loss set from ``starts`` (ties kept as a set)."""
    out = _argmax_set(problem, rank, lambda X: -0.5 * float(np.sum(X * X)), starts)
    if out["value"] is not None:
        out["value"] = float(np.sqrt(-2 * out["value"]))
    return out


def nuclear_prediction(problem, rng: np.random.Generator, directions: int = 3) -> dict:
    r"""The cvxpy minimizer of :math:`\|X\|_*` s.t. :math:`X_\Omega = M_\Omega`, and the width of the optimal face.

    The width is the largest :math:`\max - \min` of :math:`\langle C, X\rangle` (C random, ‖C‖_F = 1) over
    :math:`\{X_\Omega = M_\Omega,\ \|X\|_* \le \|X^*\|_*(1 + 10^{-8})\}`; a width above 1e-2 ‖X*‖_F means the
    minimizer is not unique (the slack alone gives widths of order :math:`10^{-4}` where the nuclear norm grows
    quadratically away from the minimizer), and distances are then measured to the face
    (:class:`NuclearFace`).
    """
    import cvxpy as cp

    from riemdln.problems.baselines import nuclear_norm_minimization

    res = nuclear_norm_minimization(problem, solver="CLARABEL")
    X = res.X
    opt = float(np.linalg.norm(X, "nuc"))
    m, n = problem.shape
    Y = cp.Variable((m, n))
    w = problem.mask.astype(float)
    cons = [cp.multiply(w, Y) == w * problem.target, cp.normNuc(Y) <= opt * (1 + FACE_SLACK)]
    width = 0.0
    for _ in range(directions):
        C = rng.standard_normal((m, n))
        C /= np.linalg.norm(C)
        vals = []
        for sense in (cp.Minimize, cp.Maximize):
            cp.Problem(sense(cp.sum(cp.multiply(C, Y))), cons).solve(solver="CLARABEL")
            vals.append(float(np.sum(C * np.asarray(Y.value))))
        width = max(width, vals[1] - vals[0])
    s = np.linalg.svd(X, compute_uv=False)
    unique = width <= 1e-2 * max(float(np.linalg.norm(X)), 1.0)
    return {
        "points": [X],
        "value": opt,
        "success": bool(res.success),
        "message": res.message,
        "face_width": float(width),
        "unique": bool(unique),
        "rank": int(np.sum(s > 1e-6 * s[0])),
        "singular_values": s.tolist(),
    }


FACE_SLACK = 1e-8  # the optimal face is {X_Ω = M_Ω, ‖X‖_* <= opt (1 + FACE_SLACK)}


class NuclearFace:
    r"""Distances to the minimum-nuclear-norm face :math:`\{Y : Y_\Omega = M_\Omega,\ \|Y\|_* \le` opt (1 + 1e-8)}.

    The projection problem is built once (cvxpy, with the point as a parameter) and re-solved per point.

    >>> from riemdln import CompletionProblem
    >>> face = NuclearFace(CompletionProblem((2, 2), {(0, 0): 1.0, (1, 1): 1.0}), 2.0)
    >>> round(face.distance(np.array([[1.0, 3.0], [3.0, 1.0]])), 4)     # to the corner a = b = 1: 2·√2
    2.8284
    """

    def __init__(self, problem, opt: float) -> None:
        import cvxpy as cp

        m, n = problem.shape
        self._Y = cp.Variable((m, n))
        self._X = cp.Parameter((m, n))
        w = problem.mask.astype(float)
        cons = [cp.multiply(w, self._Y) == w * problem.target, cp.normNuc(self._Y) <= opt * (1 + FACE_SLACK)]
        self._problem = cp.Problem(cp.Minimize(cp.norm(self._Y - self._X, "fro")), cons)

    def distance(self, X) -> float:
        r""":math:`\min \|Y - X\|_F` over the face.

        Clarabel's ``optimal_inaccurate`` is accepted (the distance is used to ~1e-4, the face's own relaxation);
        any other status raises :class:`riemdln.ConvergenceError`.
        """
        import warnings

        from riemdln._errors import ConvergenceError

        self._X.value = np.asarray(X, float)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="Solution may be inaccurate")
            self._problem.solve(solver="CLARABEL")
        if self._problem.status not in ("optimal", "optimal_inaccurate") or self._Y.value is None:
            raise ConvergenceError(f"projection onto the nuclear-norm face: cvxpy status {self._problem.status}")
        return float(np.linalg.norm(self._Y.value - self._X.value))


def _glrl_phase(problem, U, V, t_max: float, loss_tol: float):
    """Depth-2 gradient flow U' = −G V, V' = −Gᵀ U (G = P_Ω(UVᵀ − M)) until the loss or the gradient vanishes."""
    from scipy.integrate import solve_ivp

    m, k = U.shape
    n = V.shape[0]
    mask, M = problem.mask, problem.target
    scale = float(np.linalg.norm(np.where(mask, M, 0.0)))

    def unpack(y):
        return y[: m * k].reshape(m, k), y[m * k :].reshape(n, k)

    def rhs(t, y):
        Uy, Vy = unpack(y)
        G = np.where(mask, Uy @ Vy.T - M, 0.0)
        return np.concatenate([(-G @ Vy).ravel(), (-G.T @ Uy).ravel()])

    def done(t, y):
        Uy, Vy = unpack(y)
        G = np.where(mask, Uy @ Vy.T - M, 0.0)
        loss = 0.5 * float(np.sum(G * G))
        gnorm = float(np.linalg.norm(rhs(t, y)))
        return min(loss - loss_tol, gnorm - 1e-11 * scale**2) if t > 0 else 1.0

    done.terminal = True  # type: ignore[attr-defined]
    sol = solve_ivp(rhs, (0.0, t_max), np.concatenate([U.ravel(), V.ravel()]), method="LSODA", events=done,
                    rtol=1e-10, atol=1e-13)  # fmt: skip
    U, V = unpack(sol.y[:, -1])
    G = np.where(mask, U @ V.T - M, 0.0)
    return U, V, 0.5 * float(np.sum(G * G)), sol.status


def glrl_prediction(problem, eps: float, loss_tol: float = 1e-18, max_rank: int | None = None) -> dict:
    r"""Greedy low-rank learning (Li, Luo & Lyu 2021) at depth 2.

    Start from X = 0; at each stage take the top singular pair (u, v) of :math:`-\nabla E(X) = P_\Omega(M - X)`,
    append :math:`\sqrt{\varepsilon\,\|P_\Omega M\|_2}\,(u, v)` as a new column of the balanced factors
    :math:`X = UV^T`, and run the gradient flow of the rank-k factorization to its limit (the loss below
    ``loss_tol`` :math:`\|P_\Omega M\|_2^2`, or a stationary point, then the next stage). The ε → 0 limit is the
    hypothesis; ``eps`` is relative to :math:`\|P_\Omega M\|_2`.

    Returns
    -------
    dict
        ``points`` ([X]), ``value`` (final loss), ``rank`` (stages), ``phases`` (loss, whether the phase reached a
        limit, ‖X‖_F), ``success`` (every phase reached a limit, the last one zero loss): a phase that runs to its
        time limit is one whose flow diverges (its infimum is not attained), and then GLRL predicts no point.
    """
    mask, M = problem.mask, problem.target
    m, n = problem.shape
    top = float(np.linalg.norm(np.where(mask, M, 0.0), 2))
    U, V = np.zeros((m, 0)), np.zeros((n, 0))
    loss = 0.5 * float(np.sum(np.where(mask, M, 0.0) ** 2))
    phases = []
    for _ in range(max_rank or min(m, n)):
        G = np.where(mask, M - U @ V.T, 0.0)
        Q, _, Rt = np.linalg.svd(G)
        c = math.sqrt(eps * top)
        U = np.column_stack([U, c * Q[:, 0]])
        V = np.column_stack([V, c * Rt[0]])
        U, V, loss, status = _glrl_phase(problem, U, V, 1e6 / top, loss_tol * top**2)
        phases.append({"loss": loss, "limit": bool(status == 1), "norm": float(np.linalg.norm(U @ V.T))})
        if loss <= 1e-14 * top**2 or status != 1:
            break
    X = U @ V.T
    ok = all(p["limit"] for p in phases) and loss <= 1e-14 * top**2
    return {"points": [X] if ok else [], "X": X, "value": loss, "rank": len(phases), "phases": phases, "success": ok}


def set_distance(X, points) -> float:
    """min over ``points`` of ‖X − P‖_F (inf for an empty set)."""
    return min((float(np.linalg.norm(np.asarray(X) - np.asarray(P))) for P in points), default=math.inf)


def predictions(inst: Instance, params: ImplicitBiasParams) -> dict:
    """Every hypothesis's prediction on one instance, with their pairwise distances (before any flow)."""
    problem = inst.problem()
    r = inst.rank
    rng = np.random.default_rng([params.seed, _instance_key(inst)])
    rank_check = check_minimal_rank(problem, r, rng)
    starts = random_points(problem, r, params.volume_starts, rng)
    pred: dict[str, dict] = {}
    pred["frobenius"] = frobenius_prediction(problem, r, starts)
    pred["nuclear"] = nuclear_prediction(problem, rng)
    glrl = glrl_prediction(problem, params.glrl_eps)
    glrl_fine = glrl_prediction(problem, params.glrl_eps / 100)
    glrl["eps_sensitivity"] = float(np.linalg.norm(glrl["X"] - glrl_fine["X"]))
    pred["glrl"] = glrl
    volume: dict[str, dict] = {}
    for d in params.depths:
        extra = [p for q in volume.values() for p in q["points"]]
        volume[d] = volume_prediction(problem, r, depth_value(d), starts + extra)
    return {"instance": inst.name, "rank": r, "rank_check": rank_check, "volume": volume, **pred}


def _instance_key(inst: Instance) -> int:
    return sum((i + 1) * ord(c) for i, c in enumerate(inst.name)) % (2**31)


def prediction_points(pred: dict, hypothesis: str, depth: str) -> list:
    """The point set a hypothesis predicts for depth ``depth`` (volume depends on N, the rivals do not)."""
    return pred["volume"][depth]["points"] if hypothesis == "volume" else pred[hypothesis]["points"]


def separation(pred: dict, a: str, b: str, depth: str) -> float:
    """Distance between two predictions' point sets (the nearest pair)."""
    pa, pb = prediction_points(pred, a, depth), prediction_points(pred, b, depth)
    return min((set_distance(x, pb) for x in pa), default=math.inf)


# --------------------------------------------------------------------------- the flows


@dataclass(frozen=True)
class FlowRecord:
    """One normalized flow from a small random start: where it ended and how far that is from each prediction."""

    instance: str
    depth: str
    scale: float
    seed: int
    status: str
    final_loss: float | None
    target_loss: float
    sigma_ratio: float  # s_(r+1)/s_r of the limit (0 when r = min(m, n))
    distances: dict = field(default_factory=dict)  # hypothesis -> ‖limit − prediction‖_F (None: no prediction)
    X: list = field(default_factory=list)

    def to_json(self) -> dict:
        fields = {k: v for k, v in asdict(self).items() if k not in ("status", "final_loss", "target_loss")}
        return run_record(status=self.status, final_loss=self.final_loss, target_loss=self.target_loss, **fields)


def small_start(shape, scale: float, seed: int, tag: int) -> np.ndarray:
    """X₀ = scale · G / √d with G standard Gaussian (the end-to-end matrix of a balanced start)."""
    rng = np.random.default_rng([seed, tag])
    return scale * rng.standard_normal(shape) / math.sqrt(min(shape))


def distances_to(X, pred_points: dict, face: NuclearFace | None) -> dict:
    """‖X − prediction‖_F for each hypothesis (to the optimal face for a non-unique nuclear-norm minimizer)."""
    out = {h: (set_distance(X, pts) if pts else None) for h, pts in pred_points.items()}
    if face is not None:
        out["nuclear"] = face.distance(X)
    return out


def _flow_cell(instance: dict, depth: str, scale: float, seeds: list, loss_tol: float, t_final: float,
               max_steps: int, pred_points: dict, nuclear_face: float | None) -> list[dict]:  # fmt: skip
    """The flows of one (instance, depth, scale) cell and their distances to the predictions (a sweep task)."""
    from riemdln import end_to_end_flow
    from riemdln.flows import loss_below

    inst = Instance.from_json(instance)
    problem = inst.problem()
    pts = {h: [np.asarray(p) for p in v] for h, v in pred_points.items()}
    face = None if nuclear_face is None else NuclearFace(problem, nuclear_face)
    out = []
    for s in seeds:
        X0 = small_start(problem.shape, scale, s, _instance_key(inst))
        res = end_to_end_flow(problem, X0, depth_value(depth), t_final, normalized=True, events=loss_below(loss_tol),
                              max_steps=max_steps, progress=False)  # fmt: skip
        X = res.X[-1]
        sv = np.linalg.svd(X, compute_uv=False)
        r = inst.rank
        rec = FlowRecord(
            instance=inst.name,
            depth=depth,
            scale=scale,
            seed=int(s),
            status=res.status.name,
            final_loss=float(problem.loss(X)),
            target_loss=loss_tol,
            sigma_ratio=float(sv[r] / sv[r - 1]) if r < len(sv) else 0.0,
            distances=distances_to(X, pts, face),
            X=X.tolist(),
        )
        out.append(rec.to_json())
    return out


# --------------------------------------------------------------------------- the decision


@dataclass(frozen=True)
class Decision:
    """The verdict on one pair (volume, rival) over the seeds of one cell, and its statistics."""

    verdict: str  # "volume predicts better", "rival predicts better", "cannot tell"
    reason: str
    n: int  # limits compared (reached the loss target)
    volume_nearer: int
    rival_nearer: int
    p_sign: float | None
    p_wilcoxon: float | None
    median_difference: float | None  # median of d(L, V) − d(L, rival)
    ci: tuple[float, float] | None  # bootstrap 95 % interval of that median
    effect: float | None  # median difference / d(V, rival), in [−1, 1]
    separation: float

    def claim_verdict(self) -> str:
        return {"volume predicts better": "supported", "rival predicts better": "contradicted"}.get(
            self.verdict, "cannot tell"
        )


def decide(d_volume, d_rival, separation: float, *, alpha: float = 0.05, min_effect: float = 0.1,
           coincide_tol: float = 1e-6, n_boot: int = 2000, seed: int = 0) -> Decision:  # fmt: skip
    r"""Which prediction is nearer the limits: a sign test on :math:`D_s = d(L_s, V) - d(L_s, \text{rival})`.

    ``"volume predicts better"`` when the two-sided exact sign test rejects "either equally often" at level
    ``alpha``, the median of D is negative and the effect :math:`\operatorname{median} D / d(V, \text{rival})`
    (between −1 and +1 by the triangle inequality; −1 when V lies on the way from the rival to every limit, e.g.
    every limit at V; +1 symmetrically) is at most ``-min_effect``, and the limits are near V (the median of
    d(L, V) below ``separation``: "nearer" alone says nothing when both predictions are far); ``"rival predicts
    better"`` symmetrically; otherwise ``"cannot tell"`` — always so when the predictions coincide
    (``separation <= coincide_tol``) or there are no limits. Also reported: the Wilcoxon
    signed-rank p-value and a percentile-bootstrap 95 % interval of the median of D (``n_boot`` resamples).

    Parameters
    ----------
    d_volume, d_rival : array_like
        Distances of each limit (one per seed) to the volume prediction and to the rival's.
    separation : float
        The distance between the two predictions.
    alpha, min_effect, coincide_tol, n_boot, seed
        As above (``seed``: the bootstrap's generator).

    Returns
    -------
    Decision

    Examples
    --------
    >>> decide([0.1] * 20, [1.0] * 20, 1.0).verdict
    'volume predicts better'
    >>> decide([0.5] * 20, [0.5] * 20, 0.0).verdict
    'cannot tell'
    """
    from scipy.stats import binomtest, wilcoxon

    dv = np.asarray(d_volume, float)
    dr = np.asarray(d_rival, float)
    D = dv - dr
    n = len(D)
    none = dict(p_sign=None, p_wilcoxon=None, median_difference=None, ci=None, effect=None)
    if separation <= coincide_tol:
        return Decision("cannot tell", "the predictions coincide", n, 0, 0, **none, separation=float(separation))
    if n == 0:
        return Decision("cannot tell", "no limit reached the loss target", 0, 0, 0, **none, separation=separation)
    tie = np.abs(D) <= 1e-9 * separation
    k, ell = int(np.sum((D < 0) & ~tie)), int(np.sum((D > 0) & ~tie))
    p = float(binomtest(k, k + ell).pvalue) if k + ell else 1.0
    pw = float(wilcoxon(D[~tie]).pvalue) if k + ell >= 1 else None
    med = float(np.median(D))
    rng = np.random.default_rng(seed)
    boot = np.median(D[rng.integers(0, n, (n_boot, n))], axis=1)
    ci = (float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975)))
    effect = med / separation
    near_v, near_r = float(np.median(dv)) < separation, float(np.median(dr)) < separation
    if p < alpha and med < 0 and effect <= -min_effect and near_v:
        verdict, reason = "volume predicts better", f"sign test p = {p:.2g} < {alpha:.2g}, effect {effect:.2f}"
    elif p < alpha and med > 0 and effect >= min_effect and near_r:
        verdict, reason = "rival predicts better", f"sign test p = {p:.2g} < {alpha:.2g}, effect {effect:.2f}"
    else:
        why = [f"sign test p = {p:.2g} ≥ {alpha:.2g}"] if p >= alpha else []
        why += [f"|effect| {abs(effect):.2f} < {min_effect:g}"] if abs(effect) < min_effect else []
        if not (near_v if med < 0 else near_r):
            why += ["the nearer prediction is not near the limits (median distance ≥ the separation)"]
        verdict, reason = "cannot tell", ", ".join(why) or "median and test disagree in sign"
    return Decision(verdict, reason, n, k, ell, p, pw, med, ci, effect, float(separation))


# --------------------------------------------------------------------------- the study


def _prediction_json(pred: dict) -> dict:
    """Predictions with their matrices as lists."""

    def conv(d: dict) -> dict:
        out = {k: v for k, v in d.items() if k not in ("points", "X")}
        out["points"] = [np.asarray(p).tolist() for p in d["points"]]
        return out

    return {
        "instance": pred["instance"],
        "rank": pred["rank"],
        "rank_check": pred["rank_check"],
        "volume": {d: conv(v) for d, v in pred["volume"].items()},
        **{h: conv(pred[h]) for h in RIVALS},
    }


def _predict_task(instance: dict, params: dict) -> dict:
    """One instance's predictions, JSON-ready (a sweep task)."""
    p = ImplicitBiasParams.from_json(params)
    return _prediction_json(predictions(Instance.from_json(instance), p))


def disagreement(pred: dict, depths) -> dict:
    """Distances between the predictions (volume per N against each rival, and the rivals among themselves)."""
    rows: dict[str, dict] = {}
    for d in depths:
        rows[f"volume N = {d}"] = {h: _sep_json(pred, "volume", h, d) for h in RIVALS}
    for a in RIVALS:
        rows[a] = {h: _sep_json(pred, a, h, depths[0]) for h in RIVALS}
    return rows


def _sep_json(pred, a, b, d):
    v = separation(pred, a, b, d)
    return None if not math.isfinite(v) else v


def _nuclear_face(pred: dict) -> float | None:
    """The optimal nuclear norm when the minimizer is not unique (distances then go to the face), else None."""
    nn = pred["nuclear"]
    return None if nn["unique"] else float(nn["value"])


def _decide_cells(pred_by: dict, flows: list[dict], params: ImplicitBiasParams) -> list[dict]:
    """A Decision for every (instance, N, rival), from the limits at the smallest scale."""
    scale = min(params.scales)
    n_tests = len(params.instances) * len(params.depths) * len(RIVALS)
    out = []
    for inst in params.instances:
        pred = pred_by[inst.name]
        tol = 1e-6 * float(np.linalg.norm(inst.problem().target))
        for d in params.depths:
            ok = [f for f in flows if f["instance"] == inst.name and f["depth"] == d and f["scale"] == scale]
            reached = [f for f in ok if f["reached_target"]]
            for rival in RIVALS:
                row = {"instance": inst.name, "depth": d, "rival": rival, "scale": scale,
                       "runs": len(ok), "excluded": len(ok) - len(reached)}  # fmt: skip
                have = [f for f in reached if f["distances"].get("volume") is not None
                        and f["distances"].get(rival) is not None]  # fmt: skip
                sep = pred_separation(pred, rival, d)
                if sep is None or not pred["volume"][d]["points"]:
                    row.update(tested=False, why=f"no {rival if sep is None else 'volume'} prediction")
                    out.append(row)
                    continue
                dec = decide(
                    [f["distances"]["volume"] for f in have],
                    [f["distances"][rival] for f in have],
                    sep,
                    alpha=params.alpha / n_tests,
                    min_effect=params.min_effect,
                    coincide_tol=tol,
                    n_boot=params.n_boot,
                    seed=params.seed,
                )
                row.update(tested=True, **json_ready(asdict(dec)), claim_verdict=dec.claim_verdict())
                row.update(_medians(have, rival))
                out.append(row)
    return out


def _medians(flows: list[dict], rival: str) -> dict:
    """Median distances of the limits to V and to the rival, and median ‖L‖_F (how near either prediction is)."""

    def med(v):
        return float(np.median(v)) if len(v) else None

    return {
        "median_d_volume": med([f["distances"]["volume"] for f in flows]),
        "median_d_rival": med([f["distances"][rival] for f in flows]),
        "median_norm": med([float(np.linalg.norm(f["X"])) for f in flows]),
    }


def pred_separation(pred: dict, rival: str, depth: str) -> float | None:
    """d(V_N, rival) as stored (the nuclear face counts as a set when not unique)."""
    v = pred["separations"][depth].get(rival)
    return None if v is None else float(v)


def _add_separations(pred: dict, depths, problem) -> None:
    """d(V_N, rival) for every N and rival, to the nuclear face when the minimizer is not unique.

    When the volume prediction lies in that face (distance 0) the face's width is stored instead: the face then
    predicts less than V does, and the test is whether the limits sit at V or elsewhere on the face.
    """
    opt = _nuclear_face(pred)
    face = None if opt is None else NuclearFace(problem, opt)
    tol = 1e-6 * float(np.linalg.norm(problem.target))
    pred["separations"], pred["nested"] = {}, {}
    for d in depths:
        row: dict[str, float | None] = {}
        nested: dict[str, bool] = {}
        for h in RIVALS:
            nested[h] = False
            if not pred[h]["points"] or not pred["volume"][d]["points"]:
                row[h] = None
            elif h == "nuclear" and face is not None:
                gap = min(face.distance(x) for x in pred["volume"][d]["points"])
                nested[h] = gap <= tol
                row[h] = float(pred["nuclear"]["face_width"]) if nested[h] else gap
            else:
                row[h] = _sep_json(pred, "volume", h, d)
        pred["separations"][d], pred["nested"][d] = row, nested


def spread_of_limits(flows: list[dict]) -> float | None:
    """Seed-to-seed spread: the median distance of the limits to their medoid."""
    X = [np.asarray(f["X"]) for f in flows if f["reached_target"]]
    if len(X) < 2:
        return None
    Dm = np.array([[np.linalg.norm(a - b) for b in X] for a in X])
    medoid = int(np.argmin(Dm.sum(1)))
    return float(np.median(np.delete(Dm[medoid], medoid)))


def run(params: dict, executor=None, progress=None, previous=None) -> dict:
    from riemdln.studies.sweep import run_sweep

    p = ImplicitBiasParams.from_json(params)
    pj = p.to_json()
    preds = run_sweep(_predict_task, [{"instance": i, "params": pj} for i in pj["instances"]],
                      executor=executor, progress=progress, desc=f"{NAME} predictions")  # fmt: skip
    pred_by = {x["instance"]: x for x in preds}
    for inst in p.instances:
        _add_separations(pred_by[inst.name], p.depths, inst.problem())
    tasks = []
    for inst, ij in zip(p.instances, pj["instances"], strict=True):
        pred = pred_by[inst.name]
        for d in p.depths:
            pts = {"volume": pred["volume"][d]["points"], **{h: pred[h]["points"] for h in RIVALS}}
            for sc in p.scales:
                tasks.append(dict(instance=ij, depth=d, scale=sc, seeds=list(range(p.n_seeds)), loss_tol=p.loss_tol,
                                  t_final=p.t_final, max_steps=p.max_steps, pred_points=pts,
                                  nuclear_face=_nuclear_face(pred)))  # fmt: skip
    cells = run_sweep(_flow_cell, tasks, executor=executor, progress=progress, desc=f"{NAME} flows")
    flows = [f for c in cells for f in c]
    spreads = [
        {"instance": i.name, "depth": d, "scale": sc, "spread": spread_of_limits(
            [f for f in flows if f["instance"] == i.name and f["depth"] == d and f["scale"] == sc])}
        for i in p.instances for d in p.depths for sc in p.scales
    ]  # fmt: skip
    return {
        "params": pj,
        "predictions": preds,
        "disagreement": {i.name: disagreement(pred_by[i.name], list(p.depths)) for i in p.instances},
        "flows": flows,
        "spreads": spreads,
        "decisions": _decide_cells(pred_by, flows, p),
    }


# --------------------------------------------------------------------------- summary rows


def claims(results: dict) -> list[Claim]:
    """One row per (instance, N, rival): "volume bias predicts the limit better than <rival>"."""
    out = []
    for row in results["decisions"]:
        claim = (
            f"volume bias predicts the limit better than {LABELS[row['rival']]} ({row['instance']}, N = {row['depth']})"
        )
        if not row["tested"]:
            out.append(Claim(claim, "observed", row["why"], "—", "not tested", n=0))
            continue
        if row["effect"] is None:
            measured = f"{row['reason']}; {row['n']} limits"
        else:
            lo, hi = row["ci"]
            measured = (
                f"volume nearer in {row['volume_nearer']}/{row['n']} seeds (rival {row['rival_nearer']}); sign test "
                f"p = {row['p_sign']:.2g}; median d(L,V) − d(L,rival) = {row['median_difference']:.3g} "
                f"[{lo:.3g}, {hi:.3g}]; effect {row['effect']:.2f}; separation {row['separation']:.3g}; median "
                f"d(L,V) = {row['median_d_volume']:.3g}, d(L,rival) = {row['median_d_rival']:.3g} (‖L‖_F "
                f"{row['median_norm']:.3g})"
            )
        if row["excluded"]:
            measured += f"; {row['excluded']} runs short of the loss target excluded"
        out.append(
            Claim(
                claim,
                "observed",
                measured,
                "volume nearer in most seeds (effect ≤ −0.1, sign test significant after Bonferroni)",
                row["claim_verdict"],
                n=row["n"],
                reference="Cohen, Menon & Veraszto 2023 (volume-bias proposal)",
            )
        )
    return out


def summary(results: dict) -> list[dict]:
    """The rows of :func:`claims` in the older dict form (holds: supported → yes, contradicted → no, else open)."""
    holds = {"supported": "yes", "contradicted": "no"}
    return [
        {"claim": c.claim, "measured": c.measured, "expected": c.expected, "holds": holds.get(c.verdict, "open")}
        for c in claims(results)
    ]


def figures(results: dict, outdir) -> list[str]:
    from riemdln.studies import implicit_bias_report

    return implicit_bias_report.figures(results, outdir)


def markdown(results: dict, figs: list[str]) -> str:
    from riemdln.studies import implicit_bias_report

    return implicit_bias_report.markdown(results, figs)
