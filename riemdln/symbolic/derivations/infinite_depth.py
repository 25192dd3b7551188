r"""Infinite depth (normalized convention :math:`\hat g^N = N g^N`).

* :math:`\lim_{N\to\infty} a_N(x, y)/N = L(x, y)`: SymPy's ``limit`` of the generic branch (real
  :math:`N`, :math:`x \ne y` positive) — never of the ``Piecewise`` that ``Sum.doit`` returns, whose
  limit SymPy 1.14 gets wrong (docs/theory.md §4) — certified by mpmath at :math:`N = 10^3..10^8` with
  Richardson extrapolation.
* :math:`L(x, y) = \int_0^1 x^{1-t}y^t\,dt` (the integral form of :math:`A_\infty`), by ``integrate``.
* The first-order correction: the series of :math:`a_N/N` in :math:`h = 1/N`.
* The volume density of :math:`\hat g^\infty`: the limit, factor by factor, of :math:`N^{d^2/2}`
  times the raw density.
"""

from __future__ import annotations

import mpmath
from sympy import Abs, Integer, Integral, Product, exp, integrate, limit, log, oo, powsimp, series, simplify

from riemdln.symbolic.derivations import symbols as sy
from riemdln.symbolic.derivations._certify import (
    LIMIT_TEX,
    certify_limit,
    compare,
    depth_labels,
    depths_tex,
    mp_eval,
    mp_multiplier,
    random_points,
    unroll,
)
from riemdln.symbolic.derivations._engine import DerivationError, Result, derivation
from riemdln.symbolic.derivations._entries import Entry
from riemdln.symbolic.derivations.symbols import RHO_VALUES, S_VALUES, N, h, i, j, r, rho, s, t, x, y
from riemdln.symbolic.functions import dln_multiplier, generic_branch, logmean


def _eq(a, b) -> bool:
    return simplify(a - b) == 0


L_QUOTIENT = (x - y) / (log(x) - log(y))


def limit_of_multiplier(quotient):
    r"""Step 1 (SymPy): :math:`\lim_{N\to\infty} a_N/N` of the generic branch is the logarithmic mean.

    ``quotient`` is :math:`(x - y)/(x^{1/N} - y^{1/N})` at real N (the multiplier derivation's generic
    branch). Also proves that ``logmean``'s quotient rewrite is this limit.
    """
    lim = limit(quotient / N, N, oo)
    if not _eq(lim, L_QUOTIENT):
        raise DerivationError(f"lim a_N/N = {lim}")
    if not _eq(generic_branch(logmean(x, y).rewrite("log")), lim):
        raise DerivationError("logmean's quotient rewrite disagrees with the derived limit")
    return lim


def integral_form():
    r"""Step 2 (SymPy): :math:`\int_0^1 x^{1-t} y^t\,dt = L(x, y)` (the multiplier of :math:`A_\infty`)."""
    integral = generic_branch(integrate(x ** (1 - t) * y**t, (t, 0, 1)))
    if not _eq(integral, L_QUOTIENT):
        raise DerivationError(f"integral form gave {integral}")
    return integral


def diagonal_and_zero_limits(diagonal, at_zero):
    r"""Step 3 (SymPy): :math:`a_N(x, x)/N \to x` and :math:`a_N(x, 0)/N \to 0`."""
    diag_lim = limit(diagonal.subs(x, x) / N, N, oo)
    zero_lim = limit(at_zero / N, N, oo)
    if not (_eq(diag_lim, x) and zero_lim == 0):
        raise DerivationError(f"diagonal/zero limits: {diag_lim}, {zero_lim}")
    return diag_lim, zero_lim


def first_order_correction(quotient):
    r"""Step 4 (SymPy): the series of :math:`a_N/N` in :math:`h = 1/N`; returns ``(c0, c1, claim)``.

    :math:`a_N/N = L + c_1/N + O(N^{-2})` with :math:`c_1 = -L(x, y)\log(xy)/2` (``claim``).
    """
    ser = series((quotient / N).subs(N, 1 / h), h, 0, 2).removeO()
    c0, c1 = simplify(ser.coeff(h, 0)), simplify(ser.coeff(h, 1))
    c1_claim = -logmean(x, y) * log(x * y) / 2
    if not (_eq(c0, L_QUOTIENT) and _eq(c1, generic_branch(c1_claim.rewrite("log")))):
        raise DerivationError(f"series of a_N/N: {c0} + {c1}/N")
    return c0, c1, c1_claim


