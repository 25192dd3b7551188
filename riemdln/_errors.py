"""The exceptions riemdln raises: one base, one class per kind of failure.

==========================  =====================================  ==========================================
exception                   also a                                 raised when
==========================  =====================================  ==========================================
:class:`RiemdlnError`       :class:`Exception`                     base of everything below
:class:`RiemdlnValueError`  :class:`ValueError`                    an argument is bad (the message names it)
:class:`LockBusyError`      :class:`RuntimeError`                  another live process holds a folder's lock
:class:`ConvergenceError`   :class:`RuntimeError`                  a solver (shooting, a linear solve) failed
:class:`MissingExtraError`  :class:`ImportError`                   an optional dependency is not installed
:class:`LatexError`         :class:`RuntimeError`                  pdflatex is missing or failed
==========================  =====================================  ==========================================

So ``except ValueError`` catches bad arguments only, never lock contention or a failed solve.

This module is the bottom of the package: it imports nothing from riemdln.
"""

from __future__ import annotations

__all__ = [
    "RiemdlnError",
    "RiemdlnValueError",
    "LockBusyError",
    "LockedError",
    "ConvergenceError",
    "MissingExtraError",
    "LatexError",
]


class RiemdlnError(Exception):
    """Base class of every exception riemdln raises on purpose.

    See Also
    --------
    RiemdlnValueError, LockBusyError, ConvergenceError, MissingExtraError, LatexError

    Examples
    --------
    >>> import riemdln
    >>> try:
    ...     riemdln.multiplier(4.0, 1.0, depth=0)
    ... except riemdln.RiemdlnError as exc:
    ...     print(type(exc).__name__)
    RiemdlnValueError
    """


class RiemdlnValueError(RiemdlnError, ValueError):
    """A bad argument to riemdln. Subclass of :class:`ValueError`; the message names the argument.

    Raised before any work is done, so nothing is half-computed or half-written.

    See Also
    --------
    RiemdlnError : the base class.

    Examples
    --------
    >>> import riemdln
    >>> try:
    ...     riemdln.multiplier(4.0, 1.0, depth=-1)
    ... except ValueError as exc:
    ...     print("`depth`" in str(exc))
    True
    """


class LockBusyError(RiemdlnError, RuntimeError):
    """Another live process holds the lock of a folder (``--out`` or the derivation cache).

    A lock left by a process that died does not block: it is taken over.

    See Also
    --------
    riemdln.reproduce, riemdln.derive : the two commands that lock a folder.

    Examples
    --------
    >>> import riemdln
    >>> issubclass(riemdln.LockBusyError, RuntimeError), issubclass(riemdln.LockBusyError, ValueError)
    (True, False)
    """


LockedError = LockBusyError  # the earlier name


class ConvergenceError(RiemdlnError, RuntimeError):
    """A numerical solver did not converge (geodesic shooting, a boundary-value or linear solve).

    See Also
    --------
    riemdln.log_map, riemdln.distance, riemdln.geodesic_between : the solvers that raise it.

    Examples
    --------
    >>> import riemdln
    >>> issubclass(riemdln.ConvergenceError, RuntimeError), issubclass(riemdln.ConvergenceError, ValueError)
    (True, False)
    """


class MissingExtraError(RiemdlnError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` that fixes it.

    See Also
    --------
    RiemdlnError : the base class.

    Examples
    --------
    >>> import riemdln
    >>> issubclass(riemdln.MissingExtraError, ImportError)
    True
    """


class LatexError(RiemdlnError, RuntimeError):
    """pdflatex is missing or failed; the message says which and how to fix it.

    See Also
    --------
    riemdln.derive : ``riemdln derive --pdf`` compiles the formula catalog with pdflatex.

    Examples
    --------
    >>> import riemdln
    >>> issubclass(riemdln.LatexError, RuntimeError)
    True
    """
