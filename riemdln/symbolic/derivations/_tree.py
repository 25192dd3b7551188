"""SymPy expressions as JSON trees, read back without evaluating any code.

The derivation cache stores each expression as a tree of nodes ``{"c": class name, "a": [children]}``
(plus ``"v"`` for the payload of atoms: a symbol's name and assumptions, an integer, a rational, a
float's mpf tuple). :func:`from_tree` rebuilds it by looking each class name up in a whitelist —
the SymPy classes of the core, the elementary and special functions, sums, products, integrals,
indexed objects and matrices, and the special functions of :mod:`riemdln.symbolic.functions` — and calling
``cls(*children)``; nothing is passed to ``eval``, ``sympify`` or a parser, and a class that is not
whitelisted (or a malformed node) raises :class:`TreeError`. :func:`from_tree` then serializes the
rebuilt expression again and requires the very same tree, so an entry that SymPy would rewrite on
construction is refused too.

>>> import sympy
>>> x = sympy.Symbol("x", positive=True)
>>> from_tree(to_tree(sympy.log(x) / 3)) == sympy.log(x) / 3
True
"""

from __future__ import annotations

import inspect
import json
import re
import time
from typing import Any

import sympy
from sympy.core.assumptions import _assume_defined
from sympy.core.function import AppliedUndef
from sympy.matrices import ImmutableDenseMatrix, MatrixBase, MutableDenseMatrix

from riemdln.symbolic import functions as _functions

__all__ = ["TreeError", "to_tree", "from_tree", "WHITELIST"]

# SymPy modules whose classes may appear in a cached expression
_MODULES = (
    "sympy.core.",
    "sympy.functions.",
    "sympy.concrete.",
    "sympy.integrals.integrals",
    "sympy.tensor.indexed",
    "sympy.logic.boolalg",
)
# atoms with a value of their own (handled explicitly), never rebuilt as cls(*args)
_VALUE_ATOMS = {"Symbol", "Dummy", "Integer", "Rational", "Float"}
# undefined functions a derivation may display (the metric functions of a structural form), by name only:
# rebuilt as sympy.Function(name)(*args) from this fixed set, never from a name read back
UNDEFINED_FUNCTIONS = frozenset({"F_1", "F_2"})
_MAX_DEPTH = 400
# the largest derived expression has about 2,000 nodes
_MAX_NODES = 100_000
# a symbol's name is an identifier, never code: the numeric twins print names into generated source.
# Derivations use ASCII names such as x, s_i, g_ij, mu1, F_ij, lambda (greek letters spelled out).
SYMBOL_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,63}")
# resource guards: SymPy evaluates while constructing (7**999999999, bell(100, 100), ...), so numbers are
# capped before any evaluating construction. Derived expressions hold integers up to 10 and take functions of
# numbers only as log(2); the caps leave a wide margin.
_MAX_DIGITS = 1_000  # an Integer literal, or each part of a Rational
_MAX_BITS = 1 << 16  # a rational built anywhere in the tree (numerator plus denominator bits)
_MAX_EXPONENT = 1_000  # |p| and q of a rational exponent of a rational base
_MAX_FUNCTION_NUMBER = 16  # |p| and q of a rational argument of a function (bell, zeta, gamma, ...)
_MAX_FLOAT_PREC = 1_000  # bits
_MAX_FLOAT_EXP = 100_000
_MAX_SECONDS = 30.0  # backstop: the whole tree (a derived one rebuilds in well under a second)


class TreeError(ValueError):
    """A JSON expression tree that is malformed or names a class outside the whitelist."""


def _whitelist() -> dict[str, type[sympy.Basic]]:
    out: dict[str, type[sympy.Basic]] = {}
    for name, obj in vars(sympy).items():
        if (
            inspect.isclass(obj)
            and issubclass(obj, sympy.Basic)
            and obj.__name__ == name
            and any(obj.__module__.startswith(m) or obj.__module__ == m.rstrip(".") for m in _MODULES)
        ):
            out[name] = obj
    # singletons (pi, E, I, oo, ...) under their class names; S.<ClassName> is the instance
    for name in dir(sympy.S):
        if not name.startswith("_") and name not in out:
            obj = getattr(sympy.S, name)
            if isinstance(obj, sympy.Basic) and type(obj).__name__ == name:
                out[name] = type(obj)
    # classes that build new classes or patterns rather than expressions
    # AlgebraicNumber computes a minimal polynomial on construction (unbounded work)
    for name in (
        "Function",
        "WildFunction",
        "Wild",
        "Dummy",
        "Symbol",
        "Basic",
        "Atom",
        "Expr",
        "AppliedUndef",
        "AlgebraicNumber",
    ):
        out.pop(name, None)
    for name, cls in _functions.NAMESPACE.items():
        out[name] = cls
    for name in ("Add", "Mul", "Pow", "Tuple", "Indexed", "IndexedBase", "Idx"):
        out.setdefault(name, getattr(sympy, name))
    return out


