"""Faults survived: killed runs leave no workers, OSErrors are one line, no temporaries, locks, state checksums."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from riemdln.app.cli import main
from riemdln.app.report import reproduce


def _quiet(msg):
    pass


def _cli(*args, env_extra=None, timeout=120):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1]), **(env_extra or {})}
    return subprocess.run(
        [sys.executable, "-m", "riemdln", *args], capture_output=True, text=True, env=env, timeout=timeout
    )


@pytest.mark.slow  # four end-to-end reproduce runs (~10-20 s)
def test_tampered_state_file_is_rerun_with_a_warning(tmp_path):
    logs: list[str] = []
    first = reproduce(tmp_path, quick=True, studies=["operator_convergence"], pdf=False, log=_quiet)
    path = tmp_path / ".riemdln-state" / "operator_convergence.json"
    doc = json.loads(path.read_text())
    doc["results"]["slope_mean"] = 123.0  # well-formed, right key: only the checksum can tell
    path.write_text(json.dumps(doc, sort_keys=True))
    again = reproduce(tmp_path, quick=True, studies=["operator_convergence"], pdf=False, log=logs.append)
    assert again["run"]["resumed"] == []
    assert again["studies"] == first["studies"]
    assert any("warning" in m and "checksum" in m and "rerunning operator_convergence" in m for m in logs), logs
    # the rewritten state is sound again: it loads, with the original numbers
    from riemdln.app import report
    from riemdln.studies import study

    key = report._state_key("operator_convergence", study("operator_convergence").parameters(True))
    state, why = report._load_state(path, key)
    assert why == "" and state["results"] == first["studies"]["operator_convergence"]


def test_state_from_another_code_version_is_rerun(tmp_path, monkeypatch):
    from riemdln.app import report

    reproduce(tmp_path, quick=True, studies=["operator_convergence"], pdf=False, log=_quiet)
    monkeypatch.setattr(report, "_CODE_VERSION", "another version")
    logs: list[str] = []
    doc = reproduce(tmp_path, quick=True, studies=["operator_convergence"], pdf=False, log=logs.append)
    assert doc["run"]["resumed"] == [] and any("another riemdln version" in m for m in logs)


def _children(pid: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _state(pid: int) -> str:
    """The kernel's one-letter state of ``pid`` (``"gone"`` once reaped)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def _alive(pid: int) -> bool:
    return _state(pid) not in ("gone", "Z", "X")  # a zombie has exited; only its parent's reaping is missing


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkilled_parallel_run_leaves_no_worker(tmp_path, derive_cache):
    env = {
        **os.environ,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
        "RIEMDLN_CACHE_DIR": str(derive_cache[0]),
    }
    cmd = [sys.executable, "-m", "riemdln", "reproduce", "--quick", "--jobs", "2", "--no-pdf"]
    cmd += ["--studies", "depth_convergence", "--out", str(tmp_path / "out")]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        workers: list[int] = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and len(workers) < 2 and proc.poll() is None:
            time.sleep(0.1)
            workers = [c for c in _children(proc.pid) if "--multiprocessing-fork" in _cmdline(c)]
        assert len(workers) >= 2, "the run never started its workers"
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.1)
        survivors = [w for w in workers if _alive(w)]
        assert not survivors, f"workers {survivors} survived their parent"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_pool_is_terminated_on_an_exception():
    from riemdln.studies.sweep import local_executor

    with pytest.raises(RuntimeError):
        with local_executor(2) as pool:
            pool.submit(time.sleep, 0.01).result()
            procs = list(pool._processes.values())
            pool.submit(time.sleep, 60)
            raise RuntimeError("boom")
    # Terminated and killed by the pool's exit. Ask the kernel, not ``Process.is_alive``: that polls
    # ``waitpid`` and reports a child another thread reaped first (the pool's manager thread joins the
    # same workers) as alive for good, which made this check flaky under load.
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and any(_alive(p.pid) for p in procs):
        time.sleep(0.1)
    states = {p.pid: (_state(p.pid), p.exitcode) for p in procs}
    assert procs and not any(_alive(p.pid) for p in procs), f"workers alive (pid: state, exit code): {states}"


