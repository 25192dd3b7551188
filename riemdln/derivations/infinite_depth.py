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

from riemdln.derivations._certify import certify_limit, compare, mp_eval, random_points, unroll
from riemdln.derivations._engine import DerivationError, Result, derivation
from riemdln.derivations.symbols import RHO_VALUES, S_VALUES, N, h, i, j, r, rho, s, t, x, y
from riemdln.functions import dln_multiplier, generic_branch, logmean


def _eq(a, b) -> bool:
    return simplify(a - b) == 0


@derivation("infinite_depth", requires=("multiplier", "volume"), title="Infinite depth: logarithmic mean, A_inf, vol")
def derive_infinite_depth(deps) -> Result:
    quotient = deps["multiplier"]["quotient"]  # (x - y)/(x^(1/N) - y^(1/N)), generic branch, real N
    lim = limit(quotient / N, N, oo)
    L_quotient = (x - y) / (log(x) - log(y))
    if not _eq(lim, L_quotient):
        raise DerivationError(f"lim a_N/N = {lim}")
    if not _eq(generic_branch(logmean(x, y).rewrite("log")), lim):
        raise DerivationError("logmean's quotient rewrite disagrees with the derived limit")
    integral = generic_branch(integrate(x ** (1 - t) * y**t, (t, 0, 1)))
    if not _eq(integral, L_quotient):
        raise DerivationError(f"integral form gave {integral}")
    # diagonal and zero limits
    diag_lim = limit(deps["multiplier"]["diagonal"].subs(x, x) / N, N, oo)
    zero_lim = limit(deps["multiplier"]["at_zero"] / N, N, oo)
    if not (_eq(diag_lim, x) and zero_lim == 0):
        raise DerivationError(f"diagonal/zero limits: {diag_lim}, {zero_lim}")

    # first-order correction: a_N/N = L + c1/N + O(1/N^2)
    ser = series((quotient / N).subs(N, 1 / h), h, 0, 2).removeO()
    c0, c1 = simplify(ser.coeff(h, 0)), simplify(ser.coeff(h, 1))
    c1_claim = -logmean(x, y) * log(x * y) / 2
    if not (_eq(c0, L_quotient) and _eq(c1, generic_branch(c1_claim.rewrite("log")))):
        raise DerivationError(f"series of a_N/N: {c0} + {c1}/N")

    # volume density of g^inf = lim N^{d^2/2} vol_{g^N}: per singular value and per pair
    exprs = {}
    si, sj = S_VALUES[0], S_VALUES[1]
    diag_factor = limit(si ** (-(N - 1) / N), N, oo)
    pair_factor = limit(N * (si ** (2 / N) - sj ** (2 / N)), N, oo)
    if not (_eq(diag_factor, 1 / si) and _eq(pair_factor, log(si**2) - log(sj**2))):
        raise DerivationError(f"volume factors: {diag_factor}, {pair_factor}")
    for dim in (2, 3):
        svals = S_VALUES[:dim]
        prod = Integer(1)
        stable = Integer(1)
        for a in range(dim):
            prod *= 1 / svals[a]
            stable *= 1 / svals[a]
            for b in range(a + 1, dim):
                prod *= Abs(log(svals[a] ** 2) - log(svals[b] ** 2))
                stable *= (svals[a] + svals[b]) * Abs(svals[a] - svals[b]) / logmean(svals[a] ** 2, svals[b] ** 2)
        exprs[f"volume_density_infinite_d{dim}"] = stable
        exprs[f"volume_density_infinite_product_d{dim}"] = prod
        rhos = RHO_VALUES[:dim]
        in_rho = prod.subs({sv: exp(rv) for sv, rv in zip(svals, rhos, strict=True)})
        for rv in rhos:
            in_rho *= exp(rv)
        exprs[f"volume_density_infinite_rho_d{dim}"] = powsimp(simplify(in_rho), force=True)

    exprs["volume_density_infinite_general"] = Product(1 / s[i], (i, 1, r)) * Product(
        Product(Abs(log(s[i] ** 2) - log(s[j] ** 2)), (j, i + 1, r)), (i, 1, r)
    )
    exprs["volume_density_infinite_rho_general"] = 2 ** (r * (r - 1) / 2) * Product(
        Product(Abs(rho[i] - rho[j]), (j, i + 1, r)), (i, 1, r)
    )
    exprs.update(
        multiplier_infinite=logmean(x, y),
        logmean_quotient=L_quotient,
        logmean_integral=Integral(x ** (1 - t) * y**t, (t, 0, 1)),
        multiplier_normalized=dln_multiplier(x, y, N) / N,
        multiplier_correction=c1_claim,
    )

    pts = random_points(6, 2, seed=7) + [(2.0, 2.0 * (1 + 1e-8)), (1e-3, 1e3)]

    def finite(Nv, xv, yv):
        return (xv - yv) / (xv ** (1 / Nv) - yv ** (1 / Nv)) / Nv

    def L(xv, yv):
        return (xv - yv) / (mpmath.log(xv) - mpmath.log(yv))

    checks = {
        "multiplier_infinite": certify_limit(
            finite, L, pts, 1e-25, "mpmath a_N/N at N = 10^3..10^8, Richardson-extrapolated to N = oo (60 digits)"
        ),
        "multiplier_correction": certify_limit(
            lambda Nv, xv, yv: Nv * (finite(Nv, xv, yv) - L(xv, yv)),
            lambda xv, yv: -L(xv, yv) * mpmath.log(xv * yv) / 2,
            [p for p in pts if abs(mpmath.log(p[0] * p[1])) > 0.1],
            1e-20,
            "N (a_N/N - L) at N = 10^3..10^8, extrapolated (mpmath 60 digits)",
        ),
    }

    # volume of g^inf: the limit of the normalized finite-N density N^{d^2/2} vol_{g^N} (product formula)
    def normalized_density(Nv, *sv):
        dim = len(sv)
        out = Nv ** (mpmath.mpf(dim * dim - dim) / 2) * mpmath.fprod(v ** (-(Nv - 1) / Nv) for v in sv)
        for a in range(dim):
            for b in range(a + 1, dim):
                out *= abs(sv[a] ** (2 / Nv) - sv[b] ** (2 / Nv))
        return out

    for dim in (2, 3):
        svals = S_VALUES[:dim]
        for key in (f"volume_density_infinite_d{dim}", f"volume_density_infinite_product_d{dim}"):
            checks[key] = certify_limit(
                normalized_density,
                lambda *sv, key=key, svals=svals: mp_eval(exprs[key], dict(zip(svals, sv, strict=True))),
                random_points(4, dim, seed=8 + dim),
                1e-25,
                f"normalized d = {dim} density at N = 10^3..10^8, extrapolated (mpmath 60 digits)",
            )
    general = exprs["volume_density_infinite_general"]
    checks["volume_density_infinite_general"] = certify_limit(
        normalized_density,
        lambda *sv: mp_eval(unroll(general, r, len(sv)), {s[a + 1]: v for a, v in enumerate(sv)}),
        random_points(3, 4, seed=12) + random_points(3, 3, seed=13),
        1e-25,
        "normalized density at d = 3, 4, N = 10^3..10^8, extrapolated (mpmath 60 digits)",
    )
    rho_general = exprs["volume_density_infinite_rho_general"]

    def rho_density(*sv):  # the s-density times ds/drho = prod s_i, at rho = log s
        return mp_eval(unroll(rho_general, r, len(sv)), {rho[a + 1]: mpmath.log(v) for a, v in enumerate(sv)})

    checks["volume_density_infinite_rho_general"] = certify_limit(
        lambda Nv, *sv: normalized_density(Nv, *sv) * mpmath.fprod(sv),
        rho_density,
        random_points(3, 3, seed=14),
        1e-25,
        "rho-coordinates (ds = e^rho drho): limit of the normalized density, d = 3 (mpmath 60 digits)",
    )
    for dim in (2, 3):
        key = f"volume_density_infinite_rho_d{dim}"
        checks[key] = certify_limit(
            lambda Nv, *sv: normalized_density(Nv, *sv) * mpmath.fprod(sv),
            lambda *sv, key=key, dim=dim: mp_eval(
                exprs[key], {RHO_VALUES[a]: mpmath.log(v) for a, v in enumerate(sv[:dim])}
            ),
            random_points(3, dim, seed=16 + dim),
            1e-25,
            f"rho-coordinates (ds = e^rho drho): limit of the normalized d = {dim} density (mpmath 60 digits)",
        )
    checks["multiplier_normalized"] = compare(
        lambda xv, yv, Nv: mp_eval(exprs["multiplier_normalized"], {x: xv, y: yv, N: Nv}),
        lambda xv, yv, Nv: (
            mpmath.fsum(xv ** ((Nv - kk) / Nv) * yv ** ((kk - 1) / Nv) for kk in range(1, int(Nv) + 1)) / Nv
        ),
        [p + (n,) for p in random_points(4, 2, seed=15) for n in (1, 2, 5)],
        1e-25,
        "a_N/N vs the defining sum / N (mpmath 60 digits)",
    )
    return Result(exprs, checks)
