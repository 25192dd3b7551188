"""The spectral pieces shared by the geodesic, curvature and study code (package-internal API).

At singular values :math:`s` (stacks allowed), with :math:`x = s^2` zero-padded to the side lengths: the
multiplier :math:`a(x_i, z_j)` and its divided differences on each side (:func:`spectral_sides`, see
:mod:`riemdln.geometry.geodesics`), and the Riemannian lengths of straight segments (:func:`segment_lengths`).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from riemdln.geometry._metric import unchecked_multiplier, unchecked_multiplier_slope

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
    SL = unchecked_multiplier_slope(
        x[..., :, None, None], x[..., None, :, None], z[..., None, None, :], depth, normalized
    )
    if m == n:
        return M, SL, SL
    SR = unchecked_multiplier_slope(
        z[..., :, None, None], z[..., None, :, None], x[..., None, None, :], depth, normalized
    )
    return M, SL, SR


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
