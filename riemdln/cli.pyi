# The earlier path of riemdln.app.cli (riemdln._aliases): the same module, for type checkers.
from riemdln.app.cli import *  # noqa: F403
