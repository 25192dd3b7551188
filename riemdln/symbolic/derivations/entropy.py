r"""Entropy of the balanced fibre (Menon–Yu; docs/theory.md §7) and its large-depth asymptotics.

The balanced tuples over a full-rank X form the orbit of the gauge group :math:`O_d^{N-1}`
(:math:`W_p \mapsto O_p W_p O_{p-1}^T`). Its tangent map sends :math:`(\xi_1, \dots, \xi_{N-1})
\in so(d)^{N-1}` to :math:`\delta W_p = \xi_p W_p - W_p \xi_{p-1}` (:math:`\xi_0 = \xi_N = 0`); the
orbit volume is :math:`c_d^{N-1}\sqrt{\det\mathrm{Gram}}`. SymPy computes the Gram determinant for
d = 2 and N = 2..5 and finds :math:`\prod_{i<j} a_N(\sigma_i^2, \sigma_j^2)`; mpmath certifies d = 3.
:math:`c_d = \mathrm{vol}\,O(d)` (Frobenius metric) comes from the fibration
:math:`SO(d) \to S^{d-1}` and is checked at d = 2 against the length of :math:`O(2)`.
"""

from __future__ import annotations

import random

import mpmath
import sympy
from sympy import (
    Integer,
    Matrix,
    Product,
    Sum,
    cos,
    expand,
    gamma,
    integrate,
    log,
    loggamma,
    pi,
    simplify,
    sin,
    sqrt,
    symbols,
    zeros,
)

from riemdln.symbolic.derivations import symbols as sy
from riemdln.symbolic.derivations._certify import (
    LIMIT_TEX,
    certify_limit,
    depth_labels,
    depths_tex,
    mp_eval,
    random_orthogonal,
    random_points,
    rel_err,
    unroll,
)
from riemdln.symbolic.derivations._engine import Check, DerivationError, Result, derivation
from riemdln.symbolic.derivations._entries import Entry
from riemdln.symbolic.derivations.symbols import MU_VALUES, N, d, i, j, k, sigma, x, y
from riemdln.symbolic.functions import dln_multiplier, logmean


def orthogonal_group_volume_expr(dim):
    r"""c_d = 2 * 2^{d(d-1)/4} * prod_{k=1}^{d-1} |S^k|, |S^k| = 2 pi^{(k+1)/2} / Gamma((k+1)/2)."""
    return (
        2
        * 2 ** (dim * (dim - 1) / Integer(4))
        * Product(2 * pi ** ((k + 1) / 2) / gamma((k + 1) / Integer(2)), (k, 1, dim - 1))
    )


def _gauge_gram(mus, depth):
    """Gram matrix of the gauge directions at W_p = diag(mu) (d = 2), unit so(2) generator."""
    a, b = mus
    W = Matrix.diag(a, b)
    xi = (Matrix([[0, 1], [-1, 0]])) / sqrt(2)
    dirs = []
    for p in range(1, depth):  # xi_p acts on W_p (left) and W_{p+1} (right)
        dW = [zeros(2, 2) for _ in range(depth)]
        dW[p - 1] = xi * W
        dW[p] = -W * xi
        dirs.append(dW)
    G = Matrix(depth - 1, depth - 1, lambda u, v: sum((dirs[u][q].T * dirs[v][q]).trace() for q in range(depth)))
    return G


def length_of_O2():
    r"""Step 1 (SymPy): :math:`c_2`, the Frobenius length of :math:`O(2)` (two circles), from the formula and by
    integrating the speed of :math:`\theta \mapsto R(\theta)`; returns ``c_2``."""
    th = symbols("theta", real=True)
    Rm = Matrix([[cos(th), -sin(th)], [sin(th), cos(th)]])
    speed = sqrt(simplify((Rm.diff(th).T * Rm.diff(th)).trace()))
    c2_direct = 2 * integrate(speed, (th, 0, 2 * pi))
    c2 = simplify(orthogonal_group_volume_expr(2).doit())
    if simplify(c2 - c2_direct) != 0:
        raise DerivationError(f"c_2 = {c2} but the length of O(2) is {c2_direct}")
    return c2


