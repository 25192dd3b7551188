r"""Volume forms of :math:`g^N`: :math:`\mathrm{vol}_{g^N} = \det(A_N)^{-1/2}\,dX` in SVD coordinates.

For d = 2 and d = 3, :math:`\det A_N` is the determinant of the :math:`d^2\times d^2` operator matrix
(from the ``multiplier`` derivation, obtained by applying the defining sum to the basis) and the
Lebesgue factor is the SVD Jacobian (``jacobian`` derivation). The quotient of the two, written
with :math:`a_N`, is the numerically stable density; SymPy then proves it equal to the product
formula :math:`N^{-d/2}\prod_i s_i^{-(N-1)/N}\prod_{i<j}|s_i^{2/N} - s_j^{2/N}|` and transforms it to
the coordinates :math:`\mu = s^{1/N}` and :math:`\rho = \log s`. The rank-r stratum of m×n
matrices adds, for each of its :math:`(m - r) + (n - r)` extra coordinates per singular value, the
length factor :math:`s_i/\sqrt{a_N(s_i^2, 0)}` of the direction :math:`s_i E_{r+a,i}`.
"""

from __future__ import annotations

import random

import mpmath
from sympy import Abs, Integer, Product, exp, powsimp, simplify, sqrt

from riemdln.symbolic.derivations import symbols as sy
from riemdln.symbolic.derivations._certify import (
    depth_labels,
    depths_tex,
    mp_eval,
    mp_multiplier,
    mp_operator_matrix,
    random_orthogonal,
    rel_err,
    unroll,
)
from riemdln.symbolic.derivations._engine import Check, DerivationError, Result, derivation
from riemdln.symbolic.derivations._entries import Entry
from riemdln.symbolic.derivations.symbols import MU_VALUES, RHO_VALUES, S_VALUES, N, i, j, m, mu, n, r, rho, s
from riemdln.symbolic.functions import dln_multiplier, generic_branch


def product_formula(svals, depth=N):
    """N^{-d/2} prod_i s_i^{-(N-1)/N} prod_{i<j} |s_i^{2/N} - s_j^{2/N}| for concrete singular values."""
    dim = len(svals)
    out = depth ** (-Integer(dim) / 2)
    for a in range(dim):
        out *= svals[a] ** (-(depth - 1) / depth)
        for b in range(a + 1, dim):
            out *= Abs(svals[a] ** (2 / depth) - svals[b] ** (2 / depth))
    return out


def _same_positive(lhs, rhs) -> bool:
    """lhs == rhs for positive expressions: compare squares with a_N rewritten as its quotient."""
    ratio = (generic_branch(lhs.rewrite("Pow")) / rhs) ** 2
    ratio = ratio.replace(Abs, lambda e: e)  # squared: signs are irrelevant
    return simplify(powsimp(ratio, force=True)) == 1


def _general_product(diag_factor, pair_factor, prefactor=1):
    return prefactor * Product(diag_factor, (i, 1, r)) * Product(Product(pair_factor, (j, i + 1, r)), (i, 1, r))


def volume_density_svd(svals, spectral, jacobian):
    r"""Step 1 (SymPy, d = len(svals)): :math:`|J|\det(A_N)^{-1/2}` equals the product formula.

    ``spectral`` is the diagonal operator matrix of :math:`A_N(\mathrm{diag}(s))`, ``jacobian`` the SVD
    Jacobian :math:`\prod_{i<j}|s_i^2 - s_j^2|`. Returns ``(density, product formula, Lebesgue density)``.
    """
    det_A = spectral.det()
    density = powsimp(simplify(jacobian / sqrt(det_A)), force=True)
    prod = product_formula(svals)
    if not _same_positive(density, prod):
        raise DerivationError(f"d = {len(svals)}: det(A)^(-1/2) dX is not the product formula")
    return density, prod, powsimp(simplify(1 / sqrt(det_A)), force=True)


def volume_in_mu(svals, prod):
    r"""Step 2 (SymPy): in :math:`\mu = s^{1/N}` (:math:`ds_i = N\mu_i^{N-1}d\mu_i`) the density is
    :math:`N^{d/2}\prod_{i<j}|\mu_i^2 - \mu_j^2|`."""
    dim = len(svals)
    mus = MU_VALUES[:dim]
    in_mu = prod.subs({sv: mv**N for sv, mv in zip(svals, mus, strict=True)})
    for mv in mus:
        in_mu *= N * mv ** (N - 1)
    in_mu = powsimp(simplify(in_mu), force=True)
    target_mu = N ** (Integer(dim) / 2)
    for a in range(dim):
        for b in range(a + 1, dim):
            target_mu *= Abs(mus[a] ** 2 - mus[b] ** 2)
    if simplify((in_mu / target_mu) ** 2) != 1:
        raise DerivationError(f"d = {dim}: mu-coordinate density is {in_mu}")
    return target_mu


