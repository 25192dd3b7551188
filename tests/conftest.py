"""Shared fixtures: depths, seeded generators, the session's derivation cache, lock-holding processes."""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

DEPTHS = (1, 2, 3, 5, 50, math.inf)
SEEDS = (0, 1, 2)


@pytest.fixture(params=SEEDS, ids=lambda s: f"seed{s}")
def rng(request) -> np.random.Generator:
    return np.random.default_rng(request.param)


@pytest.fixture(params=DEPTHS, ids=lambda n: f"N={n}")
def depth(request) -> float:
    return request.param


@pytest.fixture(scope="session")
def derive_cache(tmp_path_factory):
    """A private derivation cache, filled once per test session (never the user's cache).

    Under pytest-xdist the workers share one cache folder of the run: the first to get there derives (holding
    the cache's lock), the others wait on the lock and load what it derived.
    """
    from riemdln.symbolic.derivations import derive

    if os.environ.get("PYTEST_XDIST_WORKER"):
        path = tmp_path_factory.getbasetemp().parent / "riemdln-cache"
        path.mkdir(exist_ok=True)
    else:
        path = tmp_path_factory.mktemp("riemdln-cache")
    results = derive(cache=path)
    return path, results


@pytest.fixture(scope="session")
def formulas(derive_cache):
    """The formula catalog built from the session's derivations."""
    from riemdln.symbolic.formulas import _build

    return _build(derive_cache[1])


KERNEL_NAME = "riemdln-test-python3"


@pytest.fixture(scope="session")
def kernel_env(tmp_path_factory, derive_cache):
    """A kernelspec running ``sys.executable -m ipykernel_launcher``, found through ``JUPYTER_PATH``."""
    from ipykernel.kernelspec import write_kernel_spec

    import riemdln

    root = tmp_path_factory.mktemp("jupyter")
    write_kernel_spec(path=str(root / "kernels" / KERNEL_NAME))
    # the kernel imports the riemdln under test (installed or a source checkout), whatever its cwd
    package_root = str(Path(riemdln.__file__).resolve().parent.parent)
    pythonpath = os.pathsep.join(p for p in (package_root, os.environ.get("PYTHONPATH")) if p)
    return {
        "JUPYTER_PATH": str(root),
        "PYTHONPATH": pythonpath,
        "RIEMDLN_CACHE_DIR": str(derive_cache[0]),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    }


_LOCK_SCRIPT = """
import sys, time
from pathlib import Path
from riemdln._io import LockBusyError, folder_lock
folder, go = Path(sys.argv[1]), Path(sys.argv[2])
print("ready", flush=True)
while not go.exists():
    time.sleep(0.001)
try:
    with folder_lock(folder, "out"):
        print("ran", flush=True)
        time.sleep(float(sys.argv[3]))
except LockBusyError as exc:
    print("refused:", exc, flush=True)
"""


class LockProcesses:
    """Processes that try ``folder_lock(folder, "out")``: :meth:`start` returns one once it is ready, :meth:`go`
    lets every started one try the lock at once, :meth:`outcome` reads what it did ("ran" or "refused: ...")."""

    def __init__(self, signal: Path):
        self.signal = signal
        self.procs: list[subprocess.Popen] = []

    def start(self, folder: Path, hold: float = 60.0) -> subprocess.Popen:
        root = str(Path(__file__).resolve().parents[1])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p)}
        proc = subprocess.Popen(
            [sys.executable, "-c", _LOCK_SCRIPT, str(folder), str(self.signal), str(hold)],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.procs.append(proc)
        assert self.outcome(proc) == "ready"
        return proc

    def go(self) -> None:
        self.signal.touch()

    @staticmethod
    def outcome(proc: subprocess.Popen) -> str:
        assert proc.stdout is not None
        return proc.stdout.readline().strip()

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            if proc.stdout is not None:
                proc.stdout.close()


@pytest.fixture
def lock_processes(tmp_path):
    """A :class:`LockProcesses` whose processes are killed at the end of the test."""
    procs = LockProcesses(tmp_path / "go-signal")
    yield procs
    procs.close()