def fibre_gram_d2(depths=(2, 3, 4, 5)):
    r"""Step 2 (SymPy): for d = 2 the gauge orbit's Gram determinant is :math:`a_N(s_1^2, s_2^2)` at
    :math:`s = \mu^N`, for each depth in ``depths``; returns the determinants."""
    mu1, mu2 = MU_VALUES[:2]
    dets = {}
    for depth in depths:
        det = expand(_gauge_gram((mu1, mu2), depth).det())
        a = expand(sum(mu1 ** (2 * (depth - kk)) * mu2 ** (2 * (kk - 1)) for kk in range(1, depth + 1)))
        if simplify(det - a) != 0:
            raise DerivationError(f"fibre Gram determinant for N = {depth}: {det} != {a}")
        dets[depth] = det
    return dets


def log_orthogonal_group_volume_sum():
    r"""Step 3 (SymPy, d = 2..8 to 30 digits): :math:`\log c_d` as a sum of logs and :math:`\log\Gamma`;
    returns ``(log c_d, the sum)``."""
    log_cd = log(orthogonal_group_volume_expr(d))
    kr = symbols("k", positive=True)  # not declared integer: keeps loggamma unevaluated
    log_cd_sum = (1 + d * (d - 1) / Integer(4)) * log(2) + Sum(
        log(2) + (kr + 1) / Integer(2) * log(pi) - loggamma((kr + 1) / Integer(2)), (kr, 1, d - 1)
    )
    for dim in range(2, 9):
        gap = (log_cd.subs(d, dim).doit() - unroll(log_cd_sum, d, dim)).evalf(30)
        if not abs(gap) < 1e-25:
            raise DerivationError(f"log c_d as a sum disagrees at d = {dim}: {gap}")
    return log_cd, log_cd_sum


def entropy_any_d(log_cd):
    """Generalization to any d (by hand from d = 2; certified numerically by Gram determinants at d = 2, 3)."""
    pair = log(dln_multiplier(sigma[i] ** 2, sigma[j] ** 2, N)) / 2
    return (N - 1) * log_cd + Sum(Sum(pair, (j, i + 1, d)), (i, 1, d))


def renormalized_limit(multiplier_infinite):
    r"""Step 4 (SymPy): :math:`S_N - (N-1)\log c_d - \tfrac{d(d-1)}{4}\log N = \tfrac12\sum\log(a_N/N)`
    tends to :math:`\tfrac12\sum_{i<j}\log L(\sigma_i^2, \sigma_j^2)` (the limit of the infinite-depth page)."""
    lim_pair = log(multiplier_infinite) / 2
    return Sum(Sum(lim_pair.subs({x: sigma[i] ** 2, y: sigma[j] ** 2}), (j, i + 1, d)), (i, 1, d))


@derivation("entropy", requires=("multiplier", "infinite_depth"), title="Entropy of the balanced fibre")
def derive_entropy(deps) -> Result:
    c2 = length_of_O2()
    fibre_gram_d2()
    log_cd, log_cd_sum = log_orthogonal_group_volume_sum()
    entropy_general = entropy_any_d(log_cd)
    renorm_limit = renormalized_limit(deps["infinite_depth"]["multiplier_infinite"])
    s_a, s_b = symbols("sigma1 sigma2", positive=True)
    exprs = {
        "orthogonal_group_volume": orthogonal_group_volume_expr(d),
        "log_orthogonal_group_volume": log_cd_sum,
        "entropy": entropy_general,
        "entropy_d2": (N - 1) * log(c2) + log(dln_multiplier(s_a**2, s_b**2, N)) / 2,
        "entropy_renormalized_limit": renorm_limit,
        "entropy_renormalized_limit_d2": log(logmean(s_a**2, s_b**2)) / 2,
        "entropy_asymptotic": (N - 1) * log_cd + d * (d - 1) / 4 * log(N) + renorm_limit,
    }
    return Result(exprs, certify_entropy(exprs))


def certify_entropy(exprs) -> dict:
    """Certificate (numeric): Gram determinants of the gauge orbit at random balanced tuples; independent c_2, c_3."""
    return _certify(exprs)


# independent values of c_d: O(2) is two circles of Frobenius length 2 pi sqrt 2; SO(3) (unit generators
# E_ij - E_ji) is doubly covered by SU(2) = the 3-sphere of radius 2, so vol SO(3) = 2 pi^2 2^3 / 2 = 8 pi^2,
# and the Frobenius metric scales its 3 dimensions by sqrt 2.
def _independent_c(dim):
    if dim == 2:
        return 2 * 2 * mpmath.pi * mpmath.sqrt(2)
    if dim == 3:
        return 2 * 8 * mpmath.pi**2 * mpmath.sqrt(2) ** 3
    raise ValueError(dim)


