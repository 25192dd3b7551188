"""``reproduce(mode=...)``: one argument for the three modes; the earlier ``quick=``/``paper=`` flags still work
(deprecated) and give the same results; the command line keeps ``--quick`` and ``--paper``."""

from __future__ import annotations

import json
import warnings

import pytest

from riemdln import RiemdlnValueError
from riemdln.app.report import reproduce, study_parameters

STUDY = ["operator_convergence"]


def _quiet(msg):
    pass


def _numbers(doc: dict) -> str:
    return json.dumps({k: v for k, v in doc.items() if k != "run"}, sort_keys=True)


def test_mode_quick_is_the_deprecated_quick_flag(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the new spelling warns of nothing
        new = reproduce(tmp_path / "new", mode="quick", studies=STUDY, pdf=False, log=_quiet, command_line=[])
    with pytest.warns(DeprecationWarning, match='mode="quick"'):
        old = reproduce(tmp_path / "old", quick=True, studies=STUDY, pdf=False, log=_quiet, command_line=[])
    assert new["mode"] == old["mode"] == "quick"
    assert _numbers(new) == _numbers(old)
    # and the quick parameters are not the full ones (the mode reached the study)
    assert study_parameters(STUDY[0], "quick") != study_parameters(STUDY[0], "full")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        (dict(mode="fast"), r"`mode` must be one of 'quick', 'full', 'paper'; got 'fast'"),
        (dict(mode=1), r"`mode` must be one of"),
        (dict(mode="quick", quick=True), r"`mode` replaces the deprecated `quick` and `paper`"),
        (dict(mode="full", paper=True), r"`mode` replaces the deprecated `quick` and `paper`"),
    ],
)
def test_bad_mode_is_refused_before_any_work(tmp_path, kwargs, match):
    with pytest.raises(RiemdlnValueError, match=match):
        reproduce(tmp_path / "x", studies=STUDY, pdf=False, log=_quiet, **kwargs)
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize(("flags", "mode"), [([], "full"), (["--quick"], "quick"), (["--paper"], "paper")])
def test_cli_flags_become_the_mode(tmp_path, monkeypatch, flags, mode):
    import riemdln.app.report
    from riemdln.app.cli import main

    seen = {}
    monkeypatch.setattr(riemdln.app.report, "reproduce", lambda out, **kw: seen.update(kw))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        main(["reproduce", *flags, "--out", str(tmp_path / "o"), "--studies", STUDY[0]])
    assert seen["mode"] == mode and "quick" not in seen and "paper" not in seen
