"""How the simulators see an energy: unchecked loss, gradient and Hessian-vector products for hot loops.

Any object with ``shape``, ``loss(X)`` and ``gradient(X)`` is an energy (see :mod:`riemdln.energies`).
:func:`ops` checks it once, then the simulators call the unchecked methods of :class:`EnergyOps`:

* the riemdln energies (``CompletionProblem``, ``QuadraticEnergy``, ``SensingProblem``, ``Energy``) are called
  through their unchecked ``_loss`` / ``_gradient`` / ``_hessian_vector`` hooks;
* an outside energy through its public methods, its outputs checked once (shape, finiteness) at the start;
* without ``hessian_vector``, :math:`D^2E(X)[V]` is a central difference of the gradient with step
  :math:`h = \\epsilon^{1/3}\\max(1, \\|X\\|)/\\|V\\|` (relative error about :math:`\\epsilon^{2/3}`).
"""

from __future__ import annotations

import numpy as np

from riemdln._validation import RiemdlnValueError
from riemdln.energies import as_energy, has_hessian_vector


class EnergyOps:
    """Unchecked access to an energy (shape checked at construction)."""

    def __init__(self, energy):
        self.energy = as_energy(energy, "problem")
        self.shape = tuple(int(v) for v in energy.shape)
        from riemdln.problems import CompletionProblem

        self.completion = isinstance(energy, CompletionProblem)
        if self.completion:
            self.mask, self.target = energy.mask, energy.target
        self._own = hasattr(energy, "_gradient") and hasattr(energy, "_loss")
        self.exact_hvp = self.completion or has_hessian_vector(energy)
        self.ground_truth = getattr(energy, "ground_truth", None)
        self.has_test_error = self.ground_truth is not None and callable(getattr(energy, "test_error", None))

    def loss(self, X: np.ndarray) -> float:
        if self.completion or self._own:
            return self.energy._loss(X)
        return float(self.energy.loss(X))

    def loss_stack(self, X: np.ndarray) -> np.ndarray:
        if X.ndim == 2:
            return np.asarray(self.loss(X))
        return np.array([self.loss(x) for x in X])

    def grad(self, X: np.ndarray) -> np.ndarray:
        """:math:`\\nabla E(X)`; ``X`` one matrix or a stack (..., m, n)."""
        if self.completion:
            return np.where(self.mask, X - self.target, 0.0)
        if self._own:
            return self.energy._gradient(X)
        if X.ndim == 2:
            return np.asarray(self.energy.gradient(X), dtype=float)
        return np.array([np.asarray(self.energy.gradient(x), dtype=float) for x in X])

    def hvp(self, X: np.ndarray, V: np.ndarray) -> np.ndarray:
        """:math:`D^2E(X)[V]` for one X and one V or a stack of directions V (B, m, n)."""
        if self.completion:
            return np.where(self.mask, V, 0.0)
        if self.exact_hvp:
            if self._own:
                Xb = X if V.ndim == 2 else np.broadcast_to(X, V.shape)
                return self.energy._hessian_vector(Xb, V)
            if V.ndim == 2:
                return np.asarray(self.energy.hessian_vector(X, V), dtype=float)
            return np.array([np.asarray(self.energy.hessian_vector(X, v), dtype=float) for v in V])
        if V.ndim == 2:
            return self._fd_hvp(X, V)
        return np.array([self._fd_hvp(X, v) for v in V])

    def _fd_hvp(self, X, V):
        nv = float(np.linalg.norm(V))
        if nv == 0:
            return np.zeros_like(V)
        h = np.finfo(float).eps ** (1 / 3) * max(1.0, float(np.linalg.norm(X))) / nv
        return (self.grad(X + h * V) - self.grad(X - h * V)) / (2 * h)

    def hessian(self, X: np.ndarray) -> np.ndarray:
        """The dense (mn, mn) Hessian (row-major vec), from Hessian-vector products of the basis."""
        m, n = self.shape
        D = m * n
        if self.completion:
            return np.diag(self.mask.ravel().astype(float))
        E = np.eye(D).reshape(D, m, n)
        return self.hvp(X, E).reshape(D, D).T

    def scale(self) -> float:
        """A natural size of the problem's matrices (for the default blow-up bound)."""
        if self.completion:
            return float(np.linalg.norm(self.target))
        M = getattr(self.energy, "M", None)
        if M is not None:
            return float(np.linalg.norm(M))
        if self.ground_truth is not None:
            return float(np.linalg.norm(self.ground_truth))
        return 1.0

    def check_outputs(self, X0: np.ndarray) -> None:
        """Evaluate loss and gradient at X0 once and refuse malformed outputs (outside energies)."""
        try:
            value = self.loss(X0)
            G = self.grad(X0)
        except RiemdlnValueError:
            raise
        except Exception as exc:  # an outside energy's own failure: name it
            raise RiemdlnValueError(f"`problem.loss`/`problem.gradient` failed at X0: {exc!r}") from exc
        if not np.isfinite(value):
            raise RiemdlnValueError(f"`problem.loss(X0)` must be finite; got {value!r}.")
        if np.shape(G) != self.shape or not np.all(np.isfinite(G)):
            raise RiemdlnValueError(
                f"`problem.gradient(X0)` must be a finite array of shape {self.shape}; got shape {np.shape(G)}."
            )


def ops(energy) -> EnergyOps:
    """Check ``energy`` (the energy protocol) and return its unchecked operations."""
    if isinstance(energy, EnergyOps):
        return energy
    return EnergyOps(energy)