def volume_in_rho(svals, prod):
    r"""Step 3 (SymPy): the density in :math:`\rho = \log s` (:math:`ds_i = e^{\rho_i}d\rho_i`)."""
    rhos = RHO_VALUES[: len(svals)]
    in_rho = prod.subs({sv: exp(rv) for sv, rv in zip(svals, rhos, strict=True)})
    for rv in rhos:
        in_rho *= exp(rv)
    return powsimp(simplify(in_rho), force=True)


def volume_density_general_forms():
    """Generalization to any d (by hand, certified numerically at d = 2, 3, 4): ``(in s, in mu, in rho)``."""
    return (
        _general_product(s[i] ** (-(N - 1) / N), Abs(s[i] ** (2 / N) - s[j] ** (2 / N)), N ** (-r / 2)),
        _general_product(1, Abs(mu[i] ** 2 - mu[j] ** 2), N ** (r / 2)),
        _general_product(exp(rho[i] / N), Abs(exp(2 * rho[i] / N) - exp(2 * rho[j] / N)), N ** (-r / 2)),
    )


def rank_r_extra_length():
    r"""Step 4 (SymPy): the direction :math:`s_i E_{r+a,i}` leaving the rank-r stratum has length
    :math:`s_i/\sqrt{a_N(s_i^2, 0)} = s_i^{1/N}`."""
    sv = S_VALUES[0]
    extra_length = simplify(sv / sqrt(dln_multiplier(sv**2, 0, N)))
    if simplify(extra_length - sv ** (1 / N)) != 0:
        raise DerivationError(f"rank-r extra direction length is {extra_length}")
    return extra_length


def rank_r_stratum():
    """Generalization to the rank-r stratum of m x n matrices (by hand, certified numerically by Gram determinants)."""
    exponent = simplify(-(N - 1) / N + (m + n - 2 * r) / N)
    return _general_product(s[i] ** exponent, Abs(s[i] ** (2 / N) - s[j] ** (2 / N)), N ** (-r / 2))


def general_agrees_with(dim, general, density):
    """Step 5 (SymPy): the any-d product unrolled at d = dim is the d = dim derivation."""
    at_dim = unroll(general, r, dim)
    at_dim = at_dim.xreplace({s[a + 1]: S_VALUES[a] for a in range(dim)})
    if not _same_positive(density, at_dim):
        raise DerivationError(f"general-d product formula at d = {dim} disagrees with the d = {dim} derivation")
    return at_dim


@derivation(
    "volume", requires=("multiplier", "jacobian"), title="Volume forms of $g^N$ ($d = 2, 3$, any $d$, rank $r$)"
)
def derive_volume(deps) -> Result:
    exprs = {}
    for dim in (2, 3):
        svals = S_VALUES[:dim]
        density, prod, lebesgue = volume_density_svd(
            svals, deps["multiplier"][f"spectral_d{dim}"], deps["jacobian"][f"jacobian_d{dim}"]
        )
        exprs[f"volume_density_d{dim}"] = density
        exprs[f"volume_density_product_d{dim}"] = prod
        exprs[f"volume_density_lebesgue_d{dim}"] = lebesgue
        exprs[f"volume_density_mu_d{dim}"] = volume_in_mu(svals, prod)
        exprs[f"volume_density_rho_d{dim}"] = volume_in_rho(svals, prod)

    # general d (display): the d = 2, 3 derivations factor over singular values and pairs
    (
        exprs["volume_density_general"],
        exprs["volume_density_mu_general"],
        exprs["volume_density_rho_general"],
    ) = volume_density_general_forms()
    exprs["volume_density_rank_r"] = rank_r_stratum()
    exprs["rank_r_extra_length"] = rank_r_extra_length()
    for dim in (2, 3):
        general_agrees_with(dim, exprs["volume_density_general"], exprs[f"volume_density_d{dim}"])
    return Result(exprs, certify_volume(exprs))


def certify_volume(exprs) -> dict:
    """Certificate (numeric): |J| det(A_N)^(-1/2) from fractional matrix powers (mpmath); Gram determinants (rank r)."""
    return _certify(exprs)


