r"""Gradient flow against the geodesic between its endpoints (helpers of the ``geodesics`` study, issue 13).

Normalized convention throughout (:math:`\hat g^N = N g^N`, flow :math:`dX/d\tau = -\hat A_N\nabla E`,
:math:`\hat A_N = A_N/N`, :math:`\hat A_\infty = A_\infty`): lengths and distances in :math:`g^N` are those of
:math:`\hat g^N` divided by :math:`\sqrt N`, and the flow's path does not depend on the convention, so every
ratio reported here is the same in both conventions; the normalized one is used because it has N = ∞.

* :func:`speed_length` — the flow path's length :math:`\int_0^T |\nabla E|_{\hat g}\,d\tau`,
  :math:`|\nabla E|^2_{\hat g} = \langle\nabla E, \hat A_N\nabla E\rangle` (for a gradient flow this is
  :math:`\int\sqrt{\hat g(\dot X, \dot X)}\,d\tau`), Simpson's rule on the flow's dense output.
* :func:`chord_length` — the same length from positions only: the sum of the :math:`\hat g`-lengths of the
  straight chords between consecutive samples (no time, no gradient: an independent route).
* :func:`shoot_along` — the geodesic from :math:`X_0` to :math:`X_1`, by shooting with continuation along the
  flow's own path (Newton with a finite-difference Jacobian; the straight-line start of
  :func:`riemdln.geodesic_between` fails from a small :math:`X_0`).
* :func:`deviation` — the largest distance from the flow samples to the geodesic, bounded above by the
  :math:`\hat g`-length of the straight segment to the nearest point of the sampled geodesic.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.integrate import solve_ivp

from riemdln import geometry
from riemdln.flows.result import Status
from riemdln.geodesics import _spectral

_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)


def start(seed: int, scale: float) -> np.ndarray:
    """``scale`` times a random unit 2×2 direction with det > 0 (reproducible from ``seed``)."""
    rng = np.random.default_rng([13, seed])
    while True:
        D = rng.standard_normal((2, 2))
        if np.linalg.det(D) > 0:
            return scale * D / np.linalg.norm(D)


def segment_lengths(A: np.ndarray, B: np.ndarray, depth: float) -> np.ndarray:
    r""":math:`\hat g^N`-lengths of the straight segments from ``A[k]`` to ``B[k]`` (16-point Gauss–Legendre).

    :math:`\int_0^1 \sqrt{\hat g_{A + u(B - A)}(B - A, B - A)}\,du`; ``inf`` where a segment meets the
    rank-deficient set (N > 1). Always :math:`\ge` the distance. Stacks of shape (..., d, d).

    >>> print(round(float(segment_lengths(np.eye(2), 4 * np.eye(2), 1.0)), 12))   # Euclidean: ‖3I‖_F
    4.242640687119
    """
    D = B - A
    X = A[None] + 0.5 * (_GL_X + 1.0).reshape(-1, *([1] * A.ndim)) * D[None]
    Q, s, Rt = np.linalg.svd(X)
    Dt = np.swapaxes(Q, -1, -2) @ D[None] @ np.swapaxes(Rt, -1, -2)
    M, _ = _spectral(s, depth, True) if depth > 1 else (np.ones_like(Dt), None)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.sqrt(np.sum(Dt * Dt / M, axis=(-1, -2)))
    speed = np.where(s[..., -1] > 0, speed, np.inf) if depth > 1 else speed
    return np.tensordot(0.5 * _GL_W, speed, axes=(0, 0))


def chord_length(X: np.ndarray, depth: float) -> float:
    """Length of a sampled path from positions only: the sum of the straight-chord lengths (``X``: (n, d, d))."""
    return float(np.sum(segment_lengths(X[:-1], X[1:], depth)))


def speed_length(problem, sol, t: np.ndarray, depth: float, panels: int = 2) -> tuple[float, np.ndarray, np.ndarray]:
    r"""Flow length :math:`\int |\nabla E|_{\hat g}\,d\tau` by composite Simpson on the flow's dense output ``sol``.

    Each step :math:`[t_k, t_{k+1}]` between the saved times ``t`` gets ``panels`` Simpson panels. Returns the
    length, the quadrature times and the matrices there (the path samples used elsewhere).
    """
    u = np.linspace(0.0, 1.0, 2 * panels + 1)[:-1]
    times = np.concatenate([(t[:-1, None] + np.diff(t)[:, None] * u[None]).ravel(), t[-1:]])
    X = np.array([sol(v).reshape(problem.shape) for v in times])
    G = np.array([problem.gradient(x) for x in X])
    speed = np.sqrt(np.maximum([np.sum(g * geometry.apply_A(x, g, depth, True)) for x, g in zip(X, G, strict=True)], 0))
    h = np.diff(times)[0::2]
    length = float(np.sum(h / 3.0 * (speed[0:-1:2] + 4.0 * speed[1::2] + speed[2::2])))
    return length, times, X


def _hamilton_stack(X, P, depth):
    r"""Hamilton's equations of :math:`\hat g^N` for a stack of (X, P), shape (B, d, d) each."""
    Q, s, Rt = np.linalg.svd(X)
    M, S = _spectral(s, depth, True)
    Qt, R = np.swapaxes(Q, -1, -2), np.swapaxes(Rt, -1, -2)
    Pt = Qt @ P @ R
    rows = np.einsum("bik,bjk->bijk", Pt, Pt) * s[:, None, :, None]
    cols = np.einsum("bki,bkj->bijk", Pt, Pt) * s[:, :, None, None]
    return Q @ (M * Pt) @ Rt, -(Q @ np.sum(S * (rows + cols), axis=-1) @ Rt)


