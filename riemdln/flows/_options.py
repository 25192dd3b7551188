"""What one flow call asks for, and what the integration loop asks of a formulation.

:class:`FlowOptions` is built once per public call (:func:`riemdln.end_to_end_flow`, :func:`riemdln.svd_flow`,
:func:`riemdln.factor_flow`), after every argument is checked; every part of a switched run reads the same
record. :class:`FlowSystem` is the protocol the loop (:func:`riemdln.flows._driver.run`) integrates: the matrix
form, SVD coordinates, the split chart and the factor network implement it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from riemdln.flows.result import Event

if TYPE_CHECKING:
    from riemdln.flows._driver import Outcome
    from riemdln.flows._energy import EnergyOps
    from riemdln.flows.result import FlowResult

MAX_SAVED_BYTES = 100_000_000  # default bound on the bytes of the saved states of one run (``max_saved_bytes``)


@dataclass(frozen=True, slots=True, eq=False)
class FlowOptions:
    """The checked options of one flow call (see :func:`riemdln.end_to_end_flow` for their meaning).

    ``method`` is the one asked for (``"auto"`` or a solver name); each formulation resolves it for its state
    size (:func:`riemdln.flows._driver.resolve_method`). ``progress`` is already decided (True/False).
    ``switch_ratio`` is used by ``formulation="auto"`` only. BLAS threads: the public functions run under
    :func:`riemdln.flows._driver.blas_threads` (``with_blas_threads``), whatever the options.
    """

    t_final: float
    method: str = "auto"
    rtol: float = 1e-8
    atol: float = 1e-10
    t_eval: np.ndarray | None = None
    events: tuple[Event, ...] = ()
    blowup_norm: float = math.inf
    max_steps: int = 1_000_000
    dense_output: bool = False
    progress: bool = False
    max_saved_bytes: int = MAX_SAVED_BYTES
    switch_ratio: float = 1e-7


@dataclass(frozen=True, slots=True)
class Derivatives:
    """How an implicit solver gets the flow's linearization.

    ``jac(t, y)``: the dense Jacobian (LSODA, BDF, Radau); else ``batched`` (``rhs`` takes (D, B) batches)
    gives a batched forward-difference one, and otherwise the solver differences ``rhs`` itself. ``jvp(t, y,
    v)`` and ``precond`` (``setup``/``solve``): CVODE's Jacobian-vector product and preconditioner
    (:mod:`riemdln.flows._cvode`; None: difference quotients, no preconditioner).
    """

    jac: Callable[[float, np.ndarray], np.ndarray] | None = None
    jvp: Callable[[float, np.ndarray, np.ndarray], np.ndarray] | None = None
    precond: object | None = None
    batched: bool = False


class FlowSystem(Protocol):
    """One formulation of a flow from one starting point, as the integration loop sees it.

    Attributes: ``energy`` (the checked energy: the loss monitor and the progress bar use it, the events see
    the user's object ``energy.energy``), ``desc`` (the progress bar's label), ``t0``/``y0`` (the start),
    ``method``/``fallback`` (the solver, resolved for this state size, and the one to continue with if it
    fails; :func:`riemdln.flows._driver.fallback`), ``events`` (the user's and the formulation's own),
    ``max_saved`` (the bound on saved states without ``t_eval``), ``derivatives`` (:class:`Derivatives`),
    ``atol_fn`` (per-component absolute tolerances of a state, renewed after every accepted step, or None
    for the scalar ``atol``).
    """

    energy: EnergyOps
    desc: str
    t0: float
    y0: np.ndarray
    method: str
    fallback: str | None
    events: tuple[Event, ...]
    max_saved: int
    derivatives: Derivatives
    atol_fn: Callable[[np.ndarray], np.ndarray] | None

    def rhs(self, t: float, y: np.ndarray) -> np.ndarray:
        """The right-hand side ``y'`` at (t, y)."""
        ...

    def event_state(self, y: np.ndarray) -> np.ndarray:
        """The end-to-end matrix X at state y: what the events, the loss check and the saved states see."""
        ...

    def norm(self, y: np.ndarray) -> float:
        """:math:`\\|X\\|_F` at state y (compared with ``blowup_norm``)."""
        ...

    def check_state(self, y: np.ndarray) -> str | None:
        """Why the formulation cannot continue from an accepted state y (the run fails), or None."""
        ...

    def result(self, out: Outcome) -> FlowResult:
        """The :class:`~riemdln.flows.result.FlowResult` of the integration ``out``."""
        ...
