"""Integrity: the derivation cache is read without evaluating code; state files are checksummed; locks."""

from __future__ import annotations

import json
import os
import time

import pytest
import sympy

from riemdln._io import HOLDER_NAME, LockedError, folder_lock
from riemdln.symbolic.derivations import DeriveReport, _engine, derive
from riemdln.symbolic.derivations._tree import TreeError, _commutative_form, from_tree, to_tree


def _forge(path, exprs_update):
    """Rewrite the cache entry at ``path`` with new expressions and a *valid* checksum (a capable attacker)."""
    doc = json.loads(path.read_text())
    doc["payload"]["exprs"].update(exprs_update)
    doc["sha256"] = _engine._checksum(doc["payload"])
    path.write_text(json.dumps(doc))


PAYLOADS = {
    # what the old format would have passed to eval
    "srepr-string": lambda flag: f"__import__('pathlib').Path({str(flag)!r}).touch()",
    "unknown-class": lambda flag: {"c": "system", "a": []},
    "dunder-class": lambda flag: {"c": "__import__", "a": [{"c": "Symbol", "v": ["os", []]}]},
    "class-factory": lambda flag: {"c": "Function", "a": [{"c": "Symbol", "v": [str(flag), []]}]},
    "bad-assumption": lambda flag: {"c": "Symbol", "v": ["x", [["__class__", True]]]},
    "integer-bomb": lambda flag: {"c": "Integer", "v": "9" * 100_000},
    "extra-key": lambda flag: {"c": "Symbol", "v": ["x", []], "code": "print(1)"},
    # a Symbol whose *name* is code: well-formed, whitelisted, round-trips, and the numeric twins print names into
    # generated source that is exec'd; only the name check refuses it
    "symbol-name-code": lambda flag: {"c": "Symbol", "v": [f"__import__('pathlib').Path({str(flag)!r}).touch()", []]},
    "dummy-name-code": lambda flag: {"c": "Dummy", "v": [f"x);__import__('os').system('touch {flag}'", [], 1]},
    # SymPy evaluates while constructing: 7**999999999 would run for minutes
    "pow-bomb": lambda flag: {"c": "Pow", "a": [{"c": "Integer", "v": "7"}, {"c": "Integer", "v": "999999999"}]},
}


@pytest.mark.parametrize("kind", sorted(PAYLOADS))
def test_cache_entry_that_would_execute_code_is_refused(derive_cache, tmp_path, kind):
    path, first = derive_cache
    cache = tmp_path / "cache"
    cache.mkdir()
    for f in path.glob("*.json"):
        (cache / f.name).write_text(f.read_text())
    flag = tmp_path / "PWNED"
    _forge(cache / "multiplier.json", {"quotient": PAYLOADS[kind](flag)})
    report = DeriveReport()
    results = derive("multiplier", cache=cache, report=report)
    assert report.status["multiplier"].startswith("derived ("), report.status
    assert report.status["multiplier"] != "derived (stale)"
    assert not flag.exists()
    assert results["multiplier"]["quotient"] == first["multiplier"]["quotient"]
    # the rederived entry is sound again, and holds no code, only trees
    again = DeriveReport()
    derive("multiplier", cache=cache, report=again)
    assert again.status["multiplier"] == "cached"
    stored = json.loads((cache / "multiplier.json").read_text())["payload"]["exprs"]
    assert all(isinstance(v, dict) for v in stored.values())


def _rename_symbol(node, old: str, new: str):
    """``node`` (a JSON tree) with every Symbol named ``old`` renamed ``new`` (its assumptions kept)."""
    if isinstance(node, list):
        return [_rename_symbol(n, old, new) for n in node]
    if not isinstance(node, dict):
        return node
    out = {k: _rename_symbol(v, old, new) for k, v in node.items()}
    if out.get("c") == "Symbol" and out["v"][0] == old:
        out["v"] = [new, *out["v"][1:]]
    return out


