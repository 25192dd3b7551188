"""The derivation engine: DAG order, cache reuse, staleness and corruption, certificates."""

from __future__ import annotations

import json

import networkx as nx
import pytest
import sympy

from riemdln.symbolic.derivations import DeriveReport, _engine, derive, graph
from riemdln.symbolic.functions import logmean


def test_graph_is_a_dag_with_the_declared_dependencies():
    g = graph()
    assert nx.is_directed_acyclic_graph(g)
    assert set(g.predecessors("volume")) == {"multiplier", "jacobian"}
    assert "multiplier" in nx.ancestors(g, "entropy") and "infinite_depth" in nx.ancestors(g, "entropy")
    assert set(g.nodes) >= {"multiplier", "jacobian", "volume", "metric", "infinite_depth", "entropy", "flow"}


def test_deriving_one_result_derives_what_it_needs_first(tmp_path):
    report = DeriveReport()
    order = []
    results = derive("volume", cache=tmp_path, report=report, progress=lambda n, s: order.append(n))
    assert set(results) == {"multiplier", "jacobian", "volume"}
    assert order.index("volume") > max(order.index("multiplier"), order.index("jacobian"))
    assert all(s.startswith("derived") for s in report.status.values())


def test_second_run_uses_the_cache(derive_cache):
    path, first = derive_cache
    report = DeriveReport()
    again = derive(cache=path, report=report)
    assert set(report.status.values()) == {"cached"}
    for name, res in first.items():
        assert again[name].exprs.keys() == res.exprs.keys()
        for key, expr in res.exprs.items():
            assert again[name].exprs[key] == expr, (name, key)


def _copy_cache(src, dst):
    for f in src.glob("*.json"):
        (dst / f.name).write_text(f.read_text())


@pytest.mark.parametrize(
    "damage, reason",
    [
        (lambda doc, text: "{ not json", "corrupted"),
        (lambda doc, text: text[: len(text) // 2], "corrupted"),
        (lambda doc, text: json.dumps({**doc, "sha256": "0" * 64}), "corrupted"),
        (
            lambda doc, text: json.dumps(
                {**doc, "payload": {**doc["payload"], "exprs": {**doc["payload"]["exprs"], "quotient": "Symbol('x')"}}}
            ),
            "corrupted",
        ),
        (lambda doc, text: json.dumps({**doc, "key": "stale"}), "stale"),
    ],
    ids=["garbage", "truncated", "bad-checksum", "edited-payload", "stale-key"],
)
def test_damaged_cache_entry_is_rebuilt_not_trusted(derive_cache, tmp_path, damage, reason):
    path, first = derive_cache
    _copy_cache(path, tmp_path)
    target = tmp_path / "multiplier.json"
    text = target.read_text()
    target.write_text(damage(json.loads(text), text))
    report = DeriveReport()
    results = derive("multiplier", cache=tmp_path, report=report)
    assert report.status["multiplier"] == f"derived ({reason})"
    assert results["multiplier"]["quotient"] == first["multiplier"]["quotient"]
    # and the entry was rewritten soundly
    report2 = DeriveReport()
    derive("multiplier", cache=tmp_path, report=report2)
    assert report2.status["multiplier"] == "cached"


@pytest.mark.slow  # ~25 s: rederives the dependents cold
def test_changed_dependency_invalidates_dependents(derive_cache, tmp_path, monkeypatch):
    path, _ = derive_cache
    _copy_cache(path, tmp_path)
    real = _engine._source_hash

    def fake(obj):
        if getattr(obj, "__name__", "") == "riemdln.symbolic.derivations.jacobian":
            return "changed"
        return real(obj)

    monkeypatch.setattr(_engine, "_source_hash", fake)
    report = DeriveReport()
    derive(cache=tmp_path, report=report)
    assert report.status["jacobian"] == "derived (stale)"
    assert report.status["volume"] == "derived (stale)"  # depends on jacobian
    assert report.status["multiplier"] == "cached"


def test_unknown_derivation_name_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="`names` must be derivations"):
        derive("no-such-thing", cache=tmp_path)


def test_failed_certificate_is_not_cached(tmp_path, monkeypatch):
    from riemdln.symbolic.derivations._engine import _REGISTRY, Check, DerivationError, Result

    original = _REGISTRY["jacobian"]

    def bad(deps):
        return Result({"a": sympy.Integer(1)}, {"a": Check("deliberately failing", 1.0, 1e-12, 1)})

    monkeypatch.setitem(_REGISTRY, "jacobian", original.__class__("jacobian", bad, (), "bad"))
    with pytest.raises(DerivationError, match="failed its certificates"):
        derive("jacobian", cache=tmp_path)
    assert not (tmp_path / "jacobian.json").exists()


def test_every_certificate_passed_and_is_meaningful(derive_cache):
    _, results = derive_cache
    checks = [c for r in results.values() for c in r.checks.values()]
    assert len(checks) >= 30
    for c in checks:
        assert c.passed and c.points >= 2 and c.tolerance <= 1e-12, c


def test_limit_is_the_logarithmic_mean_not_the_piecewise_pitfall(derive_cache):
    _, results = derive_cache
    x, y = sympy.symbols("x y", positive=True)
    assert results["infinite_depth"]["multiplier_infinite"] == logmean(x, y)
    # the wrong answer SymPy's Piecewise limit can give is x: make sure it is not what we hold
    assert results["infinite_depth"]["multiplier_infinite"] != x


def test_volume_density_from_operator_is_the_product_formula(derive_cache):
    """Independent numeric check of the symbolic identity at a few points (d = 2, 3)."""
    _, results = derive_cache
    vol = results["volume"]
    s1, s2, s3 = sympy.symbols("s1 s2 s3", positive=True)
    N = sympy.Symbol("N", positive=True)
    for dim, pts in ((2, [(2.0, 1.0), (0.3, 5.0)]), (3, [(3.0, 2.0, 0.5)])):
        for p in pts:
            for n in (1, 2, 3.5, 40):
                subs = dict(zip((s1, s2, s3), p, strict=False)) | {N: n}
                a = vol[f"volume_density_d{dim}"].subs(subs).evalf(30)
                b = vol[f"volume_density_product_d{dim}"].subs(subs).evalf(30)
                assert float(a) == pytest.approx(float(b), rel=1e-20)
