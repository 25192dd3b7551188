"""The API reference (docs/api.rst) lists every public name: read from the rst text, not from Sphinx."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

import riemdln

API_RST = Path(__file__).resolve().parents[1] / "docs" / "api.rst"

# the public submodules whose documented helpers the reference must list too (brief of issue 12)
SUBMODULES = ("problems.energies", "geometry.curvature", "geometry.geodesics", "thermo.langevin_dynamics")
STUDY_HELPERS = ("run_record", "reached_target", "spread")

_DIRECTIVE = re.compile(r"^\.\. (?:py:\w+|auto\w+)::\s+([\w.]+)")
_ENTRY = re.compile(r"^\s+([\w.]+)\s*$")


def documented_names(text: str) -> set[str]:
    """Dotted names that ``text`` documents: autosummary entries and ``py:*`` / ``auto*`` directives.

    A name mentioned in prose does not count. An autosummary block is the indented lines after
    ``.. autosummary::`` (options such as ``:toctree:`` skipped) up to the first unindented line.
    """
    names: set[str] = set()
    in_autosummary = False
    for line in text.splitlines():
        if line.startswith(".. autosummary::"):
            in_autosummary = True
            continue
        if in_autosummary:
            if line.strip() == "" or line.lstrip().startswith(":"):
                continue
            match = _ENTRY.match(line)
            if match:
                names.add(match.group(1))
                continue
            in_autosummary = False
        match = _DIRECTIVE.match(line)
        if match:
            names.add(match.group(1))
    return names


@pytest.fixture(scope="module")
def listed() -> set[str]:
    return documented_names(API_RST.read_text(encoding="utf-8"))


def test_parser_reads_entries_and_directives_only():
    text = (
        "Title\n=====\n\nProse naming riemdln.not_an_entry.\n\n"
        ".. py:data:: riemdln.__version__\n\n   The version.\n\n"
        ".. autosummary::\n   :toctree: generated\n\n   riemdln.a\n   riemdln.b\n\n"
        "riemdln.after_block is prose again.\n\n"
        ".. autofunction:: riemdln.mod.c\n"
    )
    assert documented_names(text) == {"riemdln.__version__", "riemdln.a", "riemdln.b", "riemdln.mod.c"}


def test_every_name_in_all_is_in_the_api_reference(listed):
    missing = [name for name in riemdln.__all__ if f"riemdln.{name}" not in listed]
    assert missing == [], f"docs/api.rst lacks {missing}"


def _listed_as(module: str, name: str, listed: set[str]) -> bool:
    """``riemdln.<module>.<name>`` is listed, or the same object is listed under its top-level name."""
    if f"riemdln.{module}.{name}" in listed:
        return True
    obj = getattr(importlib.import_module(f"riemdln.{module}"), name)
    return f"riemdln.{name}" in listed and getattr(riemdln, name, None) is obj


@pytest.mark.parametrize("module", SUBMODULES)
def test_submodule_names_are_in_the_api_reference(module, listed):
    names = importlib.import_module(f"riemdln.{module}").__all__
    missing = [name for name in names if not _listed_as(module, name, listed)]
    assert f"riemdln.{module}" in listed
    assert missing == [], f"docs/api.rst lacks riemdln.{module}.{missing}"


def test_study_helpers_are_in_the_api_reference(listed):
    missing = [name for name in STUDY_HELPERS if f"riemdln.studies.{name}" not in listed]
    assert "riemdln.studies" in listed
    assert missing == [], f"docs/api.rst lacks riemdln.studies.{missing}"


def _resolve(dotted: str):
    parts = dotted.split(".")
    for k in range(len(parts), 0, -1):  # the longest importable prefix, then attributes
        try:
            obj = importlib.import_module(".".join(parts[:k]))
        except ImportError:
            continue
        for attr in parts[k:]:
            obj = getattr(obj, attr)
        return obj
    raise ImportError(dotted)


def test_every_entry_names_an_existing_object(listed):
    stale = []
    for dotted in sorted(listed):
        try:
            _resolve(dotted)
        except (ImportError, AttributeError):
            stale.append(dotted)
    assert stale == [], f"docs/api.rst lists names that do not exist: {stale}"


def test_citation_version_is_the_package_version():
    """CITATION.cff carries the version riemdln reports (one source: riemdln.__version__)."""
    import pathlib
    import re

    import riemdln

    text = (pathlib.Path(__file__).resolve().parents[1] / "CITATION.cff").read_text(encoding="utf-8")
    found = re.search(r"^version:\s*(\S+)\s*$", text, flags=re.MULTILINE)
    assert found is not None and found.group(1) == riemdln.__version__
