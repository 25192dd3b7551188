"""Check your own training code against the theory: :func:`check_training` and :class:`TrainingRecorder`.

A recorded run of a deep linear network (numpy, PyTorch, JAX) is compared with what gradient descent on
:math:`E(W_N\\cdots W_1)` must satisfy: the conservation of the balance matrices at first order, each layer's
step against its gradient, the end-to-end velocity against :math:`-A_N(X)\\nabla E(X)`, the exact
:math:`\\eta^2` balance identity and riemdln's exact flow. See the docs page "Checking your own training code".
"""

from __future__ import annotations

from riemdln.training._judge import CheckResult
from riemdln.training.check import TrainingCheck, check_training
from riemdln.training.recorder import TrainingRecorder

__all__ = ["check_training", "TrainingCheck", "CheckResult", "TrainingRecorder"]
