"""The `riemdln` command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from riemdln.app.cli import main


def test_derive_writes_tex_and_json(tmp_path, derive_cache, capsys):
    out = tmp_path / "out"
    code = main(["derive", "--out", str(out), "--cache", str(derive_cache[0])])
    assert code == 0
    assert (out / "formulas.tex").read_text().startswith(r"\documentclass")
    doc = json.loads((out / "formulas.json").read_text())
    assert {f["name"] for f in doc["formulas"]} >= {"multiplier", "entropy"}
    err = capsys.readouterr().err
    assert "certificates: all passed" in err and "from cache" in err
    assert not list(out.glob(".*.tmp"))  # nothing half-written left behind


@pytest.mark.parametrize(
    "argv, match",
    [
        (["derive", "--out", "{file}"], "`--out` must be a directory"),
        (["derive", "--out", "/proc/riemdln-cannot-create"], "cannot be created"),
    ],
)
def test_cli_errors_are_one_line_without_traceback(tmp_path, argv, match):
    afile = tmp_path / "afile"
    afile.write_text("x")
    argv = [a.replace("{file}", str(afile)) for a in argv]
    env = {**os.environ, "RIEMDLN_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run([sys.executable, "-m", "riemdln", *argv], capture_output=True, text=True, env=env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and match in lines[0] and "Traceback" not in proc.stderr


def test_no_command_prints_help_and_fails():
    assert main([]) == 2
