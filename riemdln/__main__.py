"""``python -m riemdln`` is the ``riemdln`` command."""

import sys

from riemdln.app.cli import main

sys.exit(main())
