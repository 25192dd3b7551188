r"""The formula catalog: derived formulas by stable name, with LaTeX, numeric twins and certificates.

>>> import riemdln
>>> cat = riemdln.catalog()                                   # doctest: +SKIP
>>> f = cat["multiplier"]                                     # doctest: +SKIP
>>> f.args, f.latex                                           # doctest: +SKIP
>>> f.numpy(4.0, 1.0, 2.0)                                    # doctest: +SKIP

Every :class:`Formula` comes from a derivation in :mod:`riemdln.derivations` (run on first use and
cached on disk). Its numeric twin is lambdified (``cse=True``, no implicit simplification) with
:class:`TwinPrinter`, which prints the special functions as the stable kernels of
:mod:`riemdln.kernels` — never as a cancelling quotient. Formulas over all singular values
(``Product``/``Sum`` over indices ``i < j <= d``) get a vectorized twin assembled from their
lambdified per-value and per-pair factors: they take an array ``s`` of shape ``(..., d)``.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import json
import math
import numbers
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sympy
from sympy import Indexed, Mul, Product, Sum, latex, log, srepr
from sympy.printing.latex import LatexPrinter
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import PythonCodePrinter

import riemdln
from riemdln._io import atomic_write
from riemdln._validation import RiemdlnValueError, _short, check_finite_array
from riemdln.derivations import _engine
from riemdln.derivations import symbols as sy
from riemdln.derivations._engine import DERIVATION_MODULES, Check, graph
from riemdln.derivations._entries import Entry
from riemdln.functions import dln_multiplier, logmean

__all__ = ["Formula", "catalog", "TwinPrinter", "twin_source", "write_twins", "write_latex", "write_json"]


class _Kernel(sympy.Function):
    """A call to a stable kernel of :mod:`riemdln.kernels`, opaque to cse and simplification."""

    kernel = ""

    def _numpycode(self, printer):
        return "{}({})".format(
            printer._module_format(f"riemdln.kernels.{self.kernel}"), ", ".join(printer._print(a) for a in self.args)
        )


class _log_dln_multiplier(_Kernel):
    kernel = "log_dln_multiplier"


class _log_logmean(_Kernel):
    kernel = "log_logmean"


class _dln_multiplier_normalized(_Kernel):
    kernel = "dln_multiplier_normalized"


class _log_dln_multiplier_normalized(_Kernel):
    kernel = "log_dln_multiplier_normalized"


def _normalized_factor(expr):
    """If the Mul ``expr`` holds a_N(x, y) and 1/N as factors, return (a_N, the other factors)."""
    factors = list(Mul.make_args(expr))
    for f in factors:
        if isinstance(f, dln_multiplier):
            inv = 1 / f.args[2]
            if inv in factors:
                rest = list(factors)
                rest.remove(f)
                rest.remove(inv)
                return f, Mul(*rest)
    return None


def kernelize(expr):
    """Replace log(a_N), log(L), a_N/N and log(a_N/N) by opaque kernel calls (before cse).

    This is what keeps lambdified code in log space where the formula is in log space: cse would
    otherwise hoist ``a_N(x, y)`` into a temporary and print ``numpy.log`` of it.
    """

    def log_rule(e):
        arg = e.args[0]
        if isinstance(arg, dln_multiplier):
            return _log_dln_multiplier(*arg.args)
        if isinstance(arg, logmean):
            return _log_logmean(*arg.args)
        split = _normalized_factor(arg) if isinstance(arg, Mul) else None
        if split is not None:
            a, rest = split
            return _log_dln_multiplier_normalized(*a.args) + log(rest)
        return e

    expr = expr.replace(lambda e: isinstance(e, log), log_rule)

    def mul_rule(e):
        a, rest = _normalized_factor(e)
        return _dln_multiplier_normalized(*a.args) * rest

    return expr.replace(lambda e: isinstance(e, Mul) and _normalized_factor(e) is not None, mul_rule)


class TwinPrinter(NumPyPrinter):
    """NumPy printer for the numeric twins: fully qualified names, no unknown functions.

    Expressions are first passed through :func:`kernelize`, so ``log(a_N(x, y))`` becomes
    ``kernels.log_dln_multiplier``, ``log(L(x, y))`` ``kernels.log_logmean`` and ``a_N(x, y)/N``
    ``kernels.dln_multiplier_normalized`` (finite at ``N = inf``); the special functions print
    through their ``_numpycode`` hooks as the stable kernels — never as a cancelling quotient.
    """

    def __init__(self, settings=None):
        base = {"fully_qualified_modules": True, "inline": True, "allow_unknown_functions": False}
        base.update(settings or {})
        super().__init__(base)


# the builtins generated twin code may call (sum, range, abs, ...): pure functions only, never __import__,
# open, eval, exec or getattr. A twin's exec namespace exposes nothing else (defence in depth: the cache
# loader already refuses a symbol name that is not an identifier, so no name can be printed as code).
_TWIN_BUILTINS = {
    n: getattr(__import__("builtins"), n)
    for n in (
        *("abs", "all", "any", "bool", "complex", "divmod", "enumerate", "float", "int", "len", "list"),
        *("map", "max", "min", "pow", "range", "round", "sum", "tuple", "zip"),
    )
}
_TWIN_NAMESPACE = {
    "numpy": np,
    "riemdln": riemdln,
    "math": math,
    "builtins": __import__("types").SimpleNamespace(**_TWIN_BUILTINS),
}


def twin_source(expr, args, name: str = "twin", printer: str = "numpy") -> str:
    """Python source of the numeric twin of ``expr`` (``lambdify`` with ``cse=True``, no simplify)."""
    from sympy.simplify.cse_main import cse
    from sympy.utilities.lambdify import _EvaluatorPrinter

    p = TwinPrinter() if printer == "numpy" else PythonCodePrinter({"fully_qualified_modules": True})
    if isinstance(expr, sympy.MatrixBase):
        expr = (expr.applyfunc(kernelize) if printer == "numpy" else expr).tolist()
    elif printer == "numpy":
        expr = kernelize(sympy.sympify(expr))
    has_bound = any(isinstance(e, (Sum, Product)) for e in sympy.preorder_traversal(sympy.sympify(expr)))
    # cse would hoist a summation's bound variable out of its generator
    cses, reduced = ([], expr) if has_bound else cse(expr, list=False)
    src = _EvaluatorPrinter(p, dummify=False).doprint(name, list(args), reduced, cses=cses)
    return src


def _product_as_exp_sum(expr):
    """Rewrite Product(f, lims) as exp(Sum(log f, lims)) (Python printers know Sum, not Product)."""
    return expr.replace(
        lambda e: isinstance(e, Product),
        lambda e: sympy.exp(Sum(sympy.expand_log(log(e.function), force=True), *e.limits)),
    )


def _compile(src: str, name: str) -> Callable:
    import riemdln.kernels  # noqa: F401 - make riemdln.kernels resolvable

    ns: dict[str, Any] = dict(_TWIN_NAMESPACE, __builtins__=dict(_TWIN_BUILTINS))
    exec(compile(src, f"<riemdln twin {name}>", "exec"), ns)  # noqa: S102 - our own generated code
    fn: Callable = ns[name]
    return fn


# ---------------------------------------------------------------------------------------------
# formulas over all singular values: prefactor * Product_i f(s_i) * Product_{i<j} g(s_i, s_j)
# (or the same with Sum)
_si, _sj = sympy.symbols("s_i s_j", positive=True)


def _split_spectral(expr, index_base):
    """Split into (kind, constant part, per-value body, per-pair body) for Product/Sum structures."""
    kind = "sum" if isinstance(expr, sympy.Add | Sum) else "product"
    node, combine = (Product, Mul) if kind == "product" else (Sum, sympy.Add)
    const, single_parts, pair_parts = [], [], []
    for term in combine.make_args(expr):
        if isinstance(term, node) and term.has(index_base):
            limits = term.limits
            if len(limits) == 2 or isinstance(term.function, node):
                body = term.function
                if isinstance(body, node):
                    body = body.function
                pair_parts.append(body)
            else:
                single_parts.append(term.function)
        else:
            const.append(term)
    identity = sympy.S.One if kind == "product" else sympy.S.Zero
    single = combine(*single_parts) if single_parts else identity
    pair = combine(*pair_parts) if pair_parts else identity
    constant = combine(*const) if const else identity
    return kind, constant, single, pair


def _index_subs(body, index_base, which):
    repl = {}
    for ind in body.atoms(Indexed):
        if ind.base == index_base:
            (idx,) = ind.indices
            repl[ind] = _si if idx == sy.i else _sj
    return body.xreplace(repl)


@dataclass(frozen=True)
class _SpectralTwin:
    kind: str
    constant: Callable
    single: Callable
    pair: Callable
    size_symbols: tuple

    def __call__(self, s, *params):
        s = np.asarray(s, dtype=float)
        dim = s.shape[-1]
        iu, ju = np.triu_indices(dim, 1)
        c = self.constant(dim, *params)
        one = self.single(s, dim, *params)
        two = self.pair(s[..., iu], s[..., ju], dim, *params)
        one = np.broadcast_to(one, s.shape)
        two = np.broadcast_to(two, s[..., iu].shape)
        if self.kind == "product":
            return (c * np.prod(one, axis=-1) * np.prod(two, axis=-1))[()]
        return (c + np.sum(one, axis=-1) + np.sum(two, axis=-1))[()]


def _spectral_twin(expr, index_base, params, size_symbol):
    kind, constant, single, pair = _split_spectral(expr, index_base)
    single = _index_subs(single, index_base, "i")
    pair = _index_subs(pair, index_base, "ij")

    def const_fn(dim, *pv, _c=constant):
        value = _c.subs({size_symbol: dim, **dict(zip(params, pv, strict=True))}).doit()
        return float(sympy.N(value, 20))

    fs = _compile(twin_source(single, (_si, size_symbol, *params), "single"), "single")
    fp = _compile(twin_source(pair, (_si, _sj, size_symbol, *params), "pair"), "pair")
    return _SpectralTwin(kind, functools.lru_cache(maxsize=256)(const_fn), fs, fp, (size_symbol,))


def write_out(expr):
    """``expr`` with every Sum and Product over concrete bounds written out term by term (outermost index first,
    so that inner bounds such as ``i + 1`` become numbers). SymPy's ``doit`` leaves nested sums with dependent
    bounds, e.g. ``Product(|s_i - s_j|, (j, i + 1, 3), (i, 1, 3))``, unevaluated."""
    if isinstance(expr, Sum | Product):
        var, low, high = expr.limits[-1]
        inner = expr.func(expr.function, *expr.limits[:-1]) if len(expr.limits) > 1 else expr.function
        terms = [write_out(inner.subs(var, k)) for k in range(int(low), int(high) + 1)]
        return sympy.Add(*terms) if isinstance(expr, Sum) else sympy.Mul(*terms)
    if not expr.args:
        return expr
    return expr.func(*[write_out(a) for a in expr.args])


def _fits_spectral(expr, index_base) -> bool:
    """Whether ``expr`` is a constant times/plus sums or products over one spectrum (:class:`_SpectralTwin`)."""
    _kind, constant, _single, _pair = _split_spectral(expr, index_base)
    return not constant.has(index_base)


class _ExpandedTwin:
    """The twin of an index-structured formula expanded at the concrete size: the sums and products written
    out for r = the spectra's length (:func:`write_out`), each indexed value a symbol, printed and compiled once per
    size. Used where :class:`_SpectralTwin` does not apply (several spectra, e.g. ``geodesic_length_aligned``,
    or a function of a sum)."""

    def __init__(self, expr, args: tuple, size_symbol, name: str) -> None:
        self.expr, self.args, self.size_symbol, self.name = expr, args, size_symbol, name
        self._compiled = functools.lru_cache(maxsize=64)(self._compile_for)

    def _compile_for(self, dim: int) -> Callable:
        flat, repl = [], {}
        for a in self.args:
            if isinstance(a, sympy.IndexedBase):
                values = sympy.symbols(f"{a}_1:{dim + 1}", nonnegative=True)
                repl.update({a[k + 1]: v for k, v in enumerate(values)})
                flat.extend(values)
            else:
                flat.append(a)
        expanded = write_out(self.expr.subs(self.size_symbol, dim)).xreplace(repl)
        return _compile(twin_source(expanded, flat, "expanded"), "expanded")

    def __call__(self, *values):
        spectra = [v for a, v in zip(self.args, values, strict=True) if isinstance(a, sympy.IndexedBase)]
        dim = spectra[0].shape[-1]
        if any(v.shape[-1] != dim for v in spectra):
            raise RiemdlnValueError(
                f"the spectra of catalog formula {self.name!r} must have one length; got "
                f"{[v.shape[-1] for v in spectra]}."
            )
        flat = []
        for a, v in zip(self.args, values, strict=True):
            flat.extend([v[..., k] for k in range(dim)] if isinstance(a, sympy.IndexedBase) else [v])
        return np.asarray(self._compiled(dim)(*flat))[()]


def _arg_kind(arg) -> str:
    if isinstance(arg, sympy.IndexedBase):
        return "spectrum"
    if arg.name == "N":
        return "depth"
    if arg.is_integer:
        return "count"
    if arg.is_positive or arg.is_nonnegative:
        return "nonnegative"
    return "real"


_MAX_COUNT = 10**6  # the largest count (a dimension d) a catalog twin accepts


def _checked_twin(formula: Formula, raw: Callable) -> Callable:
    """Wrap the compiled twin ``raw`` with the argument checks of :attr:`Formula.numpy`."""
    names = tuple(str(a) for a in formula.args)
    kinds = tuple(_arg_kind(a) for a in formula.args)
    allow_inf = formula.convention == "normalized"
    where = f"of catalog formula {formula.name!r}"

    def twin(*args):
        if len(args) != len(names):
            raise RiemdlnValueError(
                f"`{names[min(len(args), len(names) - 1)]}`: catalog formula {formula.name!r} takes "
                f"{len(names)} arguments ({', '.join(names)}); got {len(args)}."
            )
        checked: list[Any] = []
        for name, kind, value in zip(names, kinds, args, strict=True):
            if kind == "count":
                if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Integral) or int(value) < 1:
                    raise RiemdlnValueError(f"`{name}` {where} must be an integer >= 1; got {_short(value)}.")
                if int(value) > _MAX_COUNT:  # a count is a dimension: the twin loops (or expands) over it
                    raise RiemdlnValueError(
                        f"`{name}` {where} must be an integer <= {_MAX_COUNT}; got {_short(value)}."
                    )
                checked.append(int(value))
                continue
            if kind == "depth":
                arr = np.asarray(value)
                if arr.dtype.kind not in "biuf" or arr.dtype.kind == "b":
                    raise RiemdlnValueError(f"`{name}` {where} must be a real depth >= 1; got {value!r}.")
                arr = arr.astype(float)
                bad = np.isnan(arr) | (arr < 1) | (np.isinf(arr) & (not allow_inf))
                if np.any(bad):
                    need = "a real depth >= 1" + (" or inf" if allow_inf else " (finite: raw convention)")
                    raise RiemdlnValueError(f"`{name}` {where} must be {need}; got {value!r}.")
                checked.append(arr[()] if arr.ndim == 0 else arr)
                continue
            arr = check_finite_array(value, name, min_ndim=1 if kind == "spectrum" else 0)
            if kind == "spectrum" and arr.shape[-1] == 0:
                raise RiemdlnValueError(f"`{name}` {where} must hold at least one value; got shape {arr.shape}.")
            if kind in ("spectrum", "nonnegative") and arr.size and np.any(arr < 0):
                raise RiemdlnValueError(f"`{name}` {where} must be >= 0; got {value!r}.")
            checked.append(arr[()] if arr.ndim == 0 else arr)
        return raw(*checked)

    twin.__name__ = formula.name
    twin.__doc__ = f"Numeric twin of {formula.name!r}: f({', '.join(names)}), arguments checked."
    twin.__dict__["unchecked"] = raw  # twin.unchecked: a function attribute (which mypy does not model)
    return twin


@dataclass(frozen=True)
class Formula:
    """A derived formula.

    Attributes
    ----------
    name : str
        Stable catalog name (public API).
    title : str
        What it is, in words, with its convention.
    expr : sympy.Basic
        The SymPy expression, in its numerically stable form (special functions, no cancelling quotient).
    args : tuple of sympy.Symbol
        Ordered arguments of :attr:`numpy`. An ``IndexedBase`` argument (``s``, ``sigma``, ``mu``,
        ``rho``) stands for an array of shape ``(..., d)``.
    convention : str
        ``"raw"`` (:math:`g^N`), ``"normalized"`` (:math:`\\hat g^N = N g^N`) or ``"-"``.
    derivation : str
        Name of the derivation that produced it.
    display : tuple of sympy.Basic
        Equivalent closed forms proven equal by the derivation (printed after ``expr`` in LaTeX).
    check : Check or None
        The numeric certificate the derivation ran on it (independent evaluation, worst error).
    """

    name: str
    title: str
    expr: Any
    args: tuple
    convention: str
    derivation: str
    symbol: str
    display: tuple = ()
    check: Check | None = None
    _extra: Mapping = field(default_factory=dict, repr=False, compare=False)

    @property
    def latex(self) -> str:
        """``lhs = expr [= display ...]`` as LaTeX (amsmath)."""
        parts = [self.symbol, latex(self.expr)] + [latex(d) for d in self.display]
        return " = ".join(parts)

    @property
    def srepr(self) -> str:
        return srepr(self.expr)

    @functools.cached_property
    def numpy(self) -> Callable:
        """The numeric twin: a vectorized numpy function of :attr:`args`, its arguments checked.

        Every call checks its arguments first (:func:`_checked_twin`): the count, real finite values,
        singular-value-like arguments (positive symbols, ``s``) ``>= 0``, counts (``d``, ``m``, ``n``)
        integers ``>= 1``, the depth ``N >= 1`` (``math.inf`` only in the normalized convention); a bad
        one raises :class:`~riemdln.RiemdlnValueError` naming it, never a silent NaN or complex value.
        """
        bases = [a for a in self.args if isinstance(a, sympy.IndexedBase)]
        if bases:
            size = self._extra.get("size", sy.r)
            params = tuple(a for a in self.args if a not in bases)
            if len(bases) == 1 and _fits_spectral(self.expr, bases[0]):
                raw = _spectral_twin(self.expr, bases[0], params, size)
            else:  # several spectra, or a function of the sum/product: expanded at each concrete size
                raw = _ExpandedTwin(self.expr, tuple(self.args), size, self.name)
        else:
            src = self.source
            assert src is not None  # a formula without index bases always has a source
            raw = _compile(src, self.name)
        return _checked_twin(self, raw)

    @property
    def source(self) -> str | None:
        """Generated numpy source of the twin (None for the index-structured formulas)."""
        if any(isinstance(a, sympy.IndexedBase) for a in self.args):
            return None
        printer = self._extra.get("printer", "numpy")
        expr = _product_as_exp_sum(self.expr) if printer == "python" else self.expr
        return twin_source(expr, self.args, self.name, printer)

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "title": self.title,
            "latex": self.latex,
            "srepr": self.srepr,
            "args": [str(a) for a in self.args],
            "convention": self.convention,
            "derivation": self.derivation,
            "check": None if self.check is None else self.check.as_dict(),
        }


def entries() -> tuple[Entry, ...]:
    """Every catalog declaration (``CATALOG`` of each derivation module), in the order of the derivations."""
    out: list[Entry] = []
    for module in DERIVATION_MODULES:
        out.extend(getattr(importlib.import_module(module), "CATALOG", ()))
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        raise ValueError(f"catalog names declared twice: {sorted({n for n in names if names.count(n) > 1})}")
    return tuple(out)


def _build(results: Mapping[str, Any]) -> dict[str, Formula]:
    out = {}
    for e in entries():
        res = results[e.derivation]
        extra = {"printer": e.printer} if e.printer != "numpy" else {}
        if e.size is not None:
            extra["size"] = e.size
        out[e.name] = Formula(
            name=e.name,
            title=e.title,
            expr=res[e.key],
            args=tuple(e.args),
            convention=e.convention,
            derivation=e.derivation,
            symbol=e.symbol,
            display=tuple(res[k] for k in e.display),
            check=res.checks.get(e.check) if e.check else None,
            _extra=extra,
        )
    return out


def _check_cache(cache) -> None:
    if cache is not None and not (isinstance(cache, str | os.PathLike) and str(os.fspath(cache)).strip()):
        raise RiemdlnValueError(f"`cache` must be None or a directory path (str or os.PathLike); got {_short(cache)}.")


def derive(
    names: str | list[str] | None = None,
    *,
    use_cache: bool = True,
    cache: str | os.PathLike | None = None,
    progress: Callable[[str, str], None] | None = None,
    report: _engine.DeriveReport | None = None,
) -> dict[str, _engine.Result]:
    """Run the derivations ``names`` (default: all) and what they need, in dependency order; the arguments are
    checked first (:func:`riemdln.derivations.derive` does the work).

    Returns every result computed or loaded, by name. ``use_cache=False`` rederives everything (and rewrites the
    cache). ``progress(name, status)`` is called once per derivation.
    """
    if names is not None and not isinstance(names, str):
        try:
            items: list = list(names)
        except TypeError:
            items = [None]
        if isinstance(names, bytes | Mapping) or not all(isinstance(n, str) for n in items):
            raise RiemdlnValueError(
                f"`names` must be None, a derivation name or a list of them (str); got {_short(names)}."
            )
        names = [str(n) for n in items]
    if not isinstance(use_cache, bool | np.bool_):
        raise RiemdlnValueError(f"`use_cache` must be True or False; got {_short(use_cache)}.")
    _check_cache(cache)
    if progress is not None and not callable(progress):
        raise RiemdlnValueError(
            f"`progress` must be None or a callable progress(name, status); got {_short(progress)}."
        )
    if report is not None and not isinstance(report, _engine.DeriveReport):
        raise RiemdlnValueError(f"`report` must be None or a riemdln.derivations.DeriveReport; got {_short(report)}.")
    return _engine.derive(
        names,
        use_cache=bool(use_cache),
        cache=None if cache is None else os.fspath(cache),
        progress=progress,
        report=report,
    )


@functools.lru_cache(maxsize=4)
def _catalog_cached(cache: str | None) -> dict[str, Formula]:
    return _build(derive(cache=cache))


def catalog(cache: str | os.PathLike | None = None, refresh: bool = False) -> dict[str, Formula]:
    """All derived formulas by stable name (deriving on first use; cached on disk afterwards).

    Parameters
    ----------
    cache : path, optional
        Cache directory (default :func:`riemdln.derivations.cache_dir`).
    refresh : bool
        Re-read the cache (or rederive) instead of reusing this process's catalog.
    """
    _check_cache(cache)
    if not isinstance(refresh, bool | np.bool_):
        raise RiemdlnValueError(f"`refresh` must be True or False; got {_short(refresh)}.")
    key = None if cache is None else str(cache)
    if refresh:
        _catalog_cached.cache_clear()
    return dict(_catalog_cached(key))


# ---------------------------------------------------------------------------------------------
# writers (temporary file, then rename)
_TEX_ESCAPES = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\^{}",
    "|": r"$|$",
    "<": r"$<$",
    ">": r"$>$",
}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(c, c) for c in text)


class _DocumentPrinter(LatexPrinter):
    r"""LaTeX for the printed document: :math:`\log\Gamma`, :math:`\prod_{1\le i<j\le r}`, long fractions split.

    Formula.latex keeps SymPy's default printing; this printer only shapes the typeset document.
    """

    def __init__(self):
        super().__init__()

    def _print_loggamma(self, expr, exp=None):
        tex = r"\log\Gamma\left(" + self._print(expr.args[0]) + r"\right)"
        return tex if exp is None else rf"\left({tex}\right)^{{{exp}}}"

    def _pairs(self, expr):
        """``(i, lo, j, hi, body)`` if expr is a double Sum/Product over ``lo <= i < j <= hi``, else None."""
        body, *limits = expr.args
        inner = None
        if len(limits) == 2:
            inner, outer = limits
        elif isinstance(body, type(expr)) and len(limits) == 1 and len(body.args) == 2:
            body, inner = body.args
            (outer,) = limits
        if inner is None:
            return None
        (jv, jlo, jhi), (iv, ilo, ihi) = inner, outer
        if sympy.simplify(jlo - iv - 1) == 0 and jhi == ihi:
            return iv, ilo, jv, jhi, body
        return None

    def _print_pairs(self, expr, op):
        pairs = self._pairs(expr)
        if pairs is None:
            return None
        iv, lo, jv, hi, body = pairs
        tex = self._print(body)
        if isinstance(body, sympy.Add):
            tex = rf"\left({tex}\right)"
        return rf"{op}_{{{self._print(lo)} \le {self._print(iv)} < {self._print(jv)} \le {self._print(hi)}}} {tex}"

    def _print_Product(self, expr):
        return self._print_pairs(expr, r"\prod") or super()._print_Product(expr)

    def _print_Sum(self, expr):
        return self._print_pairs(expr, r"\sum") or super()._print_Sum(expr)


def _document_latex(expr) -> str:
    printer = _DocumentPrinter()
    tex = printer.doprint(expr)
    num, den = sympy.fraction(expr)
    if den != 1 and _visible_width(tex) > 70:  # a long quotient: 1/den, then the factors of num (breakable)
        coeff, rest = num.as_coeff_Mul() if num.is_Mul else (sympy.S.One, num)
        body = printer.doprint(rest)
        if isinstance(rest, sympy.Add):  # a sum: in parentheses that may span lines (\biggl( ... \biggr))
            body = rf"\biggl({body}\biggr)"
        tex = rf"\frac{{{printer.doprint(coeff)}}}{{{printer.doprint(den)}}} {body}"
    # one typeface for the logarithmic mean: L(x, y), as in the symbols and the prose
    return tex.replace(r"\operatorname{L}", "L")


def _bare(tex: str) -> str:
    """A LaTeX string reduced to what it shows (for detecting ``a_N = a_N`` tautologies)."""
    for token in (r"\left", r"\right", r"\,", "{", "}", " ", r"\operatorname"):
        tex = tex.replace(token, "")
    return tex


def _visible_width(tex: str) -> int:
    """A rough count of the glyphs ``tex`` typesets (commands and braces do not count)."""
    import re

    tex = re.sub(r"\\(left|right|frac|operatorname|mathrm|displaystyle)", "", tex)
    tex = re.sub(r"\^\{([^{}]*)\}", lambda m: "." * max(1, len(m.group(1)) * 2 // 3), tex)  # scripts are small
    tex = re.sub(r"\\[a-zA-Z]+", "x", tex)
    return len(re.sub(r"[{}\s]", "", tex))


def _break_points(tex: str) -> list[int]:
    """Positions where ``tex`` may break: before top-level ``+``/``-``, ``\\prod``, ``\\sum`` and factors.

    Never between a ``\\prod``/``\\sum`` and its first factor.
    """
    points: list[int] = []
    depth, k, after_operator = 0, 0, False

    def candidate(pos):
        nonlocal after_operator
        if after_operator:
            after_operator = False
        elif pos > 0 and tex[pos - 1] == " " and not tex[:pos].rstrip().endswith(("+", "-", "=")):
            points.append(pos)  # (a line never ends with an operator: the break goes before it)

    while k < len(tex):
        if tex.startswith(r"\left", k):
            if depth == 0:
                candidate(k)
            depth += 1
            k += 5
            continue
        if tex.startswith(r"\right", k):
            depth -= 1
            k += 6
            continue
        c = tex[k]
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0 and c in "+-":
            after_operator = False
            candidate(k)
        elif depth == 0 and tex.startswith((r"\prod", r"\sum"), k):
            after_operator = False
            candidate(k)
            after_operator = True
        elif depth == 0 and tex.startswith(r"\frac", k):
            candidate(k)
        elif depth == 0 and (tex.startswith("e^{", k) or (c == "\\" and tex[k + 1 : k + 2].isalpha())):
            candidate(k)  # another factor: an exponential or a named function (\cosh, \operatorname, ...)
        k += 1
    return points


def _greedy_lines(tex: str, points: list[int], width: int) -> list[str]:
    """``tex`` cut at the last of ``points`` before each line exceeds ``width`` visible glyphs."""
    lines, start, last = [], 0, 0
    for p in [*points, len(tex)]:
        if _visible_width(tex[start:p]) > width and last > start:
            lines.append(tex[start:last].strip())
            start = last
        last = p
    lines.append(tex[start:].strip())
    return [ln for ln in lines if ln]


def _broken(tex: str, width: int = 70) -> list[str]:
    """Split ``tex`` into lines of at most about ``width`` visible glyphs, at top-level break points; a line that
    continues a product begins with ``\\times``."""
    points = _break_points(tex)
    at_signs = [p for p in points if tex[p] in "+-"]
    lines = _greedy_lines(tex, at_signs, width)  # between the terms of a sum where that is enough
    if max(map(_visible_width, lines)) > width * 1.25:
        lines = _greedy_lines(tex, points, width)  # else between factors too
    # a line that continues a product (not a sum: those begin with their sign) begins with \times
    return lines[:1] + [ln if ln.startswith(("+", "-")) else r"\times " + ln for ln in lines[1:]]


_CERT_MATH = [  # (pattern, LaTeX): math fragments of a certificate's ASCII description
    (r"\blog det\(A_N\)\^\(-1/2\)", r"\log\det(A_N)^{-1/2}"),
    (r"det\(A_N\)\^\(-1/2\)", r"\det(A_N)^{-1/2}"),
    (r"\b([A-Za-z]) = (\d+)\^(\d+)\.\.(\d+)\^(\d+)", r"\1 = \2^{\3},\dots,\4^{\5}"),
    (r"N = oo", r"N = \infty"),
    (r"\b([A-Za-z]) = (\d+)\.\.(\d+)", r"\1 = \2,\dots,\3"),
    (r"sqrt\(det Gram\)", r"\sqrt{\det \mathrm{Gram}}"),
    (r"tr\(Z\^T A_N\^-1 Z\)", r"\operatorname{tr}(Z^T A_N^{-1} Z)"),
    (r"O\(d\)\^\(N-1\)", r"O(d)^{N-1}"),
    (r"\(N-1\) log c_d \+ 1/2 log det Gram", r"(N-1)\log c_d + \tfrac12 \log\det\mathrm{Gram}"),
    (r"1/2 sum log\(a_N/N\)", r"\tfrac12 \sum \log(a_N/N)"),
    (r"N \(a_N/N - L\)", r"N(a_N/N - L)"),
    (r"vol S\^3\(radius 2\)/2", r"\mathrm{vol}\,S^3(\text{radius } 2)/2"),
    (r"\bh = 1e-(\d+)", r"h = 10^{-\1}"),
    (r"ds = e\^rho drho", r"ds = e^{\rho}\,d\rho"),
    (r"ds/dmu", r"ds/d\mu"),
    (r"ds/drho", r"ds/d\rho"),
    (r"X \+ h V", r"X + hV"),
    (r"V = -A_N\(X\) G", r"V = -A_N(X)\,G"),
    (r"\(m, n, r\) in \{([^}]*)\}", r"(m, n, r) \in \{\1\}"),
    (r"\|J\|", r"|J|"),
    (r"\ba_N/N\b", r"a_N/N"),
    (r"\b([dNr]) = (\d+(?:\.\d+)?(?:, \d+(?:\.\d+)?)*)\b(?![\^.])", r"\1 = \2"),
    (r"\bx = y\b", r"x = y"),
    (r"\by = 0\b", r"y = 0"),
    (r"\bA_inf\b", r"A_\infty"),
    (r"\(x - y\)/\(log x - log y\)", r"(x - y)/(\log x - \log y)"),
    (r"\bN = inf\b", r"N = \infty"),
    (r"\bN s_i\b", r"N s_i"),
    (r"\ba_N\(x, y\)", r"a_N(x, y)"),
    (r"\bmu(?=-)", r"\mu"),
    (r"\brho(?=-)", r"\rho"),
    (r"(?<=rank-)r\b", r"r"),
    (r"\bA_N\(X\)", r"A_N(X)"),
    (r"\bdet X\b", r"\det X"),
    (r"\bX = sQ\b", r"X = sQ"),
    (r"\bdX\b", r"dX"),
    (r"\bO\((\d)\)", r"O(\1)"),
    (r"\b([a-z]) x ([a-z])\b", r"\1 \times \2"),
    (r"\b(\d)x(\d)\b", r"\1 \times \2"),
    (r"\b\w+(?:_\w+|\^\w+|/\w+_\w+)+", None),  # any other sub/superscripted token: as it is, in math mode
    (r"(?<![/^\\])\b[FHNQXY]\b(?![(^/_'])", None),  # a lone variable (X, N, F, ...): in math mode
]
_CERT_MATH_COMPILED = [re.compile(p) for p, _ in _CERT_MATH]
_CERT_MATH_RE = re.compile("|".join(f"(?:{p})" for p, _ in _CERT_MATH))


def _cert_math_matches(text: str) -> list[tuple[int, re.Match]]:
    """The math fragments of ``text``, left to right: ``(index into _CERT_MATH, match of that pattern)``.

    The alternation picks, at each position, the first pattern that matches there; that pattern is found again
    by matching each one at the fragment's position in the full text (so lookbehinds and lookaheads still see
    their context) with the same end.
    """
    found = []
    for m in _CERT_MATH_RE.finditer(text):
        for k, p in enumerate(_CERT_MATH_COMPILED):
            g = p.match(text, m.start())
            if g is not None and g.end() == m.end():
                found.append((k, g))
                break
        else:  # pragma: no cover - the alternation matched, so one of its alternatives does
            raise AssertionError(f"no _CERT_MATH pattern matches {m.group(0)!r} alone")
    return found


def _certificate_tex(text: str) -> str:
    """A certificate's description with its mathematics in math mode and the prose escaped."""
    pieces: list[str] = []
    pos = 0
    for k, g in _cert_math_matches(text):
        repl = _CERT_MATH[k][1]
        if repl is None:
            frag = g.group(0)
        else:  # group references \1..\9 only; every other backslash is LaTeX

            def group(ref: re.Match, g: re.Match = g) -> str:
                return g.group(int(ref.group(1)))

            frag = re.sub(r"\\(\d)", group, repl)
        pieces.append(_tex_escape(text[pos : g.start()]) + f"${frag}$")
        pos = g.end()
    pieces.append(_tex_escape(text[pos:]))
    return "".join(pieces)


