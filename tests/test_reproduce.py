"""`riemdln reproduce`: determinism, resume, atomic outputs, executors (local pool, Dask), bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from riemdln import RiemdlnValueError
from riemdln.app.report import reproduce
from riemdln.studies import STUDY_NAMES
from riemdln.studies.sweep import run_sweep

CHEAP = ["operator_convergence", "depth_convergence", "upstairs_downstairs", "razin_cohen"]


def _numbers(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "run"}


def _quiet(msg):
    pass


@pytest.mark.slow  # three end-to-end reproduce runs (~15-30 s)
def test_cheap_studies_are_reproducible_and_resume(tmp_path):
    a = reproduce(tmp_path / "a", quick=True, studies=CHEAP, pdf=False, log=_quiet, command_line=["x"])
    b = reproduce(tmp_path / "b", quick=True, studies=CHEAP, pdf=False, log=_quiet, command_line=["x"])
    assert json.dumps(_numbers(a), sort_keys=True) == json.dumps(_numbers(b), sort_keys=True)
    on_disk = json.loads((tmp_path / "a" / "results.json").read_text())
    assert _numbers(on_disk) == json.loads(json.dumps(_numbers(a)))
    # a rerun into the same directory resumes every finished study and gives the same numbers
    c = reproduce(tmp_path / "a", quick=True, studies=CHEAP, pdf=False, log=_quiet, command_line=["x"])
    assert c["run"]["resumed"] == CHEAP
    assert json.dumps(_numbers(c), sort_keys=True) == json.dumps(_numbers(a), sort_keys=True)
    report = (tmp_path / "a" / "report.md").read_text()
    assert "Operator convergence" in report and "![operator_convergence](operator_convergence.png)" in report
    assert (tmp_path / "a" / "operator_convergence.png").stat().st_size > 1000


def test_study_results_check_the_theory(tmp_path):
    doc = reproduce(tmp_path, quick=True, studies=CHEAP, pdf=False, log=_quiet)
    s = doc["studies"]
    assert -1.1 < s["operator_convergence"]["slope_mean"] < -0.9
    assert s["operator_convergence"]["coefficient_relative_gap_max"] < 1e-2
    assert 0.9 < s["depth_convergence"]["order_mean"] < 1.1
    assert s["upstairs_downstairs"]["max_deviation"] < 1e-8
    for run in s["razin_cohen"]["runs"]:
        assert run["det_signs"] == [1.0] and run["effective_rank"][-1] < 1.01 and run["abs_x11"][-1] > 50


@pytest.mark.slow  # end-to-end reproduce runs (~10-20 s)
def test_interrupted_run_leaves_nothing_that_looks_complete_and_resumes(tmp_path, monkeypatch):
    from riemdln.studies import depth_convergence

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(depth_convergence, "run", boom)
    with pytest.raises(KeyboardInterrupt):
        reproduce(tmp_path, quick=True, studies=CHEAP, pdf=False, log=_quiet)
    assert not (tmp_path / "report.md").exists() and not (tmp_path / "results.json").exists()
    assert (tmp_path / ".riemdln-state" / "operator_convergence.json").exists()
    assert not list(tmp_path.rglob("*.tmp"))
    monkeypatch.undo()
    doc = reproduce(tmp_path, quick=True, studies=CHEAP, pdf=False, log=_quiet)
    assert doc["run"]["resumed"] == ["operator_convergence"]


def test_corrupt_state_is_rerun_not_trusted(tmp_path):
    reproduce(tmp_path, quick=True, studies=["operator_convergence"], pdf=False, log=_quiet)
    (tmp_path / ".riemdln-state" / "operator_convergence.json").write_text("{ broken")
    doc = reproduce(tmp_path, quick=True, studies=["operator_convergence"], pdf=False, log=_quiet)
    assert doc["run"]["resumed"] == []


def _square(x):
    return x * x


def test_sweep_order_is_independent_of_executor():
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    tasks = [(k,) for k in range(20)]
    inline = run_sweep(_square, tasks)
    with ThreadPoolExecutor(4) as ex:
        threads = run_sweep(_square, tasks, executor=ex)
    with ProcessPoolExecutor(2) as ex:
        procs = run_sweep(_square, tasks, executor=ex)
    assert inline == threads == procs == [k * k for k in range(20)]


def test_local_pool_limits_the_workers_blas_threads(monkeypatch):
    from riemdln.studies.sweep import BLAS_THREAD_VARIABLES, local_executor

    for name in BLAS_THREAD_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "7")  # a caller's own setting is kept
    tasks = [(name,) for name in BLAS_THREAD_VARIABLES]
    with local_executor(2) as pool:
        seen = run_sweep(os.getenv, tasks, executor=pool)
    threads = str(max(1, (os.cpu_count() or 1) // 2))
    assert dict(zip(BLAS_THREAD_VARIABLES, seen, strict=True)) == {
        "OPENBLAS_NUM_THREADS": threads,
        "OMP_NUM_THREADS": threads,
        "MKL_NUM_THREADS": "7",
        "BLIS_NUM_THREADS": threads,
        "NUMBA_NUM_THREADS": threads,
    }
    assert "OPENBLAS_NUM_THREADS" not in os.environ and os.environ["MKL_NUM_THREADS"] == "7"  # restored


@pytest.mark.slow  # ~20 s: a pool or a Dask cluster is started
def test_local_pool_gives_the_same_numbers(tmp_path):
    a = reproduce(tmp_path / "a", quick=True, studies=["depth_convergence"], pdf=False, log=_quiet, command_line=[])
    b = reproduce(
        tmp_path / "b", quick=True, studies=["depth_convergence"], jobs=2, pdf=False, log=_quiet, command_line=[]
    )
    assert a["studies"] == b["studies"]


@pytest.mark.slow  # ~20 s: a pool or a Dask cluster is started
def test_dask_local_cluster_gives_the_same_numbers(tmp_path):
    distributed = pytest.importorskip("distributed")
    studies = ["operator_convergence", "depth_convergence"]
    local = reproduce(tmp_path / "local", quick=True, studies=studies, pdf=False, log=_quiet, command_line=[])
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cl:
        remote = reproduce(
            tmp_path / "dask",
            quick=True,
            studies=studies,
            scheduler=cl.scheduler_address,
            pdf=False,
            log=_quiet,
            command_line=[],
        )
    assert local["studies"] == remote["studies"]


def _cli(*args, env_extra=None, timeout=120):
    env = {**os.environ, **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "riemdln", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.mark.parametrize(
    "args, match",
    [
        (["reproduce", "--studies", "no_such_study", "--out", "{tmp}/x"], "unknown study 'no_such_study'"),
        (["reproduce", "--out", "{tmp}/full"], "is not empty"),
        (["reproduce", "--jobs", "0", "--out", "{tmp}/y"], "`jobs` must be an integer >= 1"),
        (
            ["reproduce", "--out", "{tmp}/z", "--studies", "operator_convergence", "--scheduler", "tcp://127.0.0.1:9"],
            "is unreachable",
        ),
        (["reproduce", "--out", "/proc/cannot/create"], "cannot be created"),
    ],
    ids=["unknown-study", "non-empty-out", "bad-jobs", "unreachable-scheduler", "unwritable-out"],
)
def test_reproduce_bad_input_is_one_line(tmp_path, args, match):
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "thesis.tex").write_text("mine")
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    t0 = time.perf_counter()
    proc = _cli(*args)
    assert proc.returncode == 2, proc.stderr
    lines = [line for line in proc.stderr.strip().splitlines() if "error" in line]
    assert len(lines) == 1 and match in lines[0] and "Traceback" not in proc.stderr, proc.stderr
    assert time.perf_counter() - t0 < 60  # never a hang
    assert not (tmp_path / "full" / "report.md").exists()


def test_missing_matplotlib_names_the_extra(tmp_path):
    code = (
        "import sys, builtins; real = builtins.__import__\n"
        "def fake(name, *a, **k):\n"
        "    if name.startswith('matplotlib'): raise ImportError(name)\n"
        "    return real(name, *a, **k)\n"
        "builtins.__import__ = fake\n"
        "from riemdln.app.cli import main; sys.exit(main(sys.argv[1:]))\n"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, "reproduce", "--out", str(tmp_path / "o")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert 'pip install "riemdln[report]"' in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.slow
def test_quick_reproduce_end_to_end(tmp_path):
    """The README's main job in quick mode: every study, formulas, PDF where pdflatex exists (goal < 90 s)."""
    t0 = time.perf_counter()
    proc = _cli("reproduce", "--quick", "--out", str(tmp_path / "q"), timeout=600)
    elapsed = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads((tmp_path / "q" / "results.json").read_text())
    assert set(doc["studies"]) == set(STUDY_NAMES)
    assert (tmp_path / "q" / "report.md").read_text().count("## ") >= 8
    print(f"quick reproduce took {elapsed:.1f} s")


