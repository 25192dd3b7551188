# The earlier path of riemdln.problems.energies (riemdln._aliases): the same module, for type checkers.
from riemdln.problems.energies import *  # noqa: F403
