"""``python -m riemdln`` is the ``riemdln`` command."""

import sys

from riemdln.cli import main

sys.exit(main())
