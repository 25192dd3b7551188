r"""Tolerances and verdicts: each check's numbers, the bound it was judged by, and why that bound.

Every tolerance is ``SAFETY`` times a bound assembled from the run itself: the unit roundoff ``u`` of the
recorded dtype (float64: :math:`2^{-53}`, float32: :math:`2^{-24}`), the width w and depth N (rounding of
matrix products grows like :math:`(N + w)u`), the factors' norms, and the size of the second-order terms the
recording interval lets in (s optimizer steps between records contribute
:math:`\tfrac{s-1}{2s}(\|\Delta_{j+1}\|^2 + \|\Delta_j\|^2)` to the balance residual).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

import numpy as np

SAFETY = 10.0
Status = Literal["passed", "failed", "skipped", "note"]


@dataclass(frozen=True)
class CheckResult:
    """One check of a training run.

    Attributes
    ----------
    name : str
    status : {"passed", "failed", "skipped", "note"}
        ``"skipped"``: what the check needs was not given (``why`` says what); ``"note"``: a fact about the run
        that is not judged (e.g. an unbalanced start).
    passed : bool or None
        None when skipped or a note.
    value : float or None
        The worst relative deviation over the records (see ``why`` for its normalization).
    tolerance : float or None
        The relative tolerance at that record (derived from the learning rate, the recording interval and the
        rounding of the recorded dtype, see ``why``).
    worst_step : int or None
        The step (user's numbering) where ``value / tolerance`` is largest.
    worst_layer : int or None
        The layer there (theory numbering: 1 is W_1, the factor that acts first), if the check is per layer.
    numbers : mapping of str to float
        Further figures (medians, fitted parameters, per-layer maxima).
    why : str
        What was compared, how it was normalized and why the tolerance is what it is.

    See Also
    --------
    riemdln.TrainingCheck : holds the checks of a run, by name.
    riemdln.check_training : what runs them.

    Examples
    --------
    >>> import numpy as np, riemdln
    >>> p = riemdln.QuadraticEnergy(np.diag([1.0, 2.0]))
    >>> res = riemdln.factor_descent(p, riemdln.balanced_factors(0.5 * np.eye(2), 2), lr=0.05, steps=20,
    ...                              record_every=1)
    >>> check = riemdln.check_training([[f[k] for f in res.factors] for k in range(len(res.t))], lr=0.05, energy=p)
    >>> c = check.checks['balance']
    >>> type(c).__name__, c.status
    ('CheckResult', 'passed')
    """

    name: str
    status: Status
    passed: bool | None
    value: float | None
    tolerance: float | None
    why: str
    numbers: MappingProxyType = field(default_factory=lambda: MappingProxyType({}))
    worst_step: int | None = None
    worst_layer: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "numbers", MappingProxyType(dict(self.numbers)))

    def __eq__(self, other) -> bool:
        if not isinstance(other, CheckResult):
            return NotImplemented
        fields = ("name", "status", "passed", "value", "tolerance", "why", "worst_step", "worst_layer")
        return all(getattr(self, f) == getattr(other, f) for f in fields) and dict(self.numbers) == dict(other.numbers)

    __hash__ = None  # type: ignore[assignment]


def ratio(value: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """value / tol with 0/0 = 0 (a zero residual at a zero tolerance passes)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(tol > 0, value / np.where(tol > 0, tol, 1.0), np.where(value > 0, np.inf, 0.0))
    return r


def relative(value: np.ndarray, scale: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(scale > 0, value / np.where(scale > 0, scale, 1.0), 0.0)


def judged(
    name: str,
    value: np.ndarray,
    tol: np.ndarray,
    scale: np.ndarray,
    *,
    steps: np.ndarray,
    why: str,
    per_layer: bool,
    layer_base: int = 1,
    extra: dict | None = None,
) -> CheckResult:
    """A pass/fail result from per-step (K,) or per-step-and-layer (K, L) absolute values and tolerances."""
    r = ratio(value, tol)
    flat = int(np.argmax(r))
    k, j = np.unravel_index(flat, r.shape) if r.ndim == 2 else (flat, None)
    rel = relative(value, scale)
    worst_rel = float(rel[k, j] if j is not None else rel[k])
    worst_tol = float(relative(tol, scale)[k, j] if j is not None else relative(tol, scale)[k])
    numbers = {"max_ratio_to_tolerance": float(min(r.max(), 1e300)), "median_relative": float(np.median(rel))}
    if r.ndim == 2:
        for col in range(r.shape[1]):
            numbers[f"max_relative_{layer_base + col}"] = float(rel[:, col].max())
            numbers[f"failed_steps_{layer_base + col}"] = float(np.sum(r[:, col] > 1))
    numbers["failed_steps"] = float(np.sum(np.any(r > 1, axis=1) if r.ndim == 2 else r > 1))
    numbers.update(extra or {})
    passed = bool(r.max() <= 1.0)
    return CheckResult(
        name=name,
        status="passed" if passed else "failed",
        passed=passed,
        value=worst_rel,
        tolerance=worst_tol,
        why=why,
        numbers=numbers,  # type: ignore[arg-type]
        worst_step=int(steps[k]),
        worst_layer=None if j is None or not per_layer else int(j) + layer_base,
    )


def skipped(name: str, why: str) -> CheckResult:
    return CheckResult(name=name, status="skipped", passed=None, value=None, tolerance=None, why=why)
