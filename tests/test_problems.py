"""CompletionProblem: loss and gradient from their definitions, pattern diagnostics, constructors, bad input."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest

from riemdln import CompletionProblem


def test_three_ways_to_give_observations_agree(rng):
    m, n = 3, 4
    mask = rng.random((m, n)) < 0.5
    mask[0, 0] = True
    values = rng.standard_normal((m, n))
    a = CompletionProblem((m, n), mask, values)
    b = CompletionProblem((m, n), {(int(i), int(j)): values[i, j] for i, j in zip(*np.nonzero(mask), strict=True)})
    c = CompletionProblem((m, n), [(int(i), int(j), values[i, j]) for i, j in zip(*np.nonzero(mask), strict=True)])
    for p in (b, c):
        assert np.array_equal(p.mask, a.mask) and np.array_equal(p.target, a.target)
    assert a.n_observed == int(mask.sum())


def test_loss_and_gradient_from_the_definition(rng):
    p = CompletionProblem((3, 3), {(0, 1): 2.0, (2, 2): -1.0, (1, 0): 0.5})
    X = rng.standard_normal((3, 3))
    expected = 0.5 * ((X[0, 1] - 2.0) ** 2 + (X[2, 2] + 1.0) ** 2 + (X[1, 0] - 0.5) ** 2)
    assert math.isclose(p.loss(X), expected, rel_tol=1e-14)
    # gradient = derivative of the loss (central differences, exact for a quadratic up to rounding)
    G = p.gradient(X)
    h = 1e-6
    for i in range(3):
        for j in range(3):
            E = np.zeros((3, 3))
            E[i, j] = h
            fd = (p.loss(X + E) - p.loss(X - E)) / (2 * h)
            assert abs(fd - G[i, j]) <= 1e-8
    # stacks
    stack = np.stack([X, 2 * X])
    np.testing.assert_allclose(p.loss(stack), [p.loss(X), p.loss(2 * X)], rtol=1e-15)


def test_repeated_entry_with_same_value_is_allowed():
    p = CompletionProblem((2, 2), [(0, 0, 1.0), (0, 0, 1.0), (1, 1, 2.0)])
    assert p.n_observed == 2


def test_named_problems():
    menon = CompletionProblem.named("menon-2x2")
    assert menon.observed == {(0, 0): 1.0, (1, 1): 1.0}
    # zero-loss set {[[1, a], [b, 1]]}
    assert menon.loss(np.array([[1.0, 7.0], [-3.0, 1.0]])) == 0.0
    rc = CompletionProblem.named("razin-cohen-2x2")
    assert rc.observed == {(0, 1): 1.0, (1, 0): 1.0, (1, 1): 0.0}
    # every zero-loss matrix has det = -1
    for x11 in (-5.0, 0.0, 3.0):
        X = np.array([[x11, 1.0], [1.0, 0.0]])
        assert rc.loss(X) == 0.0 and np.linalg.det(X) == pytest.approx(-1.0)


def test_pattern_diagnostics():
    menon = CompletionProblem.named("menon-2x2")
    g = menon.graph()
    assert nx.is_bipartite(g) and g.number_of_edges() == 2
    assert {d["bipartite"] for _, d in g.nodes(data=True)} == {0, 1}
    assert menon.components() == [([0], [0]), ([1], [1])]
    assert not menon.is_connected()
    assert not menon.can_be_unique(1)  # two components: rescale one of them
    assert "connected components" in " ".join(menon.uniqueness_obstructions(1))
    rc = CompletionProblem.named("razin-cohen-2x2")
    assert rc.is_connected() and rc.can_be_unique(1)
    assert not rc.can_be_unique(2)  # 3 observations < 4 = dim of rank-2 2x2 matrices
    np.testing.assert_array_equal(rc.row_degrees, [1, 2])
    np.testing.assert_array_equal(rc.col_degrees, [1, 2])
    text = rc.describe(rank=1)
    assert "3 of 4 entries" in text and "rank-1 completion can be unique" in text
    # an unobserved row is its own component
    p = CompletionProblem((3, 2), {(0, 0): 1.0, (0, 1): 1.0, (1, 0): 1.0})
    assert ([2], []) in p.components() and not p.can_be_unique(1)


def test_rank_one_uniqueness_matches_connectedness(rng):
    """Rank one: a connected pattern determines the completion (propagate ratios along a spanning tree)."""
    u, v = rng.uniform(1, 2, 4), rng.uniform(1, 2, 5)
    W = np.outer(u, v)
    edges = [(0, 0), (0, 1), (1, 1), (1, 2), (2, 2), (2, 3), (3, 3), (3, 4)]  # a path: connected
    p = CompletionProblem((4, 5), {e: W[e] for e in edges}, ground_truth=W)
    assert p.can_be_unique(1)
    # reconstruct: fix u_0 = 1, walk the path
    uu, vv = np.full(4, np.nan), np.full(5, np.nan)
    uu[0] = 1.0
    for i, j in edges:
        if np.isnan(vv[j]):
            vv[j] = W[i, j] / uu[i]
        if np.isnan(uu[i]):
            uu[i] = W[i, j] / vv[j]
    assert p.test_error(np.outer(uu, vv)) < 1e-14


def test_random_problem_matches_its_specification():
    p = CompletionProblem.random(30, 20, rank=3, n_observed=240, seed=4)
    W = p.ground_truth
    assert W.shape == (30, 20) and np.linalg.matrix_rank(W) == 3
    assert math.isclose(np.linalg.norm(W), math.sqrt(600), rel_tol=1e-12)
    assert p.n_observed == 240
    np.testing.assert_array_equal(p.target[p.mask], W[p.mask])
    assert p.loss(W) == 0.0 and p.test_error(W) == 0.0
    # seeded: reproducible; different seeds differ
    q = CompletionProblem.random(30, 20, rank=3, n_observed=240, seed=4)
    assert np.array_equal(q.mask, p.mask) and np.array_equal(q.ground_truth, W)
    assert not np.array_equal(CompletionProblem.random(30, 20, 3, 240, seed=5).mask, p.mask)


def test_uniform_observations():
    counts = np.zeros((6, 6))
    for seed in range(400):
        counts += CompletionProblem.random(6, 6, rank=1, n_observed=9, seed=seed).mask
    # each entry observed with probability 1/4: 100 expected, sd ~ 8.7
    assert np.all(np.abs(counts - 100) < 45)


def test_problem_is_immutable():
    p = CompletionProblem.named("menon-2x2")
    with pytest.raises(ValueError, match="read-only"):
        p.mask[0, 1] = True
    with pytest.raises(ValueError, match="read-only"):
        p.target[0, 0] = 5.0


BAD = [
    (((2, 2), {(2, 0): 1.0}), {}, r"observed index \(2, 0\) must lie in range\(0, 2\) x range\(0, 2\)"),
    (((2, 2), {(0, -1): 1.0}), {}, r"observed index \(0, -1\) must lie in range"),
    (((2, 2), [(0, 0, 1.0), (0, 0, 2.0)]), {}, r"observed index \(0, 0\) must not be given twice with different"),
    (((2, 2), {(0, 0): math.nan}), {}, r"observed value at \(0, 0\) must be finite; got nan"),
    (((2, 2), {}), {}, r"`observations` must contain at least one entry"),
    (((2, 2), np.zeros((2, 2), bool), np.ones((2, 2))), {}, r"`observations` must contain at least one entry"),
    (((2, 2), np.ones((3, 2), bool), np.ones((3, 2))), {}, r"`observations` \(mask\) must have shape \(2, 2\)"),
    (((2, 2), np.ones((2, 2), bool), np.ones((2, 3))), {}, r"`values` must have shape \(2, 2\); got \(2, 3\)"),
    (((2, 2), np.ones((2, 2), bool)), {}, r"`values` must be given with a boolean mask"),
    (((2, 2), np.ones((2, 2))), {}, r"must be a boolean mask; got dtype float64"),
    (((2, 2), np.eye(2, dtype=bool), [[math.nan, 0], [0, 1]]), {}, r"`values` must be finite"),
    (((2, 2), {(0, 0): 1.0}), {"ground_truth": np.ones((3, 3))}, r"`ground_truth` must have shape \(2, 2\)"),
    (((2, 0), {(0, 0): 1.0}), {}, r"`shape` must be a pair \(m, n\) of integers >= 1; got \(2, 0\)"),
    (((2, 2), {(0.5, 0): 1.0}), {}, r"observed index must be a pair \(i, j\) of integers; got \(0.5, 0\)"),
    (((2, 2), [(0, 0)]), {}, r"`observations` must be a mapping"),
    (((2, 2), {(0, 0): "a"}), {}, r"observed value at \(0, 0\) must be a real number; got 'a'"),
]


@pytest.mark.parametrize("args,kwargs,match", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_problems_fail_at_construction(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        CompletionProblem(*args, **kwargs)


def test_bad_use():
    p = CompletionProblem.named("menon-2x2")
    with pytest.raises(ValueError, match=r"`test_error` needs a problem with `ground_truth`"):
        p.test_error(np.eye(2))
    with pytest.raises(ValueError, match=r"`X` must have shape \(\.\.\., 2, 2\); got \(3, 3\)"):
        p.loss(np.eye(3))
    with pytest.raises(ValueError, match=r"`name` must be one of \('menon-2x2', 'razin-cohen-2x2'\); got 'x'"):
        CompletionProblem.named("x")
    with pytest.raises(ValueError, match=r"`rank` must be <= min\(m, n\) = 2; got 3"):
        p.can_be_unique(3)
    with pytest.raises(ValueError, match=r"`n_observed` must be <= m \* n = 4; got 5"):
        CompletionProblem.random(2, 2, 1, 5, seed=0)
    with pytest.raises(ValueError, match=r"`rank` must be an integer >= 1; got 0"):
        CompletionProblem.random(2, 2, 0, 2, seed=0)
