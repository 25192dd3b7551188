# The earlier path of riemdln.problems.baselines (riemdln._aliases): the same module, for type checkers.
from riemdln.problems.baselines import *  # noqa: F403
