"""Re-certification on load: a cache entry edited to a plausible wrong formula, its checksum recomputed, is refused.

Every kind of stored expression is edited in a private copy of the session's cache (a twin-backed formula, the
multiplier's forms, a plain formula without a twin, index-structured formulas over all singular values, an
integer-argument formula, displayed and shown forms, an intermediate matrix, an infinite-depth limit), and so
are the certificate records and the set of keys; the truth each refusal rests on is the certified derivation
of this test session, not the cache.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import networkx as nx
import pytest
import sympy

import riemdln
from riemdln.symbolic.derivations import _engine
from riemdln.symbolic.derivations import symbols as sy
from riemdln.symbolic.derivations._fingerprint import fingerprints_source
from riemdln.symbolic.derivations._recertify import recertify
from riemdln.symbolic.derivations._tree import from_tree, to_tree
from riemdln.symbolic.formulas import entries


@pytest.fixture
def cache_copy(derive_cache, tmp_path):
    src, _ = derive_cache
    dst = tmp_path / "cache"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("*.lock", ".*"))
    return dst


def _keys() -> dict[str, str]:
    return _engine._keys(list(nx.lexicographical_topological_sort(_engine.graph())))


def _edit(cache: Path, name: str, change) -> None:
    """Apply ``change(doc)`` to the entry ``name`` and recompute its checksum (what a capable editor does)."""
    path = cache / f"{name}.json"
    doc = json.loads(path.read_text())
    change(doc)
    doc["sha256"] = _engine._checksum(doc["payload"])
    path.write_text(json.dumps(doc))


def _rewrite(name: str, key: str, wrong):
    """An edit of expression ``key`` of derivation ``name`` to ``wrong(stored expression)``."""

    def change(doc):
        exprs = doc["payload"]["exprs"]
        exprs[key] = to_tree(wrong(from_tree(exprs[key])))

    return change


def _off_by_one(e):
    return e.xreplace({s: s + 1 for s in e.free_symbols if str(s) == "N"})


# (derivation, key, a plausible wrong formula): one per kind of stored expression
EDITS = {
    "twin-backed (logmean -> arithmetic mean)": ("infinite_depth", "multiplier_infinite", lambda e: (sy.x + sy.y) / 2),
    "multiplier form (mpmath defining sum)": ("multiplier", "at_zero", lambda e: sy.x ** (1 / sy.N)),
    "plain formula, no twin (depth off by one)": ("volume", "volume_density_d2", _off_by_one),
    "over all singular values (Product, i < j <= r)": ("volume", "volume_density_general", _off_by_one),
    "over all singular values (Sum, size d)": ("entropy", "entropy", _off_by_one),
    "integer argument (python printer)": ("entropy", "orthogonal_group_volume", lambda e: 2 * e),
    "displayed form": ("multiplier", "quotient", lambda e: e * sy.y ** (1 / sy.N) / sy.x ** (1 / sy.N)),
    "shown form": ("langevin", "ito_correction_factor_factored", _off_by_one),
    "intermediate matrix": (
        "multiplier",
        "spectral_d2",
        lambda e: e.subs({sy.s1: sy.s2, sy.s2: sy.s1}, simultaneous=True),
    ),
    "matrix with undetermined functions": ("curvature", "christoffel_d2_structure", lambda e: 2 * e),
    "infinite-depth limit (N = inf)": (
        "infinite_depth",
        "volume_density_infinite_d2",
        lambda e: e.subs(sy.s1, 2 * sy.s1),
    ),
    "small sign slip": ("flow", "left_rotation", lambda e: -e),
}


@pytest.mark.parametrize("kind", list(EDITS))
def test_edited_expression_with_recomputed_checksum_is_refused(cache_copy, kind):
    name, key, wrong = EDITS[kind]
    before = json.loads((cache_copy / f"{name}.json").read_text())["payload"]["exprs"][key]
    _edit(cache_copy, name, _rewrite(name, key, wrong))
    assert json.loads((cache_copy / f"{name}.json").read_text())["payload"]["exprs"][key] != before  # a real edit
    result, reason = _engine._read_cache(cache_copy / f"{name}.json", name, _keys()[name])
    assert result is None
    assert reason.startswith("refused: re-certification failed (")
    assert f"fingerprint:{key}" in reason or "recertify:" in reason or "twin" in reason


@pytest.mark.parametrize(
    "kind",
    ["tolerance raised", "error lowered", "method reworded", "record removed", "expression removed", "key added"],
)
def test_edited_certificate_records_and_key_sets_are_refused(cache_copy, kind):
    def change(doc):
        payload = doc["payload"]
        check = payload["checks"]["volume_density_d2"]
        if kind == "tolerance raised":
            check["tolerance"] = 1.0
        elif kind == "error lowered":  # a failing record made to look passed is caught by the tolerance it must keep
            check["max_error"], check["tolerance"] = 0.0, 0.0
        elif kind == "method reworded":
            check["method"] = check["method"].replace("mpmath", "numpy")
        elif kind == "record removed":
            del payload["checks"]["volume_density_d2"]
        elif kind == "expression removed":
            del payload["exprs"]["volume_density_lebesgue_d2"]
        else:
            payload["exprs"]["volume_density_d4"] = to_tree(sy.s1 * sy.s2)

    _edit(cache_copy, "volume", change)
    result, reason = _engine._read_cache(cache_copy / "volume.json", "volume", _keys()["volume"])
    assert result is None and reason.startswith("refused: re-certification failed (")


def test_unedited_entries_pass_and_every_stored_expression_is_fingerprinted(derive_cache):
    """Every expression and certificate of every derivation (so every catalog entry, its displayed and shown
    forms) is re-certified; a sound cache passes all of it."""
    _, results = derive_cache
    for name, res in results.items():
        checks = recertify(name, res)
        assert {f"fingerprint:{k}" for k in res.exprs} <= set(checks)
        assert {f"certificate:{k}" for k in res.checks} <= set(checks)
        assert all(c.passed for c in checks.values()), (name, [k for k, c in checks.items() if not c.passed])
    for e in entries():
        keys = set(recertify(e.derivation, results[e.derivation]))
        assert {f"fingerprint:{k}" for k in (e.key, *e.display, *((e.shown,) if e.shown else ()))} <= keys


def test_fingerprints_module_is_up_to_date(derive_cache):
    """The shipped fingerprints are those of this session's derivation (no cache involved)."""
    committed = Path(riemdln.__file__).parent.joinpath("symbolic", "derivations", "_fingerprints.py").read_text()
    assert "'nan'" not in committed
    assert committed == fingerprints_source(derive_cache[1]), (
        "riemdln/symbolic/derivations/_fingerprints.py is out of date: run `riemdln derive --write-twins` and commit it"
    )


