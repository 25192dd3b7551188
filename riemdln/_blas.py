"""BLAS thread policy of the public numerical entry points (the flows, Langevin, the geodesic solvers).

Their matrices are small (one SVD and a few products of d×d matrices per right-hand side), so OpenBLAS's
threads cost more than they gain, and far more on a shared machine: measured on 2 loaded cores, a 3×3 geodesic
boundary-value solve took 5× the wall time on the default two BLAS threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar, cast

__all__ = ["BLAS_ENV", "blas_threads", "with_blas_threads"]

_F = TypeVar("_F", bound=Callable[..., Any])

BLAS_ENV = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def blas_threads():
    """Context limiting BLAS to one thread while a simulator or a geodesic solver runs, unless the user chose a
    thread count.

    Measured on 2 cores (README, Benchmarks): the flows' matrices are small enough (one SVD and a few products
    of d×d matrices per right-hand side) that OpenBLAS's threads cost more than they gain up to d = 200 (3-5x
    the CPU from d = 30 up). Setting ``OPENBLAS_NUM_THREADS`` (or OMP/MKL/BLIS) to a non-empty value leaves
    the count alone; ``RIEMDLN_BLAS_THREADS=k`` (an integer >= 1; anything else means 1) uses k threads. On
    leaving the context the caller's count is restored.
    """
    import contextlib
    import os

    if any(os.environ.get(v) for v in BLAS_ENV):
        return contextlib.nullcontext()
    wanted = os.environ.get("RIEMDLN_BLAS_THREADS")
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - a dependency
        return contextlib.nullcontext()
    threads = int(wanted) if wanted and wanted.isdigit() and int(wanted) >= 1 else 1
    return threadpool_limits(limits=threads, user_api="blas")


def with_blas_threads(fn: _F) -> _F:
    """Decorator: run ``fn`` inside :func:`blas_threads` (signature, docstring and type kept).

    Applied to the public simulators and geodesic solvers, so that everything a call does — the integration,
    the diagnostics after it, chart changes and the SVDs between parts — runs under one thread policy
    (measured: a 100×100 depth-3 flow took 10× the CPU when its diagnostics ran on the default BLAS threads).
    Re-entrant: a decorated function called inside another one (``distance`` inside a study, the geodesic
    integrations inside ``geodesic_between``) runs directly, without a second change of the thread count
    (each costs milliseconds).
    """
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        if getattr(_STATE, "inside", False):
            return fn(*args, **kwargs)
        _STATE.inside = True
        try:
            with blas_threads():
                return fn(*args, **kwargs)
        finally:
            _STATE.inside = False

    return cast(_F, wrapper)


_STATE = threading.local()  # ``inside``: a decorated call is running in this thread
