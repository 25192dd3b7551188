r"""Riemannian Langevin dynamics of :math:`(M_d, g^N)`: Itô correction, entropic drift, Gibbs densities.

THEORY: docs/theory.md §13. The Langevin equation in matrix coordinates,
:math:`dX = [-A_N\nabla E + \beta^{-1} c_N + \lambda\beta^{-1} A_N\nabla S_N]\,dt + \sqrt{2/\beta}\,A_N^{1/2} dB`,
needs the Itô correction :math:`c_N = \Delta_{g}(\mathrm{id}) = \operatorname{div} A_N + A_N\nabla\log\det
A_N^{-1/2}`. SymPy computes the Laplace–Beltrami operator of :math:`g^N` in the SVD chart
:math:`(s_1, s_2, \alpha, \beta)` of 2x2 matrices (:math:`X = Q(\alpha)\,\mathrm{diag}(s)\,R(\beta)^T`) applied
to the coordinate functions, and finds :math:`c_N = Q\,\mathrm{diag}(\kappa)R^T` with

.. math:: \kappa_k = (N - 1)\, s_k^{(N-2)/N}

(:math:`\hat g^\infty`: :math:`\kappa_k = s_k`): the pair terms of the general formula
:math:`\kappa_k = \tfrac12\partial_{s_k}a_{kk} + 2 s_k\sum_{j\ne k}[(a_{kk}-a_{kj})/(x_k-x_j) - a_{kk}D_{kj}/a_{kj}]`
(:math:`D_{kj} = \partial_x a_N(x_k, x_j)`) vanish identically, because
:math:`a(x, x)\,\partial_x a(x, y) = a(x, y)\,(a(x, x) - a(x, y))/(x - y)` (proved by SymPy below). The Laplacian
is a sum of one term per singular value and one per pair (left-invariant frame of :math:`O_d`, metric
coefficients depending on s only), so the d = 2 computation gives every d; the certificate is d = 2 and 3.
The same chart gives the Itô drift of the balanced-factor coordinates :math:`Y` (:math:`X = Y(Y^TY)^{(N-1)/2}`).

Certificates (mpmath): :math:`c_N` against the divergence formula evaluated by central finite differences of
the full :math:`d^2\times d^2` matrix of :math:`A_N` (from its defining sum of fractional matrix powers for
integer N, from the spectral multiplier for N = 4.5 and the logarithmic mean for N = inf), d = 2, 3; the
entropic drift against :math:`A_N` (full matrix) times the finite-difference gradient of :math:`S_N`; the
log-densities against :math:`-\beta E + \lambda S_N - \tfrac12\log\det A_N` (full matrix) and, in Y, plus
:math:`\log|\det D\Psi|` by finite differences of :math:`\Psi(Y) = Y(Y^TY)^{(N-1)/2}`.

The steps (each a function below, chained by :func:`derive_langevin`; derivations/08_langevin.py shows them)::

    ito_correction_chart -> ito_correction_general, pair_term_identity -> ito_correction_infinite
    -> ito_correction_factor -> entropy_drift_pair -> log_gibbs_density_x -> log_gibbs_density_y
    -> certify_langevin
"""

from __future__ import annotations

import random

import mpmath
import sympy
from sympy import (
    Eq,
    Matrix,
    Symbol,
    cos,
    diag,
    expand_log,
    limit,
    log,
    oo,
    powdenest,
    powsimp,
    simplify,
    sin,
    sqrt,
    symbols,
    zeros,
)

from riemdln.symbolic.derivations import symbols as sy
from riemdln.symbolic.derivations._certify import (
    depth_labels,
    depths_tex,
    mp_fractional_power,
    mp_operator_matrix,
    random_orthogonal,
    rel_err,
)
from riemdln.symbolic.derivations._engine import Check, DerivationError, Result, derivation
from riemdln.symbolic.derivations._entries import Entry
from riemdln.symbolic.derivations.symbols import N, mu1, mu2, s1, s2, s_i, s_j
from riemdln.symbolic.functions import dln_multiplier

__all__ = [
    "certify_langevin",
    "entropy_drift_pair",
    "ito_correction_chart",
    "ito_correction_factor",
    "ito_correction_general",
    "ito_correction_infinite",
    "log_gibbs_density_x",
    "log_gibbs_density_y",
    "pair_term_identity",
]

E_sym, beta_sym, lam_sym = Symbol("E", real=True), Symbol("beta", positive=True), Symbol("lambda", real=True)
_al, _be = symbols("alpha beta_", real=True)
_s = Symbol("s", positive=True)


