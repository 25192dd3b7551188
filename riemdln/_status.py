"""How a computation ended: :class:`Status`, shared by the flows, the geodesic solvers and Langevin dynamics.

A bottom module (it imports nothing from riemdln), so reporting a status never loads the simulators.
"""

from __future__ import annotations

import enum

__all__ = ["Status"]


class Status(enum.IntEnum):
    """How a simulation ended. ``status >= 0`` means the integration itself succeeded.

    FAILED (-1)
        The integrator failed (step size underflow, non-finite state): the trajectory up to the failure
        is returned.
    FINISHED (0)
        Reached ``t_final`` (or ran all ``steps``).
    EVENT (1)
        A terminal event fired (``loss_below``, ``norm_above``, ``time_budget`` or a user event).
    DIVERGED (2)
        The Frobenius norm of X exceeded ``blowup_norm``: the trajectory escapes to infinity (the loss
        may still be going to 0, as on the Razin–Cohen problem).
    INACCURATE (-2)
        The loss rose along accepted steps by more than the tolerances allow. A gradient flow's loss never
        increases, so the numerical trajectory has left the exact one: the run stops there and the
        trajectory up to that step is returned (tighten ``rtol``/``atol``, or use another formulation).

    See Also
    --------
    riemdln.FlowResult : carries the status of a flow (``success`` is ``status >= 0``).
    riemdln.LangevinResult : carries the status of a Langevin run.

    Examples
    --------
    >>> from riemdln import Status
    >>> Status.EVENT >= 0, Status(-1).name
    (True, 'FAILED')
    """

    INACCURATE = -2
    FAILED = -1
    FINISHED = 0
    EVENT = 1
    DIVERGED = 2
