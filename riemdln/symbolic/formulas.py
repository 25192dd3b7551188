r"""The formula catalog: derived formulas by stable name, with LaTeX, numeric twins and certificates.

>>> import riemdln
>>> cat = riemdln.catalog()                                   # doctest: +SKIP
>>> f = cat["multiplier"]                                     # doctest: +SKIP
>>> f.args, f.latex                                           # doctest: +SKIP
>>> f.numpy(4.0, 1.0, 2.0)                                    # doctest: +SKIP

Every :class:`Formula` comes from a derivation in :mod:`riemdln.symbolic.derivations` (run on first use and
cached on disk). Its numeric twin is lambdified (``cse=True``, no implicit simplification) with
:class:`TwinPrinter`, which prints the special functions as the stable kernels of
:mod:`riemdln.symbolic.kernels` — never as a cancelling quotient. Formulas over all singular values
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
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import sympy
from sympy import Indexed, Mul, Product, Sum, latex, log, srepr
from sympy.printing.numpy import NumPyPrinter
from sympy.printing.pycode import PythonCodePrinter

import riemdln
from riemdln._io import atomic_write
from riemdln._validation import RiemdlnValueError, check_finite_array, short
from riemdln.symbolic.derivations import _engine
from riemdln.symbolic.derivations import symbols as sy
from riemdln.symbolic.derivations._engine import DERIVATION_MODULES, Check
from riemdln.symbolic.derivations._entries import Entry
from riemdln.symbolic.functions import dln_multiplier, logmean

__all__ = [
    "Formula",
    "catalog",
    "TwinPrinter",
    "twin_source",
    "write_twins",
    "latex_document",
    "write_latex",
    "write_json",
]


class _Kernel(sympy.Function):
    """A call to a stable kernel of :mod:`riemdln.symbolic.kernels`, opaque to cse and simplification."""

    kernel = ""

    def _numpycode(self, printer):
        return "{}({})".format(
            printer._module_format(f"riemdln.symbolic.kernels.{self.kernel}"),
            ", ".join(printer._print(a) for a in self.args),
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
    import riemdln.symbolic.kernels  # noqa: F401 - make riemdln.symbolic.kernels resolvable

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
                    raise RiemdlnValueError(f"`{name}` {where} must be an integer >= 1; got {short(value)}.")
                if int(value) > _MAX_COUNT:  # a count is a dimension: the twin loops (or expands) over it
                    raise RiemdlnValueError(
                        f"`{name}` {where} must be an integer <= {_MAX_COUNT}; got {short(value)}."
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
    provenance : str
        ``"derived"`` (by SymPy) or ``"certified"`` (generalized by hand, then certified numerically).
    generalized : str
        What the hand generalization extends (LaTeX text; empty for a derived formula).
    charts : tuple of str
        The left-hand side of each ``display`` form written in another chart ("" = :attr:`symbol`).

    See Also
    --------
    catalog : every formula by name.
    riemdln.derivations : the derivations and their certificates.

    Examples
    --------
    Loading the catalog derives it on first use (about a minute; cached on disk afterwards, and re-certified
    on every load), hence the skips:

    >>> import riemdln
    >>> f = riemdln.catalog()["multiplier_diagonal"]                 # doctest: +SKIP
    >>> f.args, f.convention, float(f.numpy(4.0, 2.0))               # doctest: +SKIP
    ((x, N), 'raw', 4.0)
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
    provenance: str = "derived"
    generalized: str = ""
    charts: tuple = ()

    def equations(self) -> list[tuple[str, list]]:
        """The displayed equations: ``[(left-hand side, [equal forms...]), ...]``, one per chart.

        The forms that only restate the left-hand side (``a_N(x, y) = a_N(x, y)``) are left out, each form is
        printed once, and a form written in another chart (:attr:`charts`) starts an equation of its own.
        """
        charts = self.charts or ("",) * len(self.display)
        out: list[tuple[str, list]] = [(self.symbol, [])]
        seen: set[str] = set()
        for form, chart in zip((self.expr, *self.display), ("", *charts), strict=True):
            lhs = chart or self.symbol
            if lhs != out[-1][0]:
                out.append((lhs, []))
            key = _bare(latex(form))
            if key == _bare(lhs) or key == _bare(self.symbol) or key in seen:
                continue
            seen.add(key)
            out[-1][1].append(form)
        return [(lhs, forms) for lhs, forms in out if forms]

    @property
    def latex(self) -> str:
        r"""``lhs = expr [= display ...]`` as LaTeX (amsmath); another chart's equation follows after ``\qquad``."""
        eqs = self.equations() or [(self.symbol, [self.expr.rewrite("Sum")])]
        return r",\qquad ".join(" = ".join([lhs, *(latex(f) for f in forms)]) for lhs, forms in eqs)

    @property
    def provenance_text(self) -> str:
        """``"derived by SymPy"`` or ``"generalized by hand (...) and certified: k points, N in {...}"`` (plain)."""
        if self.provenance == "derived":
            return "derived by SymPy"
        check = self.check
        where = "" if check is None else f": {check.points} points" + (
            f", N in {{{', '.join(check.depths)}}}" if check.depths else ""
        )
        return f"generalized by hand ({self.generalized}) and certified{where}"

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
            "provenance": {"kind": self.provenance, "text": self.provenance_text, "generalized": self.generalized},
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
        extra: dict[str, Any] = {"printer": e.printer} if e.printer != "numpy" else {}
        if e.size is not None:
            extra["size"] = e.size
        if e.shown is not None:
            extra["shown"] = res[e.shown]
        if e.per_line:
            extra["per_line"] = e.per_line
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
            provenance=e.provenance,
            generalized=e.generalized,
            charts=tuple(e.charts),
        )
    return out