# a toy-size paper grid: every depth of the paper's grid, two seeds, two counts, on a 6x6 problem
_TOY_PAPER = {
    "deep_completion": {
        "size": 6,
        "rank": 1,
        "observed": [20, 28],
        "seeds": [0, 1],
        "loss_tol": 1e-4,
        "t_final": 1e3,
        "max_steps": 1500,
        "max_steps_infinite": 1500,
        "nuclear_exact": False,
    }
}


@pytest.mark.slow  # ~20 s: a pool or a Dask cluster is started
def test_paper_grid_on_dask_equals_inline(tmp_path):
    """``--paper`` on a Dask LocalCluster (toy size) gives the inline run's numbers, record for record."""
    distributed = pytest.importorskip("distributed")
    from riemdln.app.report import study_parameters

    kw = dict(paper=True, overrides=_TOY_PAPER, studies=["deep_completion"], pdf=False, log=_quiet, command_line=[])
    inline = reproduce(tmp_path / "inline", **kw)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=":0") as cl:
        remote = reproduce(tmp_path / "dask", scheduler=cl.scheduler_address, **kw)
    assert inline["mode"] == remote["mode"] == "paper"
    assert inline["studies"] == remote["studies"]
    rows = inline["studies"]["deep_completion"]["rows"]
    grid = study_parameters("deep_completion", "paper", _TOY_PAPER["deep_completion"])
    # the paper grid's depths (all seven), seeds and counts are all there, each run with its status
    flows = [r for r in rows if r["depth"] not in ("soft-impute", "nuclear norm (cvxpy)")]
    assert {r["depth"] for r in flows} == {str(N) for N in grid["depths"]} == {"1", "2", "3", "4", "6", "8", "inf"}
    assert len(flows) == len(grid["depths"]) * len(grid["seeds"]) * len(grid["observed"])
    assert all({"status", "final_loss", "target_loss", "reached_target"} <= set(r) for r in rows)


def test_paper_and_quick_exclude_each_other(tmp_path):
    with pytest.raises(RiemdlnValueError, match="quick.*paper"):
        reproduce(tmp_path, quick=True, paper=True, studies=["deep_completion"], pdf=False, log=_quiet)


def test_overrides_are_checked_before_any_work(tmp_path):
    with pytest.raises(RiemdlnValueError, match="unknown parameter 'sizee'"):
        reproduce(tmp_path / "a", overrides={"deep_completion": {"sizee": 3}}, studies=["deep_completion"], log=_quiet)
    with pytest.raises(RiemdlnValueError, match="unknown study"):
        reproduce(tmp_path / "b", overrides={"nope": {}}, studies=["deep_completion"], log=_quiet)
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())


def test_cli_paper_and_quick_are_refused_together(tmp_path):
    proc = _cli("reproduce", "--quick", "--paper", "--out", str(tmp_path / "x"))
    assert proc.returncode == 2 and "not allowed with argument" in proc.stderr
