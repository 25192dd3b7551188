"""The earlier solver of :func:`riemdln.geodesic_between`: root-shooting, damped Newton continuation along
paths, discrete path energy then shooting (kept only for ``benchmarks/bench_geometry.py``, which times it beside
the boundary-value solver in one run; nothing in riemdln calls it)."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from riemdln._validation import check_bool, check_integer
from riemdln.geometry import _metric as geometry
from riemdln.geometry._metric import conventions
from riemdln.geometry._spectral import segment_lengths
from riemdln.geometry.geodesics import (
    Array,
    GeodesicBetweenResult,
    _check_endpoints,
    _check_path,
    _check_positive,
    _closed_form,
    _finish,
    _log_path,
    _minimize_path,
    _Route,
    _Shooter,
    _shooter_for,
    _straight_length,
    _straight_path,
)

_NEWTON_ITERATIONS = 8  # Newton iterations per continuation target
_FIRST_STEP, _MIN_STEP = 0.125, 1e-3  # continuation steps, as fractions of the path's length
_STEP_TOL, _STEP_RTOL = 1e-5, 1e-8  # residual and integration tolerance at intermediate targets
_FINAL_RTOL = 1e-12  # integration tolerance of the last Newton solve (on X1)


def _newton(shot: _Shooter, target: Array, p: Array, rtol: float, tol: float) -> tuple[Array, float]:
    """Newton on X(1; X0, P) = target from the covector p (finite-difference Jacobian, damped); (p, residual).

    Each iteration integrates p and its d^2 perturbations as one stack; a step that does not lower the
    residual is halved (at most three times, :func:`_damped`).
    """
    size = shot.X0.size
    scale = np.linalg.norm(target)
    basis = np.eye(size).reshape(size, *shot.X0.shape)
    best, step = math.inf, np.zeros_like(p)
    for _ in range(_NEWTON_ITERATIONS):
        h = 1e-7 * max(float(np.linalg.norm(p)), 1e-300)
        ends = shot.ends(np.concatenate([p[None], p[None] + h * basis]), rtol)
        res = math.inf if ends is None else float(np.linalg.norm(ends[0] - target) / scale)
        if not math.isfinite(best) and not math.isfinite(res):  # the starting covector itself failed
            return p, math.inf
        if res >= best:  # the full step did not help: damp it
            p, res = _damped(shot, target, p - step, step, best, rtol)
            if res >= best:
                return p, best
            ends = shot.ends(np.concatenate([p[None], p[None] + h * basis]), rtol)
            if ends is None:
                return p, res
        best = res
        if best <= tol or ends is None:  # (ends is None only with best = inf, returned above)
            return p, best
        J = np.stack([(e - ends[0]).ravel() / h for e in ends[1:]], axis=1)
        step = np.linalg.lstsq(J, (target - ends[0]).ravel(), rcond=None)[0].reshape(shot.X0.shape)
        p = p + step
    return p, best


def _damped(shot: _Shooter, target: Array, p: Array, step: Array, best: float, rtol: float) -> tuple[Array, float]:
    """p + step/2^k, k = 1..3, the first that lowers the residual below ``best``; else (p, inf)."""
    for k in range(1, 4):
        res = shot.residual(p + step / 2**k, target, rtol)
        if res < best:
            return p + step / 2**k, res
    return p, math.inf


def _first_covector(shot: _Shooter, path: Array) -> Array:
    r"""The straight-line covector :math:`A_N(X_0)^{-1}(X_k - X_0)` towards the first sample that differs from X0."""
    moved = np.flatnonzero(np.any(path[1:] != shot.X0, axis=(-1, -2)))
    nxt = path[1 + moved[0]] if moved.size else path[-1]
    return geometry._apply_A_inverse(shot.X0, nxt - shot.X0, shot.depth, shot.normalized)


def _continue_along(shot: _Shooter, path: Array, tol: float) -> tuple[Array, float, int, float]:
    """Shooting by continuation along ``path`` (n_samples, m, n); (covector, residual, targets reached, chord length).

    Targets are path samples at fractions u of its chord length: step 1/8, halved on failure (down to 1e-3),
    grown by 3/2 on success, each solved by :func:`_newton` (integration rtol 1e-8, residual 1e-5) from the
    secant extrapolation of the last two covectors; the last one (X1) with rtol 1e-12 and residual ``tol``.
    """
    arc = np.concatenate([[0.0], np.cumsum(segment_lengths(path[:-1], path[1:], shot.depth, shot.normalized))])
    done: list[tuple[float, NDArray[np.float64]]] = []
    u, step = 0.0, _FIRST_STEP
    p = _first_covector(shot, path)
    while u < 1.0 and step > _MIN_STEP and arc[-1] > 0:
        v = min(1.0, u + step)
        target = path[int(np.searchsorted(arc, v * arc[-1]))]
        guess = (
            p
            if len(done) < 2
            else done[-1][1] + (done[-1][1] - done[-2][1]) * (v - done[-1][0]) / (done[-1][0] - done[-2][0])
        )
        q, res = _newton(shot, target, guess, _STEP_RTOL, _STEP_TOL)
        if res <= _STEP_TOL:
            u, p, step = v, q, step * 1.5
            done.append((u, p))
        else:
            step /= 2
    p, res = _newton(shot, path[-1], p, _FINAL_RTOL, tol) if u >= 1.0 or arc[-1] == 0 else (p, math.inf)
    return p, res, len(done), float(arc[-1])


def _shoot_root(X0, X1, depth, normalized, tol, max_iterations, max_nfev, upper):
    """Shooting with scipy.optimize.root from the straight-line covector, then the 4-step straight continuation."""
    from scipy.optimize import root

    size = X0.size
    scale = max(np.linalg.norm(X1), 1e-300)
    shot = _shooter_for(X0, np.stack([X0, X1]), depth, normalized, max_nfev)

    def endpoint(p, target):
        ends = shot.ends(p.reshape(1, *X0.shape), 1e-12)
        if ends is None:  # left the box around the endpoints, or ran past max_nfev
            return np.full(size, 1e3)
        return (ends[0] - target).ravel() / scale

    def shoot(P_start, target):
        sol = root(endpoint, P_start, args=(target,), method="hybr", options={"maxfev": max_iterations, "xtol": 1e-13})
        return sol.x, float(np.linalg.norm(endpoint(sol.x, target)))

    P_init = geometry._apply_A_inverse(X0, X1 - X0, depth, normalized).ravel()
    p, residual = shoot(P_init, X1)
    method = "shooting"
    if residual > tol and math.isfinite(upper):
        # continuation along the straight segment (full rank): shoot to X0 + k/K (X1 - X0), k = 1..K
        method = "shooting (continuation)"
        p = P_init / 4
        for k in range(1, 5):
            p, residual = shoot(p * k / max(k - 1, 1) if k > 1 else p, X0 + k / 4 * (X1 - X0))
            if residual > tol:
                break
    return _Route(method, p.reshape(X0.shape), residual, shot.calls)


def _route_along(
    X0: Array, sample: Array, depth: float, normalized: bool, tol: float, max_nfev: int, method: str
) -> _Route:
    """Continuation along the sampled path ``sample`` as a :class:`_Route`."""
    shot = _shooter_for(X0, sample, depth, normalized, max_nfev)
    p, residual, steps, length = _continue_along(shot, sample, tol)
    return _Route(method, p, residual, shot.calls, steps, length)


_DISCRETE_SEGMENTS = 16  # segments of the discrete path energy minimized when root-shooting fails


def _discrete_route(X0: Array, X1: Array, depth: float, normalized: bool, tol: float, max_nfev: int) -> _Route:
    r"""Minimize the discrete path energy (:math:`K` = 16, from the straight segment, or the log path where the
    segment leaves the full-rank set), then shoot from its initial covector
    :math:`A_N(X_0)^{-1} K (X^{(1)} - X_0)`; if that Newton solve fails, continue along the minimized path."""
    K = _DISCRETE_SEGMENTS
    start = _straight_path(X0, X1, K + 1)
    start = _log_path(X0, X1, K + 1) if start is None else start
    name = "discrete path energy, then shooting"
    if start is None:
        return _Route(name + " (no full-rank starting path)", np.zeros_like(X0), math.inf, 0)
    path, energy_length, _ok, _res = _minimize_path(start, X0, X1, depth, normalized, 2000)
    if not math.isfinite(energy_length):
        return _Route(name + " (the minimization left the full-rank set)", np.zeros_like(X0), math.inf, 0)
    shot = _shooter_for(X0, path, depth, normalized, max_nfev)
    guess = geometry._apply_A_inverse(X0, K * (path[1] - X0), depth, normalized)
    p, residual = _newton(shot, X1, guess, _FINAL_RTOL, tol)
    if residual <= tol:
        return _Route(name, p, residual, shot.calls)
    p, residual, steps, length = _continue_along(shot, path, tol)
    return _Route("continuation along the discrete path", p, residual, shot.calls, steps, length)


def _fallbacks(
    X0: Array, X1: Array, depth: float, normalized: bool, tol: float, max_nfev: int, tried: list[_Route]
) -> _Route:
    """Continuation along the straight segment (if full rank), then along the log path; the first that converges."""
    candidates = (
        ("continuation along the straight segment", lambda: _straight_path(X0, X1)),
        ("continuation along the log path", lambda: _log_path(X0, X1)),
    )
    for method, make in candidates:
        sample = make()
        if sample is None:
            continue
        route = _route_along(X0, sample, depth, normalized, tol, max_nfev, method)
        if route.residual <= tol:
            return route
        tried.append(route)
    return tried.pop()


def shooting_geodesic_between(X0, X1, depth, normalized=False, *, tol=1e-11, max_iterations=60, max_nfev=20_000,
                              path=None, closed_form=True) -> GeodesicBetweenResult:  # fmt: skip
    """The earlier geodesic_between (same arguments and result)."""
    depth, normalized = conventions(depth, normalized)
    X0, X1, depth, normalized = _check_endpoints(X0, X1, depth, normalized)
    tol = _check_positive(tol, "tol")
    max_iterations = check_integer(max_iterations, "max_iterations", low=1)
    max_nfev = check_integer(max_nfev, "max_nfev", low=1)
    closed_form = check_bool(closed_form, "closed_form")
    upper = _straight_length(X0, X1, depth, normalized) if _straight_path(X0, X1) is not None else math.inf
    if path is not None:
        sample = _check_path(path, X0, X1)
        route = _route_along(X0, sample, depth, normalized, tol, max_nfev, "continuation along path")
        return _finish(X0, depth, normalized, tol, upper, route, [])
    closed = _closed_form(X0, X1, depth, normalized, tol, upper) if closed_form else None
    if closed is not None:
        return closed
    route = _shoot_root(X0, X1, depth, normalized, tol, max_iterations, max_nfev, upper)
    tried: list[_Route] = []
    if route.residual > tol:
        tried.append(route)
        route = _discrete_route(X0, X1, depth, normalized, tol, max_nfev)
    if route.residual > tol:
        tried.append(route)
        route = _fallbacks(X0, X1, depth, normalized, tol, max_nfev, tried)
    return _finish(X0, depth, normalized, tol, upper, route, tried)