def _rot(a):
    return Matrix([[cos(a), -sin(a)], [sin(a), cos(a)]])


def _chart_laplacian(F, a11, a22, a12):
    """Laplace-Beltrami of g^N applied to the entries of F(s1, s2, alpha, beta), at alpha = beta = 0.

    Chart metric: ds_k^2 / a_kk plus, for the rotations, (Z_12^2 + Z_21^2)/a_12 with
    Z_12 = -s2 dalpha + s1 dbeta, Z_21 = s1 dalpha - s2 dbeta (Q^T dX R, off the diagonal).
    """
    x1, x2 = s1**2, s2**2
    block = Matrix([[x1 + x2, -2 * s1 * s2], [-2 * s1 * s2, x1 + x2]]) / a12
    G = diag(1 / a11, 1 / a22, block)
    Ginv = G.inv()
    root = sqrt(simplify(G.det()))
    coords = (s1, s2, _al, _be)
    out = zeros(2, 2)
    for a in range(4):
        for b in range(4):
            if Ginv[a, b] != 0:
                out += (root * Ginv[a, b] * F.diff(coords[b])).diff(coords[a]) / root
    return out.subs({_al: 0, _be: 0})


def _in_mu(expr):
    """Substitute s_k = mu_k^N and simplify (the chart results are rational in mu^N, mu)."""
    return simplify(powsimp(powdenest(expr.subs({s1: mu1**N, s2: mu2**N}), force=True), force=True))


def _chart_multipliers():
    """``(a_11, a_22, a_12)`` of the d = 2 chart: N s_k^(2(N-1)/N) and (s1^2 - s2^2)/(s1^(2/N) - s2^(2/N))."""
    quotient = (s1**2 - s2**2) / (s1 ** (2 / N) - s2 ** (2 / N))
    return N * s1 ** (2 * (N - 1) / N), N * s2 ** (2 * (N - 1) / N), quotient


def ito_correction_chart():
    r"""Step 1 (SymPy): the Laplace–Beltrami operator of :math:`g^N` applied to the entries of
    :math:`X = Q(\alpha)\,\mathrm{diag}(s_1, s_2)\,R(\beta)^T` (d = 2 chart, at :math:`\alpha = \beta = 0`) is
    :math:`\mathrm{diag}(\kappa(s_1), \kappa(s_2))`, :math:`\kappa(s) = (N - 1)\,s^{(N-2)/N}` (off-diagonal entries
    zero; checked in :math:`\mu = s^{1/N}`). Returns :math:`\kappa(s)` (catalog ``ito_correction``)."""
    a11, a22, quotient = _chart_multipliers()
    lap_X = _chart_laplacian(_rot(_al) * diag(s1, s2) * _rot(_be).T, a11, a22, quotient)
    kappa = (N - 1) * _s ** ((N - 2) / N)
    if lap_X[0, 1] != 0 or lap_X[1, 0] != 0 or _in_mu(lap_X[0, 0] - kappa.subs(_s, s1)) != 0:
        raise DerivationError(f"Ito correction: chart Laplacian gives {lap_X}")
    return kappa


def ito_correction_general():
    r"""Generalization to any d (by hand: in the left-invariant frame of :math:`O_d \times O_d` the metric
    coefficients depend on s only, so :math:`\Delta_{g^N}X` is one term per singular value plus one term per pair;
    certified numerically at d = 2, 3 against the divergence formula for :math:`c_N`):
    :math:`\kappa_k = \tfrac12\partial_{s_k}a_{kk} + \sum_{j\ne k} P(s_k, s_j)` with the pair term
    :math:`P(s_i, s_j) = 2 s_i[(a_{ii} - a_{ij})/(x_i - x_j) - a_{ii} D_{ij}/a_{ij}]`, :math:`x = s^2`,
    :math:`D_{ij} = \partial_x a_N(x_i, x_j)`. Returns ``(single-value term in s, P(s_i, s_j))``."""
    xi, xj = s_i**2, s_j**2
    a_ii, a_ij = dln_multiplier(xi, xi, N), dln_multiplier(xi, xj, N)
    x = Symbol("x", positive=True)
    D_ij = dln_multiplier(x, xj, N).diff(x).subs(x, xi)
    pair = 2 * s_i * ((a_ii - a_ij) / (xi - xj) - a_ii * D_ij / a_ij)
    return dln_multiplier(_s**2, _s**2, N).diff(_s) / 2, pair


