"""One sweep runner for the studies: any :class:`concurrent.futures.Executor`, results in task order.

A sweep maps a picklable top-level function over a list of tasks (seeds × depths × scales ...). It runs

* inline (``jobs=1``, no executor): the reference, deterministic, easiest to debug;
* on a local process pool (``jobs > 1``);
* on any executor the caller passes — for instance a Dask distributed cluster through
  :func:`dask_executor` (``riemdln reproduce --scheduler ADDRESS``).

Results come back in the order of ``tasks`` whatever the completion order, and every task is a pure
function of its arguments (seeds included), so the results do not depend on where they ran.

>>> from riemdln.studies.sweep import run_sweep
>>> run_sweep(pow, [(2, 3), (3, 2)])
[8, 9]
"""

from __future__ import annotations

import concurrent.futures as cf
import contextlib
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from riemdln._errors import MissingExtraError
from riemdln._validation import RiemdlnValueError

__all__ = ["run_sweep", "local_executor", "dask_executor", "check_scheduler_address", "MissingExtraError"]


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
# the thread counts of BLAS and of numba's parallel loops (the compiled d = 2 Langevin step)
BLAS_THREAD_VARIABLES = (
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "BLIS_NUM_THREADS",
    "NUMBA_NUM_THREADS",
)


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


PR_SET_PDEATHSIG = 1  # linux/prctl.h
WATCHDOG_PERIOD = 0.5  # seconds between two looks at the parent pid