def _certify(exprs) -> dict:
    """|J| det(A_N)^(-1/2) with A_N from fractional matrix powers of a random rotated X (mpmath)."""
    rnd = random.Random(5)
    errs = dict.fromkeys(("d2", "d3", "lebesgue2", "lebesgue3", "general", "mu2", "mu3", "rho2", "rho3"), 0.0)
    counts = dict.fromkeys((2, 3, 4), 0)
    with mpmath.workdps(40):
        for dim in (2, 3, 4):
            for depth in _DEPTHS[dim]:
                for _ in range(2 if dim < 4 else 1):
                    svals = sorted((mpmath.mpf(rnd.uniform(0.2, 3.0)) for _ in range(dim)), reverse=True)
                    Q, R = random_orthogonal(dim, rnd), random_orthogonal(dim, rnd)
                    A = mp_operator_matrix(Q * mpmath.diag(svals) * R.T, depth)
                    inv_sqrt_det = 1 / mpmath.sqrt(mpmath.det(A))
                    jac = mpmath.fprod(
                        abs(svals[a] ** 2 - svals[b] ** 2) for a in range(dim) for b in range(a + 1, dim)
                    )
                    brute = jac * inv_sqrt_det
                    general = unroll(exprs["volume_density_general"], r, dim)
                    values = {s[a + 1]: svals[a] for a in range(dim)} | {N: depth}
                    errs["general"] = max(errs["general"], rel_err(mp_eval(general, values), brute))
                    counts[dim] += 1
                    if dim > 3:
                        continue
                    values = dict(zip(S_VALUES, svals, strict=False)) | {N: depth}
                    got = mp_eval(exprs[f"volume_density_d{dim}"], values)
                    errs[f"d{dim}"] = max(errs[f"d{dim}"], rel_err(got, brute))
                    got = mp_eval(exprs[f"volume_density_lebesgue_d{dim}"], values)
                    errs[f"lebesgue{dim}"] = max(errs[f"lebesgue{dim}"], rel_err(got, inv_sqrt_det))
                    # change of variables, derivative by mpmath: s = mu^N, s = e^rho
                    mus = [v ** (1 / mpmath.mpf(depth)) for v in svals]
                    dsdmu = mpmath.fprod(mpmath.diff(lambda u, depth=depth: u ** mpmath.mpf(depth), mv) for mv in mus)
                    got = mp_eval(
                        exprs[f"volume_density_mu_d{dim}"], dict(zip(MU_VALUES, mus, strict=False)) | {N: depth}
                    )
                    errs[f"mu{dim}"] = max(errs[f"mu{dim}"], rel_err(got, brute * dsdmu))
                    rhos = [mpmath.log(v) for v in svals]
                    dsdrho = mpmath.fprod(mpmath.diff(mpmath.exp, rv) for rv in rhos)
                    got = mp_eval(
                        exprs[f"volume_density_rho_d{dim}"], dict(zip(RHO_VALUES, rhos, strict=False)) | {N: depth}
                    )
                    errs[f"rho{dim}"] = max(errs[f"rho{dim}"], rel_err(got, brute * dsdrho))
    every = depth_labels(v for dim in (2, 3, 4) for v in _DEPTHS[dim])

    def what(dims):
        dims_s = ", ".join(map(str, dims))
        ls = depth_labels(v for dim in dims for v in _DEPTHS[dim])
        plain = (
            f"vs |J| det(A_N)^(-1/2), A_N by its definition (fractional matrix powers, mpmath eigsy; the Frechet "
            f"derivative of t^N at non-integer N) at random rotated X, d = {dims_s}, N = {', '.join(ls)}, 40 digits"
        )
        tex = (
            r"against $|J| \det(A_N)^{-1/2}$, $A_N$ by its definition (fractional matrix powers, mpmath "
            r"\texttt{eigsy}; the Fr\'echet derivative of $t^N$ at non-integer $N$) at random rotated $X$, "
            rf"$d = {dims_s}$, {depths_tex(ls)}, 40 digits"
        )
        return plain, tex, ls

    def check(err: str, dims: tuple, what_plain: str, what_tex: str, tol: float = 1e-25, tail=("", "")) -> Check:
        plain, tex, ls = what(dims)
        n = sum(counts[dim] for dim in dims)
        return Check(f"{what_plain} {plain}{tail[0]}", errs[err], tol, n, latex=f"{what_tex} {tex}{tail[1]}", depths=ls)

    out = {"volume_density_general": check("general", (2, 3, 4), "product formula", "product formula")}
    for dim in (2, 3):
        out[f"volume_density_d{dim}"] = check(f"d{dim}", (dim,), "density", "density")
        out[f"volume_density_lebesgue_d{dim}"] = check(
            f"lebesgue{dim}", (dim,), "det(A_N)^(-1/2)", r"$\det(A_N)^{-1/2}$"
        )
        for coord in ("mu", "rho"):
            tail = (f", times ds/d{coord} (mpmath.diff)", rf", times $ds/d\{coord}$ (\texttt{{mpmath.diff}})")
            out[f"volume_density_{coord}_d{dim}"] = check(
                f"{coord}{dim}", (dim,), f"{coord}-density", rf"$\{coord}$-density", 1e-20, tail
            )
    assert out["volume_density_general"].depths == every
    out["volume_density_rank_r"] = _certify_rank_r()
    return out