def test_full_disk_is_one_line_exit_2_and_leaves_no_temporary(tmp_path, derive_cache, monkeypatch, capsys):
    from riemdln import _io

    def full(src, dst):
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(_io.os, "replace", full)
    out = tmp_path / "out"
    code = main(["derive", "--out", str(out), "--cache", str(derive_cache[0])])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert len(err) >= 1 and "No space left on device" in err[-1] and "Traceback" not in "\n".join(err)
    assert not list(out.rglob("*.tmp")) and not list(out.rglob(".*.tmp"))


def test_failed_pdf_copy_leaves_no_temporary(tmp_path, monkeypatch):
    from riemdln.app import cli
    from riemdln.symbolic import _latex

    fake = tmp_path / "pdflatex"
    fake.write_text('#!/bin/sh\nfor last; do :; done\nname=$(basename "$last" .tex)\ntouch "$4/$name.pdf"\n')
    fake.chmod(0o755)
    monkeypatch.setattr(_latex.shutil, "which", lambda name: str(fake))

    def half_copy(src, dst):
        Path(dst).write_bytes(b"%PDF-1.5 trunc")
        raise OSError(errno.ENOSPC, "No space left on device", str(dst))

    monkeypatch.setattr(_latex.shutil, "copyfile", half_copy)
    tex = tmp_path / "formulas.tex"
    tex.write_text("x")
    with pytest.raises(OSError):
        cli.compile_pdf(tex)
    assert not (tmp_path / ".formulas.pdf.tmp").exists() and not (tmp_path / "formulas.pdf").exists()


@pytest.mark.parametrize(
    "args, match",
    [
        (["--scheduler", "not-an-address"], "`scheduler` must be an address"),
        (["--studies", ","], "--studies must name at least one study"),
        (["--studies", " , ,"], "--studies must name at least one study"),
    ],
    ids=["bad-scheduler", "empty-studies", "blank-studies"],
)
def test_reproduce_argument_errors_fail_fast(tmp_path, args, match):
    t0 = time.perf_counter()
    proc = _cli("reproduce", "--out", str(tmp_path / "o"), "--no-pdf", *args)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0], proc.stderr
    assert time.perf_counter() - t0 < 20
    assert not (tmp_path / "o" / "results.json").exists()


def test_second_run_on_a_busy_out_is_refused_and_a_killed_runs_lock_does_not_block(
    tmp_path, derive_cache, capsys, lock_processes
):
    out = tmp_path / "out"
    out.mkdir()
    holder = lock_processes.start(out)  # a run in progress on `out`
    lock_processes.go()
    assert lock_processes.outcome(holder) == "ran"
    code = main(["derive", "--out", str(out), "--cache", str(derive_cache[0])])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and f"in use by process {holder.pid}" in err[-1]
    assert not (out / "formulas.tex").exists()
    # killed: its lock went with it
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    assert main(["derive", "--out", str(out), "--cache", str(derive_cache[0])]) == 0
    assert (out / "formulas.tex").exists() and not (out / ".riemdln.lock.holder").exists()


def test_stale_hidden_temporaries_of_a_killed_run_are_removed(tmp_path):
    """A kill in the report phase leaves ``.name.XXXXXXXX.png`` / ``.tmp`` files; the next run (holding the
    folder's lock) removes them, and nothing else."""
    from riemdln.app.report import _remove_stale_temporaries

    (tmp_path / "figures").mkdir()
    stale = [tmp_path / ".curvature.png.ab3_x9zq.png", tmp_path / ".results.json.k2j4h5g6.tmp"]
    stale.append(tmp_path / "figures" / ".razin_cohen.png.0a1b2c3d.png")
    kept = [
        tmp_path / "curvature.png",
        tmp_path / ".hidden.png",
        tmp_path / "report.md",
        tmp_path / "figures" / "a.png",
    ]
    for path in stale + kept:
        path.write_text("x")
    _remove_stale_temporaries(tmp_path)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)
