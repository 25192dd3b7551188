"""How the simulators see an energy: unchecked loss, gradient and Hessian-vector products for hot loops.

Any object with ``shape``, ``loss(X)`` and ``gradient(X)`` is an energy (see :mod:`riemdln.problems.energies`).
:func:`ops` checks it once, then the simulators call the unchecked methods of :class:`EnergyOps`:

* the riemdln energies (``CompletionProblem``, ``QuadraticEnergy``, ``SensingProblem``, ``Energy``) are called
  through their unchecked ``_loss`` / ``_gradient`` / ``_hessian_vector`` hooks;
* an outside energy through its public methods, every output checked where it is used (a real number or
  an array of the energy's shape, finite wherever X is; :class:`riemdln.problems.energies.CallableValueError`
  otherwise, and for an exception it raises), as :class:`riemdln.Energy` checks its callables;
* without ``hessian_vector``, :math:`D^2E(X)[V]` is a central difference of the gradient with step
  :math:`h = \\epsilon^{1/3}\\max(1, \\|X\\|)/\\|V\\|` (relative error about :math:`\\epsilon^{2/3}`).
"""

from __future__ import annotations

import numpy as np

from riemdln._validation import RiemdlnValueError
from riemdln.problems.energies import as_energy, call_user, checked_array, checked_scalar, has_hessian_vector


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
        from riemdln.problems.energies import Energy

        self.user = not self.completion and (not self._own or isinstance(energy, Energy))  # user callables
        self.ground_truth = getattr(energy, "ground_truth", None)
        self.has_test_error = self.ground_truth is not None and callable(getattr(energy, "test_error", None))

    def loss(self, X: np.ndarray) -> float:
        if self.completion or self._own:
            return self.energy._loss(X)
        return checked_scalar(call_user(self.energy.loss, "problem.loss", X), "problem.loss", X)

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
            return self._outside_grad(X)
        return np.array([self._outside_grad(x) for x in X])

    def _outside_grad(self, X: np.ndarray) -> np.ndarray:
        name = "problem.gradient"
        return checked_array(call_user(self.energy.gradient, name, X), name, self.shape, X)

    def _outside_hvp(self, X: np.ndarray, V: np.ndarray) -> np.ndarray:
        name = "problem.hessian_vector"
        return checked_array(call_user(self.energy.hessian_vector, name, X, V), name, self.shape, X, V)

    def hvp(self, X: np.ndarray, V: np.ndarray) -> np.ndarray:
        """:math:`D^2E(X)[V]` for one X and one V or a stack of directions V (B, m, n): the energy's
        ``hessian_vector(X, V)`` is called once per direction."""
        if self.completion:
            return np.where(self.mask, V, 0.0)
        if self.exact_hvp:
            if self._own:
                Xb = X if V.ndim == 2 else np.broadcast_to(X, V.shape)
                return self.energy._hessian_vector(Xb, V)
            if V.ndim == 2:
                return self._outside_hvp(X, V)
            return np.array([self._outside_hvp(X, v) for v in V])
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
        """Evaluate loss and gradient (and ``hessian_vector``, if given) at X0 once, before any work: a bad
        value or an exception of the energy is a RiemdlnValueError naming the callable."""
        try:
            value = self.loss(X0)
            G = self.grad(X0)
            if self.exact_hvp and not self.completion:
                self.hvp(X0, np.ones_like(X0))
        except RiemdlnValueError:
            raise
        except Exception as exc:  # a riemdln energy's hook failing on an outside X: name it
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
