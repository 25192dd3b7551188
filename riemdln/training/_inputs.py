"""Validation of :func:`riemdln.check_training`'s arguments (every error before any work)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Sequence

import numpy as np

from riemdln._validation import RiemdlnValueError, short
from riemdln.training._convert import as_float64
from riemdln.training._engine import EnergyEval, Run
from riemdln.training.recorder import TrainingRecorder

ORDERS = ("W1_first", "WN_first")


def _records(weights, name: str) -> tuple[list[list[np.ndarray]], float, tuple[int, ...] | None]:
    if isinstance(weights, TrainingRecorder):
        return [list(r) for r in weights.weights], weights.unit_roundoff, weights.steps
    if isinstance(weights, np.ndarray) or not isinstance(weights, Sequence):
        raise RiemdlnValueError(
            f"`{name}` must be a sequence over recorded steps of sequences of N factor matrices, or a "
            f"TrainingRecorder; got {short(weights)}."
        )
    out, u = [], 2.0**-53
    for k, rec in enumerate(weights):
        if isinstance(rec, np.ndarray) and rec.ndim == 3:
            rec = list(rec)
        if isinstance(rec, str) or not isinstance(rec, Sequence) or len(rec) == 0:
            raise RiemdlnValueError(
                f"`{name}[{k}]` must be a non-empty sequence of factor matrices; got {short(rec)}."
            )
        layers = []
        for j, w in enumerate(rec):
            if k and j < len(weights[k - 1]) and w is weights[k - 1][j]:
                raise RiemdlnValueError(
                    f"`{name}[{k}][{j}]` is the same object as `{name}[{k - 1}][{j}]`: the records hold one tensor "
                    "that training updates in place; record copies (TrainingRecorder, tensor.detach().clone(), "
                    "array.copy())."
                )
            arr, uj = as_float64(w, f"{name}[{k}][{j}]")
            layers.append(arr)
            u = max(u, uj)
        out.append(layers)
    return out, u, None


def _check_shapes(W: list[list[np.ndarray]], name: str) -> None:
    ref = [w.shape for w in W[0]]
    for k, rec in enumerate(W[1:], start=1):
        shapes = [w.shape for w in rec]
        if shapes != ref:
            raise RiemdlnValueError(
                f"`{name}` must have the same layer shapes at every record; record 0 has {ref}, record {k} has "
                f"{shapes}."
            )


def _chains(shapes, order: str) -> bool:
    if order == "WN_first":  # weights[0] is the last factor: X = weights[0] @ ... @ weights[-1]
        shapes = shapes[::-1]
    return all(shapes[j + 1][1] == shapes[j][0] for j in range(len(shapes) - 1))


def _no_shared_records(W, name: str) -> None:
    for k in range(1, len(W)):
        for j, (a, b) in enumerate(zip(W[k - 1], W[k], strict=True)):
            if np.may_share_memory(a, b):
                raise RiemdlnValueError(
                    f"`{name}[{k}][{j}]` shares memory with `{name}[{k - 1}][{j}]`: the records are views of one "
                    "tensor that training updates in place; record copies (TrainingRecorder, "
                    "tensor.detach().clone(), array.copy())."
                )


def _first_nonfinite(W, steps, name: str) -> None:
    for k, rec in enumerate(W):
        for j, w in enumerate(rec):
            if not np.isfinite(w).all():
                raise RiemdlnValueError(
                    f"`{name}` must be finite; {name}[{k}][{j}] (step {int(steps[k])}) is the first with NaN or inf "
                    "entries (the run diverged or a gradient overflowed there)."
                )


def _steps(steps, count: int) -> np.ndarray:
    if steps is None:
        return np.arange(count)
    arr = np.asarray(steps)
    ok = arr.ndim == 1 and arr.dtype.kind in "iu" and len(arr) == count
    if not ok or np.any(np.diff(arr) <= 0) or (count and arr[0] < 0):
        raise RiemdlnValueError(
            f"`steps` must be {count} increasing non-negative integers (the step number of each record); got "
            f"{short(steps)}."
        )
    return arr.astype(np.int64)


def _positive(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value <= 0:
        raise RiemdlnValueError(f"`{name}` must be a finite real number > 0; got {short(value)}.")
    return float(value)


def _time_steps(lr, times, steps: np.ndarray) -> np.ndarray | None:
    if lr is not None and times is not None:
        raise RiemdlnValueError("`lr` and `times` exclude each other (a discrete run or a continuous one); got both.")
    if times is not None:
        t = np.asarray(times, dtype=float) if not isinstance(times, str) else np.asarray([])
        if t.shape != steps.shape or not np.isfinite(t).all() or np.any(np.diff(t) <= 0):
            raise RiemdlnValueError(
                f"`times` must be {len(steps)} increasing finite numbers (one per record); got {short(times)}."
            )
        return np.diff(t)
    if lr is None:
        return None
    if isinstance(lr, numbers.Real):
        return _positive(lr, "lr") * np.diff(steps).astype(float)
    sched = np.asarray(lr, dtype=float) if not isinstance(lr, str) else np.asarray([])
    taken = int(steps[-1] - steps[0])
    if sched.ndim != 1 or len(sched) != taken:
        raise RiemdlnValueError(
            f"`lr` as a schedule must give one learning rate per step taken between the first and the last record "
            f"({taken} steps: {int(steps[0])} to {int(steps[-1])}); got {short(lr)} of length {sched.size}."
        )
    if not np.isfinite(sched).all() or np.any(sched <= 0):
        raise RiemdlnValueError("`lr` (schedule) must hold finite learning rates > 0.")
    cum = np.concatenate([[0.0], np.cumsum(sched)])
    return np.diff(cum[steps - steps[0]])


def build_run(weights, *, lr, times, energy, order: str, steps, name: str = "weights") -> tuple[Run, bool]:
    """Return the validated :class:`Run` (factors in W_1-first order) and whether the list was reversed."""
    if not isinstance(order, str) or order not in ORDERS:
        raise RiemdlnValueError(
            f"`order` must be one of {ORDERS} (W1_first: weights[0] acts first, X = weights[-1] @ ... @ "
            f"weights[0]; WN_first: X = weights[0] @ ... @ weights[-1]); got {short(order)}."
        )
    W, u, rec_steps = _records(weights, name)
    if len(W) < 2:
        raise RiemdlnValueError(f"`{name}` must hold at least two records (steps) to check; got {len(W)}.")
    _check_shapes(W, name)
    _no_shared_records(W, name)
    shapes = [w.shape for w in W[0]]
    if not _chains(shapes, order):
        other = ORDERS[1 - ORDERS.index(order)]
        hint = f"; they chain with order={other!r}" if _chains(shapes, other) else ""
        raise RiemdlnValueError(f"`{name}`: the factors' shapes {shapes} do not chain in order={order!r}{hint}.")
    if steps is None and rec_steps is not None:
        steps = rec_steps
    step_arr = _steps(steps, len(W))
    _first_nonfinite(W, step_arr, name)
    h = _time_steps(lr, times, step_arr)
    reverse = order == "WN_first"
    if reverse:  # X = weights[0] @ ... @ weights[-1]: read the list backwards
        W = [rec[::-1] for rec in W]
    s = np.diff(step_arr).astype(float)
    interval = 0.5 * np.ones_like(s) if times is not None else (s - 1) / (2 * s)
    X_shape = (W[0][-1].shape[0], W[0][0].shape[1])
    ev = None if energy is None else EnergyEval(energy, X_shape)
    run = Run(
        W=W, steps=step_arr, h=h, interval=interval, every_step=bool(np.all(s == 1)) and times is None, u=u, energy=ev
    )
    return run, reverse