def _endpoints(X0, P, depth, rtol, box, max_nfev=2500):
    r"""X(1) of the geodesics from X0 with the covectors ``P`` (B, d, d); None if one left ``box`` or ran long.

    ``box = (ratio, norm)``: stop when some :math:`s_{\min}/s_{\max}` falls below ``ratio`` or
    :math:`\|X\|_F` exceeds ``norm`` (an iterate heading there is a bad one; stopping early keeps it cheap).
    """
    B, d = P.shape[0], X0.shape[0]
    n = B * d * d
    count = [0]

    def rhs(_t, y):
        count[0] += 1
        if count[0] > max_nfev:
            raise OverflowError
        Xd, Pd = _hamilton_stack(y[:n].reshape(B, d, d), y[n:].reshape(B, d, d), depth)
        return np.concatenate([Xd.ravel(), Pd.ravel()])

    def collapse(_t, y):
        s = np.linalg.svd(y[:n].reshape(B, d, d), compute_uv=False)
        return min(float(np.min(s[:, -1] / s[:, 0])) - box[0], box[1] - float(np.max(s[:, 0])))

    collapse.terminal = True  # type: ignore[attr-defined]
    y0 = np.concatenate([np.broadcast_to(X0, P.shape).ravel(), P.ravel()])
    try:
        sol = solve_ivp(rhs, (0.0, 1.0), y0, method="DOP853", rtol=rtol, atol=rtol * 1e-1, events=collapse)
    except OverflowError:
        return None
    if sol.status != 0:
        return None
    return sol.y[:n, -1].reshape(B, d, d)


def _newton(X0, target, depth, p, rtol, tol, box, iterations=8):
    """Newton on X(1; X0, P) = target from the covector p (finite-difference Jacobian, damped); (p, residual).

    Each iteration integrates p and its four perturbations as one stack; a step that does not lower the
    residual is halved (at most three times) with single integrations.
    """
    d = X0.shape[0]
    scale = np.linalg.norm(target)
    basis = np.eye(d * d).reshape(d * d, d, d)
    best, ends, step = math.inf, None, np.zeros_like(p)
    for _ in range(iterations):
        h = 1e-7 * max(np.linalg.norm(p), 1e-300)
        ends = _endpoints(X0, np.concatenate([p[None], p[None] + h * basis]), depth, rtol, box)
        res = math.inf if ends is None else float(np.linalg.norm(ends[0] - target) / scale)
        if not math.isfinite(best) and not math.isfinite(res):  # the starting covector itself failed
            return p, math.inf
        if res >= best:  # the full step did not help: damp it
            p, res = _damped(X0, target, depth, p - step, step, best, rtol, box)
            if res >= best:
                return p - step, best
            ends = _endpoints(X0, np.concatenate([p[None], p[None] + h * basis]), depth, rtol, box)
            if ends is None:
                return p, res
        best = res
        if best <= tol:
            return p, best
        J = np.stack([(e - ends[0]).ravel() / h for e in ends[1:]], axis=1)
        step = np.linalg.lstsq(J, (target - ends[0]).ravel(), rcond=None)[0].reshape(d, d)
        p = p + step
    return p, best


