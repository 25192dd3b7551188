# The earlier path of riemdln.geometry.curvature (riemdln._aliases): the same module, for type checkers.
from riemdln.geometry.curvature import *  # noqa: F403
