"""Simulators of the deep linear network: factors ("upstairs"), end-to-end flow ("downstairs"), SVD coordinates.

All return a :class:`FlowResult` (``t``, ``X``, ``status``, ``message``, ``success``, ``diagnostics``).
"""

from __future__ import annotations

from riemdln.flows.end_to_end import end_to_end_flow, end_to_end_jacobian, svd_flow
from riemdln.flows.factors import balanced_factors, factor_descent, factor_flow
from riemdln.flows.result import (
    MESSAGES,
    Event,
    FlowResult,
    Status,
    effective_rank,
    loss_below,
    norm_above,
    time_budget,
    trajectory_diagnostics,
)

__all__ = [
    "MESSAGES",
    "Event",
    "FlowResult",
    "Status",
    "balanced_factors",
    "effective_rank",
    "end_to_end_flow",
    "end_to_end_jacobian",
    "factor_descent",
    "factor_flow",
    "loss_below",
    "norm_above",
    "svd_flow",
    "time_budget",
    "trajectory_diagnostics",
]