def _error_tex(value: float) -> str:
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.1e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def _derivation_titles() -> dict[str, str]:
    """Each derivation's title (the registry's), by name."""
    return {name: data.get("title", name) for name, data in graph().nodes(data=True)}


def latex_document(formulas: Mapping[str, Formula]) -> str:
    """A standalone LaTeX document, every formula numbered and labelled ``eq:<name>``.

    Equivalent forms are printed once each (a form that only restates the left-hand side is left out),
    long right-hand sides are broken at top-level sums and products (never scaled), certificates are
    typeset with their mathematics in math mode.
    """
    lines = [
        r"\documentclass[10pt]{article}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\usepackage{amsmath,amssymb}",
        r"\allowdisplaybreaks",
        r"\title{riemdln: derived formulas of the deep linear network geometry}",
        r"\date{riemdln " + riemdln.__version__ + r", SymPy " + sympy.__version__ + "}",
        r"\begin{document}",
        r"\maketitle",
        r"Conventions: \emph{raw} is the metric $g^N$ with operator $A_N$; \emph{normalized} is "
        r"$\hat g^N = N g^N$ with operator $A_N/N$; $x = s_i^2$, $y = s_j^2$; $a_N$ is the DLN multiplier, "
        r"$L$ the logarithmic mean, $\operatorname{sinhc}(z) = \sinh(z)/z$. Each formula comes from a "
        r"derivation in \texttt{riemdln.derivations} (the pages in \texttt{derivations/} follow them step by "
        r"step): either SymPy computed it from its definition, or it was generalized by hand from the cases "
        r"SymPy computed (the formulas for any dimension $d$ or rank $r$) and certified numerically. The "
        r"certificate line names the independent numeric check and its worst error.",
        "",
    ]
    titles = _derivation_titles()
    current = None
    printed: dict[str, str] = {}  # certificate description -> the first formula that printed it
    for f in formulas.values():
        if f.derivation != current:  # one section per derivation, in the catalog's order
            current = f.derivation
            title = titles.get(current, current)  # LaTeX (math in $...$, accents as \^o), else ASCII
            is_latex = "$" in title or "\\" in title
            lines.append(r"\section*{" + (title if is_latex else _certificate_tex(title)) + "}")
        lines.append(r"\subsection*{\texttt{" + _tex_escape(f.name) + "}}")
        convention = "" if f.convention == "-" else f"{f.convention}; "  # (no convention: a constant)
        lines.append(f.title + f" ({convention}derivation \\texttt{{{_tex_escape(f.derivation)}}}).")
        if isinstance(f.expr, sympy.MatrixBase) and f.expr.cols > 4:
            lines.extend(_matrix_entries_tex(f, printed))
            continue
        rhs: list[str] = []
        for e in (f.expr, *f.display):
            tex = _document_latex(e)
            if _bare(tex) != _bare(f.symbol) and _bare(tex) not in map(_bare, rhs):
                rhs.append(tex)
        if not rhs:  # the formula is its symbol (a named special function): print its defining form
            defining = _document_latex(f.expr.rewrite("Sum"))
            rhs = [defining] if _bare(defining) != _bare(f.symbol) else []
        rows = [] if rhs else [f.symbol]
        for k, r in enumerate(rhs):
            parts = _broken(r)
            rows.append((f.symbol if k == 0 else "") + " &= " + parts[0])
            rows.extend(r"&\quad " + p for p in parts[1:])
        lines.append(r"\begin{equation}\label{eq:" + f.name + "}")
        lines.append(r"\begin{split}")
        lines.append(" \\\\\n".join(rows))
        lines.append(r"\end{split}")
        lines.append(r"\end{equation}")
        if f.check is not None:
            lines.append(_certificate_line(f.check, f.name, printed))
        lines.append("")
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


