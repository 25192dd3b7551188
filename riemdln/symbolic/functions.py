r"""SymPy special functions of the DLN geometry: :class:`sinhc`, :class:`logmean`, :class:`dln_multiplier`.

Each is a :class:`sympy.DefinedFunction` subclass shaped like SymPy's ``sinc``: ``eval`` returns exact
special values only (never a ``Piecewise``), ``fdiff`` gives the generic-branch derivative,
``rewrite`` reaches the defining forms (``Sum``/``Integral``), the quotient (``log``/``Pow``, where
the ``Piecewise`` lives) and the stable form (``sinh``), ``evalf`` goes through mpmath with guard
digits, and the numpy printer calls the stable kernels of :mod:`riemdln.symbolic.kernels`, so lambdified
code never contains a cancelling quotient.

>>> from sympy import symbols, log
>>> x, y, N = symbols("x y N", positive=True)
>>> dln_multiplier(x, x, N)
N*x**((N - 1)/N)
>>> logmean(x, y).rewrite(log)
Piecewise(((x - y)/(log(x) - log(y)), Ne(x, y)), (x, True))
"""

from __future__ import annotations

import mpmath
from sympy import (
    Dummy,
    Eq,
    Expr,
    Integral,
    Ne,
    Piecewise,
    S,
    Sum,
    cosh,
    exp,
    log,
    sinh,
    sqrt,
)
from sympy.core.function import ArgumentIndexError

try:  # SymPy >= 1.14 separates functions with a definition from undefined ones
    from sympy.core.function import DefinedFunction
except ImportError:  # pragma: no cover
    from sympy import Function as DefinedFunction
from sympy.core.sorting import default_sort_key

__all__ = ["sinhc", "csch2gap", "logmean", "dln_multiplier", "generic_branch"]


def generic_branch(expr):
    """Replace every ``Piecewise`` by its generic branch: the first whose condition is not an equality.

    ``Sum.doit()`` and ``integrate`` return ``Piecewise`` results with special branches on
    measure-zero sets (``Eq((y/x)**(1/N), 1)``) and a generic one (``Ne(x, y)`` or ``True``).
    SymPy 1.14's ``limit`` can pick the wrong branch of such a ``Piecewise`` (docs/theory.md §4), so
    derivations take limits of the generic branch under declared assumptions and certify them
    numerically.

    Parameters
    ----------
    expr : sympy.Expr
        Any expression.

    Returns
    -------
    sympy.Expr
        ``expr`` with every ``Piecewise`` replaced by its generic branch.

    See Also
    --------
    dln_multiplier : whose derivation keeps the generic branch of the summed series.

    Examples
    --------
    >>> from sympy import Piecewise, Eq, Ne, symbols
    >>> x, y = symbols("x y")
    >>> generic_branch(Piecewise((x, Eq(x, y)), (x + y, True)))
    x + y
    """

    def pick(pw):
        for branch in pw.args:
            if not isinstance(branch.cond, Eq):
                return branch.expr
        return pw.args[-1].expr

    return expr.replace(lambda e: isinstance(e, Piecewise), pick)


def _kernel_call(printer, name, args):
    return "{}({})".format(
        printer._module_format(f"riemdln.symbolic.kernels.{name}"), ", ".join(printer._print(a) for a in args)
    )


def _latex_call(printer, name, args, exp=None):
    inner = ", ".join(printer._print(a) for a in args)
    body = rf"\operatorname{{{name}}}\left({inner}\right)"
    return body if exp is None else rf"{body}^{{{exp}}}"


