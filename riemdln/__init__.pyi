"""Type stub of riemdln's top level: what mypy, pyright and IDEs see of ``import riemdln``.

At run time the names below are imported on first use (``riemdln/__init__.py``: ``_LAZY`` maps each public
name to its module); this stub gives them their real types. tests/test_stub.py checks that the two list the
same names from the same modules, and prints the lines to add when they do not.
"""

# public submodules (loaded on attribute access; the earlier paths through the stubs riemdln/<name>.pyi)
from riemdln import app as app
from riemdln import baselines as baselines
from riemdln import cli as cli
from riemdln import curvature as curvature
from riemdln import derivations as derivations
from riemdln import dln_metric as dln_metric
from riemdln import energies as energies
from riemdln import flows as flows
from riemdln import formulas as formulas
from riemdln import functions as functions
from riemdln import geodesics as geodesics
from riemdln import geometry as geometry
from riemdln import kernels as kernels
from riemdln import langevin_dynamics as langevin_dynamics
from riemdln import problems as problems
from riemdln import report as report
from riemdln import studies as studies
from riemdln import sweep as sweep
from riemdln import symbolic as symbolic
from riemdln import thermo as thermo
from riemdln import training as training
from riemdln._errors import ConvergenceError as ConvergenceError
from riemdln._errors import LatexError as LatexError
from riemdln._errors import LockBusyError as LockBusyError
from riemdln._errors import MissingExtraError as MissingExtraError
from riemdln._errors import RiemdlnError as RiemdlnError
from riemdln._errors import RiemdlnValueError as RiemdlnValueError
from riemdln.app.report import reproduce as reproduce
from riemdln.flows import Event as Event
from riemdln.flows import FlowResult as FlowResult
from riemdln.flows import Status as Status
from riemdln.flows import balanced_factors as balanced_factors
from riemdln.flows import effective_rank as effective_rank
from riemdln.flows import end_to_end_flow as end_to_end_flow
from riemdln.flows import end_to_end_jacobian as end_to_end_jacobian
from riemdln.flows import factor_descent as factor_descent
from riemdln.flows import factor_flow as factor_flow
from riemdln.flows import loss_below as loss_below
from riemdln.flows import norm_above as norm_above
from riemdln.flows import svd_flow as svd_flow
from riemdln.flows import time_budget as time_budget
from riemdln.geometry import apply_A as apply_A
from riemdln.geometry import apply_A_inverse as apply_A_inverse
from riemdln.geometry import entropy as entropy
from riemdln.geometry import induced_log_volume_density as induced_log_volume_density
from riemdln.geometry import log_multiplier as log_multiplier
from riemdln.geometry import log_volume_density as log_volume_density
from riemdln.geometry import metric as metric
from riemdln.geometry import multiplier as multiplier
from riemdln.geometry import orthogonal_group_volume as orthogonal_group_volume
from riemdln.geometry import riemannian_gradient as riemannian_gradient
from riemdln.geometry import volume_density as volume_density
from riemdln.geometry.curvature import ricci_curvature as ricci_curvature
from riemdln.geometry.curvature import scalar_curvature as scalar_curvature
from riemdln.geometry.curvature import sectional_curvature as sectional_curvature
from riemdln.geometry.dln_metric import DLNMetric as DLNMetric
from riemdln.geometry.geodesics import DiscreteDistanceResult as DiscreteDistanceResult
from riemdln.geometry.geodesics import GeodesicBetweenResult as GeodesicBetweenResult
from riemdln.geometry.geodesics import GeodesicResult as GeodesicResult
from riemdln.geometry.geodesics import christoffel as christoffel
from riemdln.geometry.geodesics import discrete_distance as discrete_distance
from riemdln.geometry.geodesics import distance as distance
from riemdln.geometry.geodesics import exp_map as exp_map
from riemdln.geometry.geodesics import geodesic as geodesic
from riemdln.geometry.geodesics import geodesic_between as geodesic_between
from riemdln.geometry.geodesics import hamiltonian_gradient as hamiltonian_gradient
from riemdln.geometry.geodesics import log_map as log_map
from riemdln.problems import CompletionProblem as CompletionProblem
from riemdln.problems.energies import Energy as Energy
from riemdln.problems.energies import QuadraticEnergy as QuadraticEnergy
from riemdln.problems.energies import SensingProblem as SensingProblem
from riemdln.symbolic.formulas import Formula as Formula
from riemdln.symbolic.formulas import catalog as catalog
from riemdln.symbolic.formulas import derive as derive
from riemdln.thermo.langevin_dynamics import GibbsExpectation as GibbsExpectation
from riemdln.thermo.langevin_dynamics import GibbsSample as GibbsSample
from riemdln.thermo.langevin_dynamics import LangevinResult as LangevinResult
from riemdln.thermo.langevin_dynamics import gibbs_expectation as gibbs_expectation
from riemdln.thermo.langevin_dynamics import gibbs_sample as gibbs_sample
from riemdln.thermo.langevin_dynamics import langevin as langevin
from riemdln.training import CheckResult as CheckResult
from riemdln.training import TrainingCheck as TrainingCheck
from riemdln.training import TrainingRecorder as TrainingRecorder
from riemdln.training import check_training as check_training

__version__: str
__all__: list[str]