def test_symbol_name_that_is_code_is_refused_and_never_runs(derive_cache, tmp_path):
    """The audit's payload: a Symbol named as Python code in a forged entry with a recomputed checksum. It is
    well-formed, whitelisted and round-trips; before the name check it loaded, and the catalog's numeric twin
    (lambdify-style source with the names printed as they are, then ``exec``) ran it when called."""
    from riemdln.symbolic.derivations._tree import SYMBOL_NAME
    from riemdln.symbolic.formulas import _build

    flag = tmp_path / "x"
    code = f"__import__('pathlib').Path({str(flag)!r}).touch()"
    with pytest.raises(TreeError, match="symbol name"):
        from_tree({"c": "Symbol", "v": [code, [["positive", True]]]})
    path, first = derive_cache
    cache = tmp_path / "cache"
    cache.mkdir()
    for f in path.glob("*.json"):
        (cache / f.name).write_text(f.read_text())
    stored = json.loads((cache / "multiplier.json").read_text())["payload"]["exprs"]["multiplier"]
    forged = _rename_symbol(stored, "N", code)  # dln_multiplier(x, y, <code>): round-trips, the name as it is
    assert forged != stored
    _forge(cache / "multiplier.json", {"multiplier": forged})
    report = DeriveReport()
    results = derive("multiplier", cache=cache, report=report)
    assert report.status["multiplier"].startswith("derived ("), report.status
    assert results["multiplier"]["multiplier"] == first["multiplier"]["multiplier"]
    twin = _build({**first, "multiplier": results["multiplier"]})["multiplier"].numpy
    assert twin(4.0, 1.0, 2.0) == pytest.approx(3.0)
    assert not flag.exists()
    # defence in depth: a twin's exec namespace has no __import__, open, eval or exec
    from riemdln.symbolic.formulas import _compile

    for name in ("__import__", "open", "eval", "exec", "getattr"):
        with pytest.raises(NameError):
            _compile(f"def twin(x):\n    return {name}", "twin")(1.0)
    # every name a derivation really uses passes the rule
    for res in first.values():
        for expr in res.exprs.values():
            exprs = list(expr) if isinstance(expr, sympy.MatrixBase) else [expr]
            assert all(SYMBOL_NAME.fullmatch(s.name) for e in exprs for s in e.atoms(sympy.Symbol))


@pytest.mark.parametrize(
    "tree",
    [
        {"c": "Pow", "a": [{"c": "Integer", "v": "7"}, {"c": "Integer", "v": "999999999"}]},
        {"c": "Pow", "a": [{"c": "Integer", "v": "7"}, {"c": "Rational", "v": ["999999999", "2"]}]},
        {
            "c": "Pow",
            "a": [
                {"c": "Pow", "a": [{"c": "Integer", "v": "7"}, {"c": "Integer", "v": "1000"}]},
                {"c": "Integer", "v": "1000"},
            ],
        },
        {"c": "factorial", "a": [{"c": "Integer", "v": "99999999"}]},
        {"c": "bell", "a": [{"c": "Integer", "v": "100"}, {"c": "Integer", "v": "100"}]},
        {"c": "gamma", "a": [{"c": "Integer", "v": "10000000"}]},
        {"c": "binomial", "a": [{"c": "Integer", "v": "10000000"}, {"c": "Integer", "v": "5000000"}]},
        {"c": "zeta", "a": [{"c": "Integer", "v": "100000"}]},
        {"c": "Integer", "v": "9" * 1001},
        {"c": "Mul", "a": [{"c": "Integer", "v": "9" * 1000}] * 30},
    ],
    ids=["pow", "pow-rational", "pow-nested", "factorial", "bell", "gamma", "binomial", "zeta", "digits", "mul"],
)
def test_tree_whose_construction_would_evaluate_for_long_is_refused_quickly(tree):
    t0 = time.perf_counter()
    with pytest.raises(TreeError):
        from_tree(tree)
    assert time.perf_counter() - t0 < 10.0  # evaluating any of these would take hours


