r"""Curvature of :math:`g^N` and :math:`\hat g^\infty` at :math:`d = 2` (docs/theory.md §11), Chen's geodesics (§8).

* The chart :math:`X = R(\theta)\operatorname{diag}(s_1, s_2)R(\phi)^T`: SymPy differentiates the chart,
  rotates the tangent into the SVD frame and applies :math:`g^N(Z, Z) = \sum_{ij}\tilde Z_{ij}^2/a_N(s_i^2,
  s_j^2)`; in :math:`\alpha = \theta - \phi`, :math:`\gamma = \theta + \phi` the metric is diagonal,
  :math:`g^N = ds_1^2/a_{11} + ds_2^2/a_{22} + F_1 d\alpha^2 + F_2 d\gamma^2`. In :math:`\mu = s^{1/N}` the
  base is flat: :math:`g^N = N(d\mu_1^2 + d\mu_2^2) + F_1 d\alpha^2 + F_2 d\gamma^2` (warped product).
* Christoffel symbols and the scalar curvature of a diagonal metric on :math:`(u_1, u_2, \alpha, \gamma)`
  whose entries depend on :math:`u` only are derived once with undetermined functions; substituting the
  warped-product coefficients gives, for integer N = 1..4, rational functions of :math:`\mu` that
  ``cancel`` proves equal to the closed form (no ``simplify`` on fractional powers: docs/theory.md §11).
  For real N the closed form :math:`R_N = \cosh(\eta/N)/(N(s_1s_2)^{1/N})\,[N^2 c(\eta) - c(\eta/N)]`,
  :math:`\eta = \log(s_1/s_2)`, :math:`c(z) = 1/z^2 - 1/\sinh^2 z` (``csch2gap``, stable through
  :math:`z = 0`), is certified numerically against the generic formula at N = 1.5, 2.5, 7.5, 12.
* :math:`\hat g^\infty` in :math:`\rho = \log s`: the metric :math:`d\rho_1^2 + d\rho_2^2 + F^\infty_1 d\alpha^2 +
  F^\infty_2 d\gamma^2` (:math:`L` in place of :math:`a_N/N`), the same generic curvature; and the series of
  :math:`R(N g^N) = R_N/N` in :math:`h = 1/N` (limit and :math:`O(1/N)` coefficient).
* Every scalar curvature is certified against the curvature of the :math:`4\times 4` metric matrix
  :math:`G = A_N(X)^{-1}` in the entries of :math:`X` (Christoffel symbols and Ricci tensor from central finite
  differences of :math:`G` at 60 digits, step 1e-12), at both signs of :math:`\det X` — a computation that
  never uses the chart.

The steps (each a function below, chained by :func:`derive_curvature`; derivations/07_curvature.py shows them)::

    chart_metric -> warped_product -> christoffel_symbols, generic_curvature -> closed_form
    -> scalar_curvature_integer (N = 1..4) -> rank_one_limit, scalar_curvature_symbolic, coincident_limit
    -> infinite_depth_curvature, infinite_depth_series -> aligned_geodesic_length -> certify_curvature
"""

from __future__ import annotations

import itertools
import random

import mpmath
from sympy import (
    Function,
    Integer,
    Matrix,
    Rational,
    Sum,
    Symbol,
    cancel,
    cos,
    cosh,
    diff,
    exp,
    log,
    series,
    simplify,
    sin,
    sqrt,
    symbols,
)

from riemdln.symbolic.derivations import symbols as sy
from riemdln.symbolic.derivations._certify import (
    LIMIT_TEX,
    depth_labels,
    depths_tex,
    mp_eval,
    mp_operator_matrix,
    random_orthogonal,
    rel_err,
    richardson_limit,
)
from riemdln.symbolic.derivations._engine import Check, DerivationError, Result, derivation
from riemdln.symbolic.derivations._entries import Entry
from riemdln.symbolic.derivations.symbols import N, h, i, mu1, mu2, r, rho1, rho2, s, s1, s2, sigma
from riemdln.symbolic.functions import csch2gap, dln_multiplier, logmean

__all__ = [
    "aligned_geodesic_length",
    "certify_curvature",
    "chart_metric",
    "christoffel_symbols",
    "closed_form",
    "coincident_limit",
    "diagonal_christoffel",
    "diagonal_metric_curvature",
    "fd_scalar_curvature",
    "generic_curvature",
    "infinite_depth_curvature",
    "infinite_depth_series",
    "mp_metric_matrix",
    "rank_one_limit",
    "scalar_curvature_integer",
    "scalar_curvature_symbolic",
    "warped_product",
]

_u1, _u2 = symbols("u1 u2", real=True)
_alpha, _gamma, _theta, _phi = symbols("alpha gamma theta phi", real=True)
_s = Symbol("s", positive=True)
# the generic diagonal metric diag(c, c, f1(u), f2(u)) on (u1, u2, alpha, gamma)
_c = Symbol("c", positive=True)
_f1, _f2 = Function("f1")(_u1, _u2), Function("f2")(_u1, _u2)


def diagonal_christoffel(diag, coords):
    r"""Christoffel symbols :math:`\Gamma^k_{ab}` (as ``gam[k][a][b]``) of the diagonal metric ``diag`` in ``coords``.

    .. math:: \Gamma^k_{ab} = \frac{\delta_{kb}\,\partial_a g_{kk} + \delta_{ka}\,\partial_b g_{kk}
              - \delta_{ab}\,\partial_k g_{aa}}{2 g_{kk}}.

    >>> from sympy import symbols
    >>> u, v = symbols("u v", positive=True)
    >>> diagonal_christoffel((1, u**2), (u, v))[1][0][1]  # polar coordinates: Gamma^v_{uv} = 1/u
    1/u
    """
    dim = len(coords)
    gam = [[[Integer(0)] * dim for _ in range(dim)] for _ in range(dim)]
    for k in range(dim):
        for a in range(dim):
            for b in range(dim):
                val = Integer(0)
                if k == b:
                    val += diff(diag[k], coords[a])
                if k == a:
                    val += diff(diag[k], coords[b])
                if a == b:
                    val -= diff(diag[a], coords[k])
                gam[k][a][b] = val / (2 * diag[k])
    return gam