def _damped(X0, target, depth, p, step, best, rtol, box):
    """p + step/2^k, k = 1..3, the first that lowers the residual below ``best``; (point, residual)."""
    scale = np.linalg.norm(target)
    for k in range(1, 4):
        trial = _endpoints(X0, (p + step / 2**k)[None], depth, rtol, box)
        res = math.inf if trial is None else float(np.linalg.norm(trial[0] - target) / scale)
        if res < best:
            return p + step / 2**k, res
    return p, math.inf


def shoot_along(X0: np.ndarray, path: np.ndarray, depth: float, tol: float = 1e-11) -> dict:
    r"""The :math:`\hat g^N` geodesic from ``path[0]`` = X0 to ``path[-1]``, by continuation along ``path``.

    Shooting for the covector :math:`P_0` with :math:`X(1; X_0, P_0)` equal to points of ``path`` farther and
    farther along (fractions of its index: step 1/4, halved on failure, grown by 3/2 on success; the
    next covector predicted by secant extrapolation), Newton at each (``rtol`` 1e-9 on the way, 1e-12 and
    residual ``tol`` at the end). Returns ``status`` (FINISHED or FAILED), ``covector``, ``velocity``
    (:math:`\hat A_N(X_0) P_0`), ``length`` (:math:`\sqrt{\langle P_0, \hat A_N P_0\rangle}`), ``residual``,
    ``targets`` (continuation steps taken). A geodesic, not necessarily the shortest one.
    """
    arc = np.concatenate([[0.0], np.cumsum(segment_lengths(path[:-1], path[1:], depth))])
    s = np.linalg.svd(path, compute_uv=False)
    box = (1e-3 * float(np.min(s[:, -1] / s[:, 0])), 10.0 * float(np.max(s[:, 0])))
    done: list[tuple[float, np.ndarray]] = []
    u, step = 0.0, 0.125
    p = geometry.apply_A_inverse(X0, path[1] - X0, depth, True)
    while u < 1.0 and step > 1e-3:
        v = min(1.0, u + step)
        target = path[int(np.searchsorted(arc, v * arc[-1]))]
        guess = (
            p
            if len(done) < 2
            else done[-1][1] + (done[-1][1] - done[-2][1]) * (v - done[-1][0]) / (done[-1][0] - done[-2][0])
        )
        q, res = _newton(X0, target, depth, guess, 1e-8, 1e-5, box)
        if res <= 1e-5:
            u, p, step = v, q, step * 1.5
            done.append((u, p))
        else:
            step /= 2
    p, res = _newton(X0, path[-1], depth, p, 1e-12, tol, box) if u >= 1.0 else (p, math.inf)
    V0 = geometry.apply_A(X0, p, depth, True)
    ok = res <= tol
    return {
        "status": (Status.FINISHED if ok else Status.FAILED).name,
        "covector": p,
        "velocity": V0,
        "length": math.sqrt(max(float(np.sum(p * V0)), 0.0)) if ok else None,
        "residual": res,
        "targets": len(done),
    }


def deviation(flow: np.ndarray, geo: np.ndarray, depth: float) -> np.ndarray:
    r"""For each flow sample, an upper bound on its :math:`\hat g`-distance to the sampled geodesic ``geo``.

    The nearest geodesic sample in the local metric at the flow point, and the local-metric projections
    onto the two polyline pieces beside it, are the candidates; the bound is the smallest
    :func:`segment_lengths` (straight segment, :math:`\ge` the distance) from the flow point to a candidate.
    """
    Q, s, Rt = np.linalg.svd(flow)
    M, _ = _spectral(s, depth, True) if depth > 1 else (np.ones((len(flow), 2, 2)), None)

    def local(Z):  # local squared norms of Z (n, m, d, d) at the flow points
        Zt = np.swapaxes(Q, -1, -2)[:, None] @ Z @ np.swapaxes(Rt, -1, -2)[:, None]
        return np.sum(Zt * Zt / M[:, None], axis=(-1, -2))

    diff = geo[None] - flow[:, None]
    j = np.argmin(local(diff), axis=1)
    cands = [geo[j]]
    for k in (np.maximum(j - 1, 0), np.minimum(j + 1, len(geo) - 1)):
        e, a = geo[k] - geo[j], geo[j] - flow
        num = -np.sum(_local_pair(Q, Rt, M, a, e), axis=(-1, -2))
        den = np.maximum(np.sum(_local_pair(Q, Rt, M, e, e), axis=(-1, -2)), 1e-300)
        cands.append(geo[j] + np.clip(num / den, 0.0, 1.0)[:, None, None] * e)
    return np.min([segment_lengths(flow, c, depth) for c in cands], axis=0)


