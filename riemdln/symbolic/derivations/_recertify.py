"""Re-certification of cached derivations on load: every stored expression against values shipped with the package.

A cache entry's checksum protects against damage, not against an edit whose checksum was recomputed. So
every entry read from the cache is re-checked before use, cheaply next to deriving it (about a second for
the whole catalog, against about two minutes to derive it):

- every expression of the entry (catalog formulas, their displayed and shown forms, and the intermediate
  results later derivations build on) is evaluated from the stored tree at three seeded points and compared
  with its fingerprint (:mod:`riemdln.symbolic.derivations._fingerprint`): the values the certified derivation gave,
  generated into the package (code, not cache data). An expression missing, added or different fails;
- every certificate record must pass and say what the certified derivation's record said (method,
  tolerance, points, depths: a hash shipped with the fingerprints);
- each catalog formula with a numeric twin (the generated ``riemdln/symbolic/_twins.py``, the code the numeric layer
  runs) is compared with the twin, and the multiplier's forms with the mpmath defining sum (an independent
  truth, not a stored value).

An entry that fails any of these is refused and rederived.
"""

from __future__ import annotations

import importlib
import random
from collections.abc import Callable
from typing import Any

import mpmath
import sympy

from riemdln.symbolic.derivations._engine import DERIVATION_MODULES, Check, Result

__all__ = ["recertify"]

_TOL = 1e-10
_POINTS = 6


def _value(expr, values: dict):
    """``expr`` at ``values`` (symbol -> float), to 30 digits, as an mpmath number (NaN if it does not evaluate)."""
    subs = {sym: sympy.Float(repr(float(v)), 40) for sym, v in values.items()}
    try:
        out = sympy.N(expr.xreplace(subs), 30)
        return mpmath.mpf(str(out)) if out.is_real else mpmath.mpf("nan")
    except (TypeError, ValueError, ZeroDivisionError):
        return mpmath.mpf("nan")


def _rel(a, b) -> float:
    a, b = mpmath.mpf(a), mpmath.mpf(b)
    if mpmath.isnan(a) or mpmath.isnan(b):
        return float("inf")
    scale = max(abs(a), abs(b))
    return 0.0 if scale == 0 else float(abs(a - b) / scale)


def _points(args, seed: int) -> list[dict]:
    """Seeded points: depth N in {2, 3.5, 7} (integer N for the multiplier's sum), the others in (0.4, 2.5)."""
    rnd = random.Random(seed)
    out = []
    for i in range(_POINTS):
        values = {}
        for a in args:
            values[a] = (2.0, 3.5, 7.0)[i % 3] if str(a) == "N" else 0.4 + 2.1 * rnd.random()
        out.append(values)
    return out


def _entries(name: str) -> list:
    out = []
    for mod in DERIVATION_MODULES:
        out += [e for e in getattr(importlib.import_module(mod), "CATALOG", ()) if e.derivation == name]
    return out


def _twin_checks(name: str, result: Result) -> dict[str, Check]:
    """Every catalog formula of ``name`` with a plain numeric twin, stored expression against the twin."""
    from riemdln.symbolic import _twins

    checks = {}
    for entry in _entries(name):
        plain = entry.printer == "numpy" and all(isinstance(a, sympy.Symbol) for a in entry.args)
        for fname, transform in entry.twins:
            if transform is not None or not plain or entry.key not in result.exprs:
                continue
            twin = getattr(_twins, fname)
            worst = 0.0
            for p in _points(entry.args, seed=len(fname)):
                stored = _value(result.exprs[entry.key], p)
                worst = max(worst, _rel(stored, float(twin(*[p[a] for a in entry.args]))))
            checks[entry.name] = Check(f"stored expression vs shipped twin {fname}", worst, _TOL, _POINTS)
    return checks


def _multiplier_checks(result: Result) -> dict[str, Check]:
    """The multiplier's stored forms against the mpmath defining sum sum_k x^((N-k)/N) y^((k-1)/N)."""
    from riemdln.symbolic.derivations.symbols import N, x, y

    def defining(xv, yv, Nv):
        return mpmath.fsum(xv ** ((Nv - k) / Nv) * yv ** ((k - 1) / Nv) for k in range(1, int(Nv) + 1))

    rnd = random.Random(11)
    cases = {
        "quotient": lambda: (0.4 + 2 * rnd.random(), 0.4 + 2 * rnd.random()),
        "diagonal": lambda: (0.4 + 2 * rnd.random(),) * 2,
        "at_zero": lambda: (0.4 + 2 * rnd.random(), 0.0),
    }
    checks = {}
    with mpmath.workdps(30):
        for key, draw in cases.items():
            if key not in result.exprs:
                continue
            worst = 0.0
            for Nv in (2, 3, 5):
                xv, yv = draw()
                stored = _value(result.exprs[key], {x: xv, y: yv, N: float(Nv)})
                worst = max(worst, _rel(stored, defining(mpmath.mpf(xv), mpmath.mpf(yv), Nv)))
            checks[f"recertify:{key}"] = Check("stored expression vs mpmath defining sum", worst, _TOL, 3)
    return checks


_SPECIFIC: dict[str, Callable[[Result], dict[str, Check]]] = {"multiplier": _multiplier_checks}


def _fingerprint_checks(name: str, result: Result) -> dict[str, Check]:
    """Every stored expression against its shipped fingerprint; the certificate records against theirs."""
    from riemdln.symbolic.derivations._fingerprint import POINTS, check_hash, value
    from riemdln.symbolic.derivations._fingerprints import FINGERPRINTS

    shipped: Any = FINGERPRINTS.get(name, {"exprs": {}, "checks": {}})
    checks = {}
    for key in sorted(set(shipped["exprs"]) | set(result.exprs)):
        worst = float("inf")
        if key in shipped["exprs"] and key in result.exprs:
            worst = max(
                _rel(mpmath.mpf(value(result.exprs[key], name, key, p)), mpmath.mpf(want))
                for p, want in enumerate(shipped["exprs"][key][:POINTS])
            )
        checks[f"fingerprint:{key}"] = Check("stored expression vs the shipped fingerprint", worst, _TOL, POINTS)
    for key in sorted(set(shipped["checks"]) | set(result.checks)):
        stored = result.checks.get(key)
        same = stored is not None and stored.passed and check_hash(stored) == shipped["checks"].get(key)
        checks[f"certificate:{key}"] = Check("stored certificate record vs the shipped one", 0.0 if same else 1.0, 0, 1)
    return checks


def recertify(name: str, result: Result) -> dict[str, Check]:
    """The re-certificates of a cached ``result`` of derivation ``name``: fingerprints of every expression and
    certificate record, the twins and the registered independent checks (all must pass)."""
    checks = _fingerprint_checks(name, result)
    checks.update(_twin_checks(name, result))
    specific = _SPECIFIC.get(name)
    if specific is not None:
        checks.update(specific(result))
    return checks
