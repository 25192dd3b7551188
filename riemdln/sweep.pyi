# The earlier path of riemdln.studies.sweep (riemdln._aliases): the same module, for type checkers.
from riemdln.studies.sweep import *  # noqa: F403