class sinhc(DefinedFunction):
    r"""Hyperbolic sinc: :math:`\operatorname{sinhc}(z) = \sinh(z)/z`, :math:`\operatorname{sinhc}(0) = 1`.

    Parameters
    ----------
    z : sympy.Expr
        The argument.

    See Also
    --------
    riemdln.kernels.sinhc : its numeric twin.
    logmean : written with it, :math:`L(x, y) = \sqrt{xy}\,\operatorname{sinhc}(\tfrac12\log(x/y))`.

    Examples
    --------
    >>> from sympy import Symbol, sinh
    >>> z = Symbol("z")
    >>> sinhc(0), sinhc(-z)
    (1, sinhc(z))
    >>> sinhc(z).series(z, 0, 4)
    1 + z**2/6 + O(z**4)
    """

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return S.One
        if z.could_extract_minus_sign():
            return cls(-z)

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        z = self.args[0]
        return cosh(z) / z - sinh(z) / z**2

    def _eval_rewrite_as_sinh(self, z, **kwargs):
        return Piecewise((sinh(z) / z, Ne(z, 0)), (S.One, True))

    def _eval_nseries(self, x, n, logx, cdir=0):
        z = self.args[0]
        return (sinh(z) / z)._eval_nseries(x, n, logx)

    def _eval_as_leading_term(self, x, logx, cdir):
        z = self.args[0]
        if z.subs(x, 0).is_zero:
            return S.One
        return self.func(z.as_leading_term(x))

    def _eval_is_positive(self):
        if self.args[0].is_extended_real:
            return True

    def _eval_is_real(self):
        if self.args[0].is_extended_real:
            return True

    def _eval_evalf(self, prec):
        z = self.args[0].evalf(prec + 10)
        if not z.is_Number:
            return None
        with mpmath.workprec(prec + 10):
            zm = z._to_mpmath(prec + 10)
            value = mpmath.mpf(1) if zm == 0 else mpmath.sinh(zm) / zm
        return Expr._from_mpmath(value, prec)

    def _numpycode(self, printer):
        return _kernel_call(printer, "sinhc", self.args)

    def _latex(self, printer, exp=None):
        return _latex_call(printer, "sinhc", self.args, exp)


class csch2gap(DefinedFunction):
    r""":math:`1/z^2 - 1/\sinh^2 z`, with the removable value :math:`1/3` at :math:`z = 0` (even, positive).

    Parameters
    ----------
    z : sympy.Expr
        The argument (the gap :math:`\log(s_1/s_2)` in the curvature at :math:`N = \infty`).

    See Also
    --------
    riemdln.kernels.csch2gap : its numeric twin.

    Examples
    --------
    >>> from sympy import Symbol
    >>> z = Symbol("z")
    >>> csch2gap(0), csch2gap(-z)
    (1/3, csch2gap(z))
    """

    nargs = 1

    @classmethod
    def eval(cls, z):
        if z.is_zero:
            return S.One / 3
        if z.could_extract_minus_sign():
            return cls(-z)

    def fdiff(self, argindex=1):
        if argindex != 1:
            raise ArgumentIndexError(self, argindex)
        z = self.args[0]
        return -2 / z**3 + 2 * cosh(z) / sinh(z) ** 3

    def _eval_rewrite_as_sinh(self, z, **kwargs):
        return Piecewise((1 / z**2 - 1 / sinh(z) ** 2, Ne(z, 0)), (S.One / 3, True))

    def _eval_nseries(self, x, n, logx, cdir=0):
        z = self.args[0]
        return (1 / z**2 - 1 / sinh(z) ** 2)._eval_nseries(x, n, logx)

    def _eval_is_positive(self):
        if self.args[0].is_extended_real:
            return True

    def _eval_is_real(self):
        if self.args[0].is_extended_real:
            return True

    def _eval_evalf(self, prec):
        z = self.args[0].evalf(prec + 10)
        if not z.is_Number:
            return None
        with mpmath.workprec(2 * prec + 20):
            zm = z._to_mpmath(prec + 10)
            value = mpmath.mpf(1) / 3 if zm == 0 else 1 / zm**2 - 1 / mpmath.sinh(zm) ** 2
        return Expr._from_mpmath(value, prec)

    def _numpycode(self, printer):
        return _kernel_call(printer, "csch2gap", self.args)

    def _latex(self, printer, exp=None):
        return _latex_call(printer, "csch2gap", self.args, exp)


def _ordered(a, b):
    return (a, b) if default_sort_key(a) <= default_sort_key(b) else (b, a)