# the depths of the volume certificates, by dimension (non-integer N: A_N as the Frechet derivative of t^N)
_DEPTHS = {2: (1, 2, 3, 1.5, 4.5), 3: (1, 2, 3, 1.5, 4.5), 4: (1, 2, 3, 2.5)}


def _certify_rank_r():
    """Stratum density vs sqrt(det Gram) of the tangent directions in the metric, mpmath."""
    rnd = random.Random(11)
    worst, count = 0.0, 0
    with mpmath.workdps(40):
        for mm, nn, rr in ((3, 2, 1), (3, 3, 2), (4, 3, 2), (2, 2, 1)):
            for depth in _RANK_R_DEPTHS:
                svals = sorted((mpmath.mpf(rnd.uniform(0.3, 2.5)) for _ in range(rr)), reverse=True)
                # tangent directions in the SVD frame: dS + Omega S - S Theta (r x r), K S ((m-r) x r), S L^T
                dirs = []
                for a in range(rr):
                    Z = mpmath.zeros(mm, nn)
                    Z[a, a] = 1
                    dirs.append(Z)
                for a in range(rr):
                    for b in range(a + 1, rr):
                        Zo = mpmath.zeros(mm, nn)  # Omega = E_ab - E_ba: (Omega S)
                        Zo[a, b] = svals[b]
                        Zo[b, a] = -svals[a]
                        Zt = mpmath.zeros(mm, nn)  # Theta = E_ab - E_ba: -(S Theta)
                        Zt[a, b] = -svals[a]
                        Zt[b, a] = svals[b]
                        dirs += [Zo, Zt]
                for a in range(rr, mm):
                    for b in range(rr):
                        Z = mpmath.zeros(mm, nn)
                        Z[a, b] = svals[b]
                        dirs.append(Z)
                for a in range(rr):
                    for b in range(rr, nn):
                        Z = mpmath.zeros(mm, nn)
                        Z[a, b] = svals[a]
                        dirs.append(Z)
                padded_m = list(svals) + [0] * (mm - rr)
                padded_n = list(svals) + [0] * (nn - rr)

                def mult(xv, yv, depth=depth):
                    return mpmath.mpf(1) if depth == 1 else mp_multiplier(xv, yv, depth)

                W = [[mult(padded_m[a] ** 2, padded_n[b] ** 2) for b in range(nn)] for a in range(mm)]
                G = mpmath.matrix(len(dirs), len(dirs))
                for p, Zp in enumerate(dirs):
                    for q, Zq in enumerate(dirs):
                        G[p, q] = mpmath.fsum(
                            Zp[a, b] * Zq[a, b] / W[a][b] for a in range(mm) for b in range(nn) if W[a][b] != 0
                        )
                brute = mpmath.sqrt(mpmath.det(G))
                dv = mpmath.mpf(depth)
                formula = dv ** (-mpmath.mpf(rr) / 2)
                for a in range(rr):
                    formula *= svals[a] ** ((mm + nn - 2 * rr - dv + 1) / dv)
                    for b in range(a + 1, rr):
                        formula *= abs(svals[a] ** (2 / dv) - svals[b] ** (2 / dv))
                worst = max(worst, float(abs(formula - brute) / brute))
                count += 1
    labels = depth_labels(_RANK_R_DEPTHS)
    return Check(
        "rank-r stratum formula vs sqrt(det Gram) of its tangent directions in g^N (multipliers by the defining sum, "
        "or the divided-difference quadrature at non-integer N), (m, n, r) in {(3,2,1), (3,3,2), (4,3,2), (2,2,1)}, "
        f"N = {', '.join(labels)}, mpmath 40 digits",
        worst,
        1e-25,
        count,
        latex=(
            r"rank-$r$ stratum formula against $\sqrt{\det \mathrm{Gram}}$ of its tangent directions in $g^N$ "
            r"(multipliers by the defining sum, or the divided difference of $t^N$ by quadrature at non-integer $N$), "
            r"$(m, n, r) \in \{(3,2,1), (3,3,2), (4,3,2), (2,2,1)\}$, " + depths_tex(labels) + ", mpmath 40 digits"
        ),
        depths=labels,
    )