def pair_term_identity():
    r"""Step 2 (SymPy): :math:`a(x, x)\,\partial_x a(x, y) = a(x, y)\,(a(x, x) - a(x, y))/(x - y)` for
    :math:`a = a_N`, every real N (proved with :math:`a_N(x, y) = (x - y)/(x^{1/N} - y^{1/N})`): the pair term
    :math:`P` of the general formula vanishes identically. Returns the identity as an unevaluated equation."""
    xx, yy = symbols("x y", positive=True)
    a = dln_multiplier(xx, yy, N)
    lhs = dln_multiplier(xx, xx, N) * a.diff(xx)
    rhs = a * (dln_multiplier(xx, xx, N) - a) / (xx - yy)
    q = (xx - yy) / (xx ** (1 / N) - yy ** (1 / N))
    if simplify((lhs - rhs).subs(a, q)) != 0:
        raise DerivationError("a(x,x) d_x a(x,y) != a(x,y)(a(x,x)-a(x,y))/(x-y)")
    return Eq(lhs, rhs, evaluate=False)


def ito_correction_infinite(kappa):
    r"""Step 3 (SymPy): the Itô correction of :math:`\hat g^\infty`: :math:`\lim_{N\to\infty}\kappa/N = s`
    (catalog ``ito_correction_infinite``)."""
    return limit(kappa / N, N, oo)


def ito_correction_factor():
    r"""Step 4 (SymPy): the Itô drift :math:`\Delta_{g^N}Y` of the balanced-factor coordinates
    :math:`Y = Q\,\mathrm{diag}(s^{1/N})R^T` (:math:`X = Y(Y^TY)^{(N-1)/2}`), the same chart Laplacian applied to
    :math:`Y`: diagonal in the SVD frame; returns its component 1 in :math:`\mu = s^{1/N}` (catalog
    ``ito_correction_factor``, one pair, d = 2)."""
    a11, a22, quotient = _chart_multipliers()
    lap_Y = _chart_laplacian(_rot(_al) * diag(s1 ** (1 / N), s2 ** (1 / N)) * _rot(_be).T, a11, a22, quotient)
    if lap_Y[0, 1] != 0 or lap_Y[1, 0] != 0:
        raise DerivationError("the Y Laplacian is not diagonal in the SVD frame")
    return _in_mu(lap_Y[0, 0])


def ito_correction_factor_factored(kappa_y):
    r"""Step 4b (SymPy): the same drift factored for reading,
    :math:`\kappa^Y_1 = \frac{2\mu_1\,((1 - N)\mu_1^{2N} - (N + 1)\mu_2^{2N} + 2N\mu_1^{N-1}\mu_2^{N+1})}
    {N(\mu_1^2 - \mu_2^2)(\mu_1^{2N} - \mu_2^{2N})}`, proven equal to Step 4's expression."""
    num = (1 - N) * mu1 ** (2 * N) - (N + 1) * mu2 ** (2 * N) + 2 * N * mu1 ** (N - 1) * mu2 ** (N + 1)
    factored = 2 * mu1 * num / (N * (mu1**2 - mu2**2) * (mu1 ** (2 * N) - mu2 ** (2 * N)))
    if simplify(factored - kappa_y) != 0:
        raise DerivationError("the factored Ito drift of Y disagrees with Step 4")
    return factored


def entropy_drift_pair():
    r"""Step 5 (SymPy): the entropic drift :math:`A_N\nabla S_N = Q\,\mathrm{diag}(\cdot)R^T`, the term of pair
    :math:`(i, j)` of component i: :math:`a_{ii}\,\partial_{s_i}\tfrac12\log a_N(s_i^2, s_j^2)`
    (:math:`S_N = \mathrm{const} + \tfrac12\sum_{i<j}\log a_N`; the sum over :math:`j \ne i` and the action of
    :math:`A_N` by :math:`a_{ii}` on the diagonal are by hand, certified at d = 2, 3). Catalog ``entropy_drift``."""
    pair = dln_multiplier(s_i**2, s_j**2, N)
    return simplify(N * s_i ** (2 * (N - 1) / N) * (log(pair) / 2).diff(s_i))


