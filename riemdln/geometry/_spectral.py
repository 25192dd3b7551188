"""The spectral pieces shared by the geodesic, curvature and study code (package-internal API).

At singular values :math:`s` (stacks allowed), with :math:`x = s^2` zero-padded to the side lengths: the
multiplier :math:`a(x_i, z_j)` and its divided differences on each side (:func:`spectral_sides`, see
:mod:`riemdln.geometry.geodesics`), and the Riemannian lengths of straight segments (:func:`segment_lengths`).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from riemdln.geometry._metric import _SLOPE_CLOSE as SLOPE_CLOSE
from riemdln.geometry._metric import (
    log_multiplier_log_derivative,
    unchecked_multiplier,
    unchecked_multiplier_slope,
)
from riemdln.symbolic import kernels

_GL16_NODES, _GL16_WEIGHTS = np.polynomial.legendre.leggauss(16)


def pad(v, size):
    """v (..., k) padded by zeros to (..., size); v itself when k == size."""
    if v.shape[-1] == size:
        return v
    out = np.zeros((*v.shape[:-1], size))
    out[..., : v.shape[-1]] = v
    return out


def spectral(s, depth, normalized):
    """Square shapes: M[..., i, j] = a(x_i, x_j) and S[..., i, j, k] = (a(x_i, x_k) - a(x_j, x_k))/(x_i - x_j)."""
    M, S, _ = spectral_sides(s, (s.shape[-1], s.shape[-1]), depth, normalized)
    return M, S


def spectral_sides(s, shape, depth, normalized):
    r"""The multiplier and its divided differences on each side (module docstring), for m x n = ``shape``.

    ``M[..., i, j] = a(x_i, z_j)`` (m, n); ``SL[..., i, j, c] = (a(x_i, z_c) - a(x_j, z_c))/(x_i - x_j)``
    (m, m, n); ``SR[..., i, j, c] = (a(x_c, z_i) - a(x_c, z_j))/(z_i - z_j)`` (n, n, m); x, z = s^2 padded by
    zeros to lengths m, n. For square shapes SR is SL (the same array).
    """
    m, n = shape
    x = pad(s * s, m)
    z = x if m == n else pad(s * s, n)
    M = unchecked_multiplier(x[..., :, None], z[..., None, :], depth, normalized)
    SL = slopes(x, z, M, depth, normalized)
    if m == n:
        return M, SL, SL
    return M, SL, slopes(z, x, np.swapaxes(M, -1, -2), depth, normalized)


def slopes(x, z, M, depth, normalized):
    r"""``S[..., i, j, c] = (a(x_i, z_c) - a(x_j, z_c))/(x_i - x_j)`` from ``M[..., i, c] = a(x_i, z_c)``.

    The same values as :func:`~riemdln.geometry._metric.unchecked_multiplier_slope` on the broadcast grid, in
    a fraction of its operations (it is the hot path of every geodesic right-hand side): apart, the quotient
    of the entries of M; on the diagonal i = j, the partial derivative
    :math:`\partial_x a(x_i, z_c) = (a/x_i)\,\psi'(\log x_i - \log z_c)` (its close branch at h = 0); both
    zero (padding), 0; the few close off-diagonal pairs (:math:`|\log(x_i/x_j)| < 10^{-4}`) from
    ``unchecked_multiplier_slope`` itself.
    """
    m = x.shape[-1]
    dx = x[..., :, None] - x[..., None, :]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        out = (M[..., :, None, :] - M[..., None, :, :]) / np.where(dx == 0, 1.0, dx)[..., None]
        ux, uz = np.log(x), np.log(z)
        dpsi = log_derivative(ux[..., :, None] - uz[..., None, :], depth)
        diag = np.where(x[..., :, None] > 0, M / np.where(x > 0, x, 1.0)[..., :, None] * dpsi, 0.0)
        h = np.abs(ux[..., :, None] - ux[..., None, :])
    idx = np.arange(m)
    out[..., idx, idx, :] = diag
    close = (h < SLOPE_CLOSE) & ~np.eye(m, dtype=bool)
    if np.any(close):
        shape = out.shape
        where = np.broadcast_to(close[..., None], shape)
        xi = np.broadcast_to(x[..., :, None, None], shape)[where]
        xj = np.broadcast_to(x[..., None, :, None], shape)[where]
        zc = np.broadcast_to(z[..., None, None, :], shape)[where]
        out[where] = unchecked_multiplier_slope(xi, xj, zc, depth, normalized)
    return out


def log_derivative(delta, depth):
    r""":math:`\psi'(\delta)` of :func:`~riemdln.geometry._metric.log_multiplier_log_derivative` (the same
    formula), with both of its Langevin functions from one call (finite N)."""
    if math.isinf(depth):
        return log_multiplier_log_derivative(delta, depth)
    both = kernels.langevin_function(np.stack([0.5 * delta, 0.5 * delta / depth]))
    return (depth - 1.0) / (2.0 * depth) + 0.5 * both[0] - both[1] / (2.0 * depth)


def segment_lengths(
    A: NDArray[np.float64], B: NDArray[np.float64], depth: float, normalized: bool
) -> NDArray[np.float64]:
    r"""Lengths of the straight segments ``A[k]`` to ``B[k]``: :math:`\int_0^1 \sqrt{g_{A + u(B - A)}(B - A, B - A)}du`.

    16-point Gauss–Legendre; ``inf`` where a node is rank-deficient (N > 1); stacks of shape (..., m, n).
    """
    D = B - A
    X = A[None] + 0.5 * (_GL16_NODES + 1.0).reshape(-1, *([1] * A.ndim)) * D[None]
    Q, s, Rt = np.linalg.svd(X)
    Dt = np.swapaxes(Q, -1, -2) @ D[None] @ np.swapaxes(Rt, -1, -2)
    if depth > 1:
        m, n = A.shape[-2:]
        x = s * s
        M = unchecked_multiplier(pad(x, m)[..., :, None], pad(x, n)[..., None, :], depth, normalized)
    else:
        M = np.ones_like(Dt)
    with np.errstate(divide="ignore", invalid="ignore"):
        speed = np.sqrt(np.sum(Dt * Dt / M, axis=(-1, -2)))
    speed = np.where(s[..., -1] > 0, speed, np.inf) if depth > 1 else speed
    return np.tensordot(0.5 * _GL16_WEIGHTS, speed, axes=(0, 0))
