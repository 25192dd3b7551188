"""Files: written so that nothing half-written ever looks complete, and folders locked by their user.

:func:`atomic_write` writes a temporary name, then renames it (the temporary is removed on any failure);
:func:`folder_lock` holds an operating-system lock on a file of the folder (:mod:`filelock`), so that two runs
never write one folder, and a killed run's lock is released with its process.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

from riemdln._errors import LockBusyError, LockedError

__all__ = ["atomic_write", "folder_lock", "LockBusyError", "LockedError", "LOCK_NAME", "HOLDER_NAME"]

LOCK_NAME = ".riemdln.lock"
HOLDER_NAME = ".riemdln.lock.holder"


def atomic_write(path: str | os.PathLike, text: str | bytes) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``.

    The file gets the usual permissions (0666 minus the umask), not mkstemp's 0600. On any failure
    (a full disk, an interrupt) the temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb" if isinstance(text, bytes) else "w") as fh:
            fh.write(text)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(tmp, 0o666 & ~mask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def _holder(folder: Path) -> str:
    """Who holds ``folder``'s lock, as its holder file says: "process <pid> on <host>" or "another process"."""
    try:
        pid_text, host = (folder.joinpath(HOLDER_NAME).read_text().split("\n") + [""])[:2]
        pid, host = int(pid_text), host.strip()
    except (OSError, ValueError):  # not written yet, or removed just now
        return "another process"
    if host == socket.gethostname() and not _pid_alive(pid):  # left by a killed holder; the new one writes soon
        return "another process"
    return f"process {pid} on {host}"


# lock file path -> pid of this process while it holds that lock (a forked child does not inherit the hold)
_HELD: dict[str, int] = {}


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str, wait: float = 0.0, poll: float = 0.2) -> Iterator[Path]:
    """Hold ``folder/.riemdln.lock`` (an operating-system file lock, :mod:`filelock`) for the ``with`` block.

    A lock held by another process is waited for up to ``wait`` seconds (polled every ``poll`` seconds), then
    refused with :class:`LockBusyError` naming ``what``, the folder and the holder (``folder/.riemdln.lock.holder``
    holds its pid and host while it runs). The operating system releases the lock of a process that dies, so a
    killed run never blocks the next one, and two processes starting at once cannot both take it. A lock this
    process holds already is re-entered (the ``--out`` and the cache may be one folder). The lock file itself
    stays in the folder (removing it would let two processes lock two different files of one name).
    """
    from filelock import FileLock, Timeout

    folder = Path(folder)
    lock_path = folder / LOCK_NAME
    key = os.path.realpath(lock_path)
    if _HELD.get(key) == os.getpid():  # held by this process already: nested
        yield lock_path
        return
    lock = FileLock(lock_path, thread_local=False)
    try:
        lock.acquire(timeout=max(float(wait), 0.0), poll_interval=poll)
    except Timeout:
        raise LockBusyError(
            f"`{what}` {folder} is in use by {_holder(folder)} (lock file {lock_path}); wait for it to finish."
        ) from None
    _HELD[key] = os.getpid()
    try:
        atomic_write(folder / HOLDER_NAME, f"{os.getpid()}\n{socket.gethostname()}\n")
        yield lock_path
    finally:
        del _HELD[key]
        with contextlib.suppress(OSError):
            (folder / HOLDER_NAME).unlink()
        lock.release()