def log_gibbs_density_x(entropy_d2):
    r"""Step 6 (SymPy): the log-density of the stationary law :math:`e^{-\beta E}e^{\lambda S_N}\,d\mathrm{vol}_{g^N}`
    with respect to :math:`dX` (d = 2): :math:`-\beta E + \lambda S_N - \tfrac12\log\det A_N`,
    :math:`\det A_N = a_{11}a_{22}a_{12}^2` (``entropy_d2`` from the entropy page, in :math:`\sigma_1, \sigma_2`).
    Returns ``(log density, S_N in s1, s2)`` (catalog ``log_gibbs_density``)."""
    S2 = entropy_d2.subs({Symbol("sigma1", positive=True): s1, Symbol("sigma2", positive=True): s2})
    logdet = log(dln_multiplier(s1**2, s1**2, N)) + log(dln_multiplier(s2**2, s2**2, N))
    logdet += 2 * log(dln_multiplier(s1**2, s2**2, N))
    return -beta_sym * E_sym + lam_sym * S2 - logdet / 2, S2


def log_gibbs_density_y(log_gibbs, S2):
    r"""Step 7 (SymPy): with respect to :math:`dY`, add :math:`\log|dX/dY|` (Lebesgue measure in SVD coordinates:
    :math:`|s_1^2 - s_2^2|\,ds_1 ds_2` against :math:`|\mu_1^2 - \mu_2^2|\,d\mu_1 d\mu_2`, :math:`s = \mu^N`); SymPy
    proves the sum equal to :math:`-\beta E + \lambda S_N + \log N` (:math:`\mathrm{vol}_{g^N} = N\,dY` at d = 2).
    Returns the latter (catalog ``log_gibbs_density_factor``)."""
    quotient = _chart_multipliers()[2]
    jac = log((s1**2 - s2**2) * N * mu1 ** (N - 1) * N * mu2 ** (N - 1) / (mu1**2 - mu2**2))
    log_gibbs_Y = _in_mu(
        (log_gibbs.subs(dln_multiplier(s1**2, s2**2, N), quotient).doit() + jac).subs({s1: mu1**N, s2: mu2**N})
    )
    quotient_mu = (mu1 ** (2 * N) - mu2 ** (2 * N)) / (mu1**2 - mu2**2)
    claim = -beta_sym * E_sym + lam_sym * S2.subs({s1: mu1**N, s2: mu2**N}) + log(N)
    gap = log_gibbs_Y - claim.subs(dln_multiplier(mu1 ** (2 * N), mu2 ** (2 * N), N), quotient_mu)
    if simplify(expand_log(gap, force=True)) != 0:
        raise DerivationError(f"log Gibbs density in Y: {log_gibbs_Y} != {claim}")
    return claim


@derivation("langevin", requires=("multiplier", "entropy"), title="Riemannian Langevin: It\\^o correction, Gibbs law")
def derive_langevin(deps) -> Result:
    kappa = ito_correction_chart()
    single, _pair = ito_correction_general()
    if simplify(single - kappa) != 0:
        raise DerivationError(f"the single-value term {single} is not the chart's kappa {kappa}")
    pair_term_identity()
    log_gibbs, S2 = log_gibbs_density_x(deps["entropy"]["entropy_d2"])
    exprs = {
        "ito_correction": kappa,
        "ito_correction_infinite": ito_correction_infinite(kappa),
        "ito_correction_factor": ito_correction_factor(),
        "ito_correction_factor_factored": None,
        "entropy_drift": entropy_drift_pair(),
        "log_gibbs_density": log_gibbs,
        "log_gibbs_density_factor": log_gibbs_density_y(log_gibbs, S2),
    }
    exprs["ito_correction_factor_factored"] = ito_correction_factor_factored(exprs["ito_correction_factor"])
    return Result(exprs, certify_langevin(exprs))


# ---------------------------------------------------------------------------------------------
# certificates
def _mp_multiplier(x, y, depth):
    if depth == mpmath.inf:
        return x if x == y else (x - y) / (mpmath.log(x) - mpmath.log(y))
    if depth == 1:
        return mpmath.mpf(1)
    return depth * x ** ((depth - 1) / depth) if x == y else (x - y) / (x ** (1 / depth) - y ** (1 / depth))


def _spectral_operator(X, depth):
    """Full d^2 x d^2 matrix of A_N (or A_inf) from the SVD and the multiplier (non-integer depths)."""
    U, sv, V = mpmath.svd_r(X)
    V = V.T
    dim = X.rows
    A = mpmath.zeros(dim * dim, dim * dim)
    mult = [[_mp_multiplier(sv[i] ** 2, sv[j] ** 2, depth) for j in range(dim)] for i in range(dim)]
    for c in range(dim):
        for e in range(dim):
            for a_ in range(dim):
                for b in range(dim):
                    A[c * dim + e, a_ * dim + b] = mpmath.fsum(
                        U[c, i] * V[e, j] * mult[i][j] * U[a_, i] * V[b, j] for i in range(dim) for j in range(dim)
                    )
    return A