def volume_factor_limits():
    r"""Step 5 (SymPy): the limits of the per-value and per-pair factors of :math:`N^{d^2/2}\,\mathrm{vol}_{g^N}`.

    :math:`s_i^{-(N-1)/N} \to 1/s_i` and :math:`N(s_i^{2/N} - s_j^{2/N}) \to \log s_i^2 - \log s_j^2`.
    """
    si, sj = S_VALUES[0], S_VALUES[1]
    diag_factor = limit(si ** (-(N - 1) / N), N, oo)
    pair_factor = limit(N * (si ** (2 / N) - sj ** (2 / N)), N, oo)
    if not (_eq(diag_factor, 1 / si) and _eq(pair_factor, log(si**2) - log(sj**2))):
        raise DerivationError(f"volume factors: {diag_factor}, {pair_factor}")
    return diag_factor, pair_factor


def volume_density_infinite(dim):
    r"""Step 6 (SymPy, d = dim): assemble the factors of step 5; returns ``(stable, product, in_rho)``.

    ``product`` is :math:`\prod_i s_i^{-1} \prod_{i<j} |\log s_i^2 - \log s_j^2|`, ``stable`` the same
    written with the logarithmic mean (no cancelling quotient), ``in_rho`` the density in
    :math:`\rho = \log s`.
    """
    svals = S_VALUES[:dim]
    prod = Integer(1)
    stable = Integer(1)
    for a in range(dim):
        prod *= 1 / svals[a]
        stable *= 1 / svals[a]
        for b in range(a + 1, dim):
            prod *= Abs(log(svals[a] ** 2) - log(svals[b] ** 2))
            stable *= (svals[a] + svals[b]) * Abs(svals[a] - svals[b]) / logmean(svals[a] ** 2, svals[b] ** 2)
    rhos = RHO_VALUES[:dim]
    in_rho = prod.subs({sv: exp(rv) for sv, rv in zip(svals, rhos, strict=True)})
    for rv in rhos:
        in_rho *= exp(rv)
    return stable, prod, powsimp(simplify(in_rho), force=True)


def volume_density_infinite_general():
    r"""Generalization to any d (by hand, certified numerically at d = 3, 4): ``(in s, in rho)``."""
    in_s = Product(1 / s[i], (i, 1, r)) * Product(
        Product(Abs(log(s[i] ** 2) - log(s[j] ** 2)), (j, i + 1, r)), (i, 1, r)
    )
    in_rho = 2 ** (r * (r - 1) / 2) * Product(Product(Abs(rho[i] - rho[j]), (j, i + 1, r)), (i, 1, r))
    return in_s, in_rho


def _finite(Nv, xv, yv):
    return (xv - yv) / (xv ** (1 / Nv) - yv ** (1 / Nv)) / Nv


def _L(xv, yv):
    return (xv - yv) / (mpmath.log(xv) - mpmath.log(yv))


_LIMIT_POINTS = random_points(8, 2, seed=7) + [(2.0, 2.0 * (1 + 1e-8)), (1e-3, 1e3)]


def certify_logmean_limit():
    """Certificate (numeric): mpmath a_N/N at N = 10^3..10^8, Richardson-extrapolated, against L."""
    return certify_limit(
        _finite,
        _L,
        _LIMIT_POINTS,
        1e-25,
        "mpmath a_N/N at N = 10^3..10^8, Richardson-extrapolated to N = oo (60 digits)",
        latex=r"$a_N/N$ by the defining sum (mpmath) at " + LIMIT_TEX,
    )


def certify_correction():
    """Certificate (numeric): N (a_N/N - L) at N = 10^3..10^8, extrapolated, against -L log(xy)/2."""
    return certify_limit(
        lambda Nv, xv, yv: Nv * (_finite(Nv, xv, yv) - _L(xv, yv)),
        lambda xv, yv: -_L(xv, yv) * mpmath.log(xv * yv) / 2,
        [p for p in _LIMIT_POINTS if abs(mpmath.log(p[0] * p[1])) > 0.1],
        1e-20,
        "N (a_N/N - L) at N = 10^3..10^8, extrapolated (mpmath 60 digits)",
        latex=r"$N(a_N/N - L)$ at " + LIMIT_TEX,
    )


def _normalized_density(Nv, *sv):
    """The normalized finite-N density N^{d^2/2} vol_{g^N} (product formula), in mpmath."""
    dim = len(sv)
    out = Nv ** (mpmath.mpf(dim * dim - dim) / 2) * mpmath.fprod(v ** (-(Nv - 1) / Nv) for v in sv)
    for a in range(dim):
        for b in range(a + 1, dim):
            out *= abs(sv[a] ** (2 / Nv) - sv[b] ** (2 / Nv))
    return out