class logmean(DefinedFunction):
    r"""Logarithmic mean :math:`L(x, y) = (x - y)/(\log x - \log y)`, :math:`L(x, x) = x`, :math:`L(x, 0) = 0`.

    It is :math:`\int_0^1 x^{1-t} y^t\,dt` and :math:`\lim_{N\to\infty} a_N(x, y)/N` (docs/theory.md §3).
    Symmetric: the arguments are stored in canonical order.

    Parameters
    ----------
    x, y : sympy.Expr
        Non-negative arguments.

    See Also
    --------
    dln_multiplier : :math:`a_N/N \to L` as :math:`N \to \infty` (the normalized convention's limit).
    riemdln.kernels.logmean : its numeric twin.

    Examples
    --------
    >>> from sympy import symbols, sinh
    >>> x, y = symbols("x y", positive=True)
    >>> logmean(x, x), logmean(x, 0), logmean(y, x) == logmean(x, y)
    (x, 0, True)
    >>> logmean(x, y).rewrite(sinh)
    sqrt(x)*sqrt(y)*sinhc(log(x)/2 - log(y)/2)
    >>> logmean(4, 1).evalf(20)
    2.1640425613334451110
    """

    nargs = 2

    @classmethod
    def eval(cls, x, y):
        if x == y:
            return x
        if x.is_zero or y.is_zero:
            return S.Zero
        a, b = _ordered(x, y)
        if (a, b) != (x, y):
            return cls(a, b)

    def fdiff(self, argindex=1):
        x, y = self.args
        if argindex == 1:
            return self * (x - self) / (x * (x - y))
        if argindex == 2:
            return self * (y - self) / (y * (y - x))
        raise ArgumentIndexError(self, argindex)

    def _eval_rewrite_as_log(self, x, y, **kwargs):
        return Piecewise(((x - y) / (log(x) - log(y)), Ne(x, y)), (x, True))

    def _eval_rewrite_as_sinh(self, x, y, **kwargs):
        return sqrt(x) * sqrt(y) * sinhc((log(x) - log(y)) / 2)

    def _eval_rewrite_as_Integral(self, x, y, **kwargs):
        t = Dummy("t")
        return Integral(x ** (1 - t) * y**t, (t, 0, 1))

    def _eval_nseries(self, x, n, logx, cdir=0):
        a, b = self.args
        return ((a - b) / (log(a) - log(b)))._eval_nseries(x, n, logx, cdir)

    def _eval_as_leading_term(self, x, logx, cdir):
        a, b = self.args
        return ((a - b) / (log(a) - log(b))).as_leading_term(x, logx=logx, cdir=cdir)

    def _eval_is_positive(self):
        x, y = self.args
        if x.is_positive and y.is_positive:
            return True

    def _eval_is_extended_real(self):
        x, y = self.args
        if x.is_nonnegative and y.is_nonnegative:
            return True

    def _eval_is_nonnegative(self):
        x, y = self.args
        if x.is_nonnegative and y.is_nonnegative:
            return True

    def _eval_evalf(self, prec):
        x, y = (a.evalf(prec + 10) for a in self.args)
        if not (x.is_Number and y.is_Number):
            return None
        wp = prec + 30
        with mpmath.workprec(wp):
            xm, ym = x._to_mpmath(wp), y._to_mpmath(wp)
            if xm == ym:
                value = xm
            elif xm == 0 or ym == 0:
                value = mpmath.mpf(0)
            else:
                value = (xm - ym) / (mpmath.log(xm) - mpmath.log(ym))
        return Expr._from_mpmath(value, prec)

    def _numpycode(self, printer):
        return _kernel_call(printer, "logmean", self.args)

    def _latex(self, printer, exp=None):
        return _latex_call(printer, "L", self.args, exp)