def _operator(X, depth):
    if depth != mpmath.inf and depth == int(depth):
        return mp_operator_matrix(X, int(depth))
    return _spectral_operator(X, depth)


def _flat(X):
    return [X[a, b] for a in range(X.rows) for b in range(X.cols)]


def _unflat(v, dim):
    return mpmath.matrix([[v[a * dim + b] for b in range(dim)] for a in range(dim)])


def _random_matrix(dim, rnd, lo=0.4, hi=2.5):
    Q, R = random_orthogonal(dim, rnd), random_orthogonal(dim, rnd)
    sv = sorted((mpmath.mpf(rnd.uniform(lo, hi)) for _ in range(dim)), reverse=True)
    return Q * mpmath.diag(sv) * R.T


def _divergence_formula(X, depth, h):
    """c^a = sum_b d_b A^{ab} + A^{ab} d_b log det A^{-1/2}, central differences of the full operator."""
    dim = X.rows
    v = _flat(X)
    A0 = _operator(X, depth)
    c = [mpmath.mpf(0)] * (dim * dim)
    for b in range(dim * dim):
        vp, vm = list(v), list(v)
        vp[b] += h
        vm[b] -= h
        Ap, Am = _operator(_unflat(vp, dim), depth), _operator(_unflat(vm, dim), depth)
        dlog = -(mpmath.log(mpmath.det(Ap)) - mpmath.log(mpmath.det(Am))) / (4 * h)
        for a_ in range(dim * dim):
            c[a_] += (Ap[a_, b] - Am[a_, b]) / (2 * h) + A0[a_, b] * dlog
    return c


def _spectral_field(X, values):
    """Q diag(values(s)) R^T, flattened."""
    U, sv, V = mpmath.svd_r(X)
    return _flat(U * mpmath.diag(values(list(sv))) * V)


def _entropy_mp(X, depth):
    sv = list(mpmath.svd_r(X, compute_uv=False))
    return mpmath.fsum(
        mpmath.log(_mp_multiplier(sv[i] ** 2, sv[j] ** 2, depth)) / 2
        for i in range(len(sv))
        for j in range(i + 1, len(sv))
    )


def _fn(expr, *syms):
    from sympy import lambdify

    return lambdify(syms, expr, modules=[{"dln_multiplier": _mp_multiplier}, "mpmath"])


def certify_langevin(exprs) -> dict:
    """Certificate (numeric): the Itô correction against the divergence formula by finite differences of the full
    d^2 x d^2 operator A_N (d = 2, 3); the entropic drift against A_N times the finite-difference gradient of S_N;
    the log-densities against energy, entropy and log det A_N (full matrix) plus, in Y, the log-Jacobian of the
    balanced-factor map; the Y drift against the divergence of the inverse pulled-back metric (mpmath).
    Returns ``{name: Check}``."""
    rnd = random.Random(14)
    out = dict(zip(("ito_correction", "ito_correction_infinite"), _certify_ito(exprs, rnd), strict=True))
    out["entropy_drift"] = _certify_drift(exprs, rnd)
    out["log_gibbs_density"], out["log_gibbs_density_factor"] = _certify_log_densities(exprs, rnd)
    out["ito_correction_factor"] = _certify_factor_drift(exprs, rnd)
    return out


