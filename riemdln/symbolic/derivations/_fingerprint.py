"""Value fingerprints of every derived expression: what the re-certification on load compares a cached entry with.

A fingerprint is the value of an expression at three seeded points, computed by SymPy at 30 digits: sizes
(``d``, ``r``; ``m = r + 1``, ``n = r + 2``) take 2, 3, 4, depth ``N`` takes 2, 3, 4.5 (5 where ``N`` bounds a sum),
every other symbol and every indexed value ``s[i]`` a seeded value in (0.4, 2.5); sums and products over
indices are written out, undetermined functions ``F(mu1, mu2)`` replaced by seeded quadratics (and their
derivatives taken), a matrix is reduced to a seeded weighted sum of its entries. The values of a certified
derivation are generated into :mod:`riemdln.symbolic.derivations._fingerprints` (package code, not cache data) by
``riemdln derive --write-twins``; ``tests/test_recertify.py`` regenerates them from a fresh derivation and
fails if they differ. A certificate record is fingerprinted by a hash of its method, LaTeX, tolerance, point
count and depths (its measured error may differ between platforms; it must pass).
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping

import mpmath
import sympy
from sympy import Indexed, Integer, Product, Sum
from sympy.core.function import AppliedUndef

__all__ = ["POINTS", "check_hash", "fingerprints", "fingerprints_source", "value", "write_fingerprints"]

POINTS = 3
_SIZES = (2, 3, 4)
_DEPTHS = (2, 3, 4.5)
_INTEGER_DEPTHS = (2, 3, 5)
_DIGITS = 30


def _rng(*parts: str) -> random.Random:
    return random.Random(int.from_bytes(hashlib.sha256("|".join(parts).encode()).digest()[:8], "big"))


def _draw(rnd: random.Random):
    return sympy.Float(f"{0.4 + 2.1 * rnd.random():.6f}", _DIGITS + 10)


def _write_out(expr):
    """Every Sum/Product with integer limits written out term by term (nested and dependent limits too)."""

    def expand(e):
        combine = sympy.Mul if isinstance(e, Product) else sympy.Add
        limits = list(e.limits)  # innermost first
        terms: list = []

        def rec(level, subs):
            if level < 0:
                terms.append(e.function.xreplace(subs))
                return
            var, lo, hi = limits[level]
            for v in range(int(lo.xreplace(subs)), int(hi.xreplace(subs)) + 1):
                rec(level - 1, {**subs, var: Integer(v)})

        rec(len(limits) - 1, {})
        return combine(*terms)

    while True:
        new = expr.replace(lambda e: isinstance(e, Product | Sum), expand)
        if new == expr:
            return new
        expr = new


def _depth_bounds_a_sum(expr) -> bool:
    return any(
        isinstance(e, Sum | Product) and any("N" in {str(v) for v in lim[1:].free_symbols} for lim in e.limits)
        for e in sympy.preorder_traversal(expr)
    )


def _concrete(expr, point: int, rnd: random.Random):
    """``expr`` with sizes and depth set for ``point``, sums written out, undetermined functions made concrete."""
    size = _SIZES[point]
    depth = (_INTEGER_DEPTHS if _depth_bounds_a_sum(expr) else _DEPTHS)[point]
    fixed = {"d": size, "r": size, "m": size + 1, "n": size + 2}
    rule = {}
    for sym in expr.free_symbols:
        name = str(sym)
        if isinstance(sym, sympy.Symbol) and name in fixed:
            rule[sym] = Integer(fixed[name])
        elif isinstance(sym, sympy.Symbol) and name == "N":
            rule[sym] = Integer(depth) if depth == int(depth) else sympy.Float(depth, _DIGITS + 10)
    expr = expr.xreplace(rule)
    undefined = sorted({e for e in sympy.preorder_traversal(expr) if isinstance(e, AppliedUndef)}, key=str)
    if undefined:
        quadratic = {
            f: 1 + sum((0.5 + rnd.random()) * a + (0.5 + rnd.random()) * a**2 for a in f.args) for f in undefined
        }
        expr = expr.xreplace(quadratic).doit()
    return expr.applyfunc(_write_out) if isinstance(expr, sympy.MatrixBase) else _write_out(expr)


def value(expr, derivation: str, key: str, point: int) -> str:
    """The fingerprint of ``expr`` (the expression ``key`` of ``derivation``) at seeded point ``point``, as a
    decimal string of 25 significant digits ("nan" if it does not evaluate to a real number)."""
    rnd = _rng(derivation, key, str(point))
    expr = _concrete(expr, point, rnd)
    indexed = sorted({e for e in sympy.preorder_traversal(expr) if isinstance(e, Indexed)}, key=str)
    expr = expr.xreplace({e: _draw(rnd) for e in indexed})
    expr = expr.xreplace({v: _draw(rnd) for v in sorted(expr.free_symbols, key=str)})
    with mpmath.workdps(_DIGITS):
        try:
            if isinstance(expr, sympy.MatrixBase):
                out = mpmath.fsum(_real(entry) * (0.5 + rnd.random()) for entry in expr)
            else:
                out = _real(expr)
        except (TypeError, ValueError, ZeroDivisionError, ArithmeticError):
            return "nan"
        return mpmath.nstr(out, 25, strip_zeros=False) if mpmath.isfinite(out) else "nan"


def _real(expr):
    out = sympy.N(expr, _DIGITS)
    if not out.is_real:
        raise ValueError("not a real number")
    return mpmath.mpf(str(out))


def check_hash(check) -> str:
    """A short hash of what a certificate record says (method, LaTeX, tolerance, points, depths)."""
    text = "|".join(
        (check.method, check.latex, repr(float(check.tolerance)), str(check.points), ",".join(check.depths))
    )
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprints(results: Mapping) -> dict[str, dict]:
    """The fingerprints of every expression and certificate record of ``results`` (derivation name -> Result)."""
    out: dict[str, dict] = {}
    for name in sorted(results):
        res = results[name]
        out[name] = {
            "exprs": {key: [value(res.exprs[key], name, key, p) for p in range(POINTS)] for key in sorted(res.exprs)},
            "checks": {key: check_hash(res.checks[key]) for key in sorted(res.checks)},
        }
    return out


def fingerprints_source(results: Mapping) -> str:
    """Source of ``riemdln/symbolic/derivations/_fingerprints.py`` from the results of a certified derivation."""
    import pprint

    head = (
        '"""Value fingerprints of the derived expressions. '
        "GENERATED by ``riemdln derive --write-twins``: do not edit.\n\n"
        "See :mod:`riemdln.symbolic.derivations._fingerprint`; tests/test_recertify.py regenerates this file and\n"
        'fails if it differs.\n"""\n# ruff: noqa\n\n'
    )
    return head + "FINGERPRINTS = " + pprint.pformat(fingerprints(results), width=110, sort_dicts=True) + "\n"


def write_fingerprints(results: Mapping, path=None):
    """Regenerate ``riemdln/symbolic/derivations/_fingerprints.py`` from ``results`` (developers: after changing a
    derivation, from a derivation run without the cache)."""
    from pathlib import Path

    from riemdln._io import atomic_write

    target = Path(path) if path is not None else Path(__file__).with_name("_fingerprints.py")
    atomic_write(target, fingerprints_source(results))
    return target
