"""Input checks. Every input error of the public API is raised from here.

Messages follow one pattern: "`{arg}` must be {requirement}; got {value!r}." plus the fix.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from riemdln._errors import RiemdlnValueError

__all__ = [
    "RiemdlnValueError",
    "check_depth",
    "check_matrix",
    "check_nonnegative",
    "check_full_rank",
    "check_broadcast",
    "check_integer",
    "check_seed",
    "check_allocation",
]


def short(value) -> str:
    """``repr(value)`` on one line (array reprs span several), at most 80 characters."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool) and abs(int(value)) >= 10**70:
        return (
            f"an integer of {len(str(abs(int(value))))} digits"
            if int(value).bit_length() < 14_000
            else "a huge integer"
        )
    try:
        text = " ".join(repr(value).split())
    except Exception:  # noqa: BLE001 - a repr that fails (an int beyond sys.get_int_max_str_digits, ...)
        text = f"<{type(value).__name__}>"
    return text if len(text) <= 80 else text[:77] + "..."


def check_depth(depth, normalized: bool = False, name: str = "depth") -> float:
    """Return ``depth`` as a float after checking ``depth >= 1`` (real) or ``math.inf``.

    ``math.inf`` needs ``normalized=True``: the raw metric has no infinite-depth limit.
    """
    if isinstance(depth, bool) or not isinstance(depth, numbers.Real):
        raise RiemdlnValueError(f"`{name}` must be a real number >= 1 or math.inf; got {short(depth)}.")
    try:
        value = float(depth)
    except OverflowError:  # an int beyond the double range: say how to ask for infinite depth
        raise RiemdlnValueError(
            f"`{name}` must be a real number >= 1 or math.inf; got {short(depth)} (too large for a float; "
            "use math.inf with normalized=True)."
        ) from None
    if math.isnan(value) or value < 1:
        raise RiemdlnValueError(f"`{name}` must be a real number >= 1 or math.inf; got {short(depth)}.")
    if math.isinf(value) and not normalized:
        raise RiemdlnValueError(
            f"`{name}=math.inf` requires `normalized=True`: the raw metric has no infinite-depth limit."
        )
    return value


