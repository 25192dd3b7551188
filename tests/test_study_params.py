"""Typed study parameters: every study's record builds in each mode and reads back its JSON form; overrides are
checked by each field's declared type, range and size, nested ones merged, and every refusal names its path."""

from __future__ import annotations

import dataclasses
import json
import math
import re

import numpy as np
import pytest

from riemdln import RiemdlnValueError
from riemdln.report import _check_overrides, study_parameters, study_record
from riemdln.studies import STUDY_NAMES, study
from riemdln.studies._params import MAX_ARRAY_BYTES, OVERRIDE_SCALE_CAP, StudyParams


@pytest.mark.parametrize("name", STUDY_NAMES)
def test_every_study_declares_a_frozen_record(name):
    cls = study(name).PARAMS
    assert issubclass(cls, StudyParams) and dataclasses.is_dataclass(cls)
    for mode in ("quick", "full", "paper"):
        rec = getattr(cls, mode)()
        assert isinstance(rec, cls)
        with pytest.raises(dataclasses.FrozenInstanceError):
            rec.__setattr__(dataclasses.fields(rec)[0].name, None)
        doc = rec.to_json()
        assert json.loads(json.dumps(doc)) == doc or any(isinstance(v, float) and math.isinf(v) for v in _leaves(doc))
        # the JSON form reads back to the same record, and every field is declared with a Spec
        assert cls.from_json(doc) == rec or name == "achl19" and doc.get("mode") == "shipped"
        assert all("spec" in f.metadata for f in dataclasses.fields(rec))
    # the record is what the study module's own parameters() returns
    assert study_parameters(name, "quick") == study(name).parameters(True)
    assert study_parameters(name, "full") == study(name).parameters(False)


def _leaves(doc):
    if isinstance(doc, dict):
        for v in doc.values():
            yield from _leaves(v)
    elif isinstance(doc, list):
        for v in doc:
            yield from _leaves(v)
    else:
        yield doc


def test_depths_are_floats_written_as_results_json_holds_them():
    rec = study_record("deep_completion", "paper")
    assert rec.depths == (1.0, 2.0, 3.0, 4.0, 6.0, 8.0, math.inf)
    assert rec.to_json()["depths"] == [1, 2, 3, 4, 6, 8, "inf"]
    assert study_record("geodesics", "full").to_json()["flow_depths"] == ["1", "2", "4", "inf"]
    assert study_record("curvature", "full").to_json()["depths"][-1] == math.inf


def test_nested_override_merges_and_keeps_the_rest():
    full = study_record("depth_convergence", "full")
    rec = study_record("depth_convergence", "full", {"small_init": {"depths": [4]}})
    assert rec.small_init.depths == (4.0,)
    assert dataclasses.replace(rec.small_init, depths=full.small_init.depths) == full.small_init
    assert dataclasses.replace(rec, small_init=full.small_init) == full
    assert study_parameters("depth_convergence", "full", {"small_init": {"depths": [4]}})["small_init"]["depths"] == [4]
    # two levels deep: a list of nested records
    vb = study_record("volume_bias", "quick", {"beyond": {"instances": [{"size": 6, "rank": 1, "n_observed": 9}]}})
    assert [i.size for i in vb.beyond.instances] == [6] and vb.beyond.seeds == (0,)


def test_override_types_converted_and_numpy_accepted():
    rec = study_record("razin_cohen", "quick", {"t_final": 100, "depths": [2, "inf"], "n_times": np.int64(7)})
    assert rec.t_final == 100.0 and type(rec.t_final) is float
    assert rec.depths == (2.0, math.inf) and rec.n_times == 7 and type(rec.n_times) is int