_RANK_R_DEPTHS = (1, 2, 3, 2.5)


# ---------------------------------------------------------------------------------------------
# catalog declarations (riemdln.symbolic.formulas builds the public catalog from them; see _entries.Entry)
CATALOG = (
    Entry(
        name="volume_density_d2",
        derivation="volume",
        key="volume_density_d2",
        args=(sy.s1, sy.s2, sy.N),
        convention="raw",
        symbol=r"\frac{d\,\mathrm{vol}_{g^N}}{ds\,dQ\,dR}",
        title="Riemannian volume density of $g^N$, $d = 2$, w.r.t. $ds\\,dQ\\,dR$",
        display=("volume_density_product_d2",),
        check="volume_density_d2",
    ),
    Entry(
        name="volume_density_d3",
        derivation="volume",
        key="volume_density_d3",
        args=(sy.s1, sy.s2, sy.s3, sy.N),
        convention="raw",
        symbol=r"\frac{d\,\mathrm{vol}_{g^N}}{ds\,dQ\,dR}",
        title="Riemannian volume density of $g^N$, $d = 3$, w.r.t. $ds\\,dQ\\,dR$",
        display=("volume_density_product_d3",),
        check="volume_density_d3",
    ),
    Entry(
        name="volume_density_lebesgue_d2",
        derivation="volume",
        key="volume_density_lebesgue_d2",
        args=(sy.s1, sy.s2, sy.N),
        convention="raw",
        symbol=r"\frac{d\,\mathrm{vol}_{g^N}}{dX} = \det(A_N)^{-1/2}",
        title="Volume density of $g^N$ w.r.t. Lebesgue measure, $d = 2$",
        check="volume_density_lebesgue_d2",
    ),
    Entry(
        name="volume_density_lebesgue_d3",
        derivation="volume",
        key="volume_density_lebesgue_d3",
        args=(sy.s1, sy.s2, sy.s3, sy.N),
        convention="raw",
        symbol=r"\frac{d\,\mathrm{vol}_{g^N}}{dX} = \det(A_N)^{-1/2}",
        title="Volume density of $g^N$ w.r.t. Lebesgue measure, $d = 3$",
        check="volume_density_lebesgue_d3",
    ),
    Entry(
        name="volume_density_mu_d2",
        derivation="volume",
        key="volume_density_mu_d2",
        args=(sy.mu1, sy.mu2, sy.N),
        convention="raw",
        symbol=r"\frac{d\,\mathrm{vol}_{g^N}}{d\mu\,dQ\,dR}",
        title="Volume density of $g^N$ in $\\mu = s^{1/N}$ (the factors' singular values), $d = 2$",
        check="volume_density_mu_d2",
    ),
    Entry(
        name="volume_density_rho_d2",
        derivation="volume",
        key="volume_density_rho_d2",
        args=(sy.rho1, sy.rho2, sy.N),
        convention="raw",
        symbol=r"\frac{d\,\mathrm{vol}_{g^N}}{d\rho\,dQ\,dR}",
        title="Volume density of $g^N$ in $\\rho = \\log s$, $d = 2$",
        check="volume_density_rho_d2",
    ),
    Entry(
        name="volume_density",
        provenance="certified",
        generalized="any $d$",
        derivation="volume",
        key="volume_density_general",
        args=(sy.s, sy.N),
        convention="raw",
        symbol=r"\frac{d\,\mathrm{vol}_{g^N}}{ds\,dQ\,dR}",
        title="Volume density of $g^N$, any $d$ (product formula, $r = d$); numeric twin takes $s$ of shape "
        "$(\\ldots, d)$",
        check="volume_density_general",
    ),
    Entry(
        name="volume_density_rank_r",
        provenance="certified",
        generalized="any rank-$r$ stratum of $m \\times n$ matrices",
        derivation="volume",
        key="volume_density_rank_r",
        args=(sy.s, sy.m, sy.n, sy.N),
        convention="raw",
        symbol=r"\frac{d\,\mathrm{vol}_{g^N|M_r}}{ds\,dU\,dV}",
        title="Volume density of $g^N$ restricted to rank-$r$ $m\\times n$ matrices; "
        "numeric twin takes $s$ of shape $(\\ldots, r)$",
        check="volume_density_rank_r",
    ),
)
