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
