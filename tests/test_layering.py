"""The package's layers are its folders: data flows one way, and private names stay inside their folder.

The layers, bottom to top (the README's "How it is built" draws them):

base (riemdln/_*.py) → symbolic → geometry → problems → simulation (flows, thermo, training) → studies → app

A module may import from its own layer and the layers below it. ``from riemdln import name`` counts as an import
of the module that defines ``name`` (``riemdln._LAZY``); a bare ``import riemdln`` (the public facade) is not
counted. A name that starts with an underscore is imported only inside its folder; an underscore *module*
(``riemdln.geometry._metric``) is the package-internal API of its folder, and its public names may be imported
from anywhere above it. Modules import each other through their current paths, not the earlier ones that
``riemdln._aliases`` keeps working for users. The one exception is listed with its reason.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import riemdln

ROOT = Path(riemdln.__file__).resolve().parent

# one folder per layer (top-level modules: the base), bottom to top
LAYERS: dict[str, tuple[str, ...]] = {
    "base": ("_errors", "_status", "_validation", "_io", "_aliases", "_blas", "_deprecation"),
    "symbolic": ("symbolic",),
    "geometry": ("geometry",),
    "problems": ("problems",),
    "simulation": ("flows", "thermo", "training"),
    "studies": ("studies",),
    "application": ("app", "__main__", "__init__"),
}
RANK = {module: k for k, modules in enumerate(LAYERS.values()) for module in modules}

# upward imports that are deliberate, each with its reason: (module, layer folder it imports)
UPWARD_ALLOWED = {
    # DLNMetric.flow / .langevin delegate to the simulators, imported inside the method on first call, so that
    # geometry never loads them
    ("geometry/dln_metric.py", "flows"),
    ("geometry/dln_metric.py", "thermo"),
}


def _top(module: str) -> str:
    """The first component under ``riemdln`` of a dotted module name."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def _is_module(dotted: str) -> bool:
    path = ROOT.joinpath(*dotted.split(".")[1:])
    return path.is_dir() or path.with_suffix(".py").is_file()


def _imports(path: Path):
    """``(line, imported module, imported name or None)`` of every riemdln import in ``path``.

    The name is given for ``from riemdln.module import name`` where ``name`` is not itself a module."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "riemdln":
            for alias in node.names:
                if node.module == "riemdln" and alias.name in riemdln._LAZY:
                    yield node.lineno, riemdln._LAZY[alias.name], None
                elif _is_module(f"{node.module}.{alias.name}") or node.module == "riemdln":
                    yield node.lineno, f"{node.module}.{alias.name}", None
                else:
                    yield node.lineno, node.module, alias.name
        elif isinstance(node, ast.Import):
            for alias in node.names:
                # a bare ``import riemdln`` is the public facade: its attributes are counted where they resolve
                if alias.name.split(".")[0] == "riemdln" and alias.name != "riemdln":
                    yield node.lineno, alias.name, None


def _modules():
    return sorted(p for p in ROOT.rglob("*.py") if "__pycache__" not in p.parts)


def _owner(path: Path) -> str:
    return path.relative_to(ROOT).parts[0].removesuffix(".py")


def _folder(module: str) -> str:
    """The folder (layer) of a dotted module name; "" for the base modules at the top."""
    top = _top(riemdln._aliases.new_name(module))
    return top if (ROOT / top).is_dir() else ""


def test_every_module_has_a_layer():
    missing = sorted({_owner(p) for p in _modules()} - set(RANK))
    assert missing == [], f"add these modules to a layer in tests/test_layering.py: {missing}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_upward_import(path):
    me, rel = _owner(path), path.relative_to(ROOT).as_posix()
    bad = []
    for line, module, _ in _imports(path):
        target = _top(riemdln._aliases.new_name(module))
        if target in RANK and RANK[target] > RANK[me] and (rel, target) not in UPWARD_ALLOWED:
            bad.append(f"{rel}:{line} imports {module}")
    assert bad == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_private_name_across_a_folder_boundary(path):
    rel = path.relative_to(ROOT)
    folder = rel.parts[0] if len(rel.parts) > 1 else ""
    bad = [
        f"{rel}:{line} imports {module}.{name}"
        for line, module, name in _imports(path)
        if name is not None and name.startswith("_") and _folder(module) != folder
    ]
    assert bad == []


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_imports_use_the_current_paths(path):
    """Inside the package, a module is imported where it lives (``riemdln._aliases`` keeps the old paths for users)."""
    bad = [
        f"{path.relative_to(ROOT)}:{line} imports {module} (now {riemdln._aliases.new_name(module)})"
        for line, module, _ in _imports(path)
        if riemdln._aliases.new_name(module) != module
    ]
    assert bad == []


def test_the_exceptions_are_used():
    """An allowance that no import uses any more is removed (so the list only shrinks)."""
    used = {
        (p.relative_to(ROOT).as_posix(), _top(riemdln._aliases.new_name(module)))
        for p in _modules()
        for _, module, _ in _imports(p)
    }
    assert UPWARD_ALLOWED <= used, UPWARD_ALLOWED - used
