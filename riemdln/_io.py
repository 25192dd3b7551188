"""Files: written so that nothing half-written ever looks complete, and folders locked by their user.

:func:`atomic_write` writes a temporary name, then renames it (the temporary is removed on any failure);
:func:`folder_lock` holds a lock file with the holder's pid, so that two runs never write one folder.
"""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from riemdln._errors import LockedError

__all__ = ["atomic_write", "folder_lock", "LockedError", "LOCK_NAME"]

LOCK_NAME = ".riemdln.lock"




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


def _holder(lock: Path) -> tuple[int, str] | None:
    """(pid, host) of the lock file, or None when it is unreadable or half-written."""
    try:
        pid_text, host = (lock.read_text().split("\n") + [""])[:2]
        return int(pid_text), host.strip()
    except (OSError, ValueError):
        return None


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike, what: str, wait: float = 0.0, poll: float = 0.2) -> Iterator[Path]:
    """Hold ``folder/.riemdln.lock`` (content: the holder's pid and host) for the ``with`` block.

        A lock held by a live process is waited for up to ``wait`` seconds, then refused with
        :class:`LockedError` naming ``what`` and the holder's pid. A lock whose pid is dead on this host
        (a killed run) is stale and taken over. A lock this process holds already is re-entered (the
    ``--out`` and the cache may be one folder). The lock file is removed on exit by its taker.
    """
    folder = Path(folder)
    lock = folder / LOCK_NAME
    me = f"{os.getpid()}\n{socket.gethostname()}\n"
    deadline = time.monotonic() + wait
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            holder = _holder(lock)
            if holder == (os.getpid(), socket.gethostname()):  # held by this process already: nested
                yield lock
                return
            if holder is not None and holder[1] == socket.gethostname() and not _pid_alive(holder[0]):
                with contextlib.suppress(FileNotFoundError):  # stale: its holder died
                    lock.unlink()
                continue
            if holder is None:  # being written right now, or garbage: garbage older than 10 s is stale
                with contextlib.suppress(OSError):
                    if time.time() - lock.stat().st_mtime > 10:
                        lock.unlink()
                        continue
            if time.monotonic() >= deadline:
                who = f"process {holder[0]} on {holder[1]}" if holder else "another process"
                raise LockedError(
                    f"`{what}` {folder} is in use by {who} (lock file {lock}); wait for it to finish, "
                    "or remove the lock file if that process is gone."
                ) from None
            time.sleep(poll)
            continue
        try:
            os.write(fd, me.encode())
        finally:
            os.close(fd)
        break
    try:
        yield lock
    finally:
        with contextlib.suppress(OSError):
            if lock.read_text() == me:
                lock.unlink()
