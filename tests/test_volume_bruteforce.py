"""Volume densities and fibre entropy against brute force (docs/theory.md §6, §7).

Truths computed here, never copied from the code under test:
* the SVD Jacobian by finite differences of (s, w, t) -> U0 expm(Omega) diag(s) expm(Theta)^T V0^T;
* det A_N from the explicit d^2×d^2 operator built by the fractional-power sum (A_inf by quadrature);
* the rank-r stratum density as sqrt(det Gram) of finite-difference tangent vectors in the metric;
* the fibre volume as c_d^{N-1} sqrt(det Gram) of the gauge orbit of a balanced tuple;
* c_d = vol O(d) by quadrature in explicit coordinates (d = 2, 3) and through quaternions (d = 4).
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from geometry_reference import (
    logmean_quotient,
    matrix_with_singular_values,
    operator_matrix,
    random_orthogonal,
    reference_apply,
    reference_multiplier,
    skew,
    so_basis,
    svd_jacobian_fd,
)
from scipy.integrate import quad
from scipy.linalg import expm

from riemdln import entropy, log_volume_density, orthogonal_group_volume, volume_density


def random_s(rng, d, lo=0.4, hi=3.0):
    """Distinct singular values, separated by at least 0.1 (so the FD Jacobian is well conditioned)."""
    while True:
        s = np.sort(rng.uniform(lo, hi, size=d))[::-1]
        if d == 1 or np.min(-np.diff(s)) > 0.1:
            return s


# ----------------------------------------------------------------------------- the SVD Jacobian


@pytest.mark.parametrize("d", [2, 3])
def test_svd_jacobian_by_finite_differences(rng, d):
    """|det D(s, w, t)| = prod_{i<j} |s_i^2 - s_j^2| (THEORY §6 Lebesgue measure), rel err <= 1e-8."""
    s = random_s(rng, d)
    expected = np.prod([abs(s[i] ** 2 - s[j] ** 2) for i in range(d) for j in range(i + 1, d)])
    assert svd_jacobian_fd(s, rng) == pytest.approx(expected, rel=1e-8)


# ----------------------------------------------------------------------------- log det of the operator


VOLUME_CASES = [(1, False), (2, False), (3, False), (5, False), (3, True), (50, True), (math.inf, True)]


@pytest.mark.parametrize("N,normalized", VOLUME_CASES, ids=lambda v: str(v))
@pytest.mark.parametrize("d", [2, 3])
def test_volume_density_vs_operator_logdet(rng, d, N, normalized):
    """vol density = |det A|^{-1/2} (Lebesgue) and |det A|^{-1/2} |det D(s,w,t)| (svd).

    A is the explicit d^2×d^2 operator of the fractional-power sum (quadrature at N = inf) at a random
    X with singular values s. Tolerances: lebesgue rel 1e-9, svd rel 1e-7 (finite-difference Jacobian).
    """
    s = random_s(rng, d)
    X = matrix_with_singular_values(rng, d, d, s)
    A = operator_matrix(lambda E: reference_apply(X, E, N, normalized), (d, d))
    sign, logdet = np.linalg.slogdet(A)
    assert sign > 0
    lebesgue = math.exp(-0.5 * logdet)
    assert volume_density(s, N, normalized, coords="lebesgue") == pytest.approx(lebesgue, rel=1e-9)
    svd = lebesgue * svd_jacobian_fd(s, rng)
    assert volume_density(s, N, normalized) == pytest.approx(svd, rel=1e-7)
    assert float(log_volume_density(s, N, normalized)) == pytest.approx(math.log(svd), abs=1e-7)


def test_theory_sample_values_from_definitions():
    """s = (2, 1): density = |4 - 1| / sqrt(prod_{ij} a(s_i^2, s_j^2)), a by its definition. rel 1e-13."""
    s = np.array([2.0, 1.0])
    x = s**2
    for N, normalized in [(1, False), (2, False), (math.inf, True)]:
        det = np.prod([reference_multiplier(a, b, N, normalized) for a in x for b in x])
        expected = abs(x[0] - x[1]) / math.sqrt(det)
        assert volume_density(s, N, normalized) == pytest.approx(expected, rel=1e-13)


# ----------------------------------------------------------------------------- coordinate identities


@pytest.mark.parametrize("N", [1, 2, 3, 5, 50, 1e4])
@pytest.mark.parametrize("d", [1, 2, 4])
def test_mu_coordinates(rng, d, N):
    """Change of variables s = mu^N: density_s * prod_i N mu_i^{N-1} = N^{d/2} prod_{i<j} |mu_i^2 - mu_j^2|.

    Right-hand side in mpmath (the mu-differences cancel at N = 1e4); rel err <= 1e-11.
    """
    s = random_s(rng, d)
    with mpmath.workdps(40):
        mu = [mpmath.mpf(float(v)) ** (1 / mpmath.mpf(N)) for v in s]
        rhs = mpmath.mpf(N) ** (mpmath.mpf(d) / 2)
        for i in range(d):
            for j in range(i + 1, d):
                rhs *= abs(mu[i] ** 2 - mu[j] ** 2)
        jac = mpmath.fprod(N * m ** (N - 1) for m in mu)
        lhs = mpmath.mpf(float(volume_density(s, N))) * jac
        assert float(abs(lhs - rhs) / rhs) <= 1e-11


@pytest.mark.parametrize("d", [1, 2, 3, 5])
def test_rho_coordinates_and_infinite_depth_product(rng, d):
    """N = inf: density = prod s_i^{-1} prod |log s_i^2 - log s_j^2|; with s = e^rho, ds = prod s_i drho,
    density * prod s_i = 2^{d(d-1)/2} prod |rho_i - rho_j|. rel err <= 1e-12."""
    s = random_s(rng, d)
    rho = np.log(s)
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    explicit = np.prod(1 / s) * np.prod([abs(2 * rho[i] - 2 * rho[j]) for i, j in pairs])
    got = volume_density(s, math.inf, normalized=True)
    assert got == pytest.approx(explicit, rel=1e-12)
    rho_density = 2 ** (d * (d - 1) / 2) * np.prod([abs(rho[i] - rho[j]) for i, j in pairs])
    assert got * np.prod(s) == pytest.approx(rho_density, rel=1e-12)


@pytest.mark.parametrize("N", [1, 2, 3.5, 50])
def test_normalized_scales_by_N_to_the_half_dimension(rng, N):
    """Normalized density = N^{d^2/2} raw density (d = 3): rel err <= 1e-12; lebesgue coords too."""
    s = random_s(rng, 3)
    for coords in ("svd", "lebesgue"):
        raw = volume_density(s, N, coords=coords)
        assert volume_density(s, N, True, coords=coords) == pytest.approx(N**4.5 * raw, rel=1e-12)


def test_normalized_density_converges_to_infinite_depth(rng):
    """log(vol_N/vol_inf) -> 0 at rate 1/N: <= 0.05 at N = 1e3, and ~10x smaller at N = 1e4."""
    s = random_s(rng, 3)
    target = float(log_volume_density(s, math.inf, normalized=True))
    errs = [abs(float(log_volume_density(s, N, normalized=True)) - target) for N in (1e3, 1e4)]
    assert errs[0] <= 0.05
    assert 5 <= errs[0] / errs[1] <= 20


# ----------------------------------------------------------------------------- log density beyond overflow


@pytest.mark.parametrize(
    "s,N,normalized",
    [
        ([1e-200, 2e-200, 3e-200], 50, False),
        ([1e-200, 2e-200, 3e-200], math.inf, True),
        ([1e200, 3e200], 7, False),
        ([1e-150, 1.0, 1e150], 2, False),
        ([1e-150, 1.0, 1e150], math.inf, True),
        ([5e-300, 1e-299], 3, True),
        ([1e-160, 1e160], 1e6, True),
        ([1e-160, 3e-160, 1e160], 1, False),
        ([1e-160, 1e160, 2e160], math.inf, True),
        ([1e-77, 1e77, 2e77], 1e3, False),
    ],
    ids=lambda v: str(v),
)
def test_log_volume_density_extreme_magnitudes(s, N, normalized):
    """log density from the definition in mpmath (multiplier by the defining quotient): abs err <= 1e-9.

    These magnitudes overflow or underflow the density (and s^2) in double precision.
    """
    with mpmath.workdps(50):
        sm = [mpmath.mpf(v) for v in s]
        x = [v**2 for v in sm]
        Nm = mpmath.mpf(N) if not math.isinf(N) else None

        def a(p, q):
            if Nm is None:
                return p if p == q else (p - q) / (mpmath.log(p) - mpmath.log(q))
            val = Nm * p ** ((Nm - 1) / Nm) if p == q else (p - q) / (p ** (1 / Nm) - q ** (1 / Nm))
            return val / Nm if normalized else val

        d = len(s)
        ref = sum(mpmath.log(abs(x[i] - x[j])) for i in range(d) for j in range(i + 1, d))
        ref -= sum(mpmath.log(a(p, q)) for p in x for q in x) / 2
    got = float(log_volume_density(s, N, normalized))
    assert abs(got - float(ref)) <= 1e-9 * max(1.0, abs(float(ref)))


# ----------------------------------------------------------------------------- the rank-r stratum


def stratum_density_gram(s, m, n, N, normalized, rng, h=1e-6):
    """sqrt(det Gram) of the coordinate tangent vectors of (s, w, K, t, L) -> U diag(s) V^T.

    U = Q0 expm([[Omega, -K^T], [K, 0]])[:, :r], V likewise, so dU = U0 Omega + U0perp K at 0; metric
    g(Z1, Z2) = sum Z1~ Z2~ / a(s~_i^2, s~_j^2) in the frame (Q0, R0), s~ = s padded by zeros, over the
    tangent blocks (the null-null block is checked to be O(h^2) and left out: a(0, 0) = 0 for N >= 2).
    """
    s = np.asarray(s, dtype=float)
    r = len(s)
    Q0, R0 = random_orthogonal(rng, m), random_orthogonal(rng, n)
    k = r * (r - 1) // 2
    sizes = [r, k, (m - r) * r, k, (n - r) * r]
    offsets = np.cumsum([0] + sizes)

    def frame(w, K, size):
        G = np.zeros((size, size))
        G[:r, :r] = skew(w, r)
        G[r:, :r] = K
        G[:r, r:] = -K.T
        return expm(G)[:, :r]

    def f(p):
        ss, w, K, t, L = (p[offsets[i] : offsets[i + 1]] for i in range(5))
        U = Q0 @ frame(w, K.reshape(m - r, r), m)
        V = R0 @ frame(t, L.reshape(n - r, r), n)
        return U @ np.diag(ss) @ V.T

    p0 = np.zeros(offsets[-1])
    p0[:r] = s
    tangents = []
    for a_ in range(offsets[-1]):
        e = np.zeros_like(p0)
        e[a_] = h
        tangents.append(Q0.T @ ((f(p0 + e) - f(p0 - e)) / (2 * h)) @ R0)
    tangents = np.array(tangents)
    if r < min(m, n):
        assert np.abs(tangents[:, r:, r:]).max() <= 1e-8 * np.abs(tangents).max()
    xs = np.concatenate([s**2, np.zeros(m - r)])
    ys = np.concatenate([s**2, np.zeros(n - r)])
    weight = np.zeros((m, n))
    for i in range(m):
        for j in range(n):
            if i < r or j < r:
                weight[i, j] = 1.0 / reference_multiplier(xs[i], ys[j], N, normalized)
    gram = np.einsum("aij,bij,ij->ab", tangents, tangents, weight)
    sign, logdet = np.linalg.slogdet(gram)
    assert sign > 0
    return math.exp(0.5 * logdet)


STRATA = [(3, 2, 1), (2, 3, 2), (4, 3, 2), (3, 3, 2), (3, 3, 3), (4, 4, 2), (2, 5, 1)]


@pytest.mark.parametrize("N,normalized", [(1, False), (2, False), (3, False), (5, False), (5, True), (50, True)])
@pytest.mark.parametrize("mnr", STRATA, ids=lambda t: "m{}n{}r{}".format(*t))
def test_rank_r_stratum_vs_gram_determinant(rng, mnr, N, normalized):
    """volume_density(s, shape=(m, n)) = sqrt(det Gram) (FD tangents, defining-sum metric). rel 1e-7."""
    m, n, r = mnr
    s = random_s(rng, r)
    expected = stratum_density_gram(s, m, n, N, normalized, rng)
    assert volume_density(s, N, normalized, shape=(m, n)) == pytest.approx(expected, rel=1e-7)
    if N == 1:
        euclid = np.prod([abs(s[i] ** 2 - s[j] ** 2) for i in range(r) for j in range(i + 1, r)])
        euclid *= np.prod(s ** (m + n - 2 * r))
        assert volume_density(s, 1, shape=(m, n)) == pytest.approx(euclid, rel=1e-12)


@pytest.mark.parametrize("d", [2, 3])
def test_stratum_full_rank_infinite_depth(rng, d):
    """shape=(d, d) at N = inf: the Gram determinant with multiplier L (rel 1e-7) equals the svd density."""
    s = random_s(rng, d)
    expected = stratum_density_gram(s, d, d, math.inf, True, rng)
    assert volume_density(s, math.inf, True, shape=(d, d)) == pytest.approx(expected, rel=1e-7)
    assert volume_density(s, math.inf, True) == pytest.approx(expected, rel=1e-7)


# ----------------------------------------------------------------------------- c_d = vol O(d)


def test_c2_by_quadrature():
    """c_2 = 2 * int_0^{2pi} |dR/dtheta|_F dtheta (two components; FD derivative): rel err <= 1e-9."""

    def R(t):
        return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])

    h = 1e-6
    length, _ = quad(lambda t: np.linalg.norm((R(t + h) - R(t - h)) / (2 * h)), 0, 2 * math.pi)
    assert orthogonal_group_volume(2) == pytest.approx(2 * length, rel=1e-9)


def test_c3_by_euler_angle_quadrature():
    """c_3 = 2 * int sqrt(det G) over ZYZ Euler angles, G_ab = <d_a R, d_b R>_F (FD), Gauss–Legendre.

    Rz(a) Ry(b) Rz(c), a, c in [0, 2pi), b in [0, pi] covers SO(3) once (up to measure zero). rel 1e-8.
    """

    def Rz(t):
        return np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])

    def Ry(t):
        return np.array([[math.cos(t), 0, math.sin(t)], [0, 1, 0], [-math.sin(t), 0, math.cos(t)]])

    def R(p):
        return Rz(p[0]) @ Ry(p[1]) @ Rz(p[2])

    def density(p):
        h = 1e-6
        D = []
        for k in range(3):
            e = np.zeros(3)
            e[k] = h
            D.append(((R(p + e) - R(p - e)) / (2 * h)).ravel())
        D = np.array(D)
        return math.sqrt(np.linalg.det(D @ D.T))

    def rule(n, lo, hi):
        t, w = np.polynomial.legendre.leggauss(n)
        return lo + (t + 1) * (hi - lo) / 2, w * (hi - lo) / 2

    (ta, wa), (tb, wb), (tc, wc) = rule(3, 0, 2 * math.pi), rule(24, 0, math.pi), rule(3, 0, 2 * math.pi)
    vol_so3 = sum(
        wa[i] * wb[j] * wc[k] * density(np.array([ta[i], tb[j], tc[k]]))
        for i in range(3)
        for j in range(24)
        for k in range(3)
    )
    assert orthogonal_group_volume(3) == pytest.approx(2 * vol_so3, rel=1e-8)


def test_c4_by_quaternions():
    """c_4 through SO(4) = (S^3 x S^3)/{+-1}, (p, q) -> (x -> p x q^-1) on the quaternions.

    The map is a group homomorphism, so its volume factor is the same everywhere: sqrt(det Gram) of the
    images (Frobenius) of the six unit tangent vectors at (1, 1), from explicit quaternion multiplication
    matrices. vol S^3 by quadrature in hyperspherical angles. c_4 = 2 * (1/2) * factor * (vol S^3)^2.
    """

    def left(p):  # matrix of x -> p x
        a, b, c, d = p
        return np.array([[a, -b, -c, -d], [b, a, -d, c], [c, d, a, -b], [d, -c, b, a]])

    def right(q):  # matrix of x -> x q
        a, b, c, d = q
        return np.array([[a, -b, -c, -d], [b, a, d, -c], [c, -d, a, b], [d, c, -b, a]])

    def hamilton(u, v):  # the quaternion product, from i^2 = j^2 = k^2 = ijk = -1
        a1, b1, c1, d1 = u
        a2, b2, c2, d2 = v
        return np.array(
            [
                a1 * a2 - b1 * b2 - c1 * c2 - d1 * d2,
                a1 * b2 + b1 * a2 + c1 * d2 - d1 * c2,
                a1 * c2 - b1 * d2 + c1 * a2 + d1 * b2,
                a1 * d2 + b1 * c2 - c1 * b2 + d1 * a2,
            ]
        )

    x, p, q = np.random.default_rng(8).standard_normal((3, 4))
    np.testing.assert_allclose(left(p) @ x, hamilton(p, x), atol=1e-12)
    np.testing.assert_allclose(right(q) @ x, hamilton(x, q), atol=1e-12)
    # tangent images: d/dt left(1 + t e) = left(e); d/dt right((1 + t e)^-1) = -right(e), e imaginary
    units = np.eye(4)[1:]
    tangents = [left(e).ravel() for e in units] + [-right(e).ravel() for e in units]
    T = np.array(tangents)
    factor = math.sqrt(np.linalg.det(T @ T.T))
    assert np.allclose(T @ T.T, 4 * np.eye(6))  # each image has Frobenius norm 2, all orthogonal
    vol_s3, _ = quad(lambda a: math.sin(a) ** 2, 0, math.pi)
    vol_s3 *= quad(math.sin, 0, math.pi)[0] * 2 * math.pi
    vol_so4 = 0.5 * factor * vol_s3**2  # the covering is two to one
    assert orthogonal_group_volume(4) == pytest.approx(2 * vol_so4, rel=1e-12)


def test_c1_is_two_points():
    """O(1) = {+1, -1}: counting measure, c_1 = 2 (exact)."""
    assert orthogonal_group_volume(1) == 2.0


# ----------------------------------------------------------------------------- fibre entropy


def balanced_tuple(s, N, rng):
    """W_1 = O_1 S^{1/N} R^T, W_p = O_p S^{1/N} O_{p-1}^T, W_N = Q S^{1/N} O_{N-1}^T (THEORY §1)."""
    d = len(s)
    Q, R = random_orthogonal(rng, d), random_orthogonal(rng, d)
    O = [R] + [random_orthogonal(rng, d) for _ in range(N - 1)] + [Q]
    S = np.diag(np.asarray(s) ** (1.0 / N))
    W = [O[p] @ S @ O[p - 1].T for p in range(1, N + 1)]
    return W, Q @ np.diag(s) @ R.T


def fibre_half_logdet_gram(s, N, rng) -> float:
    """½ log det Gram of the gauge orbit: xi_p in so(d) (basis (E_ij - E_ji)/sqrt2), p = 1..N-1, acts by
    dW_p = xi_p W_p, dW_{p+1} = -W_{p+1} xi_p; Gram in the Frobenius metric on (W_1, ..., W_N)."""
    d = len(s)
    W, X = balanced_tuple(s, N, rng)
    prod = np.eye(d)
    for Wp in W:
        prod = Wp @ prod
    assert np.allclose(prod, X, rtol=0, atol=1e-12 * np.abs(X).max())
    for p in range(N - 1):
        assert np.allclose(W[p + 1].T @ W[p + 1], W[p] @ W[p].T, rtol=0, atol=1e-12)
    basis = so_basis(d, 1 / math.sqrt(2))
    k = len(basis)
    vectors = np.zeros(((N - 1) * k, N, d, d))
    for p in range(N - 1):  # xi at gauge index p+1 (0-based factor index p is W_{p+1})
        for b, B in enumerate(basis):
            vectors[p * k + b, p] = B @ W[p]
            vectors[p * k + b, p + 1] = -W[p + 1] @ B
    V = vectors.reshape((N - 1) * k, -1)
    sign, logdet = np.linalg.slogdet(V @ V.T)
    assert sign > 0
    return 0.5 * logdet


@pytest.mark.parametrize("N", [2, 3, 4, 5, 6])
@pytest.mark.parametrize("d", [2, 3])
def test_entropy_vs_fibre_gram(rng, d, N):
    """S_N = (N-1) log c_d + ½ log det Gram; without the constant abs err <= 1e-10; with it, c_d as
    computed by quadrature above (checked separately) enters as (N-1) log c_d (abs 1e-10)."""
    s = random_s(rng, d)
    half_logdet = fibre_half_logdet_gram(s, N, rng)
    assert float(entropy(s, N, include_constant=False)) == pytest.approx(half_logdet, abs=1e-10)
    const = (N - 1) * math.log(orthogonal_group_volume(d))
    assert float(entropy(s, N)) == pytest.approx(const + half_logdet, abs=1e-10)
    normalized = half_logdet - d * (d - 1) / 4 * math.log(N)
    assert float(entropy(s, N, normalized=True)) == pytest.approx(normalized, abs=1e-10)


@pytest.mark.parametrize("d", [2, 3])
def test_entropy_large_N_asymptotics(rng, d):
    """Gram at N = 150: ½ log det Gram - d(d-1)/4 log N = ½ sum log[L (1 - log(xy)/(2N))] + O(N^-2).

    Against the brute-force Gram: abs err <= 50/N^2; and entropy(depth=inf, normalized) = ½ sum log L
    with L = (x - y)/(log x - log y): abs err <= 1e-14.
    """
    N = 150
    s = random_s(rng, d)
    x = s**2
    pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
    renormalized = fibre_half_logdet_gram(s, N, rng) - d * (d - 1) / 4 * math.log(N)
    limit = 0.5 * sum(math.log(logmean_quotient(x[i], x[j])) for i, j in pairs)
    first_order = limit + 0.5 * sum(math.log1p(-math.log(x[i] * x[j]) / (2 * N)) for i, j in pairs)
    assert abs(renormalized - first_order) <= 50 / N**2
    assert abs(float(entropy(s, math.inf, normalized=True)) - limit) <= 1e-14
    assert abs(float(entropy(s, N, normalized=True)) - renormalized) <= 1e-9


@pytest.mark.parametrize(
    "s,N,normalized",
    [
        ([1e-200, 2e-200], 3, False),
        ([1e-200, 1e200], 50, False),
        ([1e-200, 1e200], math.inf, True),
        ([0.0, 2.0, 5.0], 4, False),
        ([1e100, 1e120, 1e140], 1e6, True),
    ],
    ids=lambda v: str(v),
)
def test_entropy_extreme_magnitudes(s, N, normalized):
    """Entropy without constant = ½ sum_{i<j} log a(s_i^2, s_j^2), a by definition (mpmath): abs 1e-9."""
    with mpmath.workdps(50):
        x = [mpmath.mpf(v) ** 2 for v in s]
        total = mpmath.mpf(0)
        for i in range(len(s)):
            for j in range(i + 1, len(s)):
                p, q = x[i], x[j]
                if math.isinf(N):
                    a = (p - q) / (mpmath.log(p) - mpmath.log(q))
                elif p == 0 or q == 0:
                    a = max(p, q) ** ((mpmath.mpf(N) - 1) / N)
                else:
                    a = (p - q) / (p ** (1 / mpmath.mpf(N)) - q ** (1 / mpmath.mpf(N)))
                total += mpmath.log(a / N if normalized else a) / 2
    got = float(entropy(s, N, normalized=normalized, include_constant=False))
    assert abs(got - float(total)) <= 1e-9 * max(1.0, abs(float(total)))


def test_entropy_zero_singular_values():
    """a_N(0, 0) = 0 for N > 1, so two zero singular values give S = -inf; at N = 1 the fibre is a point."""
    assert entropy([0.0, 0.0, 1.0], 3, include_constant=False) == -np.inf
    assert entropy([0.0, 0.0, 1.0], 1) == 0.0


# ----------------------------------------------------------------------------- vectorization


def test_stacked_singular_values(rng, depth):
    """s of shape (k, d) gives k densities/entropies, each equal to the single-row call (rel 1e-14)."""
    normalized = math.isinf(depth)
    S = np.stack([random_s(rng, 3) for _ in range(4)])
    for f, kw in [
        (volume_density, {}),
        (volume_density, {"coords": "lebesgue"}),
        (log_volume_density, {}),
        (volume_density, {"shape": (3, 3) if normalized else (4, 5)}),
        (entropy, {}),
    ]:
        out = f(S, depth, normalized, **kw)
        assert out.shape == (4,)
        for row, value in zip(S, out, strict=True):
            assert value == pytest.approx(float(f(row, depth, normalized, **kw)), rel=1e-14, abs=1e-300)


@pytest.mark.parametrize("N", [1, 2, 3, 7.5, 50])
@pytest.mark.parametrize("mnr", [(2, 2, 2), (4, 5, 2), (3, 6, 1), (3, 3, 3)], ids=lambda t: "m{}n{}r{}".format(*t))
def test_theory_product_formulas(rng, mnr, N):
    """THEORY §6 product forms (checked against the Gram determinants above), rel 1e-12:
    N^{-r/2} prod_{i<j} |s_i^{2/N} - s_j^{2/N}| prod_i s_i^{(m+n-2r-N+1)/N}; for m = n = r also
    N^{-d/2} prod s_i^{-(N-1)/N} prod |s_i^{2/N} - s_j^{2/N}| with shape=None."""
    m, n, r = mnr
    s = random_s(rng, r)
    pairs = [(i, j) for i in range(r) for j in range(i + 1, r)]
    diff = np.prod([abs(s[i] ** (2 / N) - s[j] ** (2 / N)) for i, j in pairs])
    stratum = N ** (-r / 2) * diff * np.prod(s ** ((m + n - 2 * r - N + 1) / N))
    assert volume_density(s, N, shape=(m, n)) == pytest.approx(stratum, rel=1e-12)
    if m == n == r:
        square = N ** (-r / 2) * np.prod(s ** (-(N - 1) / N)) * diff
        assert volume_density(s, N) == pytest.approx(square, rel=1e-12)


# ----------------------------------------------------------------------------- d = 4


@pytest.mark.parametrize("N,normalized", [(2, False), (5, False), (50, True), (math.inf, True)], ids=str)
def test_volume_density_vs_operator_logdet_d4(rng, N, normalized):
    """d = 4 (16×16 operator, 16-parameter FD Jacobian): as the d = 2, 3 test; svd rel 1e-7."""
    s = random_s(rng, 4, lo=0.4, hi=4.0)
    X = matrix_with_singular_values(rng, 4, 4, s)
    A = operator_matrix(lambda E: reference_apply(X, E, N, normalized), (4, 4))
    sign, logdet = np.linalg.slogdet(A)
    assert sign > 0
    expected = math.exp(-0.5 * logdet) * svd_jacobian_fd(s, rng)
    assert volume_density(s, N, normalized) == pytest.approx(expected, rel=1e-7)


@pytest.mark.parametrize("N", [8, 12])
def test_entropy_vs_fibre_gram_d4(rng, N):
    """d = 4, N = 8, 12: entropy without constant = ½ log det Gram of the gauge orbit, abs 1e-9."""
    s = random_s(rng, 4, lo=0.4, hi=4.0)
    assert float(entropy(s, N, include_constant=False)) == pytest.approx(fibre_half_logdet_gram(s, N, rng), abs=1e-9)


@pytest.mark.parametrize(
    "s, N",
    [([1.0 + 1e-9, 1.0], 3.0), ([2.0 + 2e-12, 2.0, 0.5], 7.5), ([1e-3 * (1 + 1e-10), 1e-3], 2.0)],
    ids=lambda v: str(v),
)
def test_volume_density_near_coincident_values_to_full_precision(s, N):
    """Near-coincident singular values: relative error <= 1e-13 against the product formula in mpmath (50
    digits). The same formula in float64 loses digits to the cancellation in s_i^(2/N) - s_j^(2/N) (5 of them
    at a gap of 1e-9); the library's sum of logs of the stable multiplier does not."""
    with mpmath.workdps(50):
        sm = [mpmath.mpf(v) for v in s]
        Nm = mpmath.mpf(N)
        d = len(s)
        ref = Nm ** (-mpmath.mpf(d) / 2) * mpmath.fprod(v ** (-(Nm - 1) / Nm) for v in sm)
        ref *= mpmath.fprod(abs(sm[i] ** (2 / Nm) - sm[j] ** (2 / Nm)) for i in range(d) for j in range(i + 1, d))
    got = float(volume_density(s, N))
    assert abs(got - float(ref)) <= 1e-13 * abs(float(ref))