def diagonal_metric_curvature(diag, coords):
    r"""Christoffel symbols ``gam[k][a][b]`` and scalar curvature :math:`R = \sum_a g^{aa} R_{aa}` of a diagonal metric.

    :math:`R_{aa} = \sum_k \partial_k\Gamma^k_{aa} - \partial_a\Gamma^k_{ak}
    + \sum_l \Gamma^k_{kl}\Gamma^l_{aa} - \Gamma^k_{al}\Gamma^l_{ak}` (sign: the round sphere is positive).

    >>> from sympy import sin, symbols, simplify
    >>> th, ph = symbols("theta phi", positive=True)
    >>> simplify(diagonal_metric_curvature((1, sin(th) ** 2), (th, ph))[1])  # unit sphere: R = 2
    2
    """
    dim = len(coords)
    gam = diagonal_christoffel(diag, coords)
    ric = Integer(0)
    for a in range(dim):  # R = sum_a g^{aa} R_aa
        R_aa = Integer(0)
        for k in range(dim):
            R_aa += diff(gam[k][a][a], coords[k]) - diff(gam[k][a][k], coords[a])
            for l in range(dim):  # noqa: E741
                R_aa += gam[k][k][l] * gam[l][a][a] - gam[k][a][l] * gam[l][a][k]
        ric += R_aa / diag[a]
    return gam, ric


def _closed_form(sa, sb, depth):
    eta = log(sa) - log(sb)
    prefactor = exp(-(log(sa) + log(sb)) / depth) / depth
    return prefactor * cosh(eta / depth) * (depth**2 * csch2gap(eta) - csch2gap(eta / depth))


def _quotient_form(xa, xb, depth, a11, a22, a12):
    return 2 / depth * (xa ** (1 / depth) + xb ** (1 / depth)) * (a12**2 - a11 * a22) / (xa - xb) ** 2


def _rotation(angle):
    return Matrix([[cos(angle), -sin(angle)], [sin(angle), cos(angle)]])


def _multipliers():
    """``a[p][q] = a_N(s_p^2, s_q^2)`` for p, q in {0, 1} (s = s1, s2)."""
    svals = (s1, s2)
    return [[dln_multiplier(svals[p] ** 2, svals[q] ** 2, N) for q in range(2)] for p in range(2)]


def chart_metric():
    r"""Step 1 (SymPy): the metric :math:`g^N` in the chart :math:`X = R(\theta)\,\mathrm{diag}(s_1, s_2)\,R(\phi)^T`,
    then in :math:`\alpha = \theta - \phi`, :math:`\gamma = \theta + \phi`:
    :math:`\mathrm{diag}(1/a_{11}, 1/a_{22}, F_1, F_2)`, :math:`F_{1,2} = (s_1 \pm s_2)^2/(2a_{12})`,
    :math:`a_{pq} = a_N(s_p^2, s_q^2)`. SymPy differentiates the chart, rotates the tangents into the SVD frame,
    applies :math:`g^N(Z, Z) = \sum_{pq}\tilde Z_{pq}^2/a_{pq}` and ``cancel`` proves the diagonal form.
    Returns the diagonal metric matrix (catalog ``metric_chart_d2``)."""
    X = _rotation(_theta) * Matrix([[s1, 0], [0, s2]]) * _rotation(_phi).T
    coords = (s1, s2, _theta, _phi)
    frame = [(_rotation(_theta).T * diff(X, c) * _rotation(_phi)).applyfunc(lambda e: e.simplify()) for c in coords]
    a = _multipliers()
    G = Matrix(4, 4, lambda u, v: sum(frame[u][p, q] * frame[v][p, q] / a[p][q] for p in range(2) for q in range(2)))
    # theta = (gamma + alpha)/2, phi = (gamma - alpha)/2
    J = Matrix(
        [[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, Rational(1, 2), Rational(1, 2)], [0, 0, -Rational(1, 2), Rational(1, 2)]]
    )
    G_ag = (J.T * G * J).applyfunc(cancel)
    F1 = (s1 + s2) ** 2 / (2 * a[0][1])
    F2 = (s1 - s2) ** 2 / (2 * a[0][1])
    claim = Matrix.diag(1 / a[0][0], 1 / a[1][1], F1, F2)
    if (G_ag - claim).applyfunc(cancel) != Matrix.zeros(4, 4):
        raise DerivationError(f"d = 2 chart metric is {G_ag}")
    return claim


def warped_product(chart):
    r"""Step 2 (SymPy): in :math:`\mu_i = s_i^{1/N}` the base is flat, :math:`ds_i^2/a_{ii} = N\,d\mu_i^2`, so
    :math:`g^N = N(d\mu_1^2 + d\mu_2^2) + F_1\,d\alpha^2 + F_2\,d\gamma^2` is a doubly warped product over a flat
    half-plane (:math:`F_{1,2}` in :math:`\mu`). Returns ``diag(N, N, F1, F2)`` (catalog ``metric_warped_d2``)."""
    to_mu = {s1: mu1**N, s2: mu2**N}
    svals = (s1, s2)
    base = [
        cancel((chart[p, p].subs(to_mu) * diff(to_mu[svals[p]], (mu1, mu2)[p]) ** 2).rewrite("Pow")) for p in range(2)
    ]
    base = [b.simplify() for b in base]
    if base != [N, N]:
        raise DerivationError(f"mu-base metric is {base}, not N dmu^2")
    a12_mu = dln_multiplier(mu1 ** (2 * N), mu2 ** (2 * N), N)
    F1_mu = (mu1**N + mu2**N) ** 2 / (2 * a12_mu)
    F2_mu = (mu1**N - mu2**N) ** 2 / (2 * a12_mu)
    return Matrix.diag(N, N, F1_mu, F2_mu)