def certify_volume_infinite(exprs) -> dict:
    """Certificate (numeric): every infinite-depth density against the extrapolated normalized density."""
    checks = {}
    for dim in (2, 3):
        svals = S_VALUES[:dim]
        for key in (f"volume_density_infinite_d{dim}", f"volume_density_infinite_product_d{dim}"):
            checks[key] = certify_limit(
                _normalized_density,
                lambda *sv, key=key, svals=svals: mp_eval(exprs[key], dict(zip(svals, sv, strict=True))),
                random_points(8, dim, seed=8 + dim),
                1e-25,
                f"normalized d = {dim} density at N = 10^3..10^8, extrapolated (mpmath 60 digits)",
                latex=rf"the normalized $d = {dim}$ density (product formula) at " + LIMIT_TEX,
            )
    general = exprs["volume_density_infinite_general"]
    checks["volume_density_infinite_general"] = certify_limit(
        _normalized_density,
        lambda *sv: mp_eval(unroll(general, r, len(sv)), {s[a + 1]: v for a, v in enumerate(sv)}),
        random_points(4, 4, seed=12) + random_points(4, 3, seed=13),
        1e-25,
        "normalized density at d = 3, 4, N = 10^3..10^8, extrapolated (mpmath 60 digits)",
        latex=r"the normalized density (product formula) at $d = 3, 4$, " + LIMIT_TEX,
    )
    rho_general = exprs["volume_density_infinite_rho_general"]

    def rho_density(*sv):  # the s-density times ds/drho = prod s_i, at rho = log s
        return mp_eval(unroll(rho_general, r, len(sv)), {rho[a + 1]: mpmath.log(v) for a, v in enumerate(sv)})

    checks["volume_density_infinite_rho_general"] = certify_limit(
        lambda Nv, *sv: _normalized_density(Nv, *sv) * mpmath.fprod(sv),
        rho_density,
        random_points(8, 3, seed=14),
        1e-25,
        "rho-coordinates (ds = e^rho drho): limit of the normalized density, d = 3 (mpmath 60 digits)",
        latex=r"$\rho$-coordinates ($ds = e^{\rho}\,d\rho$): the normalized $d = 3$ density at " + LIMIT_TEX,
    )
    for dim in (2, 3):
        key = f"volume_density_infinite_rho_d{dim}"
        checks[key] = certify_limit(
            lambda Nv, *sv: _normalized_density(Nv, *sv) * mpmath.fprod(sv),
            lambda *sv, key=key, dim=dim: mp_eval(
                exprs[key], {RHO_VALUES[a]: mpmath.log(v) for a, v in enumerate(sv[:dim])}
            ),
            random_points(8, dim, seed=16 + dim),
            1e-25,
            f"rho-coordinates (ds = e^rho drho): limit of the normalized d = {dim} density (mpmath 60 digits)",
            latex=rf"$\rho$-coordinates ($ds = e^{{\rho}}\,d\rho$): the normalized $d = {dim}$ density at " + LIMIT_TEX,
        )
    return checks


def certify_normalized(expr):
    """Certificate (numeric): a_N/N against a_N computed without its closed form (mpmath), divided by N."""
    depths = (1, 2, 5, 1.5, 4.5)
    return compare(
        lambda xv, yv, Nv: mp_eval(expr, {x: xv, y: yv, N: Nv}),
        lambda xv, yv, Nv: mp_multiplier(xv, yv, Nv) / Nv,
        [p + (n,) for p in random_points(4, 2, seed=15) for n in depths],
        1e-25,
        "a_N/N vs the defining sum / N (integer N) or the divided-difference quadrature / N (real N), mpmath 60 digits",
        latex=(
            r"$a_N/N$ against the defining sum (integer $N$) or the divided difference of $t^N$ by quadrature "
            r"(real $N$), divided by $N$ (mpmath 60 digits), " + depths_tex(depth_labels(depths))
        ),
        depths=depths,
    )


