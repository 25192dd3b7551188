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
    """Base class of every exception riemdln raises on purpose."""


class RiemdlnValueError(RiemdlnError, ValueError):
    """A bad argument to riemdln. Subclass of :class:`ValueError`; the message names the argument."""


class LockBusyError(RiemdlnError, RuntimeError):
    """Another live process holds the lock of a folder (``--out`` or the derivation cache)."""


LockedError = LockBusyError  # the earlier name


class ConvergenceError(RiemdlnError, RuntimeError):
    """A numerical solver did not converge (geodesic shooting, a boundary-value or linear solve)."""


class MissingExtraError(RiemdlnError, ImportError):
    """An optional dependency is not installed; the message names the ``pip install`` that fixes it."""


class LatexError(RiemdlnError, RuntimeError):
    """pdflatex is missing or failed; the message says which and how to fix it."""
