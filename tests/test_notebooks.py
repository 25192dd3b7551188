"""Execute every notebook in ``notebooks/`` (jupytext percent format) with a real Jupyter kernel.

Each ``notebooks/*.py`` is converted with jupytext and run top to bottom by nbclient with an
ipykernel kernel of *this* interpreter (a private kernelspec is written for the test session, so a
fresh CI machine needs no ``python -m ipykernel install`` and a stale system ``python3`` kernelspec
pointing elsewhere is never used). Any cell error fails the test. The notebooks run with their quick
default parameters, a non-interactive matplotlib backend and the session's private derivation cache.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import KERNEL_NAME  # the session kernelspec (fixture kernel_env in conftest.py)

NOTEBOOK_DIR = Path(__file__).resolve().parent.parent / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9]*.py"))

# the slowest (~10-45 s: SymPy's curvature steps run live, studies at notebook size) carry the slow marker; CI
# runs them too, and the documentation build executes every notebook
_SLOW = {"06_curvature_geodesics", "04_menon_2x2_volume_bias", "05_deep_matrix_completion", "07_langevin_free_energy"}
# notebooks that need an optional extra: skipped where it is not installed (CI installs torch)
_NEEDS = {"08_check_pytorch": "torch"}


def _marks(stem):
    marks = [pytest.mark.slow] if stem in _SLOW else []
    if stem in _NEEDS and importlib.util.find_spec(_NEEDS[stem]) is None:
        marks.append(pytest.mark.skip(reason=f"needs {_NEEDS[stem]} (pip install 'riemdln[{_NEEDS[stem]}]')"))
    return marks


def _params(paths):
    return [pytest.param(p, id=p.stem, marks=_marks(p.stem)) for p in paths]


TIMEOUT = 300  # seconds per cell; the quick defaults take a few seconds per notebook

jupytext = pytest.importorskip("jupytext")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")


def test_notebooks_found():
    assert len(NOTEBOOKS) == 8, [p.name for p in NOTEBOOKS]


# jupyter_client / pyzmq may warn about their own deprecated APIs while the kernel starts; those are
# not ours to fix, and pytest's filterwarnings = error would turn them into failures.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")
@pytest.mark.parametrize("path", _params(NOTEBOOKS))
def test_notebook_executes(path, kernel_env, monkeypatch, tmp_path):
    for key, value in kernel_env.items():
        monkeypatch.setenv(key, value)
    nb = jupytext.read(path)
    assert nb.cells[0].cell_type == "markdown", "a notebook opens with its title"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell is the parameters cell"
    nb.metadata["kernelspec"] = {"name": KERNEL_NAME, "display_name": "riemdln test", "language": "python"}
    client = nbclient.NotebookClient(
        nb,
        kernel_name=KERNEL_NAME,
        timeout=TIMEOUT,
        allow_errors=False,
        resources={"metadata": {"path": str(tmp_path)}},  # figures or files a notebook writes go here
    )
    try:
        client.execute()
    except nbclient.exceptions.CellExecutionError as exc:  # show the cell's traceback, not nbclient's
        pytest.fail(f"{path.name}: {exc}", pytrace=False)
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o.get("output_type") == "error"]
    if "matplotlib" in path.read_text(encoding="utf-8"):  # the figures were really drawn
        assert any("image/png" in o.get("data", {}) for o in outputs), f"{path.name} rendered no figure"
