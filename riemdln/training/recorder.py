"""A bounded-memory recorder of a training run's factors (numpy, PyTorch, JAX, ...)."""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import numpy as np

from riemdln._validation import RiemdlnValueError, short
from riemdln.training._convert import as_float64

__all__ = ["TrainingRecorder"]


def _positive_int(value, name: str, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise RiemdlnValueError(f"`{name}` must be an integer >= {low}; got {short(value)}.")
    return int(value)


class TrainingRecorder:
    r"""Keep float64 copies of the factors every ``every`` steps, never more than ``max_records`` of them.

    Call :meth:`record` inside the training loop with the step number and the factors
    ``[W_1, ..., W_N]`` (numpy arrays, PyTorch tensors, also with ``requires_grad``, JAX arrays); then pass the
    recorder to :func:`riemdln.check_training`. The first call is recorded; later steps are recorded when
    they are a multiple of the current spacing after the first, so ``rec.record(step, ...)`` can be called at
    every step.

    Memory is bounded: when ``max_records`` records are held, every second one is dropped (the first stays)
    and the spacing doubles, so the records stay evenly spaced in steps and at most ``max_records`` records
    are ever held (about ``max_records * sum(W_j.size) * 8`` bytes).

    Parameters
    ----------
    every : int
        Record steps that are multiples of this (default 1: every step). Every-step records make the
        checks sharpest: the balance residual of gradient descent is then zero to rounding, and sequential
        updates and the exact :math:`\eta^2` balance identity can be told apart.
    max_records : int
        At most this many records (>= 3; default 1001).

    Attributes
    ----------
    steps : tuple of int
        The recorded step numbers.
    weights : tuple of tuple of ndarray
        ``weights[k][j]`` is :math:`W_{j+1}` at ``steps[k]`` (float64 copies).
    unit_roundoff : float
        The largest unit roundoff of the recorded dtypes (float32 tensors: :math:`2^{-24}`).

    See Also
    --------
    riemdln.check_training : judges the recorded run against the theory.
    riemdln.TrainingCheck : what it returns.

    Examples
    --------
    >>> import numpy as np
    >>> rec = TrainingRecorder(every=2, max_records=3)
    >>> for step in range(9):
    ...     kept = rec.record(step, [np.full((2, 2), float(step))])
    >>> rec.steps, rec.every
    ((0, 4, 8), 4)
    """

    def __init__(self, every: int = 1, max_records: int = 1001):
        self.every = _positive_int(every, "every", 1)
        self.max_records = _positive_int(max_records, "max_records", 3)
        self._steps: list[int] = []
        self._weights: list[tuple[np.ndarray, ...]] = []
        self.unit_roundoff = 2.0**-53

    def record(self, step: int, weights: Sequence) -> bool:
        """Record ``weights`` (a sequence of N matrices) at ``step`` if it is due; return whether it was kept."""
        step = _positive_int(step, "step", 0)
        if self._steps and step <= self._steps[-1]:
            raise RiemdlnValueError(f"`step` must increase from call to call; got {step} after {self._steps[-1]}.")
        if self._steps and (step - self._steps[0]) % self.every:
            return False
        if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence) or not len(weights):
            raise RiemdlnValueError(f"`weights` must be a non-empty sequence of matrices; got {short(weights)}.")
        copies = []
        for j, w in enumerate(weights):
            arr, u = as_float64(w, f"weights[{j}]")
            copies.append(np.array(arr, dtype=np.float64, copy=True))
            self.unit_roundoff = max(self.unit_roundoff, u)
        if len(self._steps) == self.max_records:
            self._thin()
            if (step - self._steps[0]) % self.every:
                return False
        self._steps.append(step)
        self._weights.append(tuple(copies))
        return True

    def _thin(self) -> None:
        self._steps = self._steps[::2]
        self._weights = self._weights[::2]
        self.every *= 2

    @property
    def steps(self) -> tuple[int, ...]:
        return tuple(self._steps)

    @property
    def weights(self) -> tuple[tuple[np.ndarray, ...], ...]:
        return tuple(self._weights)

    def __len__(self) -> int:
        return len(self._steps)

    def __repr__(self) -> str:
        return f"TrainingRecorder(every={self.every}, max_records={self.max_records}, records={len(self)})"
