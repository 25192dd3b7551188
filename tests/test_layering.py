"""The package's layers: data flows one way, and private names stay inside their folder.

The layers, bottom to top (docs/guide/design.md draws them):

base → symbolic → geometry → problems → simulation → execution → studies → application

A module may import from its own layer and the layers below it. ``from riemdln import name`` counts as an import
of the module that defines ``name`` (``riemdln._LAZY``); a bare ``import riemdln`` (the public facade) is not
counted. The exceptions are listed with their reason; a new
upward import, or a private name newly imported across a folder boundary, fails this test.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import riemdln

ROOT = Path(riemdln.__file__).resolve().parent

LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("_errors", "_status", "_validation", "_io", "_blas", "kernels", "functions", "_twins"),
    "symbolic": ("derivations", "formulas", "_latex"),
    "geometry": ("geometry", "geodesics", "_shooting", "curvature", "dln_metric"),
    "problems": ("problems", "energies", "baselines"),
    "simulation": ("flows", "langevin_dynamics", "_langevin_jit", "training"),
    "execution": ("sweep",),
    "studies": ("studies",),
    "application": ("report", "cli", "_mathml", "__main__", "__init__"),
}
RANK = {module: k for k, modules in enumerate(LAYERS.values()) for module in modules}

# upward imports that are deliberate, each with its reason
UPWARD_ALLOWED = {
    # DLNMetric.flow / .langevin delegate to the simulators, imported inside the method on first call, so that
    # geometry never loads them
    ("dln_metric", "flows"),
    ("dln_metric", "langevin_dynamics"),
}

# private names still imported across a folder boundary (to be made public names of a kernel module)
PRIVATE_ALLOWED = {
    ("", "riemdln.derivations._engine"),  # the catalog reads the derivation engine's cache and graph
    ("flows", "riemdln._validation._short"),
    ("flows", "riemdln.geometry._multiplier"),
    ("flows", "riemdln.geometry._multiplier_slope"),
    ("flows", "riemdln.geometry._log_multiplier"),
    ("flows", "riemdln.geometry._log_multiplier_log_derivative"),
    ("training", "riemdln._validation._short"),
    ("studies", "riemdln.geodesics._segment_lengths"),
    ("studies", "riemdln.geodesics._spectral"),
    ("studies", "riemdln.langevin_dynamics._ess"),
}


def _top(module: str) -> str:
    """The first component under ``riemdln`` of a dotted module name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _imports(path: Path):
    """``(line, imported module's top component, imported name or None)`` of every riemdln import in ``path``."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "riemdln":
            for alias in node.names:
                if node.module == "riemdln":
                    target = riemdln._LAZY.get(alias.name, f"riemdln.{alias.name}")
                    yield node.lineno, _top(target), None
                else:
                    yield node.lineno, _top(node.module), f"{node.module}.{alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                # a bare ``import riemdln`` is the public facade: its attributes are counted where they resolve
                if alias.name.split(".")[0] == "riemdln" and alias.name != "riemdln":
                    yield node.lineno, _top(alias.name), None


def _modules():
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def _owner(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def test_every_module_has_a_layer():
    missing = sorted({_owner(p) for p in _modules()} - set(RANK))
    assert missing == [], f"add these modules to a layer in tests/test_layering.py: {missing}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_upward_import(path):
    me = _owner(path)
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports riemdln.{target}"
        for line, target, _ in _imports(path)
        if target in RANK and RANK[target] > RANK[me] and (me, target) not in UPWARD_ALLOWED
    ]
    assert bad == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_across_a_folder_boundary(path):
    rel = path.relative_to(ROOT)
    folder = rel.parts[0] if len(rel.parts) > 1 else ""
    bad = []
    for line, target, name in _imports(path):
        if name is None or not name.rsplit(".", 1)[1].startswith("_"):
            continue
        target_folder = target if (ROOT / target).is_dir() else ""
        if target_folder != folder and (folder, name) not in PRIVATE_ALLOWED:
            bad.append(f"{rel}:{line} imports {name}")
    assert bad == []


def test_the_exception_lists_are_not_stale():
    """An allowance that no import uses any more is removed (so the lists only shrink)."""
    used_up, used_private = set(), set()
    for path in _modules():
        me = _owner(path)
        rel = path.relative_to(ROOT)
        folder = rel.parts[0] if len(rel.parts) > 1 else ""
        for _, target, name in _imports(path):
            used_up.add((me, target))
            if name is not None:
                used_private.add((folder, name))
    assert UPWARD_ALLOWED <= used_up, UPWARD_ALLOWED - used_up
    assert PRIVATE_ALLOWED <= used_private, PRIVATE_ALLOWED - used_private
