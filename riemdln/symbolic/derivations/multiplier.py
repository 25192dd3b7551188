r"""The multiplier :math:`a_N(x, y)` and the spectral form of :math:`A_N`, from the defining sum.

Definition (docs/theory.md §2): :math:`A_N(X) Z = \sum_{k=1}^N (XX^T)^{(N-k)/N} Z (X^TX)^{(k-1)/N}`.
For :math:`X = \mathrm{diag}(s)` the fractional powers are diagonal, so :math:`A_N(X) E_{ij}` is a
multiple of :math:`E_{ij}`; the multiple is the sum :math:`\sum_k x^{(N-k)/N} y^{(k-1)/N}` at
:math:`x = s_i^2`, :math:`y = s_j^2`. SymPy sums it (a geometric series), and we keep the generic
branch of the ``Piecewise`` it returns (:math:`x \ne y`); the diagonal is summed separately.
"""

from __future__ import annotations

from dataclasses import replace

import mpmath
from sympy import Matrix, Sum, diag, limit, simplify, zeros

from riemdln.symbolic.derivations import symbols as sy
from riemdln.symbolic.derivations._certify import compare, depth_labels, depths_tex, mp_multiplier, random_points
from riemdln.symbolic.derivations._engine import Check, DerivationError, Result, derivation
from riemdln.symbolic.derivations._entries import Entry
from riemdln.symbolic.derivations.symbols import N, N_int, k, s1, s2, s3, x, y
from riemdln.symbolic.functions import dln_multiplier, generic_branch


def _is_zero(expr) -> bool:
    return simplify(expr) == 0


def defining_sum(xx, yy, depth=N_int):
    """The unevaluated sum :math:`\\sum_{k=1}^N x^{(N-k)/N} y^{(k-1)/N}`."""
    return Sum(xx ** ((depth - k) / depth) * yy ** ((k - 1) / depth), (k, 1, depth))


def _fractional_power_diag(values, p):
    """:math:`\\mathrm{diag}(v)^p` for a diagonal positive matrix (the definition of the power)."""
    return diag(*[v**p for v in values])


def spectral_operator(svals, depth=N_int) -> Matrix:
    r"""The :math:`d^2\times d^2` matrix of :math:`A_N(\mathrm{diag}(s))` in the basis :math:`E_{ij}`.

    Computed by applying the defining sum to each basis matrix (summand by summand, then summed
    symbolically and reduced to the generic branch).
    """
    dim = len(svals)
    P = [v**2 for v in svals]
    op = zeros(dim * dim, dim * dim)
    for a in range(dim):
        for b in range(dim):
            E = zeros(dim, dim)
            E[a, b] = 1
            term = _fractional_power_diag(P, (depth - k) / depth) * E * _fractional_power_diag(P, (k - 1) / depth)
            image = term.applyfunc(lambda e: generic_branch(Sum(e, (k, 1, depth)).doit()))
            for c in range(dim):
                for e in range(dim):
                    op[c * dim + e, a * dim + b] = image[c, e]
    return op


def geometric_sum():
    r"""Step 1 (SymPy): sum the defining series; return ``(summed, generic branch, quotient)``.

    ``Sum.doit`` returns a ``Piecewise``; its generic branch (:math:`x \ne y`) must equal
    :math:`(x - y)/(x^{1/N} - y^{1/N})`, proven by ``simplify`` of the difference.
    """
    summed = defining_sum(x, y).doit()
    generic = generic_branch(summed)
    quotient = (x - y) / (x ** (1 / N_int) - y ** (1 / N_int))
    if not _is_zero(generic - quotient):
        raise DerivationError(f"geometric sum {generic} is not the quotient {quotient}")
    return summed, generic, quotient


def diagonal_sum():
    r"""Step 2 (SymPy): the sum at :math:`y = x`, proven equal to :math:`N x^{(N-1)/N}`."""
    diagonal = simplify(defining_sum(x, x).doit())
    if not _is_zero(diagonal - N_int * x ** ((N_int - 1) / N_int)):
        raise DerivationError(f"diagonal sum gave {diagonal}")
    return diagonal


def multiplier_at_zero(quotient):
    r"""Step 3 (SymPy): :math:`a_N(x, 0) = \lim_{y\to 0}` of the quotient."""
    return simplify(limit(quotient, y, 0))


def check_special_function(quotient, diagonal, at_zero):
    """Step 4 (SymPy): ``dln_multiplier``'s rewrites and special values agree with steps 1-3."""
    a = dln_multiplier(x, y, N_int)
    if not _is_zero(generic_branch(a.rewrite("Pow")) - quotient):
        raise DerivationError("dln_multiplier's quotient rewrite disagrees with the derived sum")
    if not _is_zero(generic_branch(a.rewrite("Sum").doit()) - quotient):
        raise DerivationError("dln_multiplier's Sum rewrite disagrees with the definition")
    if not _is_zero(dln_multiplier(x, x, N_int) - diagonal) or not _is_zero(dln_multiplier(x, 0, N_int) - at_zero):
        raise DerivationError("dln_multiplier's special values disagree with the derived ones")
    return a