def _certify_ito(exprs, rnd) -> tuple[Check, Check]:
    """c_N = Q diag(kappa) R^T against the divergence formula, d = 2, 3, N = 1, 2, 3, 4.5, inf."""
    kappa = _fn(exprs["ito_correction"], _s, N)
    kappa_inf = _fn(exprs["ito_correction_infinite"], _s)
    worst, count = {"finite": 0.0, "inf": 0.0}, {"finite": 0, "inf": 0}
    with mpmath.workdps(30):
        h = mpmath.mpf("1e-9")
        for dim in (2, 3):
            for depth in _ITO_DEPTHS:
                X = _random_matrix(dim, rnd)
                depth_mp = mpmath.mpf(depth)
                ref = _divergence_formula(X, depth_mp, h)
                if depth == mpmath.inf:
                    got = _spectral_field(X, lambda sv: [kappa_inf(v) for v in sv])
                else:
                    got = _spectral_field(X, lambda sv, dm=depth_mp: [kappa(v, dm) for v in sv])
                scale = max(abs(r) for r in ref) + 1
                key = "inf" if depth == mpmath.inf else "finite"
                worst[key] = max(worst[key], float(max(abs(g - r) for g, r in zip(got, ref, strict=True)) / scale))
                count[key] += 1
    method = (
        "the divergence formula (divergence of A_N plus A_N times the gradient of log det(A_N)^(-1/2)) by central "
        "differences (h = 1e-9, 30 digits) of the full operator on d x d matrices (defining sum of fractional "
        "powers; spectral for non-integer N and infinite depth), d = 2, 3"
    )
    tex = (
        r"the divergence formula (divergence of $A_N$ plus $A_N$ times the gradient of $\log\det(A_N)^{-1/2}$) by "
        r"central differences ($h = 10^{-9}$, 30 digits) of the full operator on $d \times d$ matrices (defining sum "
        r"of fractional powers; spectral at non-integer $N$ and infinite depth), $d = 2, 3$"
    )
    finite = depth_labels(d for d in _ITO_DEPTHS if d != mpmath.inf)
    return (
        Check(
            f"{method}, N = {', '.join(finite)}",
            worst["finite"],
            1e-12,
            count["finite"],
            latex=f"{tex}, {depths_tex(finite)}",
            depths=finite,
        ),
        Check(f"{method}, N = inf", worst["inf"], 1e-12, count["inf"], latex=rf"{tex}, $N = \infty$", depths=("inf",)),
    )


def _certify_drift(exprs, rnd) -> Check:
    """The entropic drift: A_N (full matrix) times the FD gradient of S_N, d = 2, 3."""
    drift = _fn(exprs["entropy_drift"], s_i, s_j, N)
    worst, count = 0.0, 0
    with mpmath.workdps(30):
        h = mpmath.mpf("1e-10")
        for dim in (2, 3):
            for depth in _DRIFT_DEPTHS:
                X = _random_matrix(dim, rnd)
                dm = mpmath.mpf(depth)
                v = _flat(X)
                grad = []
                for b in range(dim * dim):
                    vp, vm = list(v), list(v)
                    vp[b] += h
                    vm[b] -= h
                    grad.append((_entropy_mp(_unflat(vp, dim), dm) - _entropy_mp(_unflat(vm, dim), dm)) / (2 * h))
                A = _operator(X, dm)
                ref = [mpmath.fsum(A[a_, b] * grad[b] for b in range(dim * dim)) for a_ in range(dim * dim)]
                got = _spectral_field(
                    X,
                    lambda sv, dm=dm: [
                        mpmath.fsum(drift(sk, sj, dm) for j, sj in enumerate(sv) if j != k) for k, sk in enumerate(sv)
                    ],
                )
                scale = max(abs(r) for r in ref) + 1
                worst = max(worst, float(max(abs(g - r) for g, r in zip(got, ref, strict=True)) / scale))
                count += 1
    labels = depth_labels(_DRIFT_DEPTHS)
    return Check(
        "A_N (full matrix, defining sum / spectral) times the central-difference gradient of the "
        f"fibre entropy, d = 2, 3, N = {', '.join(labels)} (30 digits)",
        worst,
        1e-12,
        count,
        latex=(
            r"$A_N$ (full matrix, defining sum / spectral) times the central-difference gradient of the fibre "
            rf"entropy, $d = 2, 3$, {depths_tex(labels)} (30 digits)"
        ),
        depths=labels,
    )


def _psi(Yv, dm):
    """The balanced-factor map Psi(Y) = Y (Y^T Y)^((N-1)/2) on flattened 2x2 matrices (mpmath)."""
    Ym = _unflat(Yv, 2)
    return _flat(Ym * mp_fractional_power(Ym.T * Ym, (dm - 1) / 2))


def _psi_jacobian(Yv, dm, h):
    """The 4x4 Jacobian of Psi at Y by central differences."""
    J = mpmath.matrix(4, 4)
    for b in range(4):
        vp, vm = list(Yv), list(Yv)
        vp[b] += h
        vm[b] -= h
        for a_, (pp, mm) in enumerate(zip(_psi(vp, dm), _psi(vm, dm), strict=True)):
            J[a_, b] = (pp - mm) / (2 * h)
    return J