def test_tree_round_trips_every_derived_expression_exactly(derive_cache):
    # srepr is the independent judge of structural identity (classes, argument order, assumptions)
    _, results = derive_cache
    n = 0
    for name, res in results.items():
        for key, expr in res.exprs.items():
            tree = json.loads(json.dumps(to_tree(expr)))
            try:
                rebuilt = from_tree(tree)
            except TreeError as exc:
                raise AssertionError(f"{name}.{key}: {exc}; srepr {sympy.srepr(expr)}") from None
            # srepr equal, or (a derived expression whose terms or factors a rewrite left out of SymPy's canonical
            # order) the same tree up to that order and the same srepr once the original is rebuilt canonically
            if sympy.srepr(rebuilt) != sympy.srepr(expr):
                assert _commutative_form(to_tree(rebuilt)) == _commutative_form(tree), f"{name}.{key}"
                assert sympy.srepr(rebuilt) == sympy.srepr(_rebuilt_canonically(expr)), f"{name}.{key}"
            n += 1
    assert n > 20


def _rebuilt_canonically(expr):
    """``expr`` rebuilt bottom-up by its constructors (SymPy's canonical order of terms and factors)."""
    if not expr.args or isinstance(expr, sympy.MatrixBase):
        return expr.applyfunc(_rebuilt_canonically) if isinstance(expr, sympy.MatrixBase) else expr
    return expr.func(*[_rebuilt_canonically(a) for a in expr.args])


def test_tree_round_trip_allows_only_the_order_of_terms_and_factors():
    x, y = sympy.symbols("x y", positive=True)
    product = sympy.Mul(y, x, evaluate=False)  # factors out of canonical order, as a rewrite can leave them
    assert from_tree(json.loads(json.dumps(to_tree(product)))) == x * y
    tree = to_tree(x - y)
    tree["a"] = tree["a"][::-1]
    assert from_tree(tree) == x - y
    power = to_tree(x**y)
    power["a"] = power["a"][::-1]  # Pow keeps its order: the tree describes y**x, and that is what it rebuilds
    assert from_tree(power) == y**x != x**y


def test_tree_that_sympy_would_rewrite_is_refused():
    # Add(1, 2) evaluates to 3 on construction: the stored tree does not describe what is rebuilt
    tree = {"c": "Add", "a": [{"c": "Integer", "v": "1"}, {"c": "Integer", "v": "2"}]}
    with pytest.raises(TreeError, match="round-trip"):
        from_tree(tree)


def test_lock_refuses_a_live_holder_and_a_killed_holder_does_not_block(tmp_path, lock_processes):
    import signal
    import socket

    with folder_lock(tmp_path, "out"):
        assert (tmp_path / HOLDER_NAME).read_text() == f"{os.getpid()}\n{socket.gethostname()}\n"
        with folder_lock(tmp_path, "out"):  # re-entered by its holder (--out and the cache may coincide)
            pass
        assert (tmp_path / HOLDER_NAME).exists()  # still held by the outer block
    assert not (tmp_path / HOLDER_NAME).exists()
    # another live process holds it: waited for, then refused, naming the holder
    holder = lock_processes.start(tmp_path)
    lock_processes.go()
    assert lock_processes.outcome(holder) == "ran"
    t0 = time.monotonic()
    with pytest.raises(LockedError, match=rf"`out` .* in use by process {holder.pid} on "):
        with folder_lock(tmp_path, "out", wait=0.3, poll=0.05):
            pass
    assert time.monotonic() - t0 >= 0.3  # it waited before refusing
    # killed (no clean-up ran): the operating system released its lock, which is taken at once
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert (tmp_path / HOLDER_NAME).exists()  # its holder file is left behind, and overwritten
    with folder_lock(tmp_path, "out"):
        assert (tmp_path / HOLDER_NAME).read_text().startswith(f"{os.getpid()}\n")