def spectral_form(svals) -> Matrix:
    r"""Step 5 (SymPy, d = len(svals)): :math:`A_N(\mathrm{diag}(s))` is diagonal in the basis :math:`E_{ij}`.

    Returns the diagonal matrix of multipliers :math:`a_N(s_i^2, s_j^2)` (real depth N), after proving
    that the operator computed from the defining sum equals it entry by entry.
    """
    dim = len(svals)
    op = spectral_operator(svals)
    expected = diag(*[dln_multiplier(svals[a] ** 2, svals[b] ** 2, N_int) for a in range(dim) for b in range(dim)])
    diff = (op - expected.applyfunc(lambda e: generic_branch(e.rewrite("Pow")))).applyfunc(simplify)
    if diff != zeros(dim * dim, dim * dim):
        raise DerivationError(f"spectral form of A_N failed for d = {dim}: {diff}")
    return expected.subs(N_int, N)


def certify_multiplier() -> dict[str, Check]:
    """Certificate (numeric): the stable numpy kernel against a_N computed without its closed form (mpmath).

    Integer N: the defining sum. Real N: the divided difference of t^N at x^(1/N), y^(1/N) by quadrature.
    Returns the checks of the multiplier, of its diagonal x = y and of its value at y = 0.
    """
    from riemdln.symbolic import kernels

    def twin(xv, yv, Nv):
        return mpmath.mpf(float(kernels.dln_multiplier(float(xv), float(yv), float(Nv))))

    integer: tuple[float, ...] = (1, 2, 3, 5, 8)
    real = (1.5, 2.5, 4.5, 7.5)
    generic: list[tuple] = [(xv, yv, Nv) for (xv, yv) in random_points(12, 2, seed=1) for Nv in integer]
    generic += [(xv, yv, Nv) for (xv, yv) in random_points(6, 2, seed=4) for Nv in real]
    diagonal = [(xv, xv, Nv) for (xv,) in random_points(4, 1, seed=2) for Nv in (1, 2, 7, 1.5, 4.5)]
    at_zero = [(xv, 0, Nv) for (xv,) in random_points(4, 1, seed=3) for Nv in (1, 2, 7, 1.5, 4.5)]
    how = "numpy twin vs mpmath: the defining sum (integer N), the divided difference of t^N by quadrature (real N)"
    tex = (
        r"numpy twin against mpmath: the defining sum (integer $N$), the divided difference of $t^N$ at "
        r"$x^{1/N}, y^{1/N}$ by quadrature (real $N$)"
    )
    out = {}
    for key, pts, where, where_tex in (
        ("multiplier", generic + diagonal + at_zero, "; x = y and y = 0 included", r"; $x = y$ and $y = 0$ included"),
        ("diagonal", diagonal, " at x = y", r" at $x = y$"),
        ("at_zero", at_zero, " at y = 0", r" at $y = 0$"),
    ):
        labels = depth_labels(p[2] for p in pts)
        check = compare(twin, mp_multiplier, pts, 1e-13, f"{how}{where}, N = {', '.join(labels)}")
        out[key] = replace(check, latex=f"{tex}{where_tex}, {depths_tex(labels)}", depths=labels)
    return out


@derivation("multiplier", title="The multiplier $a_N$ from the defining sum of $A_N$")
def derive_multiplier(deps) -> Result:
    _, _, quotient = geometric_sum()
    diagonal = diagonal_sum()
    at_zero = multiplier_at_zero(quotient)
    check_special_function(quotient, diagonal, at_zero)
    spectral = {f"spectral_d{len(svals)}": spectral_form(svals) for svals in ((s1, s2), (s1, s2, s3))}
    checks = certify_multiplier()
    real = {N_int: N}
    exprs = {
        "defining_sum": defining_sum(x, y).subs(real),
        "quotient": quotient.subs(real),
        "diagonal": diagonal.subs(real),
        "at_zero": at_zero.subs(real),
        "multiplier": dln_multiplier(x, y, N),
        **spectral,
    }
    return Result(exprs, checks=checks)


# ---------------------------------------------------------------------------------------------
# catalog declarations (riemdln.symbolic.formulas builds the public catalog from them; see _entries.Entry)
CATALOG = (
    Entry(
        name="multiplier",
        provenance="certified",
        generalized="real $N$ (the sum defines $a_N$ at integer $N$)",
        derivation="multiplier",
        key="multiplier",
        args=(sy.x, sy.y, sy.N),
        convention="raw",
        symbol="a_N(x, y)",
        title="DLN multiplier: the eigenvalue of $A_N$ on $Q E_{ij} R^T$ ($x = s_i^2$, $y = s_j^2$)",
        display=("defining_sum", "quotient"),
        check="multiplier",
        twins=(("multiplier", None), ("log_multiplier", "log")),
    ),
    Entry(
        name="multiplier_diagonal",
        provenance="certified",
        generalized="real $N$",
        derivation="multiplier",
        key="diagonal",
        args=(sy.x, sy.N),
        convention="raw",
        symbol="a_N(x, x)",
        title="Multiplier on the diagonal",
        check="diagonal",
    ),
    Entry(
        name="multiplier_zero",
        provenance="certified",
        generalized="real $N$",
        derivation="multiplier",
        key="at_zero",
        args=(sy.x, sy.N),
        convention="raw",
        symbol="a_N(x, 0)",
        title="Multiplier at a zero singular value",
        check="at_zero",
    ),
)
