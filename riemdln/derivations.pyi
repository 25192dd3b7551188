# The earlier path of riemdln.symbolic.derivations (riemdln._aliases): the same module, for type checkers.
from riemdln.symbolic.derivations import *  # noqa: F403
