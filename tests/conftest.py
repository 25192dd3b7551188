"""Shared fixtures: depths, seeded generators, the slow marker."""

from __future__ import annotations

import math

import numpy as np
import pytest

DEPTHS = (1, 2, 3, 5, 50, math.inf)
SEEDS = (0, 1, 2)


@pytest.fixture(params=SEEDS, ids=lambda s: f"seed{s}")
def rng(request) -> np.random.Generator:
    return np.random.default_rng(request.param)


@pytest.fixture(params=DEPTHS, ids=lambda n: f"N={n}")
def depth(request) -> float:
    return request.param


@pytest.fixture(scope="session")
def derive_cache(tmp_path_factory):
    """A private derivation cache, filled once per test session (never the user's cache)."""
    from riemdln.derivations import derive

    path = tmp_path_factory.mktemp("riemdln-cache")
    results = derive(cache=path)
    return path, results


@pytest.fixture(scope="session")
def formulas(derive_cache):
    """The formula catalog built from the session's derivations."""
    from riemdln.formulas import _build

    return _build(derive_cache[1])