BAD = [
    # the 12 kinds that passed a check by kind and failed inside a study
    (
        {"depth_convergence": {"small_init": {"depths": [0.5]}}},
        "overrides.depth_convergence.small_init.depths[0]",
        ">= 1",
    ),
    ({"razin_cohen": {"depths": ["nan"]}}, "overrides.razin_cohen.depths[0]", "a depth"),
    ({"razin_cohen": {"depths": [10**400]}}, "overrides.razin_cohen.depths[0]", "a depth"),
    ({"razin_cohen": {"t_final": 10**400}}, "overrides.razin_cohen.t_final", "finite real"),
    ({"razin_cohen": {"n_times": 1}}, "overrides.razin_cohen.n_times", ">= 2"),
    ({"operator_convergence": {"d": 100000}}, "overrides.operator_convergence.d", "GiB"),
    ({"operator_convergence": {"d": 0}}, "overrides.operator_convergence.d", ">= 1"),
    ({"depth_convergence": {"shape": [5]}}, "overrides.depth_convergence.shape", "at most 2"),
    ({"upstairs_downstairs": {"cases": [[4, 0]]}}, "overrides.upstairs_downstairs.cases[0][1]", ">= 1"),
    ({"upstairs_downstairs": {"depths": [2.5]}}, "overrides.upstairs_downstairs.depths[0]", "whole"),
    ({"langevin_check": {"depths": ["inf"]}}, "overrides.langevin_check.depths[0]", "a depth"),
    ({"deep_completion": {"formulation": "fast"}}, "overrides.deep_completion.formulation", "one of"),
    # and the checks by kind that held before
    ({"depth_convergence": {"small_init": {"depths": [-4]}}}, "overrides.depth_convergence.small_init.depths[0]", ""),
    ({"depth_convergence": {"small_init": {"depths": "x"}}}, "overrides.depth_convergence.small_init.depths", "list"),
    ({"depth_convergence": {"small_init": {"nope": 1}}}, "overrides.depth_convergence.small_init", "unknown"),
    (
        {"depth_convergence": {"small_init": {"depths": [4, 10**7]}}},
        "overrides.depth_convergence.small_init.depths[1]",
        "64 times",
    ),
    ({"operator_convergence": {"d": True}}, "overrides.operator_convergence.d", "integer"),
    ({"operator_convergence": {"d": 5.0}}, "overrides.operator_convergence.d", "integer"),
    ({"razin_cohen": {"t_final": float("nan")}}, "overrides.razin_cohen", "finite JSON"),
    ({"razin_cohen": {"t_final": -1.0}}, "overrides.razin_cohen.t_final", "> 0"),
    ({"deep_completion": {"size": 10**9}}, "overrides.deep_completion.size", "GiB"),
    ({"deep_completion": {"nuclear_exact": "no"}}, "overrides.deep_completion.nuclear_exact", "True or False"),
    ({"volume_bias": {"beyond": {"instances": [{"size": 10**6}]}}}, "overrides.volume_bias.beyond.instances", "GiB"),
    ({"free_energy": {"limit_X0": [[0.3, 0.2]]}}, "overrides.free_energy.limit_X0", "at least 2"),
    ({"achl19": {"seeds": [0]}}, "overrides.achl19.seeds", "mode 'run'"),
    ({"implicit_bias": {"depths": ["two"]}}, "overrides.implicit_bias.depths[0]", "a depth"),
]


@pytest.mark.parametrize("overrides,path,why", BAD, ids=[p for _, p, _ in BAD])
def test_bad_overrides_refused_naming_their_path(overrides, path, why):
    with pytest.raises(RiemdlnValueError, match=re.escape(f"`{path}`")) as err:
        _check_overrides(overrides, False, False)
    assert why in str(err.value)


def test_the_malformed_nested_override_of_the_report_now_runs():
    # it used to replace small_init whole and fail with KeyError 'seed'
    assert _check_overrides({"depth_convergence": {"small_init": {"depths": [4]}}}, False, False)
    assert study_parameters("depth_convergence", "quick", {"small_init": {"depths": [4]}})["small_init"]["seed"] == 0


def test_size_caps_by_estimate_then_by_scale():
    with pytest.raises(RiemdlnValueError, match=r"about 74\.5 GiB") as err:
        _check_overrides({"operator_convergence": {"d": 100000}}, False, False)
    assert f"{MAX_ARRAY_BYTES // 2**30} GiB" in str(err.value)
    limit = OVERRIDE_SCALE_CAP * 6
    assert _check_overrides({"operator_convergence": {"d": limit, "seeds": [10**6]}}, False, False)
    with pytest.raises(RiemdlnValueError, match="more than 64 times"):
        _check_overrides({"operator_convergence": {"d": limit + 1}}, False, False)


def test_achl19_set_on_the_command_line():
    from riemdln.studies.achl19 import paper_parameters, set_parameters

    assert set_parameters([]) == paper_parameters()
    assert set_parameters(["seeds=[0]", 'depths=[2, "inf"]'])["depths"] == [2, "inf"]
    with pytest.raises(SystemExit, match=re.escape("`--set.seeds[0]`")):
        set_parameters(["seeds=[-1]"])
    with pytest.raises(SystemExit, match="unknown parameter 'sizee'"):
        set_parameters(["sizee=3"])
