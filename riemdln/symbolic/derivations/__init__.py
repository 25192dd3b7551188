"""Derivations: one module per result, readable as mathematics.

Each module registers its derivation(s) with :func:`riemdln.symbolic.derivations._engine.derivation`; the
engine runs them in dependency order (a networkx DAG) and caches results on disk.
They live inside the package so that a plain ``pip install`` ships them: ``riemdln derive`` and
``riemdln.catalog()`` work from an installed wheel, and the cache key hashes their source.

>>> from riemdln.symbolic.derivations import graph
>>> sorted(graph().predecessors("volume"))
['jacobian', 'multiplier']
"""

from riemdln.symbolic.derivations._engine import (
    Check,
    DerivationError,
    DeriveReport,
    Result,
    cache_dir,
    derive,
    graph,
)

__all__ = ["Check", "DerivationError", "DeriveReport", "Result", "cache_dir", "derive", "graph"]
