"""Deprecated argument names: the conventional name wins, the old one still works with a DeprecationWarning.

The conventions every public signature follows: ``rtol``/``atol`` for tolerances, ``max_steps`` for caps
on iterations, ``seed`` (an int or a numpy Generator) for randomness.
"""

from __future__ import annotations

import warnings
from typing import TypeVar

from riemdln._errors import RiemdlnValueError

__all__ = ["renamed"]

T = TypeVar("T")


def renamed(where: str, new: str, old: str, new_value: T | None, old_value: T | None, default: T) -> T:
    """The value of argument ``new`` of ``where``, given also under its deprecated name ``old`` (None: not given).

    Giving ``old`` warns (:class:`DeprecationWarning`); giving both is a :class:`RiemdlnValueError`.
    """
    if old_value is None:
        return default if new_value is None else new_value
    if new_value is not None:
        raise RiemdlnValueError(f"`{old}` is the deprecated name of `{new}` in {where}; give `{new}` only.")
    warnings.warn(f"{where}({old}=...) is deprecated; use {new}=... instead.", DeprecationWarning, stacklevel=3)
    return old_value
