"""SUNDIALS CVODE (BDF, matrix-free GMRES) behind scipy's ``OdeSolver`` step interface.

For large problems the implicit solvers' dense Jacobian does not fit (d = 100: 1e8 entries, 11 s to build,
10 s to factor), and the explicit ones are limited by stiffness to tiny steps. CVODE's BDF with a Krylov
(GMRES) linear solver needs only Jacobian-vector products: exact ones when the simulator provides them
(``jvp``), else CVODE's difference quotients (one right-hand side each), and optionally a preconditioner
(``precond``: ``setup(t, y, gamma, jok)`` returning whether it renewed its data, ``solve(r, gamma)`` with
:math:`P z = r`, :math:`P \\approx I - \\gamma J`; applied on the right, so that GMRES's convergence test
is on the true residual). It comes from the maintained
``scikit-sundae`` wheels (SUNDIALS compiled in; no system library).

:class:`CVODESolver` exposes what :func:`riemdln.flows._driver.run` uses of a scipy ``OdeSolver``: ``t``,
``y``, ``t_old``, ``status``, ``step()``, ``dense_output()`` (CVODE's own interpolation over the last step),
``nfev``, ``njev`` — so events, ``t_eval``, budgets, progress and statuses work the same on every path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def available() -> bool:
    """Whether scikit-sundae (CVODE) can be imported."""
    try:
        import sksundae.cvode  # noqa: F401
    except ImportError:  # pragma: no cover - it is a dependency
        return False
    return True


class CVODESolver:
    """CVODE BDF + GMRES, stepped one internal step at a time (``onestep``), bounded by ``t_bound``."""

    def __init__(
        self,
        fun: Callable[[float, np.ndarray], np.ndarray],
        t0: float,
        y0: np.ndarray,
        t_bound: float,
        *,
        rtol: float,
        atol,
        max_step: float = np.inf,
        first_step: float | None = None,
        jvp: Callable[[float, np.ndarray, np.ndarray], np.ndarray] | None = None,  # may have .setup(t, y)
        precond=None,  # an object with setup(t, y, gamma) and solve(r, gamma) -> z, P z = r, P ~ I - gamma J
        krylov_dim: int = 30,
        **_ignored,
    ):
        from sksundae.cvode import CVODE, CVODEJacTimes, CVODEPrecond

        self.fun, self.t_bound = fun, float(t_bound)
        self.njev = 0

        def rhsfn(t, y, yp):
            yp[:] = fun(t, y)

        options = dict(
            method="BDF",
            rtol=rtol,
            atol=atol,
            linsolver="gmres",
            krylov_dim=krylov_dim,
            max_num_steps=100_000,
            # Two Newton iterations per step, not CVODE's three: a step whose Newton iteration has not
            # converged in two is retried smaller sooner. Measured (benchmarks, 2 cores): 100 x 100 rank 5
            # N = inf 37.6 s -> 29.6 s (seed 0) and 30.3 s -> 24.7 s (seed 1), endpoints agreeing to 1.5e-8;
            # 50 x 50 rank 3 N = inf 10.7 s -> 12.1 s; finite N unchanged (N = 3, d = 100 and 200: the
            # same steps). One iteration is far worse (N = 3 at d = 100: > 18 min).
            max_nonlin_iters=2,
            max_step=0.0 if not np.isfinite(max_step) else float(max_step),
            first_step=0.0 if first_step is None else float(first_step),
        )
        if jvp is not None:

            def solvefn(t, y, yp, v, Jv):
                Jv[:] = jvp(t, y, v)

            setup: Any = getattr(jvp, "setup", None)

            def setupfn(t, y, yp):
                self.njev += 1
                setup(t, y)

            options["jactimes"] = CVODEJacTimes(setupfn if setup is not None else None, solvefn)
        if precond is not None:

            def psetupfn(t, y, yp, jok, jnew, gamma):
                renewed = precond.setup(t, y, gamma, bool(jok))
                jnew[0] = int(bool(renewed))
                self.njev += int(bool(renewed))

            def psolvefn(t, y, yp, rvec, zvec, gamma, delta, lr):
                zvec[:] = precond.solve(rvec, gamma)

            options["precond"] = CVODEPrecond(psetupfn, psolvefn, side="right")
        self._solver = CVODE(rhsfn, **options)
        result = self._solver.init_step(float(t0), np.array(y0, dtype=float))
        self.t, self.y = float(result.t), np.array(result.y, dtype=float)
        self.t_old: float | None = None
        self.status = "running"
        self.nfev = 0

    def step(self) -> str | None:
        """One internal step (never past ``t_bound``); returns a message on failure, as scipy's do."""
        for _ in range(3):  # after an interpolation the next one-step call returns the current time again
            result = self._solver.step(self.t_bound, method="onestep", tstop=self.t_bound)
            if not result.success or result.t > self.t:
                break
        if not result.success:
            self.status = "failed"
            return f"CVODE: {result.message}"
        self.t_old, self.t = self.t, float(result.t)
        self.y = np.array(result.y, dtype=float)
        self.nfev = int(getattr(result, "nfev", 0) or 0)
        if self.t >= self.t_bound:
            self.status = "finished"
        return None

    def dense_output(self) -> Callable[[float], np.ndarray]:
        """CVODE's interpolant over the last step [t_old, t]."""
        t_old, t_new, y_new = self.t_old, self.t, self.y.copy()

        def interp(t):
            t = float(t)
            if t >= t_new:
                return y_new.copy()
            result = self._solver.step(max(t, t_old if t_old is not None else t))
            return np.array(result.y, dtype=float)

        return interp

    @property
    def atol(self):  # pragma: no cover - CVODE's tolerances are fixed at construction
        return None
