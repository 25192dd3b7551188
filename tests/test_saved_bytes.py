"""Saved flow states are bounded in bytes (``max_saved_bytes``), not only in count, also across the charts of
a switched run."""

from __future__ import annotations

import numpy as np
import pytest

import riemdln
from riemdln import RiemdlnValueError
from riemdln.flows.end_to_end import MAX_SAVED_BYTES, _result_bytes


def _bytes(res):
    return _result_bytes(res)


@pytest.mark.parametrize("budget", [6_000, 30_000])
def test_switched_run_fits_its_budget(budget):
    p = riemdln.CompletionProblem.named("razin-cohen-2x2")
    res = riemdln.end_to_end_flow(p, 1e-3 * np.eye(2), 2, 2e3, max_saved_bytes=budget)
    full = riemdln.end_to_end_flow(p, 1e-3 * np.eye(2), 2, 2e3)
    assert res.formulation == "matrix+svd" and res.success
    assert _bytes(res) <= budget < _bytes(full)
    assert res.t[0] == 0 and res.t[-1] == full.t[-1]  # start and end kept
    np.testing.assert_array_equal(res.X[-1], full.X[-1])  # thinning changes what is kept, not the run


def test_factor_flow_and_svd_flow_fit_their_budget():
    p = riemdln.CompletionProblem.named("menon-2x2")
    W = riemdln.balanced_factors(0.01 * np.eye(2), 3)
    res = riemdln.factor_flow(p, W, 200.0, max_saved_bytes=5_000)
    assert _bytes(res) <= 5_000  # the factors too
    res = riemdln.svd_flow(p, 0.01 * np.eye(2) + 1e-3 * np.array([[0, 1.0], [0, 0]]), 3, 200.0, max_saved_bytes=5_000)
    assert _bytes(res) <= 5_000


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "100"])
def test_bad_budget(bad):
    p = riemdln.CompletionProblem.named("menon-2x2")
    with pytest.raises(RiemdlnValueError, match="`max_saved_bytes`"):
        riemdln.end_to_end_flow(p, 0.5 * np.eye(2), 2, 1.0, max_saved_bytes=bad)


def test_default_is_documented():
    assert MAX_SAVED_BYTES == 100_000_000