WHITELIST: dict[str, type[sympy.Basic]] = _whitelist()


def to_tree(expr) -> dict:
    """The JSON tree of ``expr`` (a SymPy expression or a dense matrix of them)."""
    if isinstance(expr, MatrixBase):
        kind = "MutableDenseMatrix" if isinstance(expr, MutableDenseMatrix) else "ImmutableDenseMatrix"
        return {"c": kind, "v": [expr.rows, expr.cols], "a": [to_tree(e) for e in expr]}
    if not isinstance(expr, sympy.Basic):
        raise TreeError(f"cannot store {type(expr).__name__} in an expression tree")
    cls = type(expr).__name__
    if expr.is_Symbol:
        if cls not in ("Symbol", "Dummy"):
            raise TreeError(f"cannot store symbol class {cls}")
        d = [[k, bool(v)] for k, v in expr._assumptions_orig.items()]  # pairs: JSON keeps their order
        node: dict[str, Any] = {"c": cls, "v": [expr.name, d]}
        if expr.is_Dummy:
            node["v"].append(int(expr.dummy_index))
        return node
    if expr.is_Integer:
        return {"c": "Integer", "v": str(int(expr))}
    if expr.is_Rational:
        return {"c": "Rational", "v": [str(expr.p), str(expr.q)]}
    if expr.is_Float:
        sign, man, exp, bc = expr._mpf_
        return {"c": "Float", "v": [int(sign), hex(int(man)), int(exp), int(bc), int(expr._prec)]}
    if isinstance(expr, AppliedUndef) and cls in UNDEFINED_FUNCTIONS and not expr.func._explicit_class_assumptions:
        return {"c": "AppliedUndef", "v": cls, "a": [to_tree(a) for a in expr.args]}
    if cls not in WHITELIST or WHITELIST[cls] is not type(expr):
        raise TreeError(f"class {cls} is not in the expression whitelist")
    return {"c": cls, "a": [to_tree(a) for a in expr.args]}


def _build(node, depth: int, count: list[float]):
    """Rebuild ``node``; ``count`` is ``[nodes so far, deadline (time.monotonic)]``."""
    if depth > _MAX_DEPTH:
        raise TreeError("expression tree too deep")
    count[0] += 1
    if count[0] > _MAX_NODES:
        raise TreeError("expression tree too large")
    if time.monotonic() > count[1]:
        raise TreeError(f"expression tree takes more than {_MAX_SECONDS:g} s to rebuild")
    if not isinstance(node, dict) or not isinstance(node.get("c"), str) or set(node) - {"c", "a", "v"}:
        raise TreeError("malformed expression node")
    cls, value, args = node["c"], node.get("v"), node.get("a", [])
    if not isinstance(args, list):
        raise TreeError("malformed expression node")
    if cls in ("Symbol", "Dummy"):
        if not (isinstance(value, list) and len(value) == (3 if cls == "Dummy" else 2)):
            raise TreeError("malformed symbol")
        name, assumptions = value[0], value[1]
        ok = isinstance(name, str) and isinstance(assumptions, list)
        if not ok or not all(
            isinstance(p, list) and len(p) == 2 and isinstance(p[0], str) and isinstance(p[1], bool)
            for p in assumptions
        ):
            raise TreeError("malformed symbol")
        if not SYMBOL_NAME.fullmatch(name):
            raise TreeError(f"symbol name {name[:40]!r} is not an identifier of the form {SYMBOL_NAME.pattern}")
        if any(k not in _assume_defined for k, _ in assumptions):
            raise TreeError("unknown symbol assumption")
        assumptions = dict(assumptions)
        if cls == "Dummy":
            if not isinstance(value[2], int):
                raise TreeError("malformed dummy")
            return sympy.Dummy(name, dummy_index=value[2], **assumptions)
        return sympy.Symbol(name, **assumptions)
    if cls == "Integer":
        if not isinstance(value, str) or len(value.lstrip("-")) > _MAX_DIGITS:
            raise TreeError(f"malformed integer (or more than {_MAX_DIGITS} digits)")
        return sympy.Integer(int(value))
    if cls == "Rational":
        if not (
            isinstance(value, list)
            and len(value) == 2
            and all(isinstance(v, str) and len(v.lstrip("-")) <= _MAX_DIGITS for v in value)
        ):
            raise TreeError(f"malformed rational (or more than {_MAX_DIGITS} digits)")
        return sympy.Rational(int(value[0]), int(value[1]))
    if cls == "Float":
        if not (isinstance(value, list) and len(value) == 5 and isinstance(value[1], str)):
            raise TreeError("malformed float")
        sign, man, exp, bc, prec = value
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in (sign, exp, bc, prec)):
            raise TreeError("malformed float")
        if not (0 < prec <= _MAX_FLOAT_PREC and abs(exp) <= _MAX_FLOAT_EXP and len(man) <= _MAX_FLOAT_PREC // 4 + 3):
            raise TreeError("float outside the precision and exponent a derivation stores")
        return sympy.Float._new((sign, int(man, 16), exp, bc), prec)
    if cls in ("MutableDenseMatrix", "ImmutableDenseMatrix"):
        if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, int) for v in value)):
            raise TreeError("malformed matrix")
        rows, cols = value
        if rows < 0 or cols < 0 or rows * cols != len(args):
            raise TreeError("malformed matrix")
        entries = [_build(a, depth + 1, count) for a in args]
        kind = MutableDenseMatrix if cls == "MutableDenseMatrix" else ImmutableDenseMatrix
        return kind(rows, cols, entries)
    if cls == "AppliedUndef":
        if not isinstance(value, str) or value not in UNDEFINED_FUNCTIONS:
            raise TreeError(f"undefined function {value!r} is not in the expression whitelist")
        return sympy.Function(value)(*[_build(a, depth + 1, count) for a in args])
    if value is not None:
        raise TreeError("malformed expression node")
    klass = WHITELIST.get(cls)
    if klass is None or cls in _VALUE_ATOMS:
        raise TreeError(f"class {cls!r} is not in the expression whitelist")
    children = [_build(a, depth + 1, count) for a in args]
    if not children and isinstance(getattr(sympy.S, cls, None), klass):
        return getattr(sympy.S, cls)
    _check_cost(cls, klass, children)
    out = klass(*children)
    if isinstance(out, sympy.Rational) and _bits(out) > _MAX_BITS:
        raise TreeError(f"{cls} node evaluates to a number of more than {_MAX_BITS} bits")
    return out


