# The earlier path of riemdln.symbolic.functions (riemdln._aliases): the same module, for type checkers.
from riemdln.symbolic.functions import *  # noqa: F403
