r"""Gradient flow against the geodesic between its endpoints (helpers of the ``geodesics`` study).

Normalized convention throughout (:math:`\hat g^N = N g^N`, flow :math:`dX/d\tau = -\hat A_N\nabla E`,
:math:`\hat A_N = A_N/N`, :math:`\hat A_\infty = A_\infty`): lengths and distances in :math:`g^N` are those of
:math:`\hat g^N` divided by :math:`\sqrt N`, and the flow's path does not depend on the convention, so every
ratio reported here is the same in both conventions; the normalized one is used because it has N = ∞.

* :func:`speed_length` — the flow path's length :math:`\int_0^T |\nabla E|_{\hat g}\,d\tau`,
  :math:`|\nabla E|^2_{\hat g} = \langle\nabla E, \hat A_N\nabla E\rangle` (for a gradient flow this is
  :math:`\int\sqrt{\hat g(\dot X, \dot X)}\,d\tau`), Simpson's rule on the flow's dense output.
* :func:`chord_length` — the same length from positions only: the sum of the :math:`\hat g`-lengths of the
  straight chords between consecutive samples (no time, no gradient: an independent route).
* :func:`shoot_along` — the geodesic from :math:`X_0` to :math:`X_1`, by :func:`riemdln.geodesic_between`
  with the flow's own path as the boundary-value solver's initial guess (``path=``).
* :func:`deviation` — the largest distance from the flow samples to the geodesic, bounded above by the
  :math:`\hat g`-length of the straight segment to the nearest point of the sampled geodesic.
"""

from __future__ import annotations

import math

import numpy as np

from riemdln import geometry
from riemdln.geometry import _spectral
from riemdln.geometry.geodesics import geodesic_between


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
    return _spectral.segment_lengths(A, B, depth, True)


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


def shoot_along(X0: np.ndarray, path: np.ndarray, depth: float, tol: float = 1e-11) -> dict:
    r"""The :math:`\hat g^N` geodesic from ``path[0]`` = X0 to ``path[-1]``, from ``path`` as the initial guess.

    A thin wrapper of :func:`riemdln.geodesic_between` with ``path`` (normalized) returning the record's fields:
    ``status`` (FINISHED or FAILED), ``velocity`` (:math:`\hat A_N(X_0) P_0`), ``length`` (``None`` on failure),
    ``residual``, ``targets`` (0: the boundary-value solver takes no continuation steps; kept for the record's
    layout). A geodesic, not necessarily the shortest one.
    """
    res = geodesic_between(X0, path[-1], depth, normalized=True, tol=tol, path=path)
    return {
        "status": res.status.name,
        "velocity": res.velocity,
        "length": res.length if res.success else None,
        "residual": res.residual,
        "targets": res.continuation_steps,
    }


def deviation(flow: np.ndarray, geo: np.ndarray, depth: float) -> np.ndarray:
    r"""For each flow sample, an upper bound on its :math:`\hat g`-distance to the sampled geodesic ``geo``.

    The nearest geodesic sample in the local metric at the flow point, and the local-metric projections
    onto the two polyline pieces beside it, are the candidates; the bound is the smallest
    :func:`segment_lengths` (straight segment, :math:`\ge` the distance) from the flow point to a candidate.
    """
    Q, s, Rt = np.linalg.svd(flow)
    M, _ = _spectral.spectral(s, depth, True) if depth > 1 else (np.ones((len(flow), 2, 2)), None)

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
