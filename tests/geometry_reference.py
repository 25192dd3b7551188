"""Brute-force references for the geometry tests, written from the definitions (docs/theory.md §2, §3, §6, §7).

Nothing here calls riemdln: fractional matrix powers come from numpy's eigh of the PSD matrices, the
infinite-depth operator from Gauss–Legendre quadrature of its integral, the multiplier from its defining
sum, and the SVD Jacobian from finite differences of the parametrization.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg import expm

# eigenvalues of a PSD matrix below this fraction of the largest are zeros (rank-deficient X)
ZERO_EIG = 1e-10


def random_orthogonal(rng: np.random.Generator, d: int) -> np.ndarray:
    q, r = np.linalg.qr(rng.standard_normal((d, d)))
    return q * np.sign(np.diag(r))


def matrix_with_singular_values(rng, m: int, n: int, s) -> np.ndarray:
    """U diag(s) V^T with Haar-random U (m×m), V (n×n); len(s) <= min(m, n), the rest zero."""
    S = np.zeros((m, n))
    S[np.arange(len(s)), np.arange(len(s))] = s
    return random_orthogonal(rng, m) @ S @ random_orthogonal(rng, n).T


def psd_power(P: np.ndarray, alpha: float) -> np.ndarray:
    """P^alpha for symmetric PSD P by eigh, with 0^0 = 1 (alpha = 0 gives the identity)."""
    if alpha == 0:
        return np.eye(P.shape[0])
    lam, V = np.linalg.eigh(P)
    lam = np.where(lam > ZERO_EIG * max(lam.max(), 0.0), lam, 0.0)
    return (V * lam**alpha) @ V.T


def apply_A_sum(X: np.ndarray, Z: np.ndarray, N: int) -> np.ndarray:
    """A_N(X) Z = sum_{k=1}^N (X X^T)^{(N-k)/N} Z (X^T X)^{(k-1)/N} (integer N), raw."""
    P, Q = X @ X.T, X.T @ X
    return sum(psd_power(P, (N - k) / N) @ Z @ psd_power(Q, (k - 1) / N) for k in range(1, N + 1))


def apply_A_quadrature(X: np.ndarray, Z: np.ndarray, nodes: int = 60) -> np.ndarray:
    """A_inf(X) Z = int_0^1 (X X^T)^{1-t} Z (X^T X)^t dt by Gauss–Legendre (nodes avoid t = 0, 1)."""
    t, w = np.polynomial.legendre.leggauss(nodes)
    t, w = (t + 1) / 2, w / 2
    P, Q = X @ X.T, X.T @ X
    return sum(wk * psd_power(P, 1 - tk) @ Z @ psd_power(Q, tk) for tk, wk in zip(t, w, strict=True))


def reference_apply(X, Z, N, normalized: bool):
    if math.isinf(N):
        return apply_A_quadrature(X, Z)
    out = apply_A_sum(X, Z, int(N))
    return out / N if normalized else out


def operator_matrix(apply, shape) -> np.ndarray:
    """The (mn)×(mn) matrix of a linear map on m×n matrices (row-major vec), column by column."""
    m, n = shape
    cols = []
    for k in range(m * n):
        E = np.zeros(m * n)
        E[k] = 1.0
        cols.append(apply(E.reshape(m, n)).ravel())
    return np.array(cols).T


def multiplier_sum(x, y, N):
    """a_N(x, y) by the defining sum (integer N, 0^0 = 1); normalized by N is up to the caller."""
    x, y = float(x), float(y)

    def pw(b, e):
        return 1.0 if e == 0 else b ** (e / N)

    return sum(pw(x, N - k) * pw(y, k - 1) for k in range(1, N + 1))


def logmean_quotient(x, y):
    """(x - y)/(log x - log y), L(x, x) = x, L(x, 0) = 0 (use on well-separated or equal arguments)."""
    x, y = float(x), float(y)
    if x == 0 or y == 0:
        return 0.0
    if x == y:
        return x
    return (x - y) / (math.log(x) - math.log(y))


def reference_multiplier(x, y, N, normalized: bool):
    if math.isinf(N):
        return logmean_quotient(x, y)
    a = multiplier_sum(x, y, int(N))
    return a / N if normalized else a


def so_basis(d: int, scale: float = 1.0) -> list[np.ndarray]:
    """Basis E_ij - E_ji (i < j) of so(d), times ``scale``."""
    out = []
    for i in range(d):
        for j in range(i + 1, d):
            B = np.zeros((d, d))
            B[i, j], B[j, i] = -scale, scale
            out.append(B)
    return out


def skew(coeffs, d: int) -> np.ndarray:
    return sum((c * B for c, B in zip(coeffs, so_basis(d), strict=True)), np.zeros((d, d)))


def svd_jacobian_fd(s, rng, h: float = 1e-5) -> float:
    """|det| of the Jacobian of (s, w, t) -> U0 expm(Omega(w)) diag(s) expm(Theta(t))^T V0^T at w = t = 0.

    Central differences (error O(h^2)); U0, V0 random orthogonal (the determinant does not depend on them).
    """
    s = np.asarray(s, dtype=float)
    d = len(s)
    k = d * (d - 1) // 2
    U0, V0 = random_orthogonal(rng, d), random_orthogonal(rng, d)

    def f(p):
        ss, w, t = p[:d], p[d : d + k], p[d + k :]
        return (U0 @ expm(skew(w, d)) @ np.diag(ss) @ expm(skew(t, d)).T @ V0.T).ravel()

    p0 = np.concatenate([s, np.zeros(2 * k)])
    J = np.empty((d * d, d + 2 * k))
    for a in range(d + 2 * k):
        e = np.zeros_like(p0)
        e[a] = h
        J[:, a] = (f(p0 + e) - f(p0 - e)) / (2 * h)
    return abs(np.linalg.det(J))