def _certify_log_densities(exprs, rnd) -> tuple[Check, Check]:
    """log densities w.r.t. dX (energy, entropy, log det of the full operator) and dY (plus log |det DPsi|)."""
    lg = _fn(exprs["log_gibbs_density"], s1, s2, E_sym, beta_sym, lam_sym, N)
    lgY = _fn(exprs["log_gibbs_density_factor"], mu1, mu2, E_sym, beta_sym, lam_sym, N)
    c2 = mpmath.log(4 * mpmath.pi * mpmath.sqrt(2))
    worst_x, worst_y, count = 0.0, 0.0, 0
    with mpmath.workdps(30):
        h = mpmath.mpf("1e-10")
        for depth in _DENSITY_DEPTHS:
            dm = mpmath.mpf(depth)
            Y = _random_matrix(2, rnd, 0.5, 1.5)
            X = _unflat(_psi(_flat(Y), dm), 2)
            Ev, bv, lv = mpmath.mpf(rnd.uniform(-1, 1)), mpmath.mpf(rnd.uniform(0.5, 5)), mpmath.mpf(rnd.random())
            sv = list(mpmath.svd_r(X, compute_uv=False))
            ref = -bv * Ev + lv * ((dm - 1) * c2 + _entropy_mp(X, dm)) - mpmath.log(mpmath.det(_operator(X, dm))) / 2
            worst_x = max(worst_x, rel_err(lg(sv[0], sv[1], Ev, bv, lv, dm), ref))
            refY = ref + mpmath.log(abs(mpmath.det(_psi_jacobian(_flat(Y), dm, h))))
            mv = list(mpmath.svd_r(Y, compute_uv=False))
            worst_y = max(worst_y, rel_err(lgY(mv[0], mv[1], Ev, bv, lv, dm), refY))
            count += 1
    labels = depth_labels(_DENSITY_DEPTHS)
    check_x = Check(
        "energy, entropy and half the log-determinant of the full 4x4 operator (defining sum / spectral), "
        f"N = {', '.join(labels)}",
        worst_x,
        1e-14,
        count,
        latex=(
            r"energy, entropy and half the log-determinant of the full $4 \times 4$ operator (defining sum / "
            rf"spectral), {depths_tex(labels)}"
        ),
        depths=labels,
    )
    check_y = Check(
        "the dX log-density at the image of Y plus the log-Jacobian of the balanced-factor map by central differences "
        f"(fractional power by eigendecomposition), N = {', '.join(labels)} (30 digits)",
        worst_y,
        1e-12,
        count,
        latex=(
            r"the $dX$ log-density at the image of $Y$ plus the log-Jacobian of the balanced-factor map by central "
            rf"differences (fractional power by eigendecomposition), {depths_tex(labels)} (30 digits)"
        ),
        depths=labels,
    )
    return check_x, check_y


def _certify_factor_drift(exprs, rnd) -> Check:
    """Ito drift of Y: div_Y of (Psi^* g^N)^{-1} = DPsi^{-1} A_N DPsi^{-T} (det constant), nested differences."""
    kY = _fn(exprs["ito_correction_factor"], mu1, mu2, N)

    def h_inverse(Yv, dm, hin):
        Ji = mpmath.inverse(_psi_jacobian(Yv, dm, hin))
        return Ji * _operator(_unflat(_psi(Yv, dm), 2), dm) * Ji.T

    worst, count = 0.0, 0
    with mpmath.workdps(40):
        hin, hout = mpmath.mpf("1e-15"), mpmath.mpf("1e-7")
        for depth in _DENSITY_DEPTHS:
            dm = mpmath.mpf(depth)
            Y = _random_matrix(2, rnd, 0.5, 1.5)
            v = _flat(Y)
            div = [mpmath.mpf(0)] * 4
            for b in range(4):
                vp, vm = list(v), list(v)
                vp[b] += hout
                vm[b] -= hout
                Hp, Hm = h_inverse(vp, dm, hin), h_inverse(vm, dm, hin)
                for a_ in range(4):
                    div[a_] += (Hp[a_, b] - Hm[a_, b]) / (2 * hout)
            got = _spectral_field(Y, lambda mv, dm=dm: [kY(mv[0], mv[1], dm), kY(mv[1], mv[0], dm)])
            scale = max(abs(r) for r in div) + 1
            worst = max(worst, float(max(abs(g - r) for g, r in zip(got, div, strict=True)) / scale))
            count += 1
    labels = depth_labels(_DENSITY_DEPTHS)
    return Check(
        "divergence in Y of the inverse pulled-back metric (constant determinant) by nested central "
        f"differences of the balanced-factor map and the full operator, d = 2, N = {', '.join(labels)} (40 digits)",
        worst,
        1e-12,
        count,
        latex=(
            r"divergence in $Y$ of the inverse pulled-back metric (constant determinant) by nested central differences "
            rf"of the balanced-factor map and the full operator, $d = 2$, {depths_tex(labels)} (40 digits)"
        ),
        depths=labels,
    )


