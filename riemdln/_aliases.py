"""The modules' earlier paths, kept working: ``riemdln.geodesics`` is ``riemdln.geometry.geodesics``.

Before the layers became folders, most modules sat directly under ``riemdln``. :data:`MOVED` maps each earlier
path to the module's home; a finder on ``sys.meta_path`` (installed by ``riemdln/__init__.py``) answers an
import of an earlier path, or of anything below it (``riemdln.derivations.volume``), with the module itself,
imported under its new name: one object under both names in ``sys.modules``, so that a monkeypatch through one
name is seen through the other and pickles written under either name load. ``python -m`` runs the module's code.
Type checkers see the earlier paths through the stubs ``riemdln/<name>.pyi``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from importlib.machinery import ModuleSpec
from types import CodeType, ModuleType

# earlier path -> the module's home
MOVED = {
    "riemdln.functions": "riemdln.symbolic.functions",
    "riemdln.kernels": "riemdln.symbolic.kernels",
    "riemdln.derivations": "riemdln.symbolic.derivations",
    "riemdln.formulas": "riemdln.symbolic.formulas",
    "riemdln._twins": "riemdln.symbolic._twins",
    "riemdln._latex": "riemdln.symbolic._latex",
    "riemdln.geodesics": "riemdln.geometry.geodesics",
    "riemdln.curvature": "riemdln.geometry.curvature",
    "riemdln.dln_metric": "riemdln.geometry.dln_metric",
    "riemdln._shooting": "riemdln.geometry._shooting",
    "riemdln.energies": "riemdln.problems.energies",
    "riemdln.baselines": "riemdln.problems.baselines",
    "riemdln.langevin_dynamics": "riemdln.thermo.langevin_dynamics",
    "riemdln._langevin_jit": "riemdln.thermo._langevin_jit",
    "riemdln.sweep": "riemdln.studies.sweep",
    "riemdln.report": "riemdln.app.report",
    "riemdln.cli": "riemdln.app.cli",
    "riemdln._mathml": "riemdln.app._mathml",
}


def new_name(name: str) -> str:
    """The current dotted name of the module ``name`` (an earlier path or below one); ``name`` if it did not move."""
    head = name
    while "." in head:
        if head in MOVED:
            return MOVED[head] + name[len(head) :]
        head = head.rpartition(".")[0]
    return name


class _AliasLoader:
    """Loads an earlier path as the module of its new name (imported first, under that name)."""

    def __init__(self, target: str) -> None:
        self.target = target
        self._spec: ModuleSpec | None = None

    def create_module(self, spec: ModuleSpec) -> ModuleType:
        module = importlib.import_module(self.target)
        self._spec = module.__spec__
        return module

    def exec_module(self, module: ModuleType) -> None:
        # the import system set the alias's spec on the module: give it back its own
        module.__spec__ = self._spec

    def get_code(self, fullname: str) -> CodeType | None:
        """The module's code, for ``python -m <earlier path>`` (runpy)."""
        spec = importlib.util.find_spec(self.target)
        loader = getattr(spec, "loader", None)
        return loader.get_code(self.target) if loader is not None and hasattr(loader, "get_code") else None


class AliasFinder:
    """A ``sys.meta_path`` finder of the earlier paths (:data:`MOVED`)."""

    @staticmethod
    def find_spec(fullname: str, path: object = None, target: object = None) -> ModuleSpec | None:
        new = new_name(fullname)
        if new == fullname:
            return None
        real = importlib.util.find_spec(new)
        if real is None:
            return None
        return ModuleSpec(
            fullname,
            _AliasLoader(new),  # type: ignore[arg-type]  # a loader by protocol (create_module, exec_module)
            origin=real.origin,
            is_package=real.submodule_search_locations is not None,
        )


def install() -> None:
    """Put :class:`AliasFinder` first on ``sys.meta_path`` (once)."""
    if not any(isinstance(f, AliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, AliasFinder())  # type: ignore[arg-type]