def _certificate_line(check: Check, name: str, printed: dict[str, str]) -> str:
    """The certificate paragraph under formula ``name``.

    A description already printed (``printed``: description -> formula) is referred to by its equation number
    ("as for (25)"), with what this certificate adds to it ("; divided by s_i") and its own error.
    """
    method = check.method
    earlier = max((m for m in printed if method == m or method.startswith((m + "; ", m + ", "))), key=len, default=None)
    if earlier is None:
        what = _certificate_tex(method)
    else:
        what = rf"as for \eqref{{eq:{printed[earlier]}}}" + _certificate_tex(method[len(earlier) :])
    printed.setdefault(method, name)  # (a later identical certificate refers here, even if this one refers on)
    return (
        r"\noindent\emph{Certificate:} "
        + what
        + f"; worst relative error ${_error_tex(check.max_error)}$ over {check.points} points "
        + ("(passed)." if check.passed else "(FAILED).")
    )


def _matrix_entries_tex(f: Formula, printed: dict[str, str]) -> list[str]:
    r"""A wide matrix formula (e.g. Christoffel symbols, row k, column 4i + j) as one line per non-zero entry
    (of its first ``display`` expression when that has the same shape).

    A symbol of the form ``X^k_{ij}`` is printed with the entry's indices (1-based; symmetric pairs once),
    any other as ``[symbol]_{k, c}``.
    """
    lines = [r"\begin{align}\label{eq:" + f.name + "}"]
    rows, seen = [], set()
    width = int(round(math.sqrt(f.expr.cols)))
    # a structured display of the same shape (e.g. the symbols in terms of named metric functions) is printed
    # in place of the substituted entries
    shown = f.display[0] if f.display and getattr(f.display[0], "shape", None) == f.expr.shape else f.expr
    for k in range(f.expr.rows):
        for c in range(f.expr.cols):
            entry = shown[k, c]
            if entry == 0:
                continue
            if "^k_{ij}" in f.symbol and width * width == f.expr.cols:
                i, j = divmod(c, width)
                if (k, min(i, j), max(i, j)) in seen:
                    continue
                seen.add((k, min(i, j), max(i, j)))
                label = f.symbol.replace("^k_{ij}", f"^{{{k + 1}}}_{{{i + 1}{j + 1}}}")
            else:
                label = rf"\left[{f.symbol}\right]_{{{k + 1}, {c + 1}}}"
            parts = _broken(_document_latex(entry))
            entry_rows = [label + " &= " + parts[0]] + [r"&\quad " + p for p in parts[1:]]
            # one number per entry, on its last line
            rows.extend([r + r" \notag" for r in entry_rows[:-1]] + entry_rows[-1:])
    lines.append(" \\\\\n".join(rows))
    lines.append(r"\end{align}")
    if f.check is not None:
        lines.append(_certificate_line(f.check, f.name, printed))
    lines.append("")
    return lines


