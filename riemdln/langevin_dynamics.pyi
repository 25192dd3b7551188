# The earlier path of riemdln.thermo.langevin_dynamics (riemdln._aliases): the same module, for type checkers.
from riemdln.thermo.langevin_dynamics import *  # noqa: F403
