"""Derivation registry: a networkx DAG of derivations, run in dependency order, cached on disk.

A derivation is a function ``f(deps) -> Result`` registered with :func:`derivation`; ``deps`` maps
the names it ``requires`` to their :class:`Result`. :func:`derive` runs what is missing, in
topological order, and caches each result as JSON: each expression as a tree of class names and
arguments (:mod:`riemdln.symbolic.derivations._tree`), plus the numeric certificates.

Cache entries carry a key (hash of the derivation's module source, of :mod:`riemdln.symbolic.functions`, of the
SymPy version and of the keys of its dependencies) and a checksum of their payload. A stale entry
(key differs) or a corrupted one (unreadable, checksum mismatch, a tree that is malformed or names a
class outside the whitelist) is rebuilt, never trusted. Reading an entry evaluates no code: no ``eval``,
no ``sympify``, no parser; the trees are rebuilt through a whitelist of SymPy and riemdln classes and
must serialize back to themselves. Writes go to a temporary file that is then renamed; a lock file in
the cache folder keeps two processes from deriving into it at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import inspect
import json
import os
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path

import networkx as nx
import sympy

from riemdln._io import atomic_write, folder_lock
from riemdln._validation import RiemdlnValueError
from riemdln.symbolic import functions as _functions
from riemdln.symbolic import kernels as _kernels
from riemdln.symbolic.derivations import _tree as _tree_mod
from riemdln.symbolic.derivations._tree import TreeError, from_tree, to_tree

__all__ = [
    "Check",
    "Result",
    "DerivationError",
    "derivation",
    "derive",
    "graph",
    "cache_dir",
    "DERIVATION_MODULES",
]

# the modules that register derivations, imported on first use of the registry
DERIVATION_MODULES = (
    "riemdln.symbolic.derivations.multiplier",
    "riemdln.symbolic.derivations.metric",
    "riemdln.symbolic.derivations.jacobian",
    "riemdln.symbolic.derivations.volume",
    "riemdln.symbolic.derivations.infinite_depth",
    "riemdln.symbolic.derivations.entropy",
    "riemdln.symbolic.derivations.flow",
    "riemdln.symbolic.derivations.curvature",
    "riemdln.symbolic.derivations.langevin",
)

# how long a derive waits for another process deriving into the same cache (then refuses)
CACHE_LOCK_WAIT = 300.0

CACHE_FORMAT = 3  # 3: certificates carry their LaTeX and depths; 2: JSON expression trees (1 was srepr, eval)


class DerivationError(RuntimeError):
    """A derivation failed its own verification (symbolic identity or numeric certificate)."""


@dataclass(frozen=True)
class Check:
    """A numeric certificate: the derived formula against an independent evaluation.

    ``method`` names the independent truth in plain text (e.g. "mpmath defining sum, 60 digits"), ``latex`` says
    the same in LaTeX (text mode, mathematics in ``$...$``; written by the certificate that makes the check, for the
    typeset catalog), ``max_error`` is the largest relative error seen over ``points`` evaluations (independent
    configurations: points, matrices, depths), ``tolerance`` the bar, ``depths`` the depths N the points cover
    (``"inf"`` for infinite depth; empty where the formula has no depth).
    """

    method: str
    max_error: float
    tolerance: float
    points: int
    latex: str = ""
    depths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "depths", tuple(str(d) for d in self.depths))

    @property
    def passed(self) -> bool:
        return self.max_error <= self.tolerance

    def as_dict(self) -> dict:
        return {**asdict(self), "depths": list(self.depths), "passed": self.passed}


@dataclass
class Result:
    """What a derivation produces: named SymPy expressions and numeric certificates."""

    exprs: dict[str, sympy.Basic]
    checks: dict[str, Check] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    from_cache: bool = False

    def __getitem__(self, key: str) -> sympy.Basic:
        return self.exprs[key]


@dataclass(frozen=True)
class _Derivation:
    name: str
    func: Callable[[Mapping[str, Result]], Result]
    requires: tuple[str, ...]
    title: str


_REGISTRY: dict[str, _Derivation] = {}


def derivation(name: str, requires: tuple[str, ...] = (), title: str = ""):
    """Register ``func`` as the derivation ``name`` depending on ``requires``."""

    def decorate(func):
        if name in _REGISTRY and _REGISTRY[name].func.__module__ != func.__module__:
            raise ValueError(f"derivation {name!r} is registered twice")
        _REGISTRY[name] = _Derivation(name, func, tuple(requires), title or (func.__doc__ or name).split("\n")[0])
        return func

    return decorate


def _load_modules() -> None:
    for mod in DERIVATION_MODULES:
        importlib.import_module(mod)


def graph() -> nx.DiGraph:
    """The dependency DAG: an edge ``a -> b`` means ``b`` requires ``a``."""
    _load_modules()
    g = nx.DiGraph()
    for d in _REGISTRY.values():
        g.add_node(d.name, title=d.title)
        for req in d.requires:
            if req not in _REGISTRY:
                raise ValueError(f"derivation {d.name!r} requires unknown {req!r}")
            g.add_edge(req, d.name)
    if not nx.is_directed_acyclic_graph(g):
        raise ValueError(f"derivation dependencies have a cycle: {nx.find_cycle(g)}")
    return g


def cache_dir() -> Path:
    """``$RIEMDLN_CACHE_DIR``, else ``$XDG_CACHE_HOME/riemdln``, else ``~/.cache/riemdln``."""
    env = os.environ.get("RIEMDLN_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "riemdln"


def _source_hash(obj) -> str:
    return hashlib.sha256(inspect.getsource(obj).encode()).hexdigest()


def _keys(order: list[str]) -> dict[str, str]:
    common = hashlib.sha256(
        f"{CACHE_FORMAT}|{sympy.__version__}|{_source_hash(_functions)}|{_source_hash(_kernels)}|"
        f"{_source_hash(sys.modules[__name__])}|{_source_hash(_tree_mod)}".encode()
    ).hexdigest()
    certify = sys.modules.get("riemdln.symbolic.derivations._certify")  # the certificates' shared tools
    if certify is not None:
        common = hashlib.sha256(f"{common}|{_source_hash(certify)}".encode()).hexdigest()
    keys: dict[str, str] = {}
    for name in order:
        d = _REGISTRY[name]
        h = hashlib.sha256()
        h.update(common.encode())
        h.update(name.encode())
        h.update(_source_hash(sys.modules[d.func.__module__]).encode())
        for req in sorted(d.requires):
            h.update(keys[req].encode())
        keys[name] = h.hexdigest()
    return keys


def _payload(result: Result) -> dict:
    return {
        "exprs": {k: to_tree(v) for k, v in result.exprs.items()},
        "checks": {k: {**asdict(v), "depths": list(v.depths)} for k, v in result.checks.items()},
        "notes": dict(result.notes),
        "seconds": result.seconds,
    }


def _checksum(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()


def _write_cache(path: Path, name: str, key: str, result: Result) -> None:
    payload = _payload(result)
    doc = {"format": CACHE_FORMAT, "name": name, "key": key, "payload": payload, "sha256": _checksum(payload)}
    atomic_write(path, json.dumps(doc, indent=1, sort_keys=True))


def _read_cache(path: Path, name: str, key: str) -> tuple[Result | None, str]:
    """Return (result, "") when the entry is sound, else (None, reason)."""
    if not path.exists():
        return None, "missing"
    try:
        doc = json.loads(path.read_text())
        payload = doc["payload"]
        if doc.get("format") != CACHE_FORMAT or doc.get("name") != name:
            return None, "stale"
        if doc.get("key") != key:
            return None, "stale"
        if doc.get("sha256") != _checksum(payload):
            return None, "corrupted"
        exprs = {k: from_tree(v) for k, v in payload["exprs"].items()}
        checks = {k: Check(**v) for k, v in payload["checks"].items()}
        result = Result(exprs, checks, dict(payload.get("notes", {})), float(payload.get("seconds", 0.0)), True)
    except TreeError as exc:  # a class outside the whitelist, a malformed or rewritten tree
        return None, f"refused: {exc}"
    except Exception:  # any damage at all means: rebuild
        return None, "corrupted"
    return _recertified(name, result)


def _recertified(name: str, result: Result) -> tuple[Result | None, str]:
    """``result`` if its stored expressions pass re-certification (an edit with a recomputed checksum does
    not), else (None, the reason): see :mod:`riemdln.symbolic.derivations._recertify`."""
    from riemdln.symbolic.derivations._recertify import recertify

    try:
        failed = {k: c for k, c in recertify(name, result).items() if not c.passed}
    except Exception as exc:  # noqa: BLE001 - an expression that does not even evaluate is refused
        return None, f"refused: re-certification could not evaluate it ({type(exc).__name__})"
    if failed:
        worst = max(failed.items(), key=lambda kc: kc[1].max_error)
        return None, f"refused: re-certification failed ({worst[0]}: error {worst[1].max_error:.2g})"
    return result, ""


@dataclass
class DeriveReport:
    """What :func:`derive` did for each derivation: "cached", or "derived" with the reason."""

    status: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def derive(
    names: str | list[str] | None = None,
    *,
    use_cache: bool = True,
    cache: Path | str | None = None,
    progress: Callable[[str, str], None] | None = None,
    report: DeriveReport | None = None,
) -> dict[str, Result]:
    """Run the derivations ``names`` (default: all) and what they need, in dependency order.

    Returns every result computed or loaded, by name. ``use_cache=False`` rederives everything
    (and rewrites the cache). ``progress(name, status)`` is called once per derivation.
    """
    g = graph()
    if names is None:
        wanted = set(g.nodes)
    else:
        names = [names] if isinstance(names, str) else list(names)
        unknown = [n for n in names if n not in g]
        if unknown:
            raise RiemdlnValueError(f"`names` must be derivations among {sorted(g.nodes)}; got unknown {unknown}.")
        wanted = set(names)
        for n in names:
            wanted |= nx.ancestors(g, n)
    order = [n for n in nx.lexicographical_topological_sort(g) if n in wanted]
    keys = _keys(order)
    root = Path(cache) if cache is not None else cache_dir()
    if root.exists() and not root.is_dir():  # else mkdir fails and everything is derived uncached, silently
        raise RiemdlnValueError(f"`cache` must be a folder (or a path to create one); {str(root)!r} is a file.")
    results: dict[str, Result] = {}
    report = report if report is not None else DeriveReport()
    with contextlib.ExitStack() as stack:
        try:
            root.mkdir(parents=True, exist_ok=True)
            stack.enter_context(folder_lock(root, "cache", wait=CACHE_LOCK_WAIT))
        except OSError:  # a read-only cache: derive without it (writes fail and are reported)
            pass
        _derive_all(order, keys, root, use_cache=use_cache, results=results, report=report, progress=progress)
    return results


def _derive_all(order, keys, root, *, use_cache, results, report, progress) -> None:
    for name in order:
        d = _REGISTRY[name]
        path = root / f"{name}.json"
        reason = "cache disabled"
        if use_cache:
            res, reason = _read_cache(path, name, keys[name])
            if res is not None:
                results[name] = res
                report.status[name] = "cached"
                report.seconds[name] = 0.0
                if progress:
                    progress(name, "cached")
                continue
        t0 = time.perf_counter()
        res = d.func({r: results[r] for r in d.requires})
        res.seconds = time.perf_counter() - t0
        failed = {k: c for k, c in res.checks.items() if not c.passed}
        if failed:
            raise DerivationError(f"derivation {name!r} failed its certificates: {failed}")
        results[name] = res
        report.status[name] = f"derived ({reason})"
        report.seconds[name] = res.seconds
        try:
            _write_cache(path, name, keys[name], res)
        except OSError as exc:  # a read-only cache must not stop a derivation
            report.status[name] += f"; not cached: {exc}"
        if progress:
            progress(name, report.status[name])