def _half_log_det_gram(dim, depth, sv, rnd):
    """1/2 log det Gram of the O(d)^(N-1) gauge orbit at a random balanced tuple over diag-sv (mpmath)."""
    Q, R = random_orthogonal(dim, rnd), random_orthogonal(dim, rnd)
    Os = [random_orthogonal(dim, rnd) for _ in range(depth - 1)]
    Sroot = mpmath.diag([v ** (mpmath.mpf(1) / depth) for v in sv])
    left = Os + [Q]
    right = [R] + Os
    W = [left[p] * Sroot * right[p].T for p in range(depth)]
    basis = []
    for a in range(dim):
        for b in range(a + 1, dim):
            B = mpmath.zeros(dim, dim)
            B[a, b], B[b, a] = 1 / mpmath.sqrt(2), -1 / mpmath.sqrt(2)
            basis.append(B)
    dirs = []
    for p in range(depth - 1):  # xi_p moves W_p (index p) on the left and W_{p+1} on the right
        for B in basis:
            dW = [mpmath.zeros(dim, dim) for _ in range(depth)]
            dW[p] = B * W[p]
            dW[p + 1] = -W[p + 1] * B
            dirs.append(dW)
    G = mpmath.matrix(len(dirs), len(dirs))
    for u, du in enumerate(dirs):
        for v, dv in enumerate(dirs):
            G[u, v] = mpmath.fsum(
                du[q][a, b] * dv[q][a, b] for q in range(depth) for a in range(dim) for b in range(dim)
            )
    return mpmath.log(mpmath.det(G)) / 2


def _constant_errors(exprs):
    c_err = max(
        rel_err(mp_eval(exprs["orthogonal_group_volume"].subs(d, dim).doit(), {}), _independent_c(dim))
        for dim in (2, 3)
    )
    logc_err = max(
        rel_err(mp_eval(exprs["log_orthogonal_group_volume"].subs(d, dim).doit(), {}), mpmath.log(_independent_c(dim)))
        for dim in (2, 3)
    )
    return c_err, logc_err