# the certificates' depths
_ITO_DEPTHS = (1, 2, 3, 4.5) + (mpmath.inf,) * 4
_DRIFT_DEPTHS = (2, 3, 4.5, 2.5)
_DENSITY_DEPTHS = (2, 3, 4, 5, 1.5, 2.5, 4.5, 7.5)


# ---------------------------------------------------------------------------------------------
# catalog declarations (riemdln.symbolic.formulas builds the public catalog from them; see _entries.Entry)
CATALOG = (
    Entry(
        name="ito_correction",
        provenance="certified",
        generalized="any $d$: the general formula, whose pair terms SymPy proves vanish",
        derivation="langevin",
        key="ito_correction",
        args=(sy.s_scalar, sy.N),
        convention="raw",
        symbol=r"\kappa_k",
        title="It\\^o correction $c_N = \\Delta_{g^N}(X) = Q\\,\\mathrm{diag}(\\kappa)R^T$, $\\kappa_k = \\kappa(s_k)$",
        check="ito_correction",
    ),
    Entry(
        name="ito_correction_infinite",
        derivation="langevin",
        key="ito_correction_infinite",
        args=(sy.s_scalar,),
        convention="normalized",
        symbol=r"\kappa_k\big|_{\hat g^\infty}",
        title="It\\^o correction of the infinite-depth metric $\\hat g^\\infty$",
        check="ito_correction_infinite",
    ),
    Entry(
        name="ito_correction_factor",
        derivation="langevin",
        key="ito_correction_factor",
        args=(sy.mu1, sy.mu2, sy.N),
        convention="raw",
        symbol=r"\kappa^Y_1",
        display=("ito_correction_factor_factored",),
        shown="ito_correction_factor_factored",
        title="It\\^o drift $\\Delta_{g^N}(Y)$ of the balanced-factor coordinates $Y$ ($X = Y(Y^TY)^{(N-1)/2}$), "
        "one pair term of component 1 ($d = 2$; sum over $j \\ne k$ for any $d$)",
        check="ito_correction_factor",
    ),
    Entry(
        name="entropy_drift",
        provenance="certified",
        generalized="the sum over $j \\ne i$ and the action of $A_N$, any $d$",
        derivation="langevin",
        key="entropy_drift",
        args=(sy.s_i, sy.s_j, sy.N),
        convention="raw",
        symbol=r"(Q^T A_N \nabla S_N R)_{ii}",
        title="Entropic drift $A_N\\nabla S_N = Q\\,\\mathrm{diag}(\\cdot)R^T$: the term of pair $(i, j)$ of "
        "component $i$ (sum over $j \\ne i$)",
        check="entropy_drift",
    ),
    Entry(
        name="log_gibbs_density",
        per_line=2,
        derivation="langevin",
        key="log_gibbs_density",
        args=(
            sy.s1,
            sy.s2,
            sympy.Symbol("E", real=True),
            sympy.Symbol("beta", positive=True),
            sympy.Symbol("lambda", real=True),
            sy.N,
        ),
        convention="raw",
        symbol=r"\log\frac{e^{-\beta E}\,\mathrm{vol(fibre)}^\lambda\,d\mathrm{vol}_{g^N}}{dX}",
        title="Log-density of the Langevin stationary law w.r.t. Lebesgue measure $dX$, $d = 2$ (unnormalized)",
        check="log_gibbs_density",
    ),
    Entry(
        name="log_gibbs_density_factor",
        derivation="langevin",
        key="log_gibbs_density_factor",
        args=(
            sy.mu1,
            sy.mu2,
            sympy.Symbol("E", real=True),
            sympy.Symbol("beta", positive=True),
            sympy.Symbol("lambda", real=True),
            sy.N,
        ),
        convention="raw",
        symbol=r"\log\frac{e^{-\beta E}\,\mathrm{vol(fibre)}^\lambda\,d\mathrm{vol}_{g^N}}{dY}",
        title="Log-density of the stationary law in balanced-factor coordinates $Y$ "
        "($\\mu$ = singular values of $Y$), $d = 2$",
        check="log_gibbs_density_factor",
    ),
)