def check_bool(value, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise RiemdlnValueError(f"`{name}` must be True or False; got {short(value)}.")
    return bool(value)


def check_finite_array(value, name: str, min_ndim: int = 0) -> np.ndarray:
    def message():
        return f"`{name}` must be an array of real numbers; got {short(value)}."

    try:
        raw = np.asarray(value)
        # complex input would lose its imaginary part (ComplexWarning), strings would be parsed: refuse both
        if raw.dtype.kind in "USc":
            raise RiemdlnValueError(message())
        arr = raw if raw.dtype == np.float64 else np.asarray(raw, dtype=float)
    except OverflowError:  # an int beyond the double range (10**400)
        raise RiemdlnValueError(
            f"`{name}` must be an array of finite real numbers; got {short(value)} (an integer too large for a float)."
        ) from None
    except (TypeError, ValueError) as exc:
        if isinstance(exc, RiemdlnValueError):
            raise
        raise RiemdlnValueError(message()) from None
    if arr.ndim < min_ndim:
        raise RiemdlnValueError(f"`{name}` must have at least {min_ndim} dimension(s); got shape {arr.shape}.")
    if arr.size and not np.all(np.isfinite(arr)):
        raise RiemdlnValueError(f"`{name}` must have finite entries (no NaN or inf); got {short(value)}.")
    return arr


def check_nonnegative(value, name: str) -> np.ndarray:
    arr = check_finite_array(value, name)
    if arr.size and np.any(arr < 0):
        raise RiemdlnValueError(f"`{name}` must be >= 0 (squared singular values); got {short(value)}.")
    return arr


def check_matrix(value, name: str) -> np.ndarray:
    """A finite real matrix, or a stack of them (shape ``(..., m, n)``, m, n >= 1)."""
    arr = check_finite_array(value, name, min_ndim=2)
    if arr.shape[-1] == 0 or arr.shape[-2] == 0:
        raise RiemdlnValueError(f"`{name}` must be a non-empty matrix; got shape {arr.shape}.")
    return arr


def check_same_shape(arr: np.ndarray, ref: np.ndarray, name: str, ref_name: str) -> None:
    """Same matrix shape as ``ref``, and a stack shape that broadcasts with ``ref``'s."""
    if arr.shape[-2:] != ref.shape[-2:]:
        raise RiemdlnValueError(f"`{name}` must have the shape of `{ref_name}` {ref.shape[-2:]}; got {arr.shape[-2:]}.")
    try:
        np.broadcast_shapes(arr.shape[:-2], ref.shape[:-2])
    except ValueError:
        raise RiemdlnValueError(
            f"`{name}` must be a stack that broadcasts with `{ref_name}`'s: stack shapes {arr.shape[:-2]} and "
            f"{ref.shape[:-2]} do not."
        ) from None


def check_broadcast(**arrays: np.ndarray) -> tuple[int, ...]:
    """The broadcast shape of ``arrays``; a mismatch names the argument that does not fit."""
    shape: tuple[int, ...] = ()
    first = None
    for name, arr in arrays.items():
        try:
            shape = np.broadcast_shapes(shape, np.shape(arr))
        except ValueError:
            raise RiemdlnValueError(
                f"`{name}` must broadcast with `{first}`: shapes {np.shape(arr)} and {shape} do not."
            ) from None
        first = first or name
    return shape


def check_integer(value, name: str, low: int = 0, high: int | None = None) -> int:
    """An integer (not bool) in ``[low, high]``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
        raise RiemdlnValueError(f"`{name}` must be an integer >= {low}; got {short(value)}.")
    if high is not None and int(value) > high:
        raise RiemdlnValueError(f"`{name}` must be an integer <= {high}; got {short(value)}.")
    return int(value)


# the largest number of float64 entries one call may allocate (resource guard): 2**31 entries = 16 GiB
MAX_ENTRIES = 2**31


def check_allocation(entries: int, name: str, what: str, fix: str | None = None) -> None:
    """Refuse up front a request for more than :data:`MAX_ENTRIES` floats (it cannot fit in memory).

    ``fix`` ends the message (default: "choose a smaller `name`")."""
    if entries > MAX_ENTRIES:
        raise RiemdlnValueError(
            f"`{name}` asks for {what} of {entries:.3g} floats ({8 * entries / 2**30:.3g} GiB), more than the "
            f"{MAX_ENTRIES:.3g} riemdln allocates at once; {fix or f'choose a smaller `{name}`'}."
        )


def rank_tolerance(s: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """numpy.linalg.matrix_rank's default tolerance: ``max(m, n) * eps * s_max``."""
    return max(shape) * np.finfo(float).eps * np.max(s, axis=-1, keepdims=True)


def check_full_rank(
    s: np.ndarray,
    shape: tuple[int, int],
    name: str = "X",
    why: str = "the metric and volume are defined only at full rank (apply_A accepts rank-deficient X)",
) -> None:
    """Raise unless every singular value is above numpy's rank tolerance; ``why`` ends the message."""
    k = min(shape)
    rank = np.sum(s > rank_tolerance(s, shape), axis=-1)
    if np.any(rank < k):
        r = int(np.min(rank))
        raise RiemdlnValueError(f"`{name}` has rank {r} < min(m, n) = {k}; {why}.")


def check_seed(seed, name: str = "seed"):
    """``None``, a non-negative integer, or a ``numpy.random.Generator``."""
    if seed is None or isinstance(seed, np.random.Generator):
        return seed
    if isinstance(seed, bool | np.bool_) or not isinstance(seed, numbers.Integral) or seed < 0:
        raise RiemdlnValueError(
            f"`{name}` must be None, a non-negative integer or a numpy.random.Generator; got {short(seed)}."
        )
    return int(seed)
