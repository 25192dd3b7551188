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


# ---------------------------------------------------------------------------------------------
# curvature reference: G = A_N(X)^{-1} in the entries of X, from the eigenbases of X X^T and X^T X (the fractional
# powers (X X^T)^alpha = U diag(x^alpha) U^T), differentiated by fourth-order central differences in mpmath.
# Nothing here uses riemdln: no SVD frame, no divided differences, no Christoffel code.
_FD1 = ((-2, 1), (-1, -8), (1, 8), (2, -1))  # (offset, weight): f'(0) ~ sum w f(c h) / 12 h


def _mp_multiplier_def(x, z, N):
    """a_N(x, z): the defining sum for integer N; (x - z)/(x^(1/N) - z^(1/N)) in its exact sinh form otherwise."""
    import mpmath

    if x == 0 and z == 0:
        return mpmath.mpf(0)
    if N == int(N):
        n = int(N)
        return mpmath.fsum(x ** (mpmath.mpf(n - k) / n) * z ** (mpmath.mpf(k - 1) / n) for k in range(1, n + 1))
    if z == 0 or x == 0:
        return max(x, z) ** ((N - 1) / N)
    u, v = mpmath.log(x), mpmath.log(z)
    d = u - v
    shc = (lambda t: mpmath.sinh(t) / t) if d != 0 else (lambda t: mpmath.mpf(1))
    return N * mpmath.exp((u + v) * (N - 1) / (2 * N)) * shc(d / 2) / shc(d / (2 * N))


def mp_metric_entries(X, N, normalized=False, rank=None):
    """G[(a, b), (c, e)] = g_X(E_ab, E_ce) of g^N (N g^N if normalized) at the mpmath matrix X, as a list of lists.

    Eigenvalues of X X^T, X^T X below 10^(-dps/2) times the largest are exact zeros (the known rank)."""
    import mpmath

    m, n = X.rows, X.cols
    x, U = mpmath.eigsy(X * X.T)
    z, V = mpmath.eigsy(X.T * X)
    tiny = mpmath.mpf(10) ** (-mpmath.mp.dps // 2) * max(max(x), max(z))
    x = [t if t > tiny else mpmath.mpf(0) for t in x]
    z = [t if t > tiny else mpmath.mpf(0) for t in z]
    scale = N if normalized else 1
    G = [[mpmath.mpf(0)] * (m * n) for _ in range(m * n)]
    for p in range(m):
        for q in range(n):
            w = scale / _mp_multiplier_def(x[p], z[q], N)
            u = [U[a, p] * V[b, q] for a in range(m) for b in range(n)]
            for e in range(m * n):
                ue = w * u[e]
                row = G[e]
                for f in range(m * n):
                    row[f] += ue * u[f]
    return G


def mp_curvature(X, N, normalized=False, dirs=(), dps=50, step=1e-8):
    """Riemann tensor of G = A_N(X)^{-1} in raw coordinates by mpmath finite differences, contracted.

    Returns ``(scalar, [(K(U, V) or Ric(U, U)) for each item of dirs])``: an item (U, V) gives the sectional
    curvature, an item (U,) the Ricci curvature Ric(U, U). ``step`` is relative to the smallest singular value;
    fourth-order stencils, so the truncation error is O(step^4) and rounding O(10^-dps / step^2).
    R_ijkl = g(R(d_i, d_j) d_k, d_l) = 1/2 (G_jl,ik + G_ik,jl - G_jk,il - G_il,jk) + Gam_{m,jl} Gam^m_ik
    - Gam_{m,il} Gam^m_jk, Gam_{m,ij} = 1/2 (G_mj,i + G_mi,j - G_ij,m).
    """
    import mpmath

    X = np.asarray(X, dtype=float)
    m, n = X.shape
    D = m * n
    with mpmath.workdps(dps):
        Xm = mpmath.matrix(X.tolist())
        smin = min(np.linalg.svd(X, compute_uv=False))
        h = mpmath.mpf(step) * mpmath.mpf(float(smin))
        cache: dict = {}

        def G(shift):
            key = tuple(sorted((k, c) for k, c in shift.items() if c != 0))
            if key not in cache:
                Y = Xm.copy()
                for k, c in key:
                    Y[k // n, k % n] += c * h
                cache[key] = mp_metric_entries(Y, N, normalized)
            return cache[key]

        def comb(terms, scale):
            out = [[mpmath.mpf(0)] * D for _ in range(D)]
            for w, M in terms:
                for i in range(D):
                    for j in range(D):
                        out[i][j] += w * M[i][j]
            return [[v / scale for v in row] for row in out]

        G0 = G({})
        dG = [comb([(w, G({k: c})) for c, w in _FD1], 12 * h) for k in range(D)]
        H = [[None] * D for _ in range(D)]
        for k in range(D):
            for l in range(k, D):
                terms = []
                for c1, w1 in _FD1:
                    for c2, w2 in _FD1:
                        sh = {k: c1} if k != l else {k: c1 + c2}
                        if k != l:
                            sh[l] = c2
                        terms.append((w1 * w2, G(sh)))
                H[k][l] = H[l][k] = comb(terms, 144 * h * h)
        Gi = mpmath.matrix(G0) ** -1
        first = [
            [[(dG[i][mm][j] + dG[j][mm][i] - dG[mm][i][j]) / 2 for j in range(D)] for i in range(D)] for mm in range(D)
        ]
        second = [
            [[mpmath.fsum(Gi[mm, p] * first[p][i][j] for p in range(D)) for j in range(D)] for i in range(D)]
            for mm in range(D)
        ]

        def riem(i, j, k, l):
            out = (H[i][k][j][l] + H[j][l][i][k] - H[i][l][j][k] - H[j][k][i][l]) / 2
            return out + mpmath.fsum(
                first[mm][j][l] * second[mm][i][k] - first[mm][i][l] * second[mm][j][k] for mm in range(D)
            )

        R = [[[[riem(i, j, k, l) for l in range(D)] for k in range(D)] for j in range(D)] for i in range(D)]

        def g(a, b):
            return mpmath.fsum(G0[i][j] * a[i] * b[j] for i in range(D) for j in range(D))

        ric = [
            [mpmath.fsum(Gi[i, l] * R[i][j][k][l] for i in range(D) for l in range(D)) for k in range(D)]
            for j in range(D)
        ]
        scalar = mpmath.fsum(Gi[j, k] * ric[j][k] for j in range(D) for k in range(D))
        out = []
        for item in dirs:
            u = [mpmath.mpf(float(t)) for t in np.asarray(item[0], dtype=float).ravel()]
            if len(item) == 1:
                out.append(float(mpmath.fsum(ric[j][k] * u[j] * u[k] for j in range(D) for k in range(D))))
                continue
            v = [mpmath.mpf(float(t)) for t in np.asarray(item[1], dtype=float).ravel()]
            num = mpmath.fsum(
                R[i][j][k][l] * u[i] * v[j] * v[k] * u[l]
                for i in range(D)
                for j in range(D)
                for k in range(D)
                for l in range(D)
            )
            out.append(float(num / (g(u, u) * g(v, v) - g(u, v) ** 2)))
        return float(scalar), out
