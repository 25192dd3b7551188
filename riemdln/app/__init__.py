"""The application: :func:`~riemdln.app.report.reproduce` (report.md, results.json, the typeset catalog) and
the ``riemdln`` command (:mod:`riemdln.app.cli`)."""
