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

from riemdln import _aliases

__version__ = "0.1.0"

_aliases.install()  # import riemdln.geodesics (an earlier path) gives riemdln.geometry.geodesics

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
    "DLNMetric": "riemdln.geometry.dln_metric",
    # curvature (docs/theory.md §11)
    "scalar_curvature": "riemdln.geometry.curvature",
    "sectional_curvature": "riemdln.geometry.curvature",
    "ricci_curvature": "riemdln.geometry.curvature",
    "christoffel": "riemdln.geometry.geodesics",
    "hamiltonian_gradient": "riemdln.geometry.geodesics",
    "geodesic": "riemdln.geometry.geodesics",
    "exp_map": "riemdln.geometry.geodesics",
    "GeodesicResult": "riemdln.geometry.geodesics",
    "GeodesicBetweenResult": "riemdln.geometry.geodesics",
    "geodesic_between": "riemdln.geometry.geodesics",
    "log_map": "riemdln.geometry.geodesics",
    "distance": "riemdln.geometry.geodesics",
    "discrete_distance": "riemdln.geometry.geodesics",
    "DiscreteDistanceResult": "riemdln.geometry.geodesics",
    # catalog
    "catalog": "riemdln.symbolic.formulas",
    "Formula": "riemdln.symbolic.formulas",
    "derive": "riemdln.symbolic.formulas",
    # errors (riemdln._errors: one base, one class per kind of failure)
    "RiemdlnError": "riemdln._errors",
    "RiemdlnValueError": "riemdln._errors",
    "LockBusyError": "riemdln._errors",
    "ConvergenceError": "riemdln._errors",
    "MissingExtraError": "riemdln._errors",
    "LatexError": "riemdln._errors",
    # simulation
    "CompletionProblem": "riemdln.problems",
    "Energy": "riemdln.problems.energies",
    "QuadraticEnergy": "riemdln.problems.energies",
    "SensingProblem": "riemdln.problems.energies",
    "balanced_factors": "riemdln.flows",
    "factor_flow": "riemdln.flows",
    "factor_descent": "riemdln.flows",
    "end_to_end_flow": "riemdln.flows",
    "end_to_end_jacobian": "riemdln.flows",
    "svd_flow": "riemdln.flows",
    # Langevin dynamics and Gibbs measures
    "langevin": "riemdln.thermo.langevin_dynamics",
    "gibbs_sample": "riemdln.thermo.langevin_dynamics",
    "gibbs_expectation": "riemdln.thermo.langevin_dynamics",
    "LangevinResult": "riemdln.thermo.langevin_dynamics",
    "GibbsSample": "riemdln.thermo.langevin_dynamics",
    "GibbsExpectation": "riemdln.thermo.langevin_dynamics",
    "FlowResult": "riemdln.flows",
    "Status": "riemdln.flows",
    "Event": "riemdln.flows",
    "loss_below": "riemdln.flows",
    "norm_above": "riemdln.flows",
    "time_budget": "riemdln.flows",
    "effective_rank": "riemdln.flows",
    "reproduce": "riemdln.app.report",
    # checking a user's training run against the theory
    "check_training": "riemdln.training",
    "TrainingCheck": "riemdln.training",
    "CheckResult": "riemdln.training",
    "TrainingRecorder": "riemdln.training",
}

__all__ = sorted(_LAZY) + ["__version__"]  # subpackages (riemdln.flows, ...) also load on attribute access


# the layers (folders), then the earlier paths of the modules they hold (riemdln._aliases)
_SUBMODULES = (
    "symbolic",
    "geometry",
    "problems",
    "flows",
    "thermo",
    "training",
    "studies",
    "app",
    "baselines",
    "cli",
    "curvature",
    "derivations",
    "dln_metric",
    "energies",
    "formulas",
    "functions",
    "geodesics",
    "kernels",
    "langevin_dynamics",
    "report",
    "sweep",
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
    from riemdln.geometry import apply_A as apply_A
    from riemdln.geometry import entropy as entropy
    from riemdln.geometry import metric as metric
    from riemdln.geometry import multiplier as multiplier
    from riemdln.geometry import volume_density as volume_density
    from riemdln.geometry.dln_metric import DLNMetric as DLNMetric
    from riemdln.thermo.langevin_dynamics import GibbsExpectation as GibbsExpectation
    from riemdln.thermo.langevin_dynamics import GibbsSample as GibbsSample
    from riemdln.training import CheckResult as CheckResult
    from riemdln.training import TrainingCheck as TrainingCheck
    from riemdln.training import TrainingRecorder as TrainingRecorder
    from riemdln.training import check_training as check_training