def write_latex(path: str | os.PathLike, formulas: Mapping[str, Formula]) -> Path:
    path = Path(path)
    atomic_write(path, latex_document(formulas))
    return path


def write_json(path: str | os.PathLike, formulas: Mapping[str, Formula]) -> Path:
    path = Path(path)
    doc = {
        "riemdln": riemdln.__version__,
        "sympy": sympy.__version__,
        "formulas": [f.as_dict() for f in formulas.values()],
    }
    atomic_write(path, json.dumps(doc, indent=1) + "\n")
    return path


# ---------------------------------------------------------------------------------------------
# the generated module riemdln/_twins.py (what riemdln.geometry, the SVD-coordinate flow and curvature run on)
def twins_module_source(formulas: Mapping[str, Formula]) -> str:
    """Source of ``riemdln/_twins.py``: every twin the numeric layer uses, generated from the catalog."""
    parts = [
        '"""Numeric twins of the catalog formulas. GENERATED by ``riemdln derive --write-twins``: do not edit.',
        "",
        "Each function is the lambdified (cse, TwinPrinter) form of the named catalog formula;",
        "tests/test_twins.py regenerates this file and fails if it differs.",
        '"""',
        "# ruff: noqa",
        "import builtins",
        "import math",
        "",
        "import numpy",
        "",
        "import riemdln.kernels",
        "",
    ]
    for e in entries():  # the twins each declaration asks for (``Entry.twins``)
        f = formulas[e.name]
        for name, transform in e.twins:
            expr = f.expr if transform is None else sympy.expand_log(log(f.expr), force=False)
            src = twin_source(expr, f.args, name, printer=e.printer)
            parts.append(f"# {e.name}{'' if transform is None else ' (' + transform + ')'}: {f.expr}")
            parts.append(src.rstrip() + "\n")
    # a hand-assembled dispatcher that keeps the contract geometry relies on (N = inf in normalized twins)
    parts.append('''
def log_multiplier_normalized(x, y, N):
    """log(a_N/N), with N = inf giving log L (the logarithmic mean)."""
    N = numpy.asarray(N, dtype=float)
    if numpy.all(numpy.isinf(N)):
        return log_multiplier_infinite(x, y)
    finite = numpy.where(numpy.isinf(N), 1.0, N)
    finite_value = log_multiplier_normalized_finite(x, y, finite)
    return numpy.where(numpy.isinf(N), log_multiplier_infinite(x, y), finite_value)[()]
''')
    digest = hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]
    parts.append(f"SOURCE_DIGEST = {digest!r}\n")
    return "\n".join(parts)


def write_twins(path: str | os.PathLike | None = None, formulas: Mapping[str, Formula] | None = None) -> Path:
    """Regenerate ``riemdln/_twins.py`` (developers: after changing a derivation)."""
    formulas = catalog() if formulas is None else formulas
    path = Path(path) if path is not None else Path(__file__).with_name("_twins.py")
    atomic_write(path, twins_module_source(formulas))
    return path
