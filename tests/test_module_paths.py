"""The modules' earlier paths (before the layers became folders) keep working, as the same module objects."""

from __future__ import annotations

import importlib
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import riemdln
from riemdln._aliases import MOVED, new_name

ROOT = Path(riemdln.__file__).resolve().parent


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_earlier_path_is_the_module_itself(old):
    module = importlib.import_module(old)
    assert module is importlib.import_module(MOVED[old])
    assert sys.modules[old] is module
    assert module.__name__ == MOVED[old] and module.__spec__.name == MOVED[old]


@pytest.mark.parametrize("old", sorted(MOVED))
def test_nothing_is_left_at_an_earlier_path(old):
    """Only a typing stub: a module file at the old path would be a second copy (and hide the move from git)."""
    path = ROOT.joinpath(*old.split(".")[1:])
    assert not path.with_suffix(".py").exists() and not path.is_dir()


def test_public_submodules_are_attributes_of_the_package():
    for name in riemdln._SUBMODULES:
        module = getattr(riemdln, name)
        assert module is importlib.import_module(new_name(f"riemdln.{name}"))


def test_names_and_submodules_through_an_earlier_path():
    from riemdln.derivations.volume import __name__ as volume_name

    from riemdln.geodesics import distance
    from riemdln.kernels import langevin, langevin_function

    assert distance is riemdln.distance is riemdln.geometry.geodesics.distance
    assert volume_name == "riemdln.symbolic.derivations.volume"
    volume = importlib.import_module("riemdln.derivations.volume")
    assert volume is sys.modules["riemdln.symbolic.derivations.volume"] is riemdln.derivations.volume
    assert langevin is langevin_function  # the Langevin function coth z - 1/z, under its earlier name too
    assert importlib.util.find_spec("riemdln.derivations.no_such_module") is None


def test_a_monkeypatch_through_one_name_is_seen_through_the_other(monkeypatch):
    import riemdln.studies.sweep
    import riemdln.sweep

    monkeypatch.setattr(riemdln.sweep, "HANDSHAKE_SECONDS", 1.5)
    assert riemdln.studies.sweep.HANDSHAKE_SECONDS == 1.5


def test_results_pickle_under_the_new_paths_and_load_under_the_old():
    res = riemdln.geodesic(np.diag([2.0, 1.0]), np.eye(2), 2.0, np.linspace(0.0, 0.1, 3))
    assert type(res).__module__ == "riemdln.geometry.geodesics"
    again = pickle.loads(pickle.dumps(res))
    assert type(again) is riemdln.GeodesicResult and np.array_equal(again.X, res.X)
    # a pickle written before the move names the earlier module path
    old = pickle.dumps(res, protocol=0).replace(b"riemdln.geometry.geodesics", b"riemdln.geodesics")
    assert b"riemdln.geodesics" in old
    assert type(pickle.loads(old)) is riemdln.GeodesicResult


def test_python_dash_m_runs_an_earlier_path(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT.parent)}
    for module in ("riemdln", "riemdln.cli"):
        proc = subprocess.run(
            [sys.executable, "-m", module, "--version"], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert proc.returncode == 0 and riemdln.__version__ in proc.stdout, proc.stderr
