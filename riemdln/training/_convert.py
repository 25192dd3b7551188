"""Array conversion for recorded weights: numpy, PyTorch, JAX or anything with ``__array__``/``__dlpack__``.

A tensor is read without a copy where the library allows it (a CPU tensor through DLPack or ``__array__``;
``requires_grad`` tensors are detached first), then converted to float64 (a copy only when the dtype is not
float64 already). The unit roundoff of the *input* dtype is returned with it: a float32 run is judged by float32
rounding, not float64's.
"""

from __future__ import annotations

import numpy as np

from riemdln._validation import RiemdlnValueError, short

__all__ = ["as_float64", "unit_roundoff"]

# bfloat16 keeps 8 significand bits; numpy does not know the dtype, torch and JAX do
_NAMED_ROUNDOFF = {"bfloat16": 2.0**-8, "float16": 2.0**-11, "float32": 2.0**-24, "float64": 2.0**-53}


def unit_roundoff(dtype) -> float:
    """Half the machine epsilon of a floating dtype (float64: 2^-53); integers count as exact (float64)."""
    name = str(dtype).rsplit(".", 1)[-1]
    if name in _NAMED_ROUNDOFF:
        return _NAMED_ROUNDOFF[name]
    try:
        dt = np.dtype(dtype)
    except TypeError:
        return 2.0**-53
    if dt.kind == "f":
        return float(np.finfo(dt).eps) / 2
    return 2.0**-53


def _to_numpy(value):
    detach = getattr(value, "detach", None)
    if callable(detach) and not isinstance(value, np.ndarray):  # torch: requires_grad tensors refuse __array__
        value = detach()
        if str(getattr(value, "device", "cpu")) != "cpu":
            value = value.cpu()
        if str(getattr(value, "dtype", "")).endswith("bfloat16"):  # numpy has no bfloat16: widen (exactly)
            value = value.float()
    if isinstance(value, np.ndarray):
        return value
    if hasattr(value, "__dlpack__"):
        try:
            return np.from_dlpack(value)  # zero copy for CPU memory
        except (TypeError, BufferError, RuntimeError, ValueError):
            pass
    return np.asarray(value)


def as_float64(value, name: str) -> tuple[np.ndarray, float]:
    """``(array, u)``: ``value`` as a float64 ndarray (no copy if it already is one) and its dtype's roundoff.

    Raises :class:`RiemdlnValueError` naming ``name`` for anything that is not a real 2-d array.
    """
    dtype = getattr(value, "dtype", None)
    try:
        arr = _to_numpy(value)
    except Exception as exc:  # noqa: BLE001 - a foreign object that cannot become an array
        raise RiemdlnValueError(
            f"`{name}` must be a real matrix (numpy, torch, JAX, ...); got {short(value)}."
        ) from exc
    if arr.dtype.kind not in "fiu" or arr.ndim != 2:
        got = f"dtype {arr.dtype}" if arr.ndim == 2 else f"shape {arr.shape}"
        raise RiemdlnValueError(f"`{name}` must be a real 2-d matrix; got {got}.")
    u = unit_roundoff(dtype if dtype is not None else arr.dtype)
    return np.asarray(arr, dtype=np.float64), u