class dln_multiplier(DefinedFunction):
    r"""DLN multiplier :math:`a_N(x, y) = \sum_{k=1}^{N} x^{(N-k)/N} y^{(k-1)/N}` (raw convention).

    Off the diagonal it is the quotient :math:`(x - y)/(x^{1/N} - y^{1/N})` (a divided difference of
    :math:`t \mapsto t^N` at :math:`x^{1/N}, y^{1/N}`), on it :math:`N x^{(N-1)/N}`;
    :math:`a_N(x, 0) = x^{(N-1)/N}` and :math:`a_1 = 1`. Symmetric in ``x, y``; depth is real.

    Parameters
    ----------
    x, y : sympy.Expr
        Non-negative arguments (squared singular values).
    N : sympy.Expr
        Depth, real :math:`N \ge 1`.

    See Also
    --------
    logmean : the limit of :math:`a_N/N` (normalized convention) as :math:`N \to \infty`.
    riemdln.kernels.dln_multiplier : its numeric twin; :func:`riemdln.multiplier` the checked entry point.

    Examples
    --------
    >>> from sympy import symbols, Sum, Pow
    >>> x, y, N = symbols("x y N", positive=True)
    >>> dln_multiplier(x, 0, N), dln_multiplier(x, y, 1)
    (x**((N - 1)/N), 1)
    >>> dln_multiplier(4, 1, 3).evalf(16)
    5.107243151757946
    """

    nargs = 3

    @classmethod
    def eval(cls, x, y, N):
        if N == 1:
            return S.One
        if x == y:
            return N * x ** ((N - 1) / N)
        if y.is_zero:
            return x ** ((N - 1) / N)
        if x.is_zero:
            return y ** ((N - 1) / N)
        a, b = _ordered(x, y)
        if (a, b) != (x, y):
            return cls(a, b, N)

    def fdiff(self, argindex=1):
        x, y, N = self.args
        if argindex == 1:
            return self / (x - y) - self**2 * x ** (1 / N) / (N * x * (x - y))
        if argindex == 2:
            return self / (y - x) - self**2 * y ** (1 / N) / (N * y * (y - x))
        if argindex == 3:
            return self**2 * (x ** (1 / N) * log(x) - y ** (1 / N) * log(y)) / (N**2 * (x - y))
        raise ArgumentIndexError(self, argindex)

    def _eval_rewrite_as_Sum(self, x, y, N, **kwargs):
        k = Dummy("k", integer=True, positive=True)
        return Sum(x ** ((N - k) / N) * y ** ((k - 1) / N), (k, 1, N))

    def _eval_rewrite_as_Pow(self, x, y, N, **kwargs):
        return Piecewise(((x - y) / (x ** (1 / N) - y ** (1 / N)), Ne(x, y)), (N * x ** ((N - 1) / N), True))

    def _eval_rewrite_as_sinh(self, x, y, N, **kwargs):
        delta = log(x) - log(y)
        return N * exp((log(x) + log(y)) * (N - 1) / (2 * N)) * sinhc(delta / 2) / sinhc(delta / (2 * N))

    def _eval_nseries(self, x, n, logx, cdir=0):
        a, b, N = self.args
        return ((a - b) / (a ** (1 / N) - b ** (1 / N)))._eval_nseries(x, n, logx, cdir)

    def _eval_is_positive(self):
        x, y, N = self.args
        if x.is_positive and y.is_positive and N.is_positive:
            return True

    def _eval_is_extended_real(self):
        x, y, N = self.args
        if x.is_nonnegative and y.is_nonnegative and N.is_positive:
            return True

    def _eval_evalf(self, prec):
        x, y, N = (a.evalf(prec + 10) for a in self.args)
        if not (x.is_Number and y.is_Number and N.is_Number):
            return None
        wp = 2 * prec + 60  # the quotient cancels; guard generously
        with mpmath.workprec(wp):
            xm, ym, Nm = x._to_mpmath(wp), y._to_mpmath(wp), N._to_mpmath(wp)
            if Nm == 1:
                value = mpmath.mpf(1)
            elif xm == ym:
                value = Nm * xm ** ((Nm - 1) / Nm)
            else:
                value = (xm - ym) / (xm ** (1 / Nm) - ym ** (1 / Nm))
        return Expr._from_mpmath(value, prec)

    def _numpycode(self, printer):
        return _kernel_call(printer, "dln_multiplier", self.args)

    def _latex(self, printer, exp=None):
        x, y, N = (printer._print(a) for a in self.args)
        body = rf"a_{{{N}}}\left({x}, {y}\right)"
        return body if exp is None else rf"{body}^{{{exp}}}"


# names used in srepr strings of cached expressions
NAMESPACE = {"sinhc": sinhc, "csch2gap": csch2gap, "logmean": logmean, "dln_multiplier": dln_multiplier}
