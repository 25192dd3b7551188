"""Shared fixtures: depths, seeded generators, the slow marker."""

from __future__ import annotations

import math
import os
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
    """A private derivation cache, filled once per test session (never the user's cache)."""
    from riemdln.derivations import derive

    path = tmp_path_factory.mktemp("riemdln-cache")
    results = derive(cache=path)
    return path, results


@pytest.fixture(scope="session")
def formulas(derive_cache):
    """The formula catalog built from the session's derivations."""
    from riemdln.formulas import _build

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
