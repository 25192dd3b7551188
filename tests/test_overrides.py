"""Study overrides: checked by kind and range before any work, nested ones merged, failures name the path."""

from __future__ import annotations

import re

import numpy as np
import pytest

from riemdln import RiemdlnValueError
from riemdln.app.report import OVERRIDE_SCALE_CAP, _check_overrides, study_parameters


def test_nested_overrides_merge():
    params = study_parameters("depth_convergence", "full", {"small_init": {"depths": [4]}})
    full = study_parameters("depth_convergence", "full")
    assert params["small_init"]["depths"] == [4]
    assert {k: v for k, v in params["small_init"].items() if k != "depths"} == {
        k: v for k, v in full["small_init"].items() if k != "depths"
    }
    assert _check_overrides({"depth_convergence": {"small_init": {"depths": [4]}}}, False, False)


@pytest.mark.parametrize(
    "overrides,path",
    [
        ({"depth_convergence": {"small_init": {"depths": [-4]}}}, "overrides.depth_convergence.small_init.depths"),
        ({"depth_convergence": {"small_init": {"depths": "x"}}}, "overrides.depth_convergence.small_init.depths"),
        ({"depth_convergence": {"small_init": {"nope": 1}}}, "overrides.depth_convergence.small_init"),
        (
            {"depth_convergence": {"small_init": {"depths": [4, 10**7]}}},
            "overrides.depth_convergence.small_init.depths[1]",
        ),
        ({"operator_convergence": {"d": 100000}}, "overrides.operator_convergence.d"),
        ({"operator_convergence": {"d": True}}, "overrides.operator_convergence.d"),
        ({"razin_cohen": {"depths": ["abc"]}}, "overrides.razin_cohen.depths"),
        ({"razin_cohen": {"t_final": float("nan")}}, "overrides.razin_cohen"),
        ({"razin_cohen": {"t_final": -1.0}}, "overrides.razin_cohen.t_final"),
        ({"deep_completion": {"size": 10**9}}, "overrides.deep_completion.size"),
    ],
)
def test_bad_overrides_name_their_path(overrides, path):
    with pytest.raises(RiemdlnValueError, match=re.escape(f"`{path}")):  # an item's index may follow
        _check_overrides(overrides, False, False)


def test_numpy_scalars_and_seeds():
    out = _check_overrides({"operator_convergence": {"d": np.int64(5), "seeds": [10**6]}}, False, False)
    assert out == {"operator_convergence": {"d": 5, "seeds": [10**6]}} and type(out["operator_convergence"]["d"]) is int
    limit = OVERRIDE_SCALE_CAP * 6
    assert _check_overrides({"operator_convergence": {"d": limit}}, False, False)
    with pytest.raises(RiemdlnValueError, match="more than 64 times"):
        _check_overrides({"operator_convergence": {"d": limit + 1}}, False, False)
