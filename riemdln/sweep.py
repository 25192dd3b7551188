"""One sweep runner for the studies: any :class:`concurrent.futures.Executor`, results in task order.

A sweep maps a picklable top-level function over a list of tasks (seeds × depths × scales ...). It runs

* inline (``jobs=1``, no executor): the reference, deterministic, easiest to debug;
* on a local process pool (``jobs > 1``);
* on any executor the caller passes — for instance a Dask distributed cluster through
  :func:`dask_executor` (``riemdln reproduce --scheduler ADDRESS``).

Results come back in the order of ``tasks`` whatever the completion order, and every task is a pure
function of its arguments (seeds included), so the results do not depend on where they ran.

>>> from riemdln.sweep import run_sweep
>>> run_sweep(pow, [(2, 3), (3, 2)])
[8, 9]
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from riemdln._validation import RiemdlnValueError

__all__ = ["run_sweep", "local_executor", "dask_executor", "MissingExtraError"]


class MissingExtraError(RiemdlnValueError):
    """An optional dependency is not installed; the message names the ``pip install`` that fixes it."""


def _progress_bar(total: int, desc: str, enabled: bool | None):
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="run", leave=False, file=sys.stderr)


def run_sweep(
    fn: Callable[..., Any],
    tasks: Sequence[tuple | dict],
    *,
    executor: cf.Executor | None = None,
    progress: bool | None = None,
    desc: str = "sweep",
) -> list:
    """Return ``[fn(*task) or fn(**task) for task in tasks]``, possibly in parallel, in task order.

    Parameters
    ----------
    fn : callable
        A picklable (module-level) function.
    tasks : sequence of tuple or dict
        Positional or keyword arguments, one entry per call.
    executor : concurrent.futures.Executor, optional
        Where to run; ``None`` runs inline in this process.
    progress : bool, optional
        Show a tqdm bar (default: when stderr is a terminal).
    """
    tasks = list(tasks)
    bar = _progress_bar(len(tasks), desc, progress)

    def call(task):
        return fn(**task) if isinstance(task, dict) else fn(*task)

    try:
        if executor is None:
            out = []
            for task in tasks:
                out.append(call(task))
                if bar is not None:
                    bar.update(1)
            return out
        futures = [
            executor.submit(fn, **task) if isinstance(task, dict) else executor.submit(fn, *task) for task in tasks
        ]
        index = {f: k for k, f in enumerate(futures)}
        results: list = [None] * len(tasks)
        for fut in cf.as_completed(futures):
            results[index[fut]] = fut.result()
            if bar is not None:
                bar.update(1)
        return results
    finally:
        if bar is not None:
            bar.close()


# the thread-count variables of the BLAS libraries numpy and scipy may be built against
BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables that are not set already; restore the environment on exit."""
    added = {k: v for k, v in values.items() if k not in os.environ}
    os.environ.update(added)
    try:
        yield
    finally:
        for k in added:
            os.environ.pop(k, None)


@contextlib.contextmanager
def local_executor(jobs: int | None) -> Iterator[cf.Executor | None]:
    """A process pool of ``jobs`` workers (``None`` inline when ``jobs <= 1``), shut down on exit.

    The workers are started fresh ("spawn") with their BLAS limited to cores // jobs threads (at least
    one), unless the caller set the BLAS thread variables: ``jobs`` workers each running a BLAS thread per
    core oversubscribe the machine (``riemdln reproduce --quick`` on 2 cores: 33 s with 2 workers of 2
    threads, 12 s with one thread each). Spawned workers import the caller's main module: in a script,
    create the pool under ``if __name__ == "__main__":``.
    """
    if jobs is None or jobs <= 1:
        yield None
        return
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    context = multiprocessing.get_context("spawn")
    with _environment(dict.fromkeys(BLAS_THREAD_VARIABLES, threads)):
        with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            yield pool


@contextlib.contextmanager
def dask_executor(address: str, timeout: float = 10.0) -> Iterator[cf.Executor]:
    """An executor on the Dask distributed scheduler at ``address`` (``tcp://host:port``).

    Raises
    ------
    MissingExtraError
        If dask.distributed is not installed (``pip install "riemdln[dask]"``).
    RiemdlnValueError
        If the scheduler cannot be reached within ``timeout`` seconds.
    """
    try:
        from distributed import Client
    except ImportError:
        raise MissingExtraError('`--scheduler` needs dask.distributed: pip install "riemdln[dask]"') from None
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise RiemdlnValueError(
            f"`scheduler` {address!r} is unreachable ({type(exc).__name__}); start one with "
            "`dask scheduler` or drop --scheduler to run locally."
        ) from None
    try:
        yield client.get_executor()
    finally:
        client.close()
