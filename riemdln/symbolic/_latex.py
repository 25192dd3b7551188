"""The typeset catalog (``formulas.tex``) and its compilation to PDF with pdflatex.

Everything printed here was written where it was made: each formula's left-hand side, title, equivalent forms,
charts and line layout come from its catalog declaration (:class:`riemdln.symbolic.derivations._entries.Entry`), each
certificate's description from the certificate that ran (:attr:`riemdln.symbolic.derivations.Check.latex`), each
derivation's heading from its registration. This module only arranges them: one numbered display per chart,
a provenance tag per formula, the certificate under it, and a bibliography. Long displays are broken where
their declaration says (``per_line`` top-level terms or factors per line, in amsmath ``split``).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import sympy
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import PRECEDENCE

from riemdln._errors import LatexError
from riemdln._io import atomic_write

if TYPE_CHECKING:
    from riemdln.symbolic.derivations._engine import Check
    from riemdln.symbolic.formulas import Formula

__all__ = ["LatexError", "compile_pdf", "latex_document", "write_latex"]

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

# the works the catalog rests on (key, entry); each is cited where its result is printed
BIBLIOGRAPHY = (
    (
        "CMV23",
        r"N.~Cohen, G.~Menon and Z.~Veraszto, \emph{Deep linear networks for matrix completion --- an infinite "
        r"depth limit}, SIAM J.\ Applied Dynamical Systems 22(4):3208--3232 (2023), arXiv:2210.12497.",
    ),
    (
        "ACH18",
        r"S.~Arora, N.~Cohen and E.~Hazan, \emph{On the optimization of deep networks: implicit acceleration by "
        r"overparameterization}, ICML 2018, arXiv:1802.06509.",
    ),
    (
        "MY25",
        r"G.~Menon and T.~Yu, \emph{An entropy formula for the Deep Linear Network}, arXiv:2509.09088 (2025).",
    ),
    ("Che25", r"A.~Chen, \emph{Geodesics in the Deep Linear Network}, arXiv:2510.07324 (2025)."),
)

# the works cited under each derivation's heading
_CITATIONS = {
    "multiplier": ("CMV23", "ACH18"),
    "metric": ("CMV23",),
    "volume": ("CMV23",),
    "infinite_depth": ("CMV23",),
    "entropy": ("MY25",),
    "flow": ("ACH18",),
    "curvature": ("Che25",),
    "langevin": ("MY25",),
}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_ESCAPES.get(c, c) for c in text)


class _DocumentPrinter(LatexPrinter):
    r"""LaTeX for the printed document: :math:`\log\Gamma`, :math:`\prod_{1\le i<j\le r}`, :math:`L` upright-free.

    Formula.latex keeps SymPy's default printing; this printer only shapes the typeset document.
    """

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


_PRINTER = _DocumentPrinter()


def _document_latex(expr) -> str:
    # one typeface for the logarithmic mean: L(x, y), as in the symbols and the prose (its own _latex prints
    # \operatorname{L}, which a printer method cannot override)
    return _PRINTER.doprint(expr).replace(r"\operatorname{L}", "L")


def _lines(expr, per_line: int) -> list[str]:
    """``expr`` printed on lines of ``per_line`` top-level terms (a sum) or factors (a product; a quotient prints
    ``1/denominator`` first); ``per_line = 0`` or any other expression: one line."""
    if per_line <= 0:
        return [_document_latex(expr)]
    p = _PRINTER
    if isinstance(expr, sympy.Add):
        terms = p._as_ordered_terms(expr, order=None)
        pieces = [_document_latex(terms[0])] + [
            ("- " + _document_latex(-t)) if t.could_extract_minus_sign() else ("+ " + _document_latex(t))
            for t in terms[1:]
        ]
        return [" ".join(pieces[k : k + per_line]) for k in range(0, len(pieces), per_line)]
    if isinstance(expr, sympy.Mul):
        num, den = sympy.fraction(expr)
        coeff, rest = num.as_coeff_Mul()
        factors = [
            p.parenthesize(f, PRECEDENCE["Mul"]).replace(r"\operatorname{L}", "L") for f in sympy.Mul.make_args(rest)
        ]
        head = [rf"\frac{{{_document_latex(coeff)}}}{{{_document_latex(den)}}}"] if den != 1 or coeff != 1 else []
        pieces = head + factors
        lines = [" ".join(pieces[k : k + per_line]) for k in range(0, len(pieces), per_line)]
        return lines[:1] + [r"\times " + ln for ln in lines[1:]]
    return [_document_latex(expr)]


def _derivation_titles() -> dict[str, str]:
    """Each derivation's title (its registration's, LaTeX), by name."""
    from riemdln.symbolic.derivations._engine import graph

    return {name: data.get("title", name) for name, data in graph().nodes(data=True)}


def _error_tex(value: float) -> str:
    if value == 0:
        return "0"
    mantissa, exponent = f"{value:.1e}".split("e")
    return rf"{mantissa} \times 10^{{{int(exponent)}}}"


def _depths_tex(depths) -> str:
    return r",\allowbreak ".join(r"\infty" if d == "inf" else d for d in depths)


def _provenance_line(f: Formula) -> str:
    r"""The provenance tag: \emph{Derived by SymPy}, or generalized by hand and certified (points, depths)."""
    if f.provenance == "derived":
        return r"\noindent\emph{Provenance:} derived by SymPy."
    check = f.check
    where = ""
    if check is not None:
        where = f": {check.points} points" + (rf", $N \in \{{{_depths_tex(check.depths)}\}}$" if check.depths else "")
    return rf"\noindent\emph{{Provenance:}} generalized by hand ({f.generalized}) and certified{where}."


def _certificate_line(check: Check, name: str, printed: dict[str, str]) -> str:
    """The certificate paragraph under formula ``name``; a description printed before is referred to by number."""
    what = check.latex or _tex_escape(check.method)
    if what in printed:
        what = rf"as for \eqref{{eq:{printed[what]}}}"
    else:
        printed[what] = name
    return (
        r"\noindent\emph{Certificate:} "
        + what
        + f"; worst relative error ${_error_tex(check.max_error)}$ over {check.points} points "
        + ("(passed)." if check.passed else "(FAILED).")
    )


def _equation_rows(f: Formula) -> list[list[str]]:
    """The rows of each displayed equation (one per chart): its equal forms, each form on its lines."""
    shown = f._extra.get("shown")
    per_line = int(f._extra.get("per_line", 0))
    equations = f.equations()
    if shown is not None:  # a form declared for reading (e.g. factored) is printed first
        equations = [(equations[0][0], [shown, *[e for e in equations[0][1] if e is not f.expr and e != shown]])]
    if not equations:  # the formula is its symbol (a named special function): its defining form
        equations = [(f.symbol, [f.expr.rewrite("Sum")])]
    out: list[list[str]] = []
    for lhs, forms in equations:
        rows: list[str] = []
        for k, form in enumerate(forms):
            parts = _lines(form, per_line)
            rows.append((lhs if k == 0 else "") + " &= " + parts[0])
            rows.extend(r"&\quad " + part for part in parts[1:])
        out.append(rows)
    return out


def _display(f: Formula) -> list[str]:
    """One numbered display per chart: ``equation``/``split`` for one chart, ``align`` (a number each) for more."""
    equations = _equation_rows(f)
    if len(equations) == 1:
        body = " \\\\\n".join(equations[0])
        return [r"\begin{equation}\label{eq:" + f.name + "}", r"\begin{split}", body, r"\end{split}", r"\end{equation}"]
    rows = []
    for n, eq in enumerate(equations):
        label = r" \label{eq:" + f.name + ("" if n == 0 else f":chart{n + 1}") + "}"
        rows += [row + r" \notag" for row in eq[:-1]] + [eq[-1] + label]
    return [r"\begin{align}", " \\\\\n".join(rows), r"\end{align}"]


def _matrix_entries_tex(f: Formula, printed: dict[str, str]) -> list[str]:
    r"""A wide matrix formula (e.g. Christoffel symbols, row k, column 4i + j) as one line per non-zero entry
    (of its first ``display`` expression when that has the same shape).

    A symbol of the form ``X^k_{ij}`` is printed with the entry's indices (1-based; symmetric pairs once),
    any other as ``[symbol]_{k, c}``.
    """
    lines = [r"\begin{align}\label{eq:" + f.name + "}"]
    rows, seen = [], set()
    width = int(round(math.sqrt(f.expr.cols)))
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
            rows.append(label + " &= " + _document_latex(entry))
    lines.append(" \\\\\n".join(rows))
    lines.append(r"\end{align}")
    return lines + _tags(f, printed)


def _tags(f: Formula, printed: dict[str, str]) -> list[str]:
    """The lines under a display: the provenance tag, then the certificate."""
    lines = [_provenance_line(f)]
    if f.check is not None:
        lines += ["", _certificate_line(f.check, f.name, printed)]
    return [*lines, ""]


_PREAMBLE = (
    r"Conventions: \emph{raw} is the metric $g^N$ with operator $A_N$; \emph{normalized} is "
    r"$\hat g^N = N g^N$ with operator $A_N/N$; $x = s_i^2$, $y = s_j^2$; $a_N$ is the DLN multiplier, "
    r"$L$ the logarithmic mean, $\operatorname{sinhc}(z) = \sinh(z)/z$ \cite{CMV23}. Each formula comes from a "
    r"derivation in \texttt{riemdln.symbolic.derivations} (the pages in \texttt{derivations/} follow them step by "
    r"step) and carries a provenance tag: \emph{derived by SymPy} (computed from its definition, in the generality "
    r"stated), or \emph{generalized by hand and certified} (extended by hand from the cases SymPy computed --- to "
    r"any dimension $d$, any rank $r$ or real depth $N$ --- and certified numerically at the points and depths "
    r"named). The certificate line names the independent numeric check and its worst error; one display is one "
    r"chart."
)


def latex_document(formulas: Mapping[str, Formula]) -> str:
    """A standalone LaTeX document, every formula numbered and labelled ``eq:<name>``, with a bibliography."""
    import riemdln

    lines = [
        r"\documentclass[10pt]{article}",
        r"\usepackage[margin=2cm]{geometry}",
        r"\usepackage{amsmath,amssymb}",
        r"\allowdisplaybreaks",
        r"\title{riemdln: derived formulas of the deep linear network geometry}",
        r"\date{riemdln " + riemdln.__version__ + r", SymPy " + sympy.__version__ + "}",
        r"\begin{document}",
        r"\maketitle",
        _PREAMBLE,
        "",
    ]
    titles = _derivation_titles()
    current = None
    printed: dict[str, str] = {}  # certificate description -> the first formula that printed it
    for f in formulas.values():
        if f.derivation != current:  # one section per derivation, in the catalog's order
            current = f.derivation
            cites = _CITATIONS.get(current, ())
            cite = (r" \cite{" + ",".join(cites) + "}") if cites else ""
            lines.append(r"\section*{" + titles.get(current, _tex_escape(current)) + cite + "}")
        lines.append(r"\subsection*{\texttt{" + _tex_escape(f.name) + "}}")
        convention = "" if f.convention == "-" else f"{f.convention}; "  # (no convention: a constant)
        lines.append(f.title + f" ({convention}derivation \\texttt{{{_tex_escape(f.derivation)}}}).")
        if isinstance(f.expr, sympy.MatrixBase) and f.expr.cols > 4:
            lines.extend(_matrix_entries_tex(f, printed))
            continue
        lines.extend(_display(f))
        lines.extend(_tags(f, printed))
    lines.append(r"\begin{thebibliography}{9}")
    lines.extend(rf"\bibitem{{{key}}} {entry}" for key, entry in BIBLIOGRAPHY)
    lines.append(r"\end{thebibliography}")
    lines.append(r"\end{document}")
    return "\n".join(lines) + "\n"


def write_latex(path: str | os.PathLike, formulas: Mapping[str, Formula]) -> Path:
    """Write :func:`latex_document` to ``path`` (temporary file, then rename)."""
    path = Path(path)
    atomic_write(path, latex_document(formulas))
    return path


def compile_pdf(tex: Path, timeout: float = 120.0) -> Path:
    """Compile ``tex`` with pdflatex in a scratch folder; move the PDF beside it (atomically)."""
    exe = shutil.which("pdflatex")
    if exe is None:
        raise LatexError(
            "pdflatex not found: install TeX Live (Debian: apt-get install texlive-latex-base) or drop --pdf"
        )
    tex = Path(tex)
    with tempfile.TemporaryDirectory() as work:
        for _ in range(2):  # twice, for labels
            proc = subprocess.run(
                [exe, "-interaction=nonstopmode", "-halt-on-error", "-output-directory", work, str(tex)],
                capture_output=True,
                text=True,
                timeout=timeout,
                check=False,
            )
            if proc.returncode != 0:
                log = (proc.stdout or "").strip().splitlines()
                errors = [line for line in log if line.startswith("!")]
                raise LatexError(f"pdflatex failed on {tex}: {errors[0] if errors else 'see its log'}")
        pdf = Path(work) / (tex.stem + ".pdf")
        target = tex.with_suffix(".pdf")
        tmp = target.with_name(f".{target.name}.tmp")
        try:
            shutil.copyfile(pdf, tmp)
            tmp.replace(target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    return target
