# The earlier path of riemdln.symbolic.kernels (riemdln._aliases): the same module, for type checkers.
from riemdln.symbolic.kernels import *  # noqa: F403
