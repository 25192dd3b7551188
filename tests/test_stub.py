"""The typing stub riemdln/__init__.pyi tells type checkers the truth about the lazy top level.

At run time ``riemdln/__init__.py`` imports each public name on first use (``_LAZY``: name -> module) and
each public submodule on attribute access (``_SUBMODULES``); type checkers read ``riemdln/__init__.pyi``
instead. These tests keep the two in step, name exactly which stub lines are missing or stale, check that
every name in the stub resolves at run time to the object the stub imports, and run mypy on a user's
snippet to see the real signatures.
"""

from __future__ import annotations

import ast
import importlib
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import riemdln

STUB = Path(riemdln.__file__).with_name("__init__.pyi")


def _stub_imports() -> tuple[dict[str, str], set[str]]:
    """(public name -> module, submodules) as the stub imports them (``from M import n as n`` lines)."""
    names: dict[str, str] = {}
    submodules: set[str] = set()
    for node in ast.parse(STUB.read_text(encoding="utf-8")).body:
        if not isinstance(node, ast.ImportFrom):
            continue
        for alias in node.names:
            assert alias.asname == alias.name, (
                f"stub line for {alias.name!r}: write `import {alias.name} as {alias.name}`"
            )
            if node.module == "riemdln":
                submodules.add(alias.name)
            else:
                names[alias.name] = str(node.module)
    return names, submodules


def test_stub_lists_every_lazy_name_from_its_module():
    names, submodules = _stub_imports()
    expected = set(riemdln._LAZY.items())
    missing = sorted(expected - set(names.items()), key=lambda item: (item[1], item[0]))
    stale = sorted(set(names.items()) - expected, key=lambda item: (item[1], item[0]))
    lines = [f"from {module} import {name} as {name}" for name, module in missing]
    assert not missing, "riemdln/__init__.pyi lacks these lines (names in _LAZY):\n" + "\n".join(lines)
    assert not stale, f"riemdln/__init__.pyi imports names that _LAZY does not list: {stale}"
    missing_sub = sorted(set(riemdln._SUBMODULES) - submodules)
    assert not missing_sub, "riemdln/__init__.pyi lacks these lines (_SUBMODULES):\n" + "\n".join(
        f"from riemdln import {s} as {s}" for s in missing_sub
    )
    assert submodules <= set(riemdln._SUBMODULES), f"stub submodules not in _SUBMODULES: {submodules}"


def test_every_stub_name_resolves_to_the_object_the_stub_imports():
    names, submodules = _stub_imports()
    for name, module in names.items():
        assert getattr(riemdln, name) is getattr(importlib.import_module(module), name), name
    for sub in submodules:
        assert getattr(riemdln, sub) is importlib.import_module(f"riemdln.{sub}"), sub
    assert set(riemdln.__all__) == set(names) | {"__version__"}
    assert set(dir(riemdln)) >= set(names)


def test_import_riemdln_loads_no_submodule_and_no_heavy_dependency():
    code = (
        "import sys, riemdln; print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('riemdln', 'scipy', 'sympy', 'matplotlib', 'numba', 'filelock'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    # riemdln._aliases: the finder of the earlier module paths (standard library only)
    assert out.stdout.split() == ["riemdln", "riemdln._aliases"]


@pytest.mark.slow
def test_mypy_reveals_the_real_signature(tmp_path):
    """A user's ``reveal_type(riemdln.end_to_end_flow)`` is the function's signature, not ``Any``; an unknown
    attribute is an error (about 10-30 s: mypy follows the package)."""
    pytest.importorskip("mypy")
    snippet = tmp_path / "user.py"
    snippet.write_text(
        textwrap.dedent(
            """
            import riemdln
            reveal_type(riemdln.end_to_end_flow)
            reveal_type(riemdln.geodesics.geodesic)
            reveal_type(riemdln.Status.FINISHED)
            riemdln.no_such_name
            """
        )
    )
    root = str(STUB.parent.parent)
    proc = subprocess.run(
        [sys.executable, "-m", "mypy", "--cache-dir", str(tmp_path / "cache"), "--no-error-summary", str(snippet)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": root, "PYTHONPATH": root},
    )
    lines = proc.stdout.splitlines()
    revealed = [line for line in lines if "Revealed type" in line]
    assert len(revealed) == 3, proc.stdout + proc.stderr
    assert revealed[0].split("Revealed type is ")[1].startswith('"def (problem:'), revealed[0]
    assert "t_final" in revealed[0] and "riemdln.flows.result.FlowResult" in revealed[0]
    assert '"def (X0:' in revealed[1] and "GeodesicResult" in revealed[1]
    assert "Status" in revealed[2] and "Any" not in revealed[2]
    assert any('has no attribute "no_such_name"' in line for line in lines), proc.stdout