def christoffel_symbols(warped):
    r"""Step 3 (SymPy): the Christoffel symbols :math:`\Gamma^k_{ab}` of the warped product in
    :math:`(\mu_1, \mu_2, \alpha, \gamma)`, as a :math:`4\times 16` matrix (row k, column 4a + b; catalog
    ``christoffel_d2``)."""
    diag = [warped[p, p] for p in range(4)]
    gam = diagonal_christoffel(diag, (mu1, mu2, _alpha, _gamma))
    return Matrix(4, 16, lambda k, ab: gam[k][ab // 4][ab % 4])


def christoffel_structure():
    r"""Step 3, structure (SymPy): the same symbols for the metric :math:`N(d\mu_1^2 + d\mu_2^2) + F_1\,d\alpha^2 +
    F_2\,d\gamma^2` with undetermined :math:`F_1(\mu), F_2(\mu)` — the form the document prints (with
    :math:`F_1, F_2` the :math:`\alpha\alpha` and :math:`\gamma\gamma` entries of ``metric_warped_d2``)."""
    F1, F2 = Function("F_1")(mu1, mu2), Function("F_2")(mu1, mu2)
    gam = diagonal_christoffel((N, N, F1, F2), (mu1, mu2, _alpha, _gamma))
    return Matrix(4, 16, lambda k, ab: gam[k][ab // 4][ab % 4])


def generic_curvature():
    r"""Step 4 (SymPy): the scalar curvature of :math:`c\,(du_1^2 + du_2^2) + f_1(u)\,d\alpha^2 + f_2(u)\,d\gamma^2`
    with undetermined functions :math:`f_1, f_2` (derived once; Steps 5–7 substitute into it)."""
    return diagonal_metric_curvature((_c, _c, _f1, _f2), (_u1, _u2, _alpha, _gamma))[1]


def _warped_curvature(R_generic, F1e, F2e, base_c):
    """The generic curvature at c = base_c, f_k = F_k(mu) (derivatives done, not simplified)."""
    e = R_generic.subs(_c, base_c).subs({_f1: F1e.subs({mu1: _u1, mu2: _u2}), _f2: F2e.subs({mu1: _u1, mu2: _u2})})
    return e.doit().subs({_u1: mu1, _u2: mu2})


def closed_form():
    r"""Generalization (by hand, from integer N; certified numerically for real N against Step 6 and against finite
    differences of :math:`A_N(X)^{-1}` in the entries of X): the scalar curvature of :math:`g^N`,
    :math:`R_N = \cosh(\eta/N)\,e^{-(\log s_1 + \log s_2)/N}/N\,[N^2 c(\eta) - c(\eta/N)]`,
    :math:`\eta = \log(s_1/s_2)`, :math:`c = ` ``csch2gap``, and its quotient form
    :math:`(2/N)(x_1^{1/N} + x_2^{1/N})(a_{12}^2 - a_{11}a_{22})/(x_1 - x_2)^2`, :math:`x_i = s_i^2`.
    Returns ``(sinh form, quotient form)`` (catalog ``scalar_curvature_d2``)."""
    a = _multipliers()
    return _closed_form(s1, s2, N), _quotient_form(s1**2, s2**2, N, a[0][0], a[1][1], a[0][1])


def scalar_curvature_integer(R_generic, depth):
    r"""Step 5 (SymPy): for integer ``depth`` the warped coefficients are rational in :math:`\mu`; ``cancel``
    proves the generic curvature equal to the quotient form, :math:`R = 1/(\mu_1^2 + \mu_2^2)` at N = 2, and the
    rank-one limit :math:`\mu_2 \to 0`: :math:`2/(N\mu_1^2)` (N > 1). Returns the curvature in :math:`\mu`."""
    depth = Integer(depth)
    F1n = ((mu1**depth + mu2**depth) * (mu1**2 - mu2**2) / (2 * (mu1**depth - mu2**depth))).expand()
    F2n = (mu1**depth - mu2**depth) * (mu1**2 - mu2**2) / (2 * (mu1**depth + mu2**depth))
    # F1n: the sum over k is exact for integer depth; compare to the dln_multiplier form first
    a12n = sum(mu1 ** (2 * (depth - kk)) * mu2 ** (2 * (kk - 1)) for kk in range(1, depth + 1))
    if cancel(F1n - (mu1**depth + mu2**depth) ** 2 / (2 * a12n)) != 0:
        raise DerivationError(f"N = {depth}: F1 in mu")
    Rn = cancel(_warped_curvature(R_generic, F1n, F2n, depth).subs(N, depth))
    qn = _quotient_form(
        mu1 ** (2 * depth),
        mu2 ** (2 * depth),
        depth,
        depth * mu1 ** (2 * depth - 2),
        depth * mu2 ** (2 * depth - 2),
        a12n,
    )
    if cancel(Rn - qn) != 0:
        raise DerivationError(f"N = {depth}: warped-product curvature {Rn} is not the closed form")
    if depth == 2 and cancel(Rn - 1 / (mu1**2 + mu2**2)) != 0:  # N = 2: R = 1/(s1 + s2)
        raise DerivationError(f"N = 2 curvature is {Rn}")
    # rank-one boundary s2 -> 0 (mu2 -> 0): a polynomial limit of a rational function
    edge = cancel(Rn.subs(mu2, 0))
    if depth > 1 and cancel(edge - Integer(2) / (depth * mu1**2)) != 0:
        raise DerivationError(f"N = {depth}: rank-one limit {edge}")
    return Rn


def rank_one_limit():
    r"""Generalization (from integer N, proven in Step 5; certified numerically for real N by the quotient form at
    :math:`s_2 = 10^{-120}`): :math:`\lim_{s_2\to 0} R_N = 2/(N s_1^{2/N})`
    (catalog ``scalar_curvature_rank_one_d2``)."""
    return 2 / (N * s1 ** (2 / N))


def scalar_curvature_symbolic(R_generic, warped):
    r"""Step 6 (SymPy): the warped coefficients for symbolic N substituted in the generic curvature (derivatives
    done, not simplified: ``simplify`` on fractional powers does not finish; the certificate evaluates this
    expression at real N against the closed form)."""
    return _warped_curvature(R_generic, warped[2, 2].rewrite("Pow"), warped[3, 3].rewrite("Pow"), N)


def coincident_limit(closed):
    r"""Step 7 (SymPy): at :math:`s_1 = s_2 = s` the closed form is finite, ``csch2gap(0) = 1/3``:
    :math:`R_N = (N^2 - 1)/(3N)\,s^{-2/N}` (catalog ``scalar_curvature_coincident_d2``)."""
    coincident = closed.subs({s1: _s, s2: _s})
    if simplify(coincident - (N**2 - 1) / (3 * N) * _s ** (-2 / N)) != 0:
        raise DerivationError(f"coincident limit {coincident}")
    return coincident


def infinite_depth_curvature(R_generic):
    r"""Step 8 (SymPy): :math:`\hat g^\infty` in :math:`\rho = \log s`,
    :math:`d\rho_1^2 + d\rho_2^2 + F^\infty_1 d\alpha^2 + F^\infty_2 d\gamma^2` with
    :math:`F^\infty_{1,2} = (e^{\rho_1} \pm e^{\rho_2})^2/(2L(e^{2\rho_1}, e^{2\rho_2}))`, substituted in the generic
    curvature (not simplified; the certificate evaluates it against Step 9's limit)."""
    L12 = logmean(exp(2 * _u1), exp(2 * _u2))
    F1i = (exp(_u1) + exp(_u2)) ** 2 / (2 * L12)
    F2i = (exp(_u1) - exp(_u2)) ** 2 / (2 * L12)
    return R_generic.subs(_c, 1).subs({_f1: F1i, _f2: F2i}).doit().subs({_u1: rho1, _u2: rho2})


def infinite_depth_series(closed):
    r"""Step 9 (SymPy): the series of :math:`R(N g^N) = R_N/N` in :math:`h = 1/N` at :math:`s = e^\rho`: the limit is
    :math:`R(\hat g^\infty) = ` ``csch2gap``:math:`(\rho_1 - \rho_2)` and the :math:`1/N` coefficient
    :math:`-(\rho_1 + \rho_2)\,R(\hat g^\infty)`. Returns ``(limit, coefficient, R_N/N)``."""
    R_inf = csch2gap(rho1 - rho2)
    normalized = (closed / N).subs({s1: exp(rho1), s2: exp(rho2)}).subs(N, 1 / h)
    ser = series(normalized, h, 0, 2).removeO()
    c0, c1 = ser.coeff(h, 0), ser.coeff(h, 1)
    if cancel((c0 - R_inf).rewrite("Pow")) != 0 or cancel(c1 + (rho1 + rho2) * R_inf) != 0:
        raise DerivationError(f"series of R_N/N: {c0} + {c1} h")
    return R_inf, -(rho1 + rho2) * R_inf, closed / N


def aligned_geodesic_length():
    r"""Generalization (Chen [Che25], by hand from the flat base of Step 2; certified numerically by quadrature of
    the metric speed with :math:`A_N^{-1}` in matrix entries): between matrices with the same singular vectors the
    curve straight in :math:`\mu = s^{1/N}` is a geodesic of length :math:`\sqrt{N\sum_i (s_i^{1/N} -
    \sigma_i^{1/N})^2}` (catalog ``geodesic_length_aligned``)."""
    return sqrt(N * Sum((s[i] ** (1 / N) - sigma[i] ** (1 / N)) ** 2, (i, 1, r)))


@derivation(
    "curvature", requires=("multiplier",), title="Curvature of $g^N$ and $\\hat g^\\infty$ at $d = 2$; Chen's geodesics"
)
def derive_curvature(deps) -> Result:
    chart = chart_metric()
    warped = warped_product(chart)
    R_generic = generic_curvature()
    closed, quotient = closed_form()
    exprs = {
        "metric_chart_d2": chart,
        "metric_warped_d2": warped,
        "christoffel_d2": christoffel_symbols(warped),
        "christoffel_d2_structure": christoffel_structure(),
        "scalar_curvature_d2": closed,
        "scalar_curvature_quotient_d2": quotient,
    }
    for depth in (1, 2, 3, 4):
        exprs[f"scalar_curvature_mu_N{depth}"] = scalar_curvature_integer(R_generic, depth)
    exprs["scalar_curvature_rank_one_d2"] = rank_one_limit()
    R_symbolic_mu = scalar_curvature_symbolic(R_generic, warped)
    exprs["scalar_curvature_coincident_d2"] = coincident_limit(closed)
    R_inf_generic = infinite_depth_curvature(R_generic)
    R_inf, correction, normalized = infinite_depth_series(closed)
    exprs["scalar_curvature_infinite_d2"] = R_inf
    exprs["scalar_curvature_infinite_s_d2"] = csch2gap(log(s1) - log(s2))
    exprs["scalar_curvature_correction_d2"] = correction
    exprs["scalar_curvature_normalized_d2"] = normalized
    exprs["geodesic_length_aligned"] = aligned_geodesic_length()
    return Result(exprs, certify_curvature(exprs, R_symbolic_mu, R_inf_generic))


# ---------------------------------------------------------------------------------------------
# independent evaluation: curvature of G = A_N(X)^{-1} in the entries of X by finite differences
def _mp_sinhc(z):
    return mpmath.mpf(1) if z == 0 else mpmath.sinh(z) / z


def _mp_multiplier(xv, yv, depth):
    """a_N(x, y) (N = inf: L(x, y)) in log space, smooth through x = y (mpmath)."""
    u, v = mpmath.log(xv), mpmath.log(yv)
    delta = u - v
    if depth == mpmath.inf:
        return mpmath.exp((u + v) / 2) * _mp_sinhc(delta / 2)
    return (
        depth * mpmath.exp((u + v) * (depth - 1) / (2 * depth)) * _mp_sinhc(delta / 2) / _mp_sinhc(delta / (2 * depth))
    )


def mp_metric_matrix(X, depth):
    """G = A_N(X)^{-1} (vec index a n + b), A_N by its definition (``mp_operator_matrix``: the defining sum at
    integer N, the Frechet derivative of t^N at real N); N = inf: A_inf, the normalized limit, through the
    eigenbases of X X^T and X^T X with the logarithmic mean in log space."""
    m, n = X.rows, X.cols
    if depth != mpmath.inf:  # the defining sum, or the Frechet derivative of t^N (no multiplier formula)
        return mp_operator_matrix(X, depth) ** -1
    lam, Ql = mpmath.eigsy(X * X.T)
    nu, Qr = mpmath.eigsy(X.T * X)
    A = mpmath.zeros(m * n, m * n)
    for p in range(m):
        for q in range(n):
            w = _mp_multiplier(lam[p], nu[q], depth)
            u = [Ql[a, p] * Qr[b, q] for a in range(m) for b in range(n)]
            for e in range(m * n):
                for f in range(m * n):
                    A[e, f] += w * u[e] * u[f]
    return A**-1


_STEP = "1e-12"


def fd_scalar_curvature(X, depth, step=None):
    """Scalar curvature of the metric matrix G(X) = A_N(X)^{-1} in the entries of X (mpmath, central
    finite differences of G for dG and d^2 G; Christoffel symbols and Ricci tensor by their definitions)."""
    step = mpmath.mpf(_STEP) if step is None else mpmath.mpf(step)
    m, n = X.rows, X.cols
    D = m * n

    def Gat(shift):
        Y = X.copy()
        for idx, v in shift.items():
            Y[idx // n, idx % n] += v
        return mp_metric_matrix(Y, depth)

    G0 = Gat({})
    Gi = G0**-1
    plus = [Gat({a: step}) for a in range(D)]
    minus = [Gat({a: -step}) for a in range(D)]
    dG = [((plus[a] - minus[a]) / (2 * step)).tolist() for a in range(D)]
    ddG = [[None] * D for _ in range(D)]
    for a in range(D):
        ddG[a][a] = ((plus[a] - 2 * G0 + minus[a]) / step**2).tolist()
        for b in range(a + 1, D):
            v = (
                Gat({a: step, b: step})
                - Gat({a: step, b: -step})
                - Gat({a: -step, b: step})
                + Gat({a: -step, b: -step})
            )
            ddG[a][b] = ddG[b][a] = (v / (4 * step**2)).tolist()
    # Gamma_{l,ij} (first kind) and its derivatives
    rng = range(D)
    g1 = [[[(dG[i_][l][j] + dG[j][l][i_] - dG[l][i_][j]) / 2 for j in rng] for i_ in rng] for l in rng]
    gam = [[[mpmath.fsum(Gi[k, l] * g1[l][i_][j] for l in rng) for j in rng] for i_ in rng] for k in rng]
    dGi = [-(Gi * mpmath.matrix(dG[p]) * Gi) for p in rng]

    def dgam(p, k, i_, j):  # d_p Gamma^k_ij
        return mpmath.fsum(
            dGi[p][k, l] * g1[l][i_][j] + Gi[k, l] * (ddG[p][i_][l][j] + ddG[p][j][l][i_] - ddG[p][l][i_][j]) / 2
            for l in rng
        )

    R = mpmath.mpf(0)
    for i_ in rng:
        for j in rng:
            if Gi[i_, j] == 0:
                continue
            Rij = mpmath.fsum(dgam(k, k, i_, j) - dgam(j, k, i_, k) for k in rng)
            Rij += mpmath.fsum(gam[k][k][l] * gam[l][i_][j] - gam[k][j][l] * gam[l][i_][k] for k in rng for l in rng)
            R += Gi[i_, j] * Rij
    return R


def _random_2x2(svals, sign, rnd):
    Q, P = random_orthogonal(2, rnd), random_orthogonal(2, rnd)
    flip = mpmath.diag([-1, 1])
    if mpmath.det(Q) < 0:
        Q = Q * flip
    if mpmath.det(P) * sign < 0:
        P = P * flip
    return Q * mpmath.diag(svals) * P.T


_FD = (
    "curvature of the metric matrix, the inverse of A_N(X), in the entries of X (central finite differences, "
    "h = 1e-12, mpmath 60 digits), random X, both signs of det X"
)


def certify_curvature(exprs, R_symbolic_mu, R_inf_generic) -> dict:
    """Certificate (numeric): every curvature against finite differences of the metric matrix A_N(X)^{-1} in the
    entries of X (never the chart); the closed form against Steps 6 and 8 (``R_symbolic_mu``, ``R_inf_generic``)
    at real N; the limits, the warped metric, the Christoffel symbols and Chen's length against their own
    independent evaluations (mpmath). Returns ``{name: Check}``."""
    rnd = random.Random(13)
    (w_fd, n_fd), (w_inf, n_inf) = _certify_fd(exprs, rnd)
    w_coinc, n_coinc = _certify_coincident(exprs, rnd)
    w_gen, w_quot, n_gen = _certify_generic(exprs, R_symbolic_mu, R_inf_generic, rnd)
    w_lim, n_lim = _certify_series(exprs, rnd)
    w_edge, n_edge = _certify_rank_one(exprs, rnd)
    w_len, n_len = _certify_geodesic(exprs, rnd)
    wm, wc, cm = _certify_chart(exprs, rnd)
    fd_depths = depth_labels((1, 2, 3, 7.5))
    fd_tex = (
        r"curvature of the metric matrix $A_N(X)^{-1}$ in the entries of $X$ ($A_N$ by its definition: fractional "
        r"matrix powers, or the Fr\'echet derivative of $t^N$ at non-integer $N$; central finite "
        r"differences, "
        r"$h = 10^{-12}$, mpmath 60 digits), random $X$, both signs of $\det X$"
    )
    generic = depth_labels((1.5, 2.5, 7.5, 12))
    chart = depth_labels(_CHART_DEPTHS)
    chart_tex = (
        r"the pull-back by the chart of $A_N(X)^{-1}$ in matrix entries ($A_N$ by its definition), the chart's "
        r"Jacobian by central differences ($h = 10^{-25}$, 60 digits)"
    )
    return {
        "metric_warped_d2": Check(
            "the pull-back by the chart of the inverse of A_N(X) in matrix entries, the chart's Jacobian by central "
            f"differences (h = 1e-25, 60 digits), N = {', '.join(chart)}",
            wm,
            1e-30,
            cm,
            latex=f"{chart_tex}, {depths_tex(chart)}",
            depths=chart,
        ),
        "christoffel_d2": Check(
            "Christoffel symbols of the pulled-back metric by central finite differences (h = 1e-15, mpmath 60 "
            f"digits), N = {', '.join(chart)}",
            wc,
            1e-15,
            cm,
            latex=(
                r"Christoffel symbols of the pulled-back metric by central finite differences ($h = 10^{-15}$, "
                rf"mpmath 60 digits), {depths_tex(chart)}"
            ),
            depths=chart,
        ),
        "scalar_curvature_d2": Check(
            f"{_FD}, N = 1 (absolute error), {', '.join(fd_depths[1:])}",
            w_fd,
            1e-15,
            n_fd,
            latex=rf"{fd_tex}, {depths_tex(fd_depths)} (absolute error at $N = 1$)",
            depths=fd_depths,
        ),
        "scalar_curvature_infinite_d2": Check(
            f"{_FD}, the infinite-depth operator (logarithmic mean)",
            w_inf,
            1e-15,
            n_inf,
            latex=rf"{fd_tex}, the infinite-depth operator (logarithmic mean)",
            depths=("inf",),
        ),
        "scalar_curvature_coincident_d2": Check(
            f"{_FD}, X = sQ (Q a rotation), N = {', '.join(depth_labels(_COINCIDENT_DEPTHS))}",
            w_coinc,
            1e-15,
            n_coinc,
            latex=rf"{fd_tex}, $X = sQ$ ($Q$ a rotation), {depths_tex(depth_labels(_COINCIDENT_DEPTHS))}",
            depths=depth_labels(_COINCIDENT_DEPTHS),
        ),
        "scalar_curvature_generic_d2": Check(
            f"closed form vs the warped-product curvature for real N = {', '.join(generic)} and for g^inf (mpmath 60 "
            "digits)",
            w_gen,
            1e-40,
            n_gen,
            latex=(
                r"closed form against the warped-product curvature (symbolic $N$) at "
                + depths_tex(generic)
                + r" and for $\hat g^\infty$ (mpmath 60 digits)"
            ),
            depths=(*generic, "inf"),
        ),
        "scalar_curvature_quotient_d2": Check(
            f"sinh form against the quotient form in the multipliers, N = {', '.join(generic)} (mpmath 60 digits)",
            w_quot,
            1e-40,
            n_gen,
            latex=rf"$\sinh$ form against the quotient form in the multipliers, {depths_tex(generic)} "
            "(mpmath 60 digits)",
            depths=generic,
        ),
        "scalar_curvature_correction_d2": Check(
            "N times the difference of the normalized and infinite-depth curvatures at N = 10^3..10^8, "
            "Richardson-extrapolated (mpmath 60 digits)",
            w_lim,
            1e-20,
            n_lim,
            latex=r"$N$ times the difference of the normalized and infinite-depth curvatures at " + LIMIT_TEX,
            depths=("inf",),
        ),
        "scalar_curvature_rank_one_d2": Check(
            "quotient form at a second singular value 120 decades below the first, against the rank-one limit, "
            f"N = {', '.join(depth_labels(_RANK_ONE_DEPTHS))} (integer N: proven by cancel in the factor singular "
            "values)",
            w_edge,
            1e-20,
            n_edge,
            latex=(
                r"quotient form at $s_2 = 10^{-120}$ (about 120 decades below $s_1$) against the rank-one limit, "
                + depths_tex(depth_labels(_RANK_ONE_DEPTHS))
                + r" (integer $N$: proven by cancellation in the factor singular values)"
            ),
            depths=depth_labels(_RANK_ONE_DEPTHS),
        ),
        "geodesic_length_aligned": Check(
            "quadrature of the metric speed along the aligned curve that is straight in the factor singular "
            "values, with the inverse of A_N (by its definition) in matrix entries (mpmath), "
            f"N = {', '.join(depth_labels(_GEODESIC_DEPTHS))}",
            w_len,
            1e-15,
            n_len,
            latex=(
                r"quadrature of the metric speed along the aligned curve that is straight in the factor singular "
                r"values, with $A_N(X)^{-1}$ ($A_N$ by its definition) in matrix entries (mpmath), "
                + depths_tex(depth_labels(_GEODESIC_DEPTHS))
            ),
            depths=depth_labels(_GEODESIC_DEPTHS),
        ),
    }


# the certificates' depths (non-integer N: A_N as the Frechet derivative of t^N)
_COINCIDENT_DEPTHS = (2, 3, 4, 5, 2, 3, 2.5, 4.5)
_RANK_ONE_DEPTHS = (2, 3, 4, 5, 1.5, 2.5, 4.5, 7.5)
_GEODESIC_ENDS = (
    ((mpmath.mpf(2), mpmath.mpf("0.5")), (mpmath.mpf("1.2"), mpmath.mpf("0.9"))),
    ((mpmath.mpf("0.7"), mpmath.mpf("0.3")), (mpmath.mpf("1.5"), mpmath.mpf("1.1"))),
)
_GEODESIC_CASES = [*itertools.product((2, 3, 4, 5), _GEODESIC_ENDS), (2.5, _GEODESIC_ENDS[0])]
_GEODESIC_DEPTHS = tuple(depth for depth, _ in _GEODESIC_CASES)
_CHART_DEPTHS = (2, 3, 4, 5, 1.5, 2.5, 4.5, 7.5)


def _certify_fd(exprs, rnd):
    """Closed forms (finite N, infinite depth) against ``fd_scalar_curvature`` at random X, both signs of det X."""
    worst = {"fd": 0.0, "fd_inf": 0.0}
    counts = dict.fromkeys(worst, 0)
    with mpmath.workdps(60):
        for depth in (1, 2, 3, mpmath.mpf("7.5")) + (mpmath.inf,) * 4:
            for sign in (1, -1):
                sv = sorted((mpmath.mpf(rnd.uniform(0.3, 3.0)) for _ in range(2)), reverse=True)
                brute = fd_scalar_curvature(_random_2x2(sv, sign, rnd), depth)
                if depth == mpmath.inf:
                    got = mp_eval(
                        exprs["scalar_curvature_infinite_d2"], {rho1: mpmath.log(sv[0]), rho2: mpmath.log(sv[1])}
                    )
                    key = "fd_inf"
                else:
                    got = mp_eval(exprs["scalar_curvature_d2"], {s1: sv[0], s2: sv[1], N: depth})
                    key = "fd"
                err = abs(got - brute) if depth == 1 else rel_err(got, brute)
                worst[key] = max(worst[key], float(err))
                counts[key] += 1
    return (worst["fd"], counts["fd"]), (worst["fd_inf"], counts["fd_inf"])


def _certify_coincident(exprs, rnd):
    """Coincident singular values: FD of G at X = s * rotation (the chart is singular there, G is not)."""
    worst, count = 0.0, 0
    with mpmath.workdps(60):
        for depth in _COINCIDENT_DEPTHS:
            sv = mpmath.mpf(rnd.uniform(0.5, 2.0))
            brute = fd_scalar_curvature(_random_2x2([sv, sv], 1, rnd), depth)
            got = mp_eval(exprs["scalar_curvature_coincident_d2"], {_s: sv, N: depth})
            worst = max(worst, rel_err(got, brute))
            count += 1
    return worst, count


def _certify_generic(exprs, R_symbolic_mu, R_inf_generic, rnd):
    """Symbolic N: the generic warped-product curvature (in mu) vs the closed form and the quotient form, real N;
    the generic curvature of g^inf in rho vs its closed form."""
    w_gen = w_quot = 0.0
    count = 0
    with mpmath.workdps(60):
        for depth in (1.5, 2.5, 7.5, 12):
            for _ in range(2):
                sv = sorted((mpmath.mpf(rnd.uniform(0.2, 5.0)) for _ in range(2)), reverse=True)
                mus = [v ** (1 / mpmath.mpf(depth)) for v in sv]
                gen = mp_eval(R_symbolic_mu, {mu1: mus[0], mu2: mus[1], N: depth})
                got = mp_eval(exprs["scalar_curvature_d2"], {s1: sv[0], s2: sv[1], N: depth})
                q = mp_eval(exprs["scalar_curvature_quotient_d2"], {s1: sv[0], s2: sv[1], N: depth})
                w_gen = max(w_gen, rel_err(got, gen))
                w_quot = max(w_quot, rel_err(got, q))
                count += 1
                rh = {rho1: mpmath.log(sv[0]), rho2: mpmath.log(sv[1])}
                gi = mp_eval(R_inf_generic, rh)
                ri = mp_eval(exprs["scalar_curvature_infinite_d2"], rh)
                w_gen = max(w_gen, rel_err(ri, gi))
    return w_gen, w_quot, count


def _certify_series(exprs, rnd):
    """R(N g^N) -> R(g^inf): N (R_N/N - R_inf) -> correction, Richardson in 1/N."""
    worst, count = 0.0, 0
    with mpmath.workdps(60):
        for _ in range(8):
            sv = sorted((mpmath.mpf(rnd.uniform(0.2, 5.0)) for _ in range(2)), reverse=True)
            rh = {rho1: mpmath.log(sv[0]), rho2: mpmath.log(sv[1])}
            Rinf = mp_eval(exprs["scalar_curvature_infinite_d2"], rh)
            corr = mp_eval(exprs["scalar_curvature_correction_d2"], rh)

            def fin(Nv, sv=sv, Rinf=Rinf):
                return Nv * (mp_eval(exprs["scalar_curvature_normalized_d2"], {s1: sv[0], s2: sv[1], N: Nv}) - Rinf)

            ext, _last = richardson_limit(fin)
            worst = max(worst, rel_err(ext, corr))
            count += 1
    return worst, count


def _certify_rank_one(exprs, rnd):
    """Rank-one edge, real N: the quotient form at s2 = 1e-120 vs the limit."""
    worst, count = 0.0, 0
    with mpmath.workdps(60):
        for depth in _RANK_ONE_DEPTHS:
            sv = mpmath.mpf(rnd.uniform(0.5, 2.0))
            near = mp_eval(exprs["scalar_curvature_quotient_d2"], {s1: sv, s2: mpmath.mpf("1e-120"), N: depth})
            lim = mp_eval(exprs["scalar_curvature_rank_one_d2"], {s1: sv, N: depth})
            worst = max(worst, rel_err(near, lim))
            count += 1
    return worst, count


def _certify_geodesic(exprs, rnd):
    """Chen: length of the mu-straight aligned curve by quadrature of sqrt(g(Xdot, Xdot)), G from the entries."""
    worst, count = 0.0, 0
    with mpmath.workdps(60):
        for depth, (s0, s1v) in _GEODESIC_CASES:
            Q = _random_2x2([1, 1], 1, rnd)

            def curve(t, depth=depth, s0=s0, s1v=s1v, Q=Q):
                return Q * mpmath.diag(
                    [
                        ((1 - t) * a ** (mpmath.mpf(1) / depth) + t * b ** (mpmath.mpf(1) / depth)) ** depth
                        for a, b in zip(s0, s1v, strict=True)
                    ]
                )

            def speed(t, curve=curve, depth=depth):
                Xt = curve(t)
                dX = (curve(t + mpmath.mpf("1e-20")) - curve(t - mpmath.mpf("1e-20"))) / mpmath.mpf("2e-20")
                v = mpmath.matrix([dX[0, 0], dX[0, 1], dX[1, 0], dX[1, 1]])
                return mpmath.sqrt((v.T * mp_metric_matrix(Xt, depth) * v)[0])

            with mpmath.workdps(40):
                length = mpmath.quad(speed, [0, 1])
            got = mp_eval(
                exprs["geodesic_length_aligned"].subs(r, 2).doit(),
                {s[1]: s1v[0], s[2]: s1v[1], sigma[1]: s0[0], sigma[2]: s0[1], N: depth},
            )
            worst = max(worst, rel_err(got, length))
            count += 1
    return worst, count


def _certify_chart(exprs, rnd):
    """The warped metric and its Christoffel symbols against the pull-back of G = A_N^{-1} by the chart."""
    wm = wc = 0.0
    count = 0
    with mpmath.workdps(60):
        for depth in _CHART_DEPTHS:
            q0 = [
                mpmath.mpf(rnd.uniform(1.2, 2.0)),
                mpmath.mpf(rnd.uniform(0.4, 1.0)),
                mpmath.mpf(rnd.uniform(-1, 1)),
                mpmath.mpf(rnd.uniform(-1, 1)),
            ]

            def chart(q, depth=depth):
                th, ph = (q[3] + q[2]) / 2, (q[3] - q[2]) / 2
                Rt = mpmath.matrix([[mpmath.cos(th), -mpmath.sin(th)], [mpmath.sin(th), mpmath.cos(th)]])
                Rp = mpmath.matrix([[mpmath.cos(ph), -mpmath.sin(ph)], [mpmath.sin(ph), mpmath.cos(ph)]])
                return Rt * mpmath.diag([q[0] ** depth, q[1] ** depth]) * Rp.T

            def pulled(q, depth=depth, chart=chart):
                hh = mpmath.mpf("1e-25")
                cols = []
                for a_ in range(4):
                    qp, qm = list(q), list(q)
                    qp[a_] += hh
                    qm[a_] -= hh
                    dX = (chart(qp) - chart(qm)) / (2 * hh)
                    cols.append([dX[0, 0], dX[0, 1], dX[1, 0], dX[1, 1]])
                Jm = mpmath.matrix(cols).T
                return (Jm.T * mp_metric_matrix(chart(q), depth) * Jm).tolist()

            vals = {mu1: q0[0], mu2: q0[1], N: depth}
            g0 = pulled(q0)
            Wm = exprs["metric_warped_d2"]
            for a_ in range(4):
                for b_ in range(4):
                    ref = g0[a_][b_]
                    got = mp_eval(Wm[a_, b_], vals)
                    wm = max(wm, float(abs(got - ref)))
            step = mpmath.mpf("1e-15")
            dg = []
            for a_ in range(4):
                qp, qm = list(q0), list(q0)
                qp[a_] += step
                qm[a_] -= step
                gp, gm = pulled(qp), pulled(qm)
                dg.append([[(gp[u][v] - gm[u][v]) / (2 * step) for v in range(4)] for u in range(4)])
            gi = mpmath.matrix(g0) ** -1
            C = exprs["christoffel_d2"]
            for k in range(4):
                for a_ in range(4):
                    for b_ in range(4):
                        ref = mpmath.fsum(
                            gi[k, l] * (dg[a_][l][b_] + dg[b_][l][a_] - dg[l][a_][b_]) / 2 for l in range(4)
                        )
                        got = mp_eval(C[k, 4 * a_ + b_], vals)
                        wc = max(wc, float(abs(got - ref)))
            count += 1
    return wm, wc, count


# ---------------------------------------------------------------------------------------------
# catalog declarations (riemdln.symbolic.formulas builds the public catalog from them; see _entries.Entry)
CATALOG = (
    Entry(
        name="metric_warped_d2",
        derivation="curvature",
        key="metric_warped_d2",
        args=(sy.mu1, sy.mu2, sy.N),
        convention="raw",
        symbol=r"g^N_{(\mu_1, \mu_2, \alpha, \gamma)}",
        title="The metric $g^N$ ($d = 2$) in $\\mu = s^{1/N}$, $\\alpha = \\theta - \\phi$, $\\gamma = "
        "\\theta + \\phi$: "
        "a doubly warped product over the flat half-plane $N(d\\mu_1^2 + d\\mu_2^2)$",
        display=("metric_chart_d2",),
        charts=(r"g^N_{(s_1, s_2, \alpha, \gamma)}",),
        check="metric_warped_d2",
    ),
    Entry(
        name="christoffel_d2",
        derivation="curvature",
        key="christoffel_d2",
        args=(sy.mu1, sy.mu2, sy.N),
        convention="raw",
        symbol=r"\Gamma^k_{ij}",
        title="Christoffel symbols of $g^N$ ($d = 2$) in $(\\mu_1, \\mu_2, \\alpha, \\gamma)$ (indices 1–4), "
        "the non-zero ones up to the symmetry $\\Gamma^k_{ij} = \\Gamma^k_{ji}$, with $F_1 = g_{\\alpha\\alpha}$ "
        "and $F_2 = g_{\\gamma\\gamma}$ of \\texttt{metric\\_warped\\_d2} (the catalog entry and its twin are "
        "the symbols with $F_1, F_2$ substituted: row $k$, column $4i + j$)",
        display=("christoffel_d2_structure",),
        check="christoffel_d2",
    ),
    Entry(
        name="scalar_curvature_d2",
        provenance="certified",
        generalized="real $N$ (SymPy: $N = 1, 2, 3, 4$ and symbolic $N$ in $\\mu$)",
        derivation="curvature",
        key="scalar_curvature_d2",
        args=(sy.s1, sy.s2, sy.N),
        convention="raw",
        symbol=r"R(g^N)",
        title="Scalar curvature of $g^N$ at $d = 2$; $\\operatorname{csch2gap}(z) = 1/z^2 - 1/\\sinh^2 z$; "
        "$R(N g^N) = R(g^N)/N$",
        display=("scalar_curvature_quotient_d2",),
        check="scalar_curvature_d2",
        twins=(("scalar_curvature_d2", None),),
    ),
    Entry(
        name="scalar_curvature_infinite_d2",
        derivation="curvature",
        key="scalar_curvature_infinite_d2",
        args=(sy.rho1, sy.rho2),
        convention="normalized",
        symbol=r"R(\hat g^\infty)",
        title="Scalar curvature of $\\hat g^\\infty$ at $d = 2$ in $\\rho = \\log s$ (the limit of $R(N g^N)$)",
        check="scalar_curvature_infinite_d2",
        twins=(("scalar_curvature_infinite_d2", None),),
    ),
    Entry(
        name="scalar_curvature_correction_d2",
        derivation="curvature",
        key="scalar_curvature_correction_d2",
        args=(sy.rho1, sy.rho2),
        convention="normalized",
        symbol=r"\lim_{N\to\infty} N\,(R(N g^N) - R(\hat g^\infty))",
        title="First-order coefficient: $R(N g^N) = R(\\hat g^\\infty) + c_1/N + O(N^{-2})$",
        check="scalar_curvature_correction_d2",
    ),
    Entry(
        name="scalar_curvature_coincident_d2",
        derivation="curvature",
        key="scalar_curvature_coincident_d2",
        args=(sy.s_scalar, sy.N),
        convention="raw",
        symbol=r"R(g^N)\big|_{s_1 = s_2 = s}",
        title="Scalar curvature of $g^N$ at coincident singular values (removable; $N = \\infty$ normalized: $1/3$)",
        check="scalar_curvature_coincident_d2",
        twins=(("scalar_curvature_coincident_d2", None),),
    ),
    Entry(
        name="scalar_curvature_rank_one_d2",
        provenance="certified",
        generalized="real $N$",
        derivation="curvature",
        key="scalar_curvature_rank_one_d2",
        args=(sy.s1, sy.N),
        convention="raw",
        symbol=r"\lim_{s_2\to 0} R(g^N)",
        title="Scalar curvature of $g^N$ at the rank-one boundary $s_2 \\to 0$ ($N > 1$): finite",
        check="scalar_curvature_rank_one_d2",
    ),
    Entry(
        name="geodesic_length_aligned",
        provenance="certified",
        generalized="any $d$ and real $N$, from the flat base",
        derivation="curvature",
        key="geodesic_length_aligned",
        args=(sy.s, sy.sigma, sy.N),
        convention="raw",
        symbol=r"\ell^N(\sigma \to s)",
        title="Length of Chen's geodesic between matrices with the same singular vectors, singular values "
        "$\\sigma$ and $s$ (each balanced factor moves on a straight line)",
        check="geodesic_length_aligned",
    ),
)