@derivation(
    "infinite_depth",
    requires=("multiplier", "volume"),
    title="Infinite depth: the logarithmic mean, $A_\\infty$, volume densities",
)
def derive_infinite_depth(deps) -> Result:
    quotient = deps["multiplier"]["quotient"]  # (x - y)/(x^(1/N) - y^(1/N)), generic branch, real N
    limit_of_multiplier(quotient)
    integral_form()
    diagonal_and_zero_limits(deps["multiplier"]["diagonal"], deps["multiplier"]["at_zero"])
    _, _, c1_claim = first_order_correction(quotient)
    volume_factor_limits()
    exprs = {}
    for dim in (2, 3):
        stable, prod, in_rho = volume_density_infinite(dim)
        exprs[f"volume_density_infinite_d{dim}"] = stable
        exprs[f"volume_density_infinite_product_d{dim}"] = prod
        exprs[f"volume_density_infinite_rho_d{dim}"] = in_rho
    exprs["volume_density_infinite_general"], exprs["volume_density_infinite_rho_general"] = (
        volume_density_infinite_general()
    )
    exprs.update(
        multiplier_infinite=logmean(x, y),
        logmean_quotient=L_QUOTIENT,
        logmean_integral=Integral(x ** (1 - t) * y**t, (t, 0, 1)),
        multiplier_normalized=dln_multiplier(x, y, N) / N,
        multiplier_normalized_quotient=quotient / N,
        multiplier_correction=c1_claim,
    )
    checks = {"multiplier_infinite": certify_logmean_limit(), "multiplier_correction": certify_correction()}
    checks.update(certify_volume_infinite(exprs))
    checks["multiplier_normalized"] = certify_normalized(exprs["multiplier_normalized"])
    return Result(exprs, checks)


# ---------------------------------------------------------------------------------------------
# catalog declarations (riemdln.symbolic.formulas builds the public catalog from them; see _entries.Entry)
CATALOG = (
    Entry(
        name="multiplier_normalized",
        derivation="infinite_depth",
        key="multiplier_normalized",
        args=(sy.x, sy.y, sy.N),
        convention="normalized",
        symbol=r"\frac{a_N(x, y)}{N}",
        title="Normalized multiplier (operator $A_N/N$ of the metric $N g^N$)",
        display=("multiplier_normalized_quotient",),
        check="multiplier_normalized",
        twins=(("multiplier_normalized", None), ("log_multiplier_normalized_finite", "log")),
    ),
    Entry(
        name="multiplier_infinite",
        derivation="infinite_depth",
        key="multiplier_infinite",
        args=(sy.x, sy.y),
        convention="normalized",
        symbol=r"\lim_{N\to\infty}\frac{a_N(x, y)}{N}",
        title="Infinite-depth multiplier: the logarithmic mean (integral form of $A_\\infty$)",
        display=("logmean_quotient", "logmean_integral"),
        check="multiplier_infinite",
        twins=(("multiplier_infinite", None), ("log_multiplier_infinite", "log")),
    ),
    Entry(
        name="multiplier_correction",
        derivation="infinite_depth",
        key="multiplier_correction",
        args=(sy.x, sy.y),
        convention="normalized",
        symbol=r"\lim_{N\to\infty} N\left(\frac{a_N(x, y)}{N} - L(x, y)\right)",
        title="First-order ($1/N$) correction of the normalized multiplier",
        check="multiplier_correction",
    ),
    Entry(
        name="volume_density_infinite_d2",
        derivation="infinite_depth",
        key="volume_density_infinite_d2",
        args=(sy.s1, sy.s2),
        convention="normalized",
        symbol=r"\frac{d\,\mathrm{vol}_{\hat g^\infty}}{ds\,dQ\,dR}",
        title="Volume density of the infinite-depth metric $\\hat g^\\infty$, $d = 2$",
        display=("volume_density_infinite_product_d2",),
        check="volume_density_infinite_d2",
    ),
    Entry(
        name="volume_density_infinite_rho_d2",
        derivation="infinite_depth",
        key="volume_density_infinite_rho_d2",
        args=(sy.rho1, sy.rho2),
        convention="normalized",
        symbol=r"\frac{d\,\mathrm{vol}_{\hat g^\infty}}{d\rho\,dQ\,dR}",
        title="Volume density of the infinite-depth metric in $\\rho = \\log s$, $d = 2$",
        check="volume_density_infinite_rho_d2",
    ),
    Entry(
        name="volume_density_infinite_d3",
        derivation="infinite_depth",
        key="volume_density_infinite_d3",
        args=(sy.s1, sy.s2, sy.s3),
        convention="normalized",
        symbol=r"\frac{d\,\mathrm{vol}_{\hat g^\infty}}{ds\,dQ\,dR}",
        title="Volume density of the infinite-depth metric $\\hat g^\\infty$, $d = 3$",
        display=("volume_density_infinite_product_d3",),
        check="volume_density_infinite_d3",
    ),
    Entry(
        name="volume_density_infinite",
        provenance="certified",
        generalized="any $d$",
        derivation="infinite_depth",
        key="volume_density_infinite_general",
        args=(sy.s,),
        convention="normalized",
        symbol=r"\frac{d\,\mathrm{vol}_{\hat g^\infty}}{ds\,dQ\,dR}",
        title="Volume density of the infinite-depth metric $\\hat g^\\infty$, any $d$ ($r = d$)",
        check="volume_density_infinite_general",
    ),
)
