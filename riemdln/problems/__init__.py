"""The problems the network is trained on: energies, matrix completion and sensing, and classical baselines.

- :mod:`riemdln.problems.energies` — the :class:`~riemdln.problems.energies.Energy` protocol, quadratic and
  sensing energies, and the checks applied to every value a user's energy returns;
- :class:`CompletionProblem` (``riemdln/problems/completion.py``) — observed entries of an unknown matrix;
- :mod:`riemdln.problems.baselines` — soft-impute and the nuclear-norm program, to compare against.
"""

from riemdln.problems.completion import CompletionProblem

__all__ = ["CompletionProblem"]
