"""Execute every derivation page in ``derivations/`` and check it against the catalog and the engine.

Each page (jupytext percent format) is run by nbclient with the session kernel (fixture ``kernel_env``).
Then, independently of the page's own assertions:

- a cell tagged ``result-<name>`` must display (as LaTeX) one of the closed forms the catalog holds for
  the formula ``<name>``: its expression or one of the equivalent forms it prints. The catalog is built
  by the test session from the derivations, not read from the page;
- a cell tagged ``sympy`` may only call engine steps whose docstring says SymPy computes them
  ("(SymPy"), a cell tagged ``certified`` only steps whose docstring says they are a numeric
  certificate ("(numeric"), a cell tagged ``generalized`` only steps whose docstring says they are a
  generalization by hand ("Generalization"); every step a page calls from ``riemdln.symbolic.derivations`` is
  one of the three, in a cell with the matching label.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest
from conftest import KERNEL_NAME

PAGE_DIR = Path(__file__).resolve().parent.parent / "derivations"
PAGES = sorted(PAGE_DIR.glob("[0-9]*.py"))

# the slowest (~20-45 s: SymPy's curvature steps run live) carry the slow marker; CI runs them too
_SLOW = {"07_curvature"}


def _params(paths):
    return [pytest.param(p, id=p.stem, marks=[pytest.mark.slow] if p.stem in _SLOW else []) for p in paths]


jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def _imported_steps(source: str) -> dict:
    """Names imported from riemdln.symbolic.derivations.* on the page, resolved to the engine's objects."""
    steps = {}
    for module, names in re.findall(
        r"from (riemdln\.symbolic\.derivations[\w.]*) import \(?([^)]*?)\)?\n(?=\S|\Z)", source + "\n"
    ):
        mod = importlib.import_module(module)
        for name in re.split(r"[,\s]+", re.sub(r"#[^\n]*", "", names).strip()):
            if name and callable(getattr(mod, name)):
                steps[name] = getattr(mod, name)
    return steps


def _latex_outputs(cell) -> list[str]:
    out = []
    for o in cell.get("outputs", []):
        tex = o.get("data", {}).get("text/latex")
        if tex:
            out.append(tex.strip().removeprefix("$\\displaystyle").removeprefix("$").removesuffix("$").strip())
    return out


def test_pages_found():
    assert len(PAGES) >= 1


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@pytest.mark.parametrize("path", _params(PAGES))
def test_page(path, kernel_env, formulas, monkeypatch, tmp_path):
    from sympy import latex

    for key, value in kernel_env.items():
        monkeypatch.setenv(key, value)
    source = path.read_text(encoding="utf-8")
    nb = jupytext.reads(source, fmt="py:percent")
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "a page opens with its title"
    assert "**Result**" in nb.cells[0].source and "**Convention:**" in nb.cells[0].source
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "riemdln test", "language": "python"}
    client = nbclient.NotebookClient(
        nb, kernel_name=KERNEL_NAME, timeout=300, allow_errors=False, resources={"metadata": {"path": str(tmp_path)}}
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:
        pytest.fail(f"{path.name}: {exc}", pytrace=False)

    steps = _imported_steps(source)
    helpers = _helpers(steps)
    labelled = set()
    n_results = 0
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tags = cell.metadata.get("tags", [])
        called = {name for name in re.findall(r"\b(\w+)\(", cell.source) if name in steps and name not in helpers}
        for label, marker in (("sympy", "(SymPy"), ("certified", "(numeric"), ("generalized", "Generalization")):
            if label in tags:
                assert called, f"{path.name}: a cell labelled {label!r} calls no engine step"
                for name in called:
                    doc = steps[name].__doc__ or ""
                    assert marker in doc, (
                        f"{path.name}: {name} is labelled {label!r} but its docstring says {doc[:60]!r}"
                    )
                labelled |= called
        for tag in tags:
            if tag.startswith("result-"):
                n_results += 1
                f = formulas[tag.removeprefix("result-")]
                forms = {latex(e) for e in (f.expr, *f.display)}
                shown = _latex_outputs(cell)
                assert forms & set(shown), f"{path.name}: {tag} shows {shown}, the catalog holds {sorted(forms)}"
    assert n_results >= 1, f"{path.name} shows no catalog result"
    engine_steps = {
        n
        for n, fn in steps.items()
        if fn.__module__.startswith("riemdln.symbolic.derivations.")
        and fn.__module__ != "riemdln.symbolic.derivations.symbols"
    }
    used = {n for n in engine_steps if re.search(rf"\b{n}\(", source)}
    unlabelled = used - labelled - helpers
    assert not unlabelled, f"{path.name}: steps called outside a labelled cell: {sorted(unlabelled)}"


def _helpers(steps) -> set:
    """Steps that only build an expression to display (no claim): their docstring does not say Step."""
    return {
        n for n, fn in steps.items() if not (fn.__doc__ or "").startswith(("Step", "Certificate", "Generalization"))
    }
