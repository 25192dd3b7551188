"""Catalog declarations: each derivation module lists the formulas it contributes to the catalog.

A derivation module ends with ``CATALOG = (Entry(...), ...)``, one keyword declaration per public formula,
next to the derivation that produces it; :mod:`riemdln.symbolic.formulas` builds the catalog (names, LaTeX, numeric
twins, the generated ``riemdln/symbolic/_twins.py``) from these declarations in the order of
:data:`~riemdln.symbolic.derivations._engine.DERIVATION_MODULES`. Adding a formula touches one place: its derivation
module (the expression under ``key`` in the derivation's result, and this declaration).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Entry"]


@dataclass(frozen=True, kw_only=True)
class Entry:
    """One formula of the catalog.

    Attributes
    ----------
    name : str
        Stable public catalog name.
    derivation : str
        The registered derivation whose result holds the expression.
    key : str
        The expression's key in that result.
    args : tuple of sympy.Symbol or IndexedBase
        Ordered arguments of the numeric twin.
    convention : str
        ``"raw"``, ``"normalized"`` or ``"-"``.
    symbol : str
        The left-hand side in LaTeX.
    title : str
        What it is, in words (LaTeX math allowed).
    display : tuple of str
        Keys of equivalent closed forms in the result, printed after the expression.
    check : str or None
        Key of the numeric certificate in the result's checks.
    twins : tuple of (str, str or None)
        Functions generated into ``riemdln/symbolic/_twins.py`` from this formula: (function name, transform), the
        transform ``None`` or ``"log"`` (the expanded logarithm of the formula).
    printer : str
        ``"numpy"`` (vectorized) or ``"python"`` (math module, arbitrary-size integers).
    size : sympy.Symbol or None
        Summation size of an index-structured formula (default ``r``).
    provenance : str
        ``"derived"`` (SymPy computes the expression from its definition, in the generality stated) or
        ``"certified"`` (generalized by hand from the cases SymPy computes, then certified numerically).
    generalized : str
        For ``"certified"``: what the hand generalization extends (LaTeX text, e.g. ``"any $d$"``).
    charts : tuple of str
        Left-hand sides (LaTeX) of the ``display`` forms that are written in another chart ("" = the same
        left-hand side as the expression): one chart per displayed equation.
    shown : str or None
        Key of an equivalent form printed in the document in place of the expression (e.g. factored).
    per_line : int
        For a long display: how many top-level terms (a sum) or factors (a product) go on each printed line
        (0: one line).
    """

    name: str
    derivation: str
    key: str
    args: tuple
    convention: str
    symbol: str
    title: str
    display: tuple[str, ...] = ()
    check: str | None = None
    twins: tuple[tuple[str, str | None], ...] = ()
    printer: str = "numpy"
    size: Any = None
    provenance: str = "derived"
    generalized: str = ""
    charts: tuple[str, ...] = ()
    shown: str | None = None
    per_line: int = 0

    def __post_init__(self) -> None:
        if self.provenance not in ("derived", "certified"):
            raise ValueError(f"catalog entry {self.name!r}: provenance {self.provenance!r}")
        if (self.provenance == "certified") != bool(self.generalized):
            raise ValueError(f"catalog entry {self.name!r}: a certified entry says what it generalizes (only it)")
        if self.charts and len(self.charts) != len(self.display):
            raise ValueError(f"catalog entry {self.name!r}: one chart per display form")
        if self.convention not in ("raw", "normalized", "-"):
            raise ValueError(f"catalog entry {self.name!r}: convention {self.convention!r}")
        if self.printer not in ("numpy", "python"):
            raise ValueError(f"catalog entry {self.name!r}: printer {self.printer!r}")
        for _, transform in self.twins:
            if transform not in (None, "log"):
                raise ValueError(f"catalog entry {self.name!r}: twin transform {transform!r}")