def test_edited_entry_is_rederived_to_the_right_value(cache_copy):
    """End to end: the issue's case, a_N(x, x) edited so that a_2(4, 4) reads 28 instead of 4 (checksum
    recomputed), is refused on load, rederived, right, and cached sound again; same for an integer formula."""
    _edit(cache_copy, "multiplier", _rewrite("multiplier", "diagonal", lambda e: 7 * e))
    _edit(cache_copy, "entropy", _rewrite("entropy", "orthogonal_group_volume", lambda e: 2 * e))
    report = _engine.DeriveReport()
    res = _engine.derive(["multiplier", "entropy"], cache=cache_copy, report=report)
    assert report.status["multiplier"].startswith("derived (refused: re-certification failed")
    assert report.status["entropy"].startswith("derived (refused: re-certification failed")
    assert float(res["multiplier"]["diagonal"].subs({sy.N: 2, sy.x: 4})) == pytest.approx(4.0, rel=1e-15)
    c2 = float(res["entropy"]["orthogonal_group_volume"].subs(sy.d, 2).doit())
    assert c2 == pytest.approx(4 * float(sympy.pi) * 2**0.5, rel=1e-14)  # two circles of length 2 pi sqrt 2
    again = _engine.DeriveReport()
    _engine.derive(["multiplier", "entropy"], cache=cache_copy, report=again)
    assert again.status["multiplier"] == again.status["entropy"] == "cached"