def _certify(exprs) -> dict:
    rnd = random.Random(3)
    worst = {"entropy": 0.0, "entropy_d2": 0.0}
    counts = {"entropy": 0, "entropy_d2": 0}
    depths = (1, 2, 3, 4, 5)
    with mpmath.workdps(40):
        for dim in (2, 3):
            for depth in depths:
                for _ in range(2 if dim == 2 else 1):
                    sv = [mpmath.mpf(rnd.uniform(0.3, 3.0)) for _ in range(dim)]
                    brute = (depth - 1) * mpmath.log(_independent_c(dim))
                    if depth > 1:
                        brute += _half_log_det_gram(dim, depth, sv, rnd)
                    general = unroll(exprs["entropy"], d, dim)
                    got = mp_eval(general, {sigma[a + 1]: v for a, v in enumerate(sv)} | {N: depth})
                    worst["entropy"] = max(worst["entropy"], rel_err(got, brute))
                    counts["entropy"] += 1
                    if dim == 2:
                        s_a, s_b = symbols("sigma1 sigma2", positive=True)
                        got2 = mp_eval(exprs["entropy_d2"], {s_a: sv[0], s_b: sv[1], N: depth})
                        worst["entropy_d2"] = max(worst["entropy_d2"], rel_err(got2, brute))
                        counts["entropy_d2"] += 1
    labels = depth_labels(depths)
    out = {}
    for key, dims in (("entropy", "2, 3"), ("entropy_d2", "2")):
        method = (
            "(N-1) log c_d + 1/2 log det Gram of the O(d)^(N-1) gauge orbit at random balanced tuples, "
            f"d = {dims}, N = 1..5 (the fibre exists at integer N only), c_d from the circle length / the 3-sphere "
            "(mpmath 40 digits)"
        )
        tex = (
            r"$(N-1)\log c_d + \tfrac12 \log\det\mathrm{Gram}$ of the $O(d)^{N-1}$ gauge orbit at random "
            rf"balanced tuples, $d = {dims}$, {depths_tex(labels)} (the fibre exists at integer $N$ only), $c_d$ "
            r"from the length of the circle and the volume of the 3-sphere (mpmath 40 digits)"
        )
        out[key] = Check(method, worst[key], 1e-25, counts[key], latex=tex, depths=labels)
    with mpmath.workdps(40):
        c_err, logc_err = _constant_errors(exprs)
    out["orthogonal_group_volume"] = Check(
        "c_2 vs the Frobenius length of O(2); c_3 vs vol S^3(radius 2)/2 (mpmath 40 digits)",
        c_err,
        1e-25,
        2,
        latex=(
            r"$c_2$ against the Frobenius length of $O(2)$; $c_3$ against "
            r"$\mathrm{vol}\,S^3(\text{radius } 2)/2$ (mpmath 40 digits)"
        ),
    )
    out["log_orthogonal_group_volume"] = Check(
        "log c_d as a sum vs log of the independent c_2, c_3",
        logc_err,
        1e-25,
        2,
        latex=r"$\log c_d$ as a sum against the logarithm of the independent $c_2$, $c_3$",
    )

    def renorm(Nv, *sv):
        return mpmath.fsum(
            mpmath.log((sv[a] ** 2 - sv[b] ** 2) / (sv[a] ** (2 / Nv) - sv[b] ** (2 / Nv)) / Nv) / 2
            for a in range(len(sv))
            for b in range(a + 1, len(sv))
        )

    lim = exprs["entropy_renormalized_limit"]
    out["entropy_renormalized_limit"] = certify_limit(
        renorm,
        lambda *sv: mp_eval(unroll(lim, d, len(sv)), {sigma[a + 1]: v for a, v in enumerate(sv)}),
        random_points(8, 3, seed=21),
        1e-25,
        "1/2 sum log(a_N/N) at N = 10^3..10^8, extrapolated, d = 3 (mpmath 60 digits)",
        latex=r"$\tfrac12 \sum_{i<j} \log(a_N/N)$ (quotient form), $d = 3$, at " + LIMIT_TEX,
    )
    return out


# ---------------------------------------------------------------------------------------------
# catalog declarations (riemdln.symbolic.formulas builds the public catalog from them; see _entries.Entry)
CATALOG = (
    Entry(
        name="orthogonal_group_volume",
        derivation="entropy",
        key="orthogonal_group_volume",
        args=(sy.d,),
        convention="-",
        symbol="c_d",
        title="Volume of $O(d)$ in the Frobenius metric",
        check="orthogonal_group_volume",
        printer="python",
    ),
    Entry(
        name="log_orthogonal_group_volume",
        derivation="entropy",
        key="log_orthogonal_group_volume",
        args=(sy.d,),
        convention="-",
        symbol=r"\log c_d",
        title="Log-volume of $O(d)$ in the Frobenius metric, as a sum",
        check="log_orthogonal_group_volume",
        printer="python",
        twins=(("log_orthogonal_group_volume", None),),
    ),
    Entry(
        name="entropy",
        provenance="certified",
        generalized="any $d$",
        derivation="entropy",
        key="entropy",
        args=(sy.sigma, sy.N),
        convention="raw",
        symbol="S_N",
        title="Entropy of the balanced fibre (log of its volume), any $d$; "
        "numeric twin takes $\\sigma$ of shape $(\\ldots, d)$",
        check="entropy",
        size=sy.d,
    ),
    Entry(
        name="entropy_d2",
        derivation="entropy",
        key="entropy_d2",
        args=(sympy.Symbol("sigma1", positive=True), sympy.Symbol("sigma2", positive=True), sy.N),
        convention="raw",
        symbol="S_N",
        title="Entropy of the balanced fibre, $d = 2$",
        check="entropy_d2",
    ),
    Entry(
        name="entropy_renormalized_limit",
        derivation="entropy",
        key="entropy_renormalized_limit",
        args=(sy.sigma,),
        convention="normalized",
        symbol=r"\lim_{N\to\infty} S_N - (N-1)\log c_d - \tfrac{d(d-1)}{4}\log N",
        title="Large-depth limit of the renormalized fibre entropy",
        check="entropy_renormalized_limit",
        size=sy.d,
    ),
)
