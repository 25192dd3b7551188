"""check_training on real PyTorch (and JAX, where installed) training loops.

A deep linear network of ``torch.nn.Linear(bias=False)`` layers on a completion problem: ``net(I)`` is
:math:`X^T` (a Linear layer computes ``x @ W.T``), so :math:`X = W_3W_2W_1` with the layers in
``torch.nn.Sequential`` order, the ``order="W1_first"`` convention.
"""

from __future__ import annotations

import numpy as np
import pytest
import training_runs as tr

import riemdln
from riemdln import TrainingRecorder, check_training

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # small matrices: torch's threads cost far more than they gain


def _net(W0, dtype):
    layers = []
    for w in W0:
        lin = torch.nn.Linear(w.shape[1], w.shape[0], bias=False, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.as_tensor(w, dtype=dtype))
        layers.append(lin)
    return torch.nn.Sequential(*layers)


def _train(p, W0, lr, steps, optimizer="sgd", dtype=torch.float64, weight_decay=0.0, every=1):
    net = _net(W0, dtype)
    eye = torch.eye(p.shape[1], dtype=dtype)
    mask = torch.tensor(np.array(p.mask))
    target = torch.tensor(np.array(p.target), dtype=dtype)
    params = list(net.parameters())
    if optimizer == "sgd":
        opt = torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    else:
        opt = torch.optim.Adam(params, lr=lr)
    rec = TrainingRecorder(every=every)
    raw = []
    for step in range(steps + 1):
        rec.record(step, [layer.weight for layer in net])
        raw.append([layer.weight.detach().clone() for layer in net])
        if step == steps:
            break
        opt.zero_grad()
        X = net(eye).T
        loss = 0.5 * ((X - target)[mask] ** 2).sum()
        loss.backward()
        opt.step()
    return rec, raw


@pytest.fixture(scope="module")
def setup():
    p = tr.problem(10, seed=7)
    W0 = tr.start(p, 3, seed=7)
    return p, W0, 0.3 * tr.stable_lr(p, 3)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_sgd_passes(setup, dtype):
    p, W0, lr = setup
    rec, _ = _train(p, W0, lr, 40, dtype=getattr(torch, dtype))
    c = check_training(rec, lr=lr, energy=p)
    assert c.consistent and c.findings == (), c.summary()
    assert rec.unit_roundoff == (2.0**-53 if dtype == "float64" else 2.0**-24)


def test_torch_adam_and_weight_decay_are_diagnosed(setup):
    p, W0, lr = setup
    rec, _ = _train(p, W0, 1e-3, 30, optimizer="adam", dtype=torch.float32)
    c = check_training(rec, lr=1e-3, energy=p)
    assert c.findings == ("momentum_or_adaptive",), c.diagnosis
    rec, _ = _train(p, W0, lr, 30, weight_decay=1e-2)
    c = check_training(rec, lr=lr, energy=p)
    assert c.findings == ("weight_decay",) and c.fits["weight_decay"] == pytest.approx(1e-2, rel=1e-6)


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_torch_tensors_give_the_same_check_as_numpy(setup, dtype):
    p, W0, lr = setup
    _, raw = _train(p, W0, lr, 20, optimizer="adam", dtype=getattr(torch, dtype))
    tensors = [[w.requires_grad_(True) for w in r] for r in raw]  # also with requires_grad
    arrays = [[w.detach().numpy().copy() for w in r] for r in raw]
    a = check_training(tensors, lr=lr, energy=p)
    b = check_training(arrays, lr=lr, energy=p)
    assert a == b and a.diagnosis == b.diagnosis
    assert dict(a.checks) == dict(b.checks)


def test_recorder_reads_without_holding_the_tensor(setup):
    p, W0, lr = setup
    w = torch.ones(3, 3, requires_grad=True)
    rec = TrainingRecorder()
    rec.record(0, [w])
    with torch.no_grad():
        w.add_(1.0)
    assert rec.weights[0][0].dtype == np.float64 and float(rec.weights[0][0][0, 0]) == 1.0


def test_jax_arrays_give_the_same_check_as_numpy(setup):
    jnp = pytest.importorskip("jax.numpy")
    p, W0, lr = setup
    recs = [[w.astype(np.float32) for w in r] for r in tr.train(p, W0, lr, 10)]
    a = check_training([[jnp.asarray(w) for w in r] for r in recs], lr=lr, energy=p)
    assert a == check_training(recs, lr=lr, energy=p)


def test_recording_the_live_parameters_is_refused(setup):
    p, W0, lr = setup
    net = _net(W0, torch.float32)
    records = [[layer.weight for layer in net] for _ in range(3)]  # no clone: one tensor per layer, updated in place
    with pytest.raises(riemdln.RiemdlnValueError, match="is the same object"):
        check_training(records, lr=lr)