def test_two_processes_starting_at_once_one_runs_one_is_refused(tmp_path, lock_processes):
    """Both try the lock the moment the go signal appears (no waiting): exactly one takes it. Repeated, also
    after a killed holder, whose lock the two then race for."""
    import signal

    for round_ in range(3):
        if round_ == 2:  # a killed holder first
            dead = lock_processes.start(tmp_path)
            (tmp_path / "go-signal").touch()
            assert lock_processes.outcome(dead) == "ran"
            os.kill(dead.pid, signal.SIGKILL)
            dead.wait()
        (tmp_path / "go-signal").unlink(missing_ok=True)
        a, b = (lock_processes.start(tmp_path, hold=1.0) for _ in range(2))
        lock_processes.go()
        outcomes = sorted(lock_processes.outcome(p).split(":")[0] for p in (a, b))
        assert outcomes == ["ran", "refused"], (round_, outcomes)
        a.wait()
        b.wait()


def test_undefined_functions_only_from_the_fixed_set():
    """The structural displays' metric functions F_1, F_2 round-trip; any other undefined function is refused
    when written and when read back (the name is never turned into a class unless it is in the fixed set)."""
    x = sympy.Symbol("x", positive=True)
    e = sympy.diff(sympy.Function("F_1")(x, x**2), x) / sympy.Function("F_2")(x, x)
    assert from_tree(to_tree(e)) == e
    with pytest.raises(TreeError):
        to_tree(sympy.Function("G")(x))
    for name in ("G", "os.system", 3, None):
        with pytest.raises(TreeError):
            from_tree({"c": "AppliedUndef", "v": name, "a": [to_tree(x)]})


def test_tree_round_trip_survives_symbols_made_with_another_keyword_order():
    """SymPy's construction cache can return an equal subexpression holding an equal symbol whose assumptions
    were given in another order (the full suite once failed on multiplier.defining_sum that way): the
    round-trip check compares assumptions as sets."""
    N = sympy.Symbol("N", positive=True)
    k = sympy.Symbol("k", positive=True, integer=True)
    expr = sympy.Sum(sympy.Symbol("x", positive=True) ** ((N - k) / N), (k, 1, N))
    tree = json.loads(json.dumps(to_tree(expr)))
    sympy.core.cache.clear_cache()
    k2 = sympy.Symbol("k", integer=True, positive=True)
    assert k2 == k and list(k2._assumptions_orig) != list(k._assumptions_orig)
    sympy.Sum(sympy.Symbol("x", positive=True) ** ((N - k2) / N), (k2, 1, N))  # now in the cache
    assert from_tree(tree) == expr
    # a real difference in the assumptions is another expression, not the same one
    other = json.loads(json.dumps(tree).replace('["integer", true]', '["integer", false]'))
    assert from_tree(other) != expr


def test_edited_cache_entry_with_recomputed_checksum_is_rederived(tmp_path):
    """Integrity is re-certification: an entry edited to a plausible wrong formula, its checksum recomputed,
    fails the re-certification on load (stored expression vs the mpmath defining sum) and is rederived."""
    import json

    from riemdln.symbolic.derivations import _engine
    from riemdln.symbolic.derivations._tree import to_tree
    from riemdln.symbolic.derivations.symbols import N, x

    _engine.derive("multiplier", cache=tmp_path)
    path = tmp_path / "multiplier.json"
    doc = json.loads(path.read_text())
    doc["payload"]["exprs"]["diagonal"] = to_tree((N + 1) * x ** ((N - 1) / N))  # true: N x^((N-1)/N)
    doc["sha256"] = _engine._checksum(doc["payload"])
    path.write_text(json.dumps(doc))
    report = _engine.DeriveReport()
    res = _engine.derive("multiplier", cache=tmp_path, report=report)
    assert report.status["multiplier"].startswith("derived (refused: re-certification failed")
    assert float(res["multiplier"]["diagonal"].subs({N: 2, x: 4})) == 4.0
    again = _engine.DeriveReport()
    _engine.derive("multiplier", cache=tmp_path, report=again)  # the rederived entry is sound again
    assert again.status["multiplier"] == "cached"


def test_derive_cache_must_be_a_folder(tmp_path):
    from riemdln.symbolic.derivations import _engine

    file = tmp_path / "a-file"
    file.write_text("not a folder")
    from riemdln import RiemdlnValueError

    with pytest.raises(RiemdlnValueError, match="`cache`"):
        _engine.derive("multiplier", cache=file)