def _die_with_parent(parent: int) -> None:
    """Make this (worker) process die when ``parent`` does, however the parent ends.

    On Linux the kernel sends SIGKILL at the parent's death (``prctl(PR_SET_PDEATHSIG)``); everywhere a
    daemon thread also polls the parent pid and kills this process when it changed (the fallback, and
    the guard against the parent dying before the prctl call).
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc prctl: the watchdog alone
            pass
    if os.getppid() != parent:  # the parent died before we got here
        os._exit(1)

    def watch() -> None:
        while True:
            time.sleep(WATCHDOG_PERIOD)
            if os.getppid() != parent:
                os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="riemdln-parent-watchdog", daemon=True).start()


def _terminate_pool(pool: cf.ProcessPoolExecutor, grace: float = 5.0) -> None:
    """Cancel what is queued, stop the workers (SIGTERM, then SIGKILL after ``grace`` s), reap them."""
    procs = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for proc in procs:
        if proc.is_alive():
            proc.terminate()
    deadline = time.monotonic() + grace
    for proc in procs:
        proc.join(max(0.0, deadline - time.monotonic()))
        if proc.is_alive():
            proc.kill()
            proc.join(1.0)


@contextlib.contextmanager
def local_executor(jobs: int | None) -> Iterator[cf.Executor | None]:
    """A process pool of ``jobs`` workers (``None`` inline when ``jobs <= 1``), shut down on every exit.

    The workers are started fresh ("spawn") with their BLAS limited to cores // jobs threads (at least
    one), unless the caller set the BLAS thread variables: ``jobs`` workers each running a BLAS thread per
    core oversubscribe the machine (``riemdln reproduce --quick`` on 2 cores: 33 s with 2 workers of 2
    threads, 12 s with one thread each). Spawned workers import the caller's main module: in a script,
    create the pool under ``if __name__ == "__main__":``.

    The workers die with this process, however it ends (SIGKILL and the OOM killer included): each asks
    the kernel for a SIGKILL at its parent's death (Linux ``PR_SET_PDEATHSIG``) and runs a watchdog
    thread on the parent pid. An exception or interrupt in the ``with`` block cancels the queued tasks
    and terminates the workers; a normal exit waits for them.
    """
    if jobs is None or jobs <= 1:
        yield None
        return
    threads = str(max(1, (os.cpu_count() or 1) // jobs))
    context = multiprocessing.get_context("spawn")
    with _environment(dict.fromkeys(BLAS_THREAD_VARIABLES, threads)):
        pool = cf.ProcessPoolExecutor(
            max_workers=jobs, mp_context=context, initializer=_die_with_parent, initargs=(os.getpid(),)
        )
        try:
            yield pool
        except BaseException:
            _terminate_pool(pool)
            raise
        pool.shutdown(wait=True)


_ADDRESS = re.compile(
    r"^(?:(?P<scheme>tcp|tls|ucx|ws|wss|inproc)://)?(?:\[[0-9a-fA-F:]+\]|[A-Za-z0-9_.-]+)(?P<port>:\d{1,5})?(?:/[\w./-]*)?$"
)


def check_scheduler_address(address) -> str:
    """``address`` must look like ``[tcp://]host[:port]``; checked before any connection is tried."""
    match = _ADDRESS.match(address.strip()) if isinstance(address, str) else None
    if match is None or not (match["scheme"] or match["port"]):
        raise RiemdlnValueError(f"`scheduler` must be an address like tcp://host:8786; got {address!r}.")
    if match["port"] and not 1 <= int(match["port"][1:]) <= 65535:
        raise RiemdlnValueError(f"`scheduler` port must be in 1..65535; got {match['port'][1:]} in {address!r}.")
    return address.strip()


# The Dask handshake is probed on a plain socket first, bounded in time: the client's own `timeout` bounds
# only the TCP connect, so a service that accepts and never speaks would hang it, and one that greets with
# text would have its first 8 bytes read as a frame length (2.82 EiB for "SSH-2.0-").
HANDSHAKE_SECONDS = 10.0
_MAX_HANDSHAKE_BYTES = 1 << 20


def _host_port(address: str) -> tuple[str, int] | None:
    """(host, port) of a ``tcp://`` (or scheme-less) address with a port, else None (not probed)."""
    match = _ADDRESS.match(address)
    if match is None or match["scheme"] not in (None, "tcp") or not match["port"]:
        return None
    rest = address.split("://", 1)[-1]
    host = rest.rsplit(":", 1)[0].strip("[]")
    return host, int(match["port"][1:])


def _recv_exactly(sock, n: int, deadline: float) -> bytes:
    import time

    data = b""
    while len(data) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            chunk = sock.recv(n - len(data))
        except TimeoutError:  # silent: the caller says so
            break
        if not chunk:
            break
        data += chunk
    return data


def probe_dask(address: str, seconds: float = HANDSHAKE_SECONDS) -> None:
    """Refuse, within ``seconds``, an address where no Dask scheduler answers the handshake.

    A Dask comm sends its handshake (an 8-byte little-endian length, then msgpack frames naming the
    ``pickle-protocol``) as soon as it accepts; anything else is not a scheduler."""
    import socket
    import struct
    import time

    target = _host_port(address)
    if target is None:
        return
    deadline = time.monotonic() + seconds
    try:
        with socket.create_connection(target, timeout=seconds) as sock:
            head = _recv_exactly(sock, 8, deadline)
            size = struct.unpack("<Q", head)[0] if len(head) == 8 else 0
            body = _recv_exactly(sock, size, deadline) if 0 < size <= _MAX_HANDSHAKE_BYTES else b""
    except OSError as exc:
        raise RiemdlnValueError(
            f"`scheduler` {address!r} is unreachable ({type(exc).__name__}: {exc}); start one with "
            "`dask scheduler` or drop --scheduler to run locally."
        ) from None
    if len(body) != size or size == 0 or b"pickle-protocol" not in body:
        said = f"it sent {head[:40]!r}" if head else f"it sent nothing within {seconds:g} s"
        raise RiemdlnValueError(
            f"`scheduler` {address!r} accepted the connection but is not a Dask scheduler ({said}); check the "
            "address and port (a Dask scheduler listens on 8786 by default)."
        )


@contextlib.contextmanager
def dask_executor(address: str, timeout: float = 10.0) -> Iterator[cf.Executor]:
    """An executor on the Dask distributed scheduler at ``address`` (``tcp://host:port``).

    Raises
    ------
    MissingExtraError
        If dask.distributed is not installed (``pip install "riemdln[dask]"``).
    RiemdlnValueError
        If the scheduler cannot be reached within ``timeout`` seconds, or the service there does not answer
        the Dask handshake within :data:`HANDSHAKE_SECONDS` (:func:`probe_dask`).
    """
    address = check_scheduler_address(address)
    try:
        from distributed import Client
    except ImportError:
        raise MissingExtraError('`--scheduler` needs dask.distributed: pip install "riemdln[dask]"') from None
    probe_dask(address)
    try:
        client = Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        raise RiemdlnValueError(
            f"`scheduler` {address!r} is unreachable ({type(exc).__name__}); start one with "
            "`dask scheduler` or drop --scheduler to run locally."
        ) from None
    try:
        yield client.get_executor()
    finally:
        client.close()
