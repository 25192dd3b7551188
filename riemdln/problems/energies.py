r"""Energies: what the flows and samplers minimize or sample.

An *energy* is any object with

``shape``
    ``(m, n)``, the shape of the end-to-end matrix X;
``loss(X)``
    :math:`E(X)` (a float for one matrix; an array for a stack ``(..., m, n)``);
``gradient(X)``
    the Euclidean (Frobenius) gradient :math:`\nabla E(X)`, same shape as ``X``;
``hessian_vector(X, V)`` (optional)
    :math:`D^2E(X)[V]`, the exact Jacobian–vector product of the gradient; without it the simulators
    difference the gradient.

:class:`riemdln.CompletionProblem` is one (its gradient is :math:`P_\Omega(X - M)`). This module adds
:class:`Energy` (two callables), :class:`QuadraticEnergy` (:math:`\tfrac12\|X - M\|_F^2`) and
:class:`SensingProblem` (matrix sensing with Gaussian measurements). Simulators reach an energy only
through :func:`as_energy`, which checks the protocol once, before any work.

>>> import numpy as np, riemdln
>>> E = riemdln.QuadraticEnergy(np.eye(2))
>>> float(E.loss(np.zeros((2, 2)))), E.gradient(np.zeros((2, 2))).tolist()
(1.0, [[-1.0, 0.0], [0.0, -1.0]])
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from riemdln._validation import RiemdlnValueError, check_matrix, short

__all__ = [
    "EnergyProtocol",
    "Energy",
    "QuadraticEnergy",
    "SensingProblem",
    "as_energy",
    "has_hessian_vector",
    "CallableValueError",
]


class CallableValueError(RiemdlnValueError):
    """A user's callable returned a malformed or non-finite value, or raised.

    Met at the first call (before any work) it reaches the user as the :class:`RiemdlnValueError` it is,
    naming the callable; met during a run, the simulators end the run with ``Status.FAILED``, its message
    and the trajectory so far kept, and the result's ``error`` holds this exception (``cause``: the
    exception the callable raised, if any).
    """

    def __init__(self, message: str, name: str, cause: BaseException | None = None):
        super().__init__(message)
        self.name, self.cause = name, cause


def call_user(fn: Callable, name: str, *args):
    """``fn(*args)``; an exception it raises becomes a :class:`CallableValueError` naming ``name``."""
    try:
        return fn(*args)
    except CallableValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - the user's own failure, named and carried
        raise CallableValueError(f"`{name}` raised {short(exc)}.", name, exc) from exc


def _where(X) -> str:
    try:
        return f" at X with ||X||_F = {float(np.linalg.norm(X)):.6g}"
    except Exception:  # noqa: BLE001 - only for the message
        return ""


def _finite_input(*arrays) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays)


def checked_scalar(value, name: str, *inputs) -> float:
    """A real number returned by the callable ``name`` (finite wherever its ``inputs`` are finite)."""
    if type(value) is float or type(value) is np.float64:  # the common case, checked in a few operations
        if math.isfinite(value):
            return float(value)
    bad = isinstance(value, bool | np.bool_ | str | bytes)
    if not bad:
        try:
            arr = np.asarray(value)
            bad = arr.dtype.kind not in "fiu" or arr.size != 1
        except Exception:  # noqa: BLE001 - an object numpy cannot read
            bad = True
    if bad:
        raise CallableValueError(f"`{name}` must return a real number; returned {short(value)}.", name)
    v = float(arr.reshape(()))
    if not math.isfinite(v) and _finite_input(*inputs):
        raise CallableValueError(
            f"`{name}` returned {v!r}{_where(inputs[0]) if inputs else ''} (it must be finite).", name
        )
    return v


def checked_array(value, name: str, shape: tuple, *inputs) -> np.ndarray:
    """A real array of ``shape`` returned by the callable ``name`` (finite wherever its ``inputs`` are)."""
    if type(value) is np.ndarray and value.dtype == np.float64 and value.shape == shape:  # the common case
        if np.isfinite(value).all():
            return value
    try:
        arr = np.asarray(value)
        bad = arr.dtype.kind not in "fiu" or arr.shape != tuple(shape)
    except Exception:  # noqa: BLE001 - an object numpy cannot read
        bad = True
    if bad:
        raise CallableValueError(
            f"`{name}` must return a real array of shape {tuple(shape)}; returned {short(value)}.", name
        )
    arr = np.asarray(arr, dtype=float)
    if not np.all(np.isfinite(arr)) and _finite_input(*inputs):
        raise CallableValueError(
            f"`{name}` returned non-finite entries{_where(inputs[0]) if inputs else ''} (they must be finite).",
            name,
        )
    return arr


@runtime_checkable
class EnergyProtocol(Protocol):
    """The structural type the simulators accept (``shape``, ``loss``, ``gradient``)."""

    @property
    def shape(self) -> tuple[int, int]: ...

    def loss(self, X: Any) -> Any: ...

    def gradient(self, X: Any) -> Any: ...


def _check_shape(shape, name: str = "shape") -> tuple[int, int]:
    ok = (
        isinstance(shape, tuple | list)
        and len(shape) == 2
        and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 1 for v in shape)
    )
    if not ok:
        raise RiemdlnValueError(f"`{name}` must be a pair of positive integers (m, n); got {short(shape)}.")
    return int(shape[0]), int(shape[1])


def as_energy(energy, name: str = "energy"):
    """Return ``energy`` after checking it follows the energy protocol (see the module docstring).

    Raises :class:`RiemdlnValueError` naming ``name`` when ``shape``, ``loss`` or ``gradient`` is missing or
    malformed, or when the gradient at zero does not have the energy's shape.
    """
    missing = [attr for attr in ("shape", "loss", "gradient") if not hasattr(energy, attr)]
    if missing:
        raise RiemdlnValueError(
            f"`{name}` must be an energy (an object with `shape`, `loss(X)` and `gradient(X)`, e.g. "
            f"riemdln.CompletionProblem, riemdln.Energy or riemdln.QuadraticEnergy); got "
            f"{type(energy).__name__} without {', '.join(missing)}."
        )
    _check_shape(tuple(energy.shape) if isinstance(energy.shape, tuple | list) else energy.shape, f"{name}.shape")
    if not callable(energy.loss) or not callable(energy.gradient):
        raise RiemdlnValueError(f"`{name}.loss` and `{name}.gradient` must be callable.")
    return energy


def has_hessian_vector(energy) -> bool:
    """Whether ``energy`` provides the exact ``hessian_vector(X, V)``."""
    return callable(getattr(energy, "hessian_vector", None))


class MatrixEnergy:
    """Shared input checks and the unchecked ``_loss`` / ``_gradient`` hooks the simulators' hot loops use."""

    _shape: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int]:
        return self._shape

    def _as_X(self, X, name: str = "X") -> np.ndarray:
        arr = check_matrix(X, name)
        if arr.shape[-2:] != self._shape:
            m, n = self._shape
            raise RiemdlnValueError(f"`{name}` must have shape (..., {m}, {n}); got {arr.shape}.")
        return arr

    def loss(self, X: ArrayLike) -> NDArray[np.float64] | float:
        """:math:`E(X)`, per matrix of a stack ``(..., m, n)``."""
        return self._loss_stack(self._as_X(X))

    def gradient(self, X: ArrayLike) -> NDArray[np.float64]:
        r""":math:`\nabla E(X)` (Frobenius), per matrix of a stack."""
        return self._gradient(self._as_X(X))

    def hessian_vector(self, X: ArrayLike, V: ArrayLike) -> NDArray[np.float64]:
        """:math:`D^2E(X)[V]`, exact."""
        X = self._as_X(X)
        V = self._as_X(V, "V")
        return self._hessian_vector(X, V)

    def _loss(self, X: np.ndarray) -> float:
        return float(self._loss_stack(X))

    # subclasses implement these on checked float arrays
    def _loss_stack(self, X: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    def _gradient(self, X: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _hessian_vector(self, X: np.ndarray, V: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class QuadraticEnergy(MatrixEnergy):
    r""":math:`E(X) = \tfrac12\|X - M\|_F^2`, :math:`\nabla E = X - M`, :math:`D^2E[V] = V`.

    Parameters
    ----------
    M : array_like, shape (m, n)
        The target matrix (finite, real).

    See Also
    --------
    Energy : any energy from a loss and a gradient callable.
    riemdln.gibbs_expectation : its Gibbs measure is the one the quadrature oracle is exact for.

    Examples
    --------
    >>> import numpy as np
    >>> E = QuadraticEnergy([[1.0, 0.0], [0.0, 2.0]])
    >>> E.shape, float(E.loss(np.zeros((2, 2))))
    ((2, 2), 2.5)
    """

    def __init__(self, M: ArrayLike):
        M = check_matrix(M, "M")
        if M.ndim != 2:
            raise RiemdlnValueError(f"`M` must be one matrix (2-d); got shape {M.shape}.")
        self.M = np.array(M, dtype=float)
        self.M.setflags(write=False)
        self._shape = (int(M.shape[0]), int(M.shape[1]))

    def __repr__(self) -> str:
        return f"QuadraticEnergy(shape={self._shape})"

    def _loss_stack(self, X):
        D = X - self.M
        return np.asarray(0.5 * np.sum(D * D, axis=(-2, -1)))[()]

    def _gradient(self, X):
        return X - self.M

    def _hessian_vector(self, X, V):
        return np.array(V, dtype=float)


class Energy(MatrixEnergy):
    r"""An energy from two callables: ``Energy(loss, gradient, shape=(m, n))``.

    ``loss(X)`` must return a real number and ``gradient(X)`` an (m, n) array for one matrix X;
    ``hessian_vector(X, V)`` may be given for exact Jacobian–vector products :math:`D^2E(X)[V]`, one
    direction V (an (m, n) array) per call: the simulators call it once per direction they need. Stacks
    are evaluated one matrix at a time. Every returned value is checked where it is used (a real number,
    or a real array of shape (m, n); finite wherever X is): at the first call a bad value or an exception
    of the callable is a :class:`CallableValueError` (a :class:`RiemdlnValueError`) naming it; during a
    run the simulators end with ``Status.FAILED``, say which callable and when, and keep the trajectory up
    to there.

    Parameters
    ----------
    loss : callable
        ``loss(X) -> float`` for one (m, n) matrix ``X``: :math:`E(X)`.
    gradient : callable
        ``gradient(X) -> ArrayLike`` of shape (m, n): the Euclidean gradient :math:`\nabla E(X)`.
    shape : tuple of int
        ``(m, n)``, keyword-only.
    hessian_vector : callable, optional
        ``hessian_vector(X, V) -> ArrayLike`` of shape (m, n): :math:`D^2E(X)[V]` for one direction ``V``
        (keyword-only). Without it the simulators difference the gradient where they need it.

    See Also
    --------
    QuadraticEnergy, SensingProblem, CompletionProblem : energies with exact Hessians built in.
    riemdln.end_to_end_flow : the gradient flow of an energy in the metric :math:`g^N`.

    Examples
    --------
    >>> import numpy as np
    >>> E = Energy(lambda X: 0.25 * float(np.sum(X**4)), lambda X: X**3, shape=(2, 2))
    >>> float(E.loss(np.ones((2, 2)))), float(E.gradient(2 * np.ones((2, 2)))[0, 0])
    (1.0, 8.0)
    """

    def __init__(
        self,
        loss: Callable[[np.ndarray], float],
        gradient: Callable[[np.ndarray], ArrayLike],
        *,
        shape: tuple[int, int],
        hessian_vector: Callable[[np.ndarray, np.ndarray], ArrayLike] | None = None,
    ):
        if not callable(loss):
            raise RiemdlnValueError(f"`loss` must be callable; got {short(loss)}.")
        if not callable(gradient):
            raise RiemdlnValueError(f"`gradient` must be callable; got {short(gradient)}.")
        if hessian_vector is not None and not callable(hessian_vector):
            raise RiemdlnValueError(f"`hessian_vector` must be callable or None; got {short(hessian_vector)}.")
        self._shape = _check_shape(shape)
        self._fn_loss, self._fn_grad, self._fn_hv = loss, gradient, hessian_vector
        if hessian_vector is None:
            self.hessian_vector = None  # type: ignore[assignment]  # the protocol's "optional"

    def __repr__(self) -> str:
        return f"Energy(shape={self._shape})"

    def _one_loss(self, X):
        return checked_scalar(call_user(self._fn_loss, "loss", X), "loss", X)

    def _one_gradient(self, X):
        return checked_array(call_user(self._fn_grad, "gradient", X), "gradient", self._shape, X)

    def _one_hv(self, X, V):
        fn = self._fn_hv
        if fn is None:  # pragma: no cover - the attribute is None then
            raise RiemdlnValueError("this Energy has no `hessian_vector`.")
        return checked_array(call_user(fn, "hessian_vector", X, V), "hessian_vector", self._shape, X, V)

    def _loss_stack(self, X):
        if X.ndim == 2:
            return self._one_loss(X)
        flat = X.reshape(-1, *self._shape)
        return np.array([self._one_loss(x) for x in flat]).reshape(X.shape[:-2])

    def _gradient(self, X):
        if X.ndim == 2:
            return self._one_gradient(X)
        flat = X.reshape(-1, *self._shape)
        return np.array([self._one_gradient(x) for x in flat]).reshape(X.shape)

    def _hessian_vector(self, X, V):
        """One direction per call of the user's ``hessian_vector(X, V)``; stacks of X and V broadcast."""
        if X.ndim == 2 and V.ndim == 2:
            return self._one_hv(X, V)
        Xb, Vb = np.broadcast_arrays(X, V)
        flat_X, flat_V = Xb.reshape(-1, *self._shape), Vb.reshape(-1, *self._shape)
        return np.array([self._one_hv(x, v) for x, v in zip(flat_X, flat_V, strict=True)]).reshape(Vb.shape)


class SensingProblem(MatrixEnergy):
    r"""Matrix sensing: :math:`E(X) = \tfrac12\sum_k (\langle A_k, X\rangle - y_k)^2`.

    With the measurement operator :math:`\mathcal A(X)_k = \langle A_k, X\rangle` (Frobenius),
    :math:`\nabla E = \mathcal A^*(\mathcal A X - y)` and :math:`D^2E[V] = \mathcal A^*\mathcal A V`.

    Parameters
    ----------
    sensors : array_like, shape (K, m, n)
        The measurement matrices :math:`A_k`.
    measurements : array_like, shape (K,)
        The values :math:`y_k`.
    ground_truth : array_like, shape (m, n), optional
        The matrix the measurements came from (enables ``test_error``).

    See Also
    --------
    CompletionProblem : the sensors are the observed entries.
    Energy : any energy from a loss and a gradient callable.

    Examples
    --------
    >>> p = SensingProblem.random(6, 5, rank=2, n_measurements=40, seed=0)
    >>> p.shape, p.n_measurements, float(p.loss(p.ground_truth)) < 1e-20
    ((6, 5), 40, True)
    """

    def __init__(self, sensors: ArrayLike, measurements: ArrayLike, ground_truth: ArrayLike | None = None):
        A = check_matrix(sensors, "sensors")
        if A.ndim != 3 or A.shape[0] == 0:
            raise RiemdlnValueError(f"`sensors` must have shape (K, m, n) with K >= 1 sensors; got {A.shape}.")
        y = np.asarray(measurements)
        if y.dtype.kind not in "fiu" or y.shape != (A.shape[0],) or not np.all(np.isfinite(y)):
            raise RiemdlnValueError(
                f"`measurements` must be {A.shape[0]} finite real numbers (one per sensor); got {short(measurements)}."
            )
        self._shape = (int(A.shape[1]), int(A.shape[2]))
        self.sensors = np.array(A, dtype=float)
        self._flat = self.sensors.reshape(A.shape[0], -1)
        self.measurements = np.array(y, dtype=float)
        self.ground_truth = None
        if ground_truth is not None:
            self.ground_truth = self._as_X(ground_truth, "ground_truth").copy()
        for arr in (self.sensors, self._flat, self.measurements):
            arr.setflags(write=False)

    @property
    def n_measurements(self) -> int:
        return int(self.measurements.size)

    def __repr__(self) -> str:
        return f"SensingProblem(shape={self._shape}, n_measurements={self.n_measurements})"

    def _residual(self, X):
        flat = X.reshape(*X.shape[:-2], -1)
        return flat @ self._flat.T - self.measurements

    def _loss_stack(self, X):
        r = self._residual(X)
        return np.asarray(0.5 * np.sum(r * r, axis=-1))[()]

    def _gradient(self, X):
        return (self._residual(X) @ self._flat).reshape(X.shape)

    def _hessian_vector(self, X, V):
        flat = V.reshape(*V.shape[:-2], -1)
        return ((flat @ self._flat.T) @ self._flat).reshape(V.shape)

    def test_error(self, X: ArrayLike):
        r"""Relative error :math:`\|X - W^*\|_F/\|W^*\|_F` against the ground truth."""
        if self.ground_truth is None:
            raise RiemdlnValueError("`test_error` needs a problem with `ground_truth`; this one has none.")
        X = self._as_X(X)
        num = np.linalg.norm(X - self.ground_truth, axis=(-2, -1))
        return np.asarray(num / np.linalg.norm(self.ground_truth))[()]

    @classmethod
    def random(cls, m: int, n: int, rank: int, n_measurements: int, seed: int | None = None) -> SensingProblem:
        r"""Gaussian sensing of a random rank-``rank`` matrix.

        :math:`W^* = U V^T` with U (m×r), V (n×r) standard Gaussian, scaled to :math:`\|W^*\|_F = 1`;
        sensors with i.i.d. :math:`N(0, 1/K)` entries (so
        :math:`\mathbb E\,\mathcal A^*\mathcal A = I`), noiseless measurements.
        """
        from riemdln._validation import check_seed

        m, n = _check_shape((m, n), "(m, n)")
        for value, name, low in ((rank, "rank", 1), (n_measurements, "n_measurements", 1)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
                raise RiemdlnValueError(f"`{name}` must be an integer >= {low}; got {short(value)}.")
        if rank > min(m, n):
            raise RiemdlnValueError(f"`rank` must be <= min(m, n) = {min(m, n)}; got {rank}.")
        if n_measurements * m * n > 5e8:
            raise RiemdlnValueError(
                f"`n_measurements` = {n_measurements} Gaussian {m}×{n} sensors need "
                f"{n_measurements * m * n * 8 / 2**30:.1f} GiB; use fewer measurements."
            )
        rng = np.random.default_rng(check_seed(seed))
        W = rng.standard_normal((m, rank)) @ rng.standard_normal((rank, n))
        W /= np.linalg.norm(W)
        A = rng.standard_normal((n_measurements, m, n)) / np.sqrt(n_measurements)
        y = np.einsum("kij,ij->k", A, W)
        return cls(A, y, ground_truth=W)
