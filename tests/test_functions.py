"""The SymPy special functions: eval, fdiff, rewrites, series, evalf, printing (riemdln.symbolic.functions)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
from sympy import Float, Integral, Pow, Rational, Sum, diff, latex, log, oo, series, sinh, symbols

from riemdln.symbolic.formulas import TwinPrinter, twin_source
from riemdln.symbolic.functions import dln_multiplier, generic_branch, logmean, sinhc

x, y, z = symbols("x y z", positive=True)
N = symbols("N", positive=True)
POINTS = [(4.0, 1.0, 3.0), (0.3, 2.5, 2.0), (7.0, 6.5, 5.5), (1.5, 0.2, 1.7)]


def _num(expr, **vals):
    return float(expr.subs({symbols(k, positive=True): v for k, v in vals.items()}).evalf(30))


def test_sinhc_eval_and_series():
    assert sinhc(0) == 1
    assert sinhc(-z) == sinhc(z)
    assert series(sinhc(z), z, 0, 6).removeO() == 1 + z**2 / 6 + z**4 / 120


def test_sinhc_fdiff_matches_quotient_derivative():
    for v in (0.3, 2.0, -1.5):
        got = float(diff(sinhc(z), z).subs(z, v).evalf(30))
        ref = float(diff(sinh(z) / z, z).subs(z, v).evalf(30))
        assert got == pytest.approx(ref, rel=1e-14)


def test_logmean_special_values_and_symmetry():
    assert logmean(x, x) == x
    assert logmean(x, 0) == 0 and logmean(0, y) == 0
    assert logmean(y, x) == logmean(x, y)
    assert logmean(x, y).is_positive


@pytest.mark.parametrize("form", ["log", "sinh", "Integral"])
def test_logmean_rewrites_agree_numerically(form):
    target = {"log": log, "sinh": sinh, "Integral": Integral}[form]
    for a, b, _ in POINTS:
        ref = (mpmath.mpf(a) - b) / (mpmath.log(a) - mpmath.log(b))
        expr = logmean(x, y).rewrite(target).subs({x: a, y: b})
        val = expr.doit().evalf(30) if form == "Integral" else expr.evalf(30)
        assert float(val) == pytest.approx(float(ref), rel=1e-14)


@pytest.mark.parametrize("argindex", [1, 2])
def test_logmean_fdiff_vs_central_difference(argindex):
    for a, b, _ in POINTS:
        d = diff(logmean(x, y), x if argindex == 1 else y).subs({x: a, y: b}).evalf(30)
        with mpmath.workdps(40):
            L = lambda u, v: (u - v) / (mpmath.log(u) - mpmath.log(v))  # noqa: E731
            h = mpmath.mpf("1e-12")
            if argindex == 1:
                fd = (L(a + h, b) - L(a - h, b)) / (2 * h)
            else:
                fd = (L(a, b + h) - L(a, b - h)) / (2 * h)
        assert float(d) == pytest.approx(float(fd), rel=1e-10)


def test_dln_multiplier_special_values():
    assert dln_multiplier(x, y, 1) == 1
    assert dln_multiplier(x, x, N) == N * x ** ((N - 1) / N)
    assert dln_multiplier(x, 0, N) == x ** ((N - 1) / N)
    assert dln_multiplier(y, x, N) == dln_multiplier(x, y, N)


@pytest.mark.parametrize("argindex", [1, 2, 3])
def test_dln_multiplier_fdiff_vs_central_difference(argindex):
    for a, b, n in POINTS:
        var = (x, y, N)[argindex - 1]
        d = diff(dln_multiplier(x, y, N), var).subs({x: a, y: b, N: n}).evalf(30)
        with mpmath.workdps(50):

            def A(u, v, m):
                return (u - v) / (u ** (1 / m) - v ** (1 / m))

            h = mpmath.mpf("1e-15")
            args = [mpmath.mpf(a), mpmath.mpf(b), mpmath.mpf(n)]
            up, dn = list(args), list(args)
            up[argindex - 1] += h
            dn[argindex - 1] -= h
            fd = (A(*up) - A(*dn)) / (2 * h)
        assert float(d) == pytest.approx(float(fd), rel=1e-10)


@pytest.mark.parametrize("form", ["Sum", "Pow", "sinh"])
def test_dln_multiplier_rewrites(form):
    target = {"Sum": Sum, "Pow": Pow, "sinh": sinh}[form]
    for a, b, n in [(4.0, 1.0, 3), (0.3, 2.5, 2), (7.0, 6.5, 5)]:
        ref = mpmath.fsum(
            mpmath.mpf(a) ** (mpmath.mpf(n - k) / n) * mpmath.mpf(b) ** (mpmath.mpf(k - 1) / n) for k in range(1, n + 1)
        )
        expr = dln_multiplier(x, y, N).rewrite(target).subs({x: Float(a, 30), y: Float(b, 30), N: n})
        assert float(expr.doit().evalf(30)) == pytest.approx(float(ref), rel=1e-14)


def test_dln_multiplier_evalf_hits_cancellation_correctly():
    # x/y = 1 + 1e-20: the quotient cancels 20 digits; evalf must still be right to 15
    a = Rational(1) + Rational(1, 10**20)
    val = dln_multiplier(a, 1, 7).evalf(20)
    with mpmath.workdps(80):
        x = mpmath.mpf(a.p) / a.q
        ref = mpmath.fsum(x ** (mpmath.mpf(7 - k) / 7) for k in range(1, 8))  # the defining sum, y = 1
    assert float(val) == pytest.approx(float(ref), rel=1e-15)


def test_generic_branch_picks_non_equality_branch():
    from sympy import Eq, Ne, Piecewise

    pw = Piecewise((x, Eq(x, y)), (x + y, True))
    assert generic_branch(pw) == x + y
    assert generic_branch(Piecewise((x - y, Ne(x, y)), (x, True))) == x - y


def test_sympy_limit_of_piecewise_sum_is_the_known_pitfall():
    """Document the SymPy pitfall (docs/theory.md §4) and that the generic branch gives the right limit."""
    from sympy import limit

    k = symbols("k", integer=True, positive=True)
    n = symbols("n", integer=True, positive=True)
    summed = Sum(x ** ((n - k) / n) * y ** ((k - 1) / n), (k, 1, n)).doit()
    good = limit(generic_branch(summed).subs(n, N) / N, N, oo)
    assert (good - (x - y) / (log(x) - log(y))).simplify() == 0


def test_latex_printing():
    assert latex(dln_multiplier(x, y, N)) == r"a_{N}\left(x, y\right)"
    assert latex(logmean(x, y)) == r"\operatorname{L}\left(x, y\right)"
    assert latex(logmean(x, y) ** 2) == r"\operatorname{L}\left(x, y\right)^{2}"


def test_twin_printer_uses_kernels_never_the_quotient():
    src = twin_source(dln_multiplier(x, y, N) / N + log(logmean(x, y)) + log(dln_multiplier(x, y, N)), (x, y, N))
    assert "riemdln.symbolic.kernels.dln_multiplier_normalized" in src
    assert "riemdln.symbolic.kernels.log_logmean" in src
    assert "riemdln.symbolic.kernels.log_dln_multiplier" in src
    assert "**(1/N)" not in src and "numpy.log(x) - numpy.log(y)" not in src
    p = TwinPrinter()
    assert p.doprint(sinhc(z)) == "riemdln.symbolic.kernels.sinhc(z)"


def test_twin_is_exact_at_coincident_arguments():
    from riemdln.symbolic.formulas import _compile

    f = _compile(twin_source(dln_multiplier(x, y, N), (x, y, N), "f"), "f")
    v = f(np.array([2.0, 2.0]), np.array([2.0, 2.0 * (1 + 1e-15)]), 3.0)
    ref = 3 * 2.0 ** (2 / 3)
    assert np.all(np.isfinite(v))
    assert v[0] == pytest.approx(ref, rel=4e-16 * 8)
    assert v[1] == pytest.approx(ref, rel=1e-14)
    assert math.isfinite(float(f(1e150, 1e150 * (1 + 1e-8), 1e6)))
