# The earlier path of riemdln.geometry.dln_metric (riemdln._aliases): the same module, for type checkers.
from riemdln.geometry.dln_metric import *  # noqa: F403