def _check_cache(cache) -> None:
    if cache is not None and not (isinstance(cache, str | os.PathLike) and str(os.fspath(cache)).strip()):
        raise RiemdlnValueError(f"`cache` must be None or a directory path (str or os.PathLike); got {short(cache)}.")


def derive(
    names: str | list[str] | None = None,
    *,
    use_cache: bool = True,
    cache: str | os.PathLike | None = None,
    progress: Callable[[str, str], None] | None = None,
    report: _engine.DeriveReport | None = None,
) -> dict[str, _engine.Result]:
    """Run the derivations ``names`` (default: all) and what they need, in dependency order; the arguments are
    checked first (:func:`riemdln.symbolic.derivations.derive` does the work).

    Parameters
    ----------
    names : str or list of str, optional
        Derivations to run (with their dependencies); default: all.
    use_cache : bool
        False rederives everything (and rewrites the cache). A cached entry is used only if its key
        matches, its checksum is right and it passes re-certification; otherwise it is rederived.
    cache : str or os.PathLike, optional
        Cache folder (default :func:`riemdln.derivations.cache_dir`).
    progress : callable, optional
        ``progress(name, status)``, called once per derivation (``"cached"`` or ``"derived (reason)"``).
    report : riemdln.derivations.DeriveReport, optional
        Filled with the status and seconds of each derivation.

    Returns
    -------
    dict of str to riemdln.derivations.Result
        Every result computed or loaded, by name: SymPy expressions and their numeric certificates.

    See Also
    --------
    catalog : the public formulas built from these results.

    Examples
    --------
    Deriving writes to (and locks) the cache folder, hence the skips:

    >>> import riemdln
    >>> res = riemdln.derive("multiplier")                               # doctest: +SKIP
    >>> res["multiplier"]["diagonal"]                                    # doctest: +SKIP
    N*x**((N - 1)/N)
    """
    if names is not None and not isinstance(names, str):
        try:
            items: list = list(names)
        except TypeError:
            items = [None]
        if isinstance(names, bytes | Mapping) or not all(isinstance(n, str) for n in items):
            raise RiemdlnValueError(
                f"`names` must be None, a derivation name or a list of them (str); got {short(names)}."
            )
        names = [str(n) for n in items]
    if not isinstance(use_cache, bool | np.bool_):
        raise RiemdlnValueError(f"`use_cache` must be True or False; got {short(use_cache)}.")
    _check_cache(cache)
    if progress is not None and not callable(progress):
        raise RiemdlnValueError(
            f"`progress` must be None or a callable progress(name, status); got {short(progress)}."
        )
    if report is not None and not isinstance(report, _engine.DeriveReport):
        raise RiemdlnValueError(
            f"`report` must be None or a riemdln.symbolic.derivations.DeriveReport; got {short(report)}."
        )
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
    r"""All derived formulas by stable name (deriving on first use; cached on disk afterwards).

    Parameters
    ----------
    cache : path, optional
        Cache directory (default :func:`riemdln.symbolic.derivations.cache_dir`).
    refresh : bool
        Re-read the cache (or rederive) instead of reusing this process's catalog.

    Returns
    -------
    dict of str to Formula
        Every catalog formula by its stable name. Formulas state their convention: ``"raw"`` for the metric
        :math:`g^N`, ``"normalized"`` for :math:`\hat g^N = N g^N` (finite at :math:`N = \infty`).
        Every entry read from the cache is re-certified first (its expressions evaluated against the values
        of the certified derivation shipped with the package); an entry that fails is rederived.

    See Also
    --------
    derive : the derivations behind the catalog, with their certificates.
    Formula : one entry.

    Examples
    --------
    The first call derives the catalog (about a minute), later ones load it, hence the skips:

    >>> import riemdln
    >>> cat = riemdln.catalog()                                          # doctest: +SKIP
    >>> float(cat["multiplier"].numpy(4.0, 1.0, 2.0))                    # doctest: +SKIP
    3.0
    >>> cat["multiplier_infinite"].convention                            # doctest: +SKIP
    'normalized'
    """
    _check_cache(cache)
    if not isinstance(refresh, bool | np.bool_):
        raise RiemdlnValueError(f"`refresh` must be True or False; got {short(refresh)}.")
    key = None if cache is None else str(cache)
    if refresh:
        _catalog_cached.cache_clear()
    return dict(_catalog_cached(key))


# ---------------------------------------------------------------------------------------------
# writers (temporary file, then rename); the LaTeX document is written by riemdln.symbolic._latex
def _bare(tex: str) -> str:
    """A LaTeX string reduced to what it shows (for detecting ``a_N = a_N`` tautologies)."""
    for token in (r"\left", r"\right", r"\,", "{", "}", " ", r"\operatorname"):
        tex = tex.replace(token, "")
    return tex


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
# the generated module riemdln/symbolic/_twins.py (what riemdln.geometry, the SVD-coordinate flow and curvature run on)
def twins_module_source(formulas: Mapping[str, Formula]) -> str:
    """Source of ``riemdln/symbolic/_twins.py``: every twin the numeric layer uses, generated from the catalog."""
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
        "import riemdln.symbolic.kernels",
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
    """Regenerate ``riemdln/symbolic/_twins.py`` (developers: after changing a derivation)."""
    formulas = catalog() if formulas is None else formulas
    path = Path(path) if path is not None else Path(__file__).with_name("_twins.py")
    atomic_write(path, twins_module_source(formulas))
    return path


from riemdln.symbolic._latex import latex_document, write_latex  # noqa: E402 - the LaTeX writer needs Formula defined
