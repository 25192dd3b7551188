# The earlier path of riemdln.app.report (riemdln._aliases): the same module, for type checkers.
from riemdln.app.report import *  # noqa: F403
