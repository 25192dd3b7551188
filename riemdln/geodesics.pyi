# The earlier path of riemdln.geometry.geodesics (riemdln._aliases): the same module, for type checkers.
from riemdln.geometry.geodesics import *  # noqa: F403
