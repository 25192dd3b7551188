# The earlier path of riemdln.symbolic.formulas (riemdln._aliases): the same module, for type checkers.
from riemdln.symbolic.formulas import *  # noqa: F403
