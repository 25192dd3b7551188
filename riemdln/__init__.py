"""riemdln — Riemannian geometry of the deep linear network (DLN).

Symbolic derivations (SymPy) → formula catalog (LaTeX, numeric twins) → geometry functions →
flows → studies and the command line. ``import riemdln`` loads numpy only; everything else is
imported on first use (module ``__getattr__``, as SciPy does), and type checkers see the real
signatures through the stub ``riemdln/__init__.pyi``.

>>> import riemdln
>>> print(round(float(riemdln.multiplier(4.0, 1.0, depth=2)), 12))
3.0
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

__version__ = "0.1.0"

# public name -> defining module
_LAZY = {
    # geometry
    "multiplier": "riemdln.geometry",
    "log_multiplier": "riemdln.geometry",
    "apply_A": "riemdln.geometry",
    "apply_A_inverse": "riemdln.geometry",
    "metric": "riemdln.geometry",
    "riemannian_gradient": "riemdln.geometry",
    "induced_log_volume_density": "riemdln.geometry",
    "volume_density": "riemdln.geometry",
    "log_volume_density": "riemdln.geometry",
    "entropy": "riemdln.geometry",
    "orthogonal_group_volume": "riemdln.geometry",
    "DLNMetric": "riemdln.dln_metric",
    # curvature (docs/theory.md §11)
    "scalar_curvature": "riemdln.curvature",
    "sectional_curvature": "riemdln.curvature",
    "ricci_curvature": "riemdln.curvature",
    "christoffel": "riemdln.geodesics",
    "hamiltonian_gradient": "riemdln.geodesics",
    "geodesic": "riemdln.geodesics",
    "exp_map": "riemdln.geodesics",
    "GeodesicResult": "riemdln.geodesics",
    "GeodesicBetweenResult": "riemdln.geodesics",
    "geodesic_between": "riemdln.geodesics",
    "log_map": "riemdln.geodesics",
    "distance": "riemdln.geodesics",
    "discrete_distance": "riemdln.geodesics",
    "DiscreteDistanceResult": "riemdln.geodesics",
    # catalog
    "catalog": "riemdln.formulas",
    "Formula": "riemdln.formulas",
    "derive": "riemdln.formulas",
    # errors (riemdln._errors: one base, one class per kind of failure)
    "RiemdlnError": "riemdln._errors",
    "RiemdlnValueError": "riemdln._errors",
    "LockBusyError": "riemdln._errors",
    "ConvergenceError": "riemdln._errors",
    "MissingExtraError": "riemdln._errors",
    "LatexError": "riemdln._errors",
    # simulation
    "CompletionProblem": "riemdln.problems",
    "Energy": "riemdln.energies",
    "QuadraticEnergy": "riemdln.energies",
    "SensingProblem": "riemdln.energies",
    "balanced_factors": "riemdln.flows",
    "factor_flow": "riemdln.flows",
    "factor_descent": "riemdln.flows",
    "end_to_end_flow": "riemdln.flows",
    "end_to_end_jacobian": "riemdln.flows",
    "svd_flow": "riemdln.flows",
    # Langevin dynamics and Gibbs measures
    "langevin": "riemdln.langevin_dynamics",
    "gibbs_sample": "riemdln.langevin_dynamics",
    "gibbs_expectation": "riemdln.langevin_dynamics",
    "LangevinResult": "riemdln.langevin_dynamics",
    "GibbsSample": "riemdln.langevin_dynamics",
    "GibbsExpectation": "riemdln.langevin_dynamics",
    "FlowResult": "riemdln.flows",
    "Status": "riemdln.flows",
    "Event": "riemdln.flows",
    "loss_below": "riemdln.flows",
    "norm_above": "riemdln.flows",
    "time_budget": "riemdln.flows",
    "effective_rank": "riemdln.flows",
    "reproduce": "riemdln.report",
    # checking a user's training run against the theory
    "check_training": "riemdln.training",
    "TrainingCheck": "riemdln.training",
    "CheckResult": "riemdln.training",
    "TrainingRecorder": "riemdln.training",
}

__all__ = sorted(_LAZY) + ["__version__"]  # subpackages (riemdln.flows, ...) also load on attribute access


_SUBMODULES = (
    "baselines",
    "derivations",
    "dln_metric",
    "energies",
    "flows",
    "formulas",
    "functions",
    "geometry",
    "kernels",
    "curvature",
    "geodesics",
    "langevin_dynamics",
    "problems",
    "report",
    "studies",
    "sweep",
    "training",
)


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"riemdln.{name}")
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'riemdln' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__


# Type checkers read riemdln/__init__.pyi, which imports every name of _LAZY and _SUBMODULES from its module
# (tests/test_stub.py prints the stub lines a new name needs); this block is not what they see.
if TYPE_CHECKING:  # pragma: no cover
    from riemdln._errors import RiemdlnValueError as RiemdlnValueError
    from riemdln.dln_metric import DLNMetric as DLNMetric
    from riemdln.geometry import apply_A as apply_A
    from riemdln.geometry import entropy as entropy
    from riemdln.geometry import metric as metric
    from riemdln.geometry import multiplier as multiplier
    from riemdln.geometry import volume_density as volume_density
    from riemdln.langevin_dynamics import GibbsExpectation as GibbsExpectation
    from riemdln.langevin_dynamics import GibbsSample as GibbsSample
    from riemdln.training import CheckResult as CheckResult
    from riemdln.training import TrainingCheck as TrainingCheck
    from riemdln.training import TrainingRecorder as TrainingRecorder
    from riemdln.training import check_training as check_training