def _local_pair(Q, Rt, M, A, B):
    """Entrywise products of A and B in the SVD frames of the flow points, divided by the multiplier."""
    Qt, R = np.swapaxes(Q, -1, -2), np.swapaxes(Rt, -1, -2)
    return (Qt @ A @ R) * (Qt @ B @ R) / M


def compare(seed: int, depth: str, scale: float, target_loss: float, geodesic_samples: int = 257) -> dict:
    r"""One run record: the normalized flow on menon-2x2 from :func:`start` until the loss is below
    ``target_loss``, against the :math:`\hat g^N` geodesic between its endpoints.

    Fields: ``flow_length`` (:func:`speed_length`), ``chord_length`` (:func:`chord_length`, the independent
    route), ``distance`` (length of the geodesic found, ``None`` if the search failed), ``geodesic_status``,
    ``residual`` (:math:`\|X_{geo}(1) - X_1\|_F/\|X_1\|_F` of :func:`riemdln.geodesic` from the velocity found),
    ``ratio`` = flow_length / distance (1 iff the flow path is a geodesic), ``max_gap`` (the largest
    :func:`deviation` over the flow samples, relative to ``distance``), ``s_flow`` and ``s_geodesic`` (singular
    values along both paths, for the figure).
    """
    import riemdln
    from riemdln import CompletionProblem, end_to_end_flow
    from riemdln.flows import loss_below
    from riemdln.studies import depth_value, run_record

    problem, N = CompletionProblem.named("menon-2x2"), depth_value(depth)
    X0 = start(seed, scale)
    res = end_to_end_flow(problem, X0, N, 1e9, normalized=True, events=loss_below(target_loss), progress=False,
                          dense_output=True)  # fmt: skip
    fields = dict(seed=seed, depth=depth, scale=scale, t_end=float(res.t[-1]))
    record = run_record(status=res.status.name, final_loss=float(res["loss"][-1]), target_loss=target_loss, **fields)
    if not record["reached_target"] or res.sol is None:
        return {**record, "geodesic_status": "NOT RUN", "distance": None, "ratio": None, "max_gap": None}
    length, _times, X = speed_length(problem, res.sol, res.t, N)
    shot = shoot_along(X0, X, N)
    out = {**record, "flow_length": length, "chord_length": chord_length(X, N), "targets": shot["targets"]}
    out["s_flow"] = np.linalg.svd(X[:: max(1, len(X) // 200)], compute_uv=False).tolist()
    if shot["status"] != "FINISHED":
        return {**out, "geodesic_status": shot["status"], "distance": None, "ratio": None, "max_gap": None}
    geo = riemdln.geodesic(X0, shot["velocity"], N, np.linspace(0.0, 1.0, geodesic_samples), normalized=True)
    residual = float(np.linalg.norm(geo.X[-1] - X[-1]) / np.linalg.norm(X[-1])) if geo.success else math.inf
    ok = geo.success and residual <= 1e-9
    dist = shot["length"]
    return {
        **out,
        "geodesic_status": "FINISHED" if ok else "FAILED",
        "residual": residual,
        "energy_drift": geo.energy_drift,
        "distance": dist if ok else None,
        "ratio": length / dist if ok else None,
        "max_gap": float(np.max(deviation(X, geo.X, N))) / dist if ok else None,
        "s_geodesic": np.linalg.svd(geo.X, compute_uv=False).tolist() if ok else None,
    }