def _bits(q: sympy.Rational) -> int:
    return int(q.p).bit_length() + int(q.q).bit_length()


def _check_cost(cls: str, klass: type, children: list) -> None:
    """Refuse, before construction, a node whose evaluation by SymPy would be unbounded work."""
    numbers = [c for c in children if isinstance(c, sympy.Number)]
    if not numbers:
        return
    if cls == "Pow" and len(children) == 2:
        base, e = children
        if isinstance(base, sympy.Rational) and isinstance(e, sympy.Rational):
            if abs(e.p) > _MAX_EXPONENT or e.q > _MAX_EXPONENT or _bits(base) * abs(e.p) > _MAX_BITS:
                raise TreeError(f"Pow of numbers {str(base)[:20]}**{str(e)[:20]} is too large to evaluate")
    elif cls == "Mul":
        if sum(_bits(c) for c in numbers if isinstance(c, sympy.Rational)) > _MAX_BITS:
            raise TreeError(f"Mul of numbers of more than {_MAX_BITS} bits")
    elif issubclass(klass, sympy.Function):
        for c in numbers:
            if isinstance(c, sympy.Float):
                raise TreeError(f"{cls} of a float is not an expression a derivation stores")
            if isinstance(c, sympy.Rational) and (abs(c.p) > _MAX_FUNCTION_NUMBER or c.q > _MAX_FUNCTION_NUMBER):
                raise TreeError(f"{cls} of the number {str(c)[:20]} is too costly to evaluate")


def from_tree(node) -> sympy.Basic:
    """Rebuild the expression of ``node`` through the whitelist; raise :class:`TreeError` if refused.

    The result must serialize back to ``node`` exactly (no rewriting on construction), up to the order of the
    terms of a sum and the factors of a product: SymPy builds those in a canonical order, while a derived
    expression may hold them in the order a rewrite produced (the scalar Add and Mul here are commutative).
    """
    try:
        expr = _build(node, 0, [0, time.monotonic() + _MAX_SECONDS])
    except TreeError:
        raise
    except (TypeError, ValueError, AttributeError, KeyError, RecursionError, OverflowError) as exc:
        raise TreeError(f"expression tree does not rebuild ({type(exc).__name__})") from None
    if _commutative_form(to_tree(expr)) != _commutative_form(node):
        raise TreeError("expression tree does not round-trip")
    return expr


def _commutative_form(node):
    """``node`` with the argument lists of Add and Mul nodes sorted (recursively), and each symbol's assumption
    pairs sorted: equal for two trees that differ only in the order of terms, of factors or of assumptions.

    The assumptions' order is that of the keywords a Symbol was first made with, and SymPy's construction
    cache can hand back an equal subexpression holding an equal symbol made with another order (a flaky
    round-trip failure of ``multiplier.defining_sum`` in the full test suite came from that)."""
    if isinstance(node, list):
        return [_commutative_form(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _commutative_form(v) for k, v in node.items()}
    if out.get("c") in ("Add", "Mul") and isinstance(out.get("a"), list):
        out["a"] = sorted(out["a"], key=lambda n: json.dumps(n, sort_keys=True))
    value = out.get("v")
    if out.get("c") in ("Symbol", "Dummy") and isinstance(value, list) and len(value) > 1:
        pairs = value[1]
        if isinstance(pairs, list):
            out["v"] = [value[0], sorted(pairs, key=lambda p: json.dumps(p)), *value[2:]]
    return out
