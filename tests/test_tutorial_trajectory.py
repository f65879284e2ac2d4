"""``fastrnn.RNN(gradient="tutorial")`` replays a trajectory recorded from the tutorial's own code.

``tests/data/tutorial_trajectory.json`` holds numbers only: the tutorial's sentences as word ids,
the losses / accuracies after chosen epochs and checksums of the five weight arrays, recorded by
running the unchanged ``rnn.py`` of vzhou842/rnn-from-scratch with its ``main.py`` loop (the
recipe is in the file's ``generated_by``; the generating script lives outside this repository).
Here the same loop (one-hot ``(V, 1)`` inputs, ``np.exp(xs) / sum(np.exp(xs))``, ``d_y = p -
1_c``, ``backprop``) runs through our public API only, on the same weights and sample orders.

Tolerances: per step, our kernels and the tutorial's numpy agree to an ulp or so (another
summation order: the kernel reads ``Wxh``'s column of the word instead of multiplying by a
one-hot vector, and sums ``Whh @ h`` in another order).  Training feeds such differences back
into the next step, and the loss surface of this recipe is a flat plateau (epochs 1-100, loss
~0.69) followed by a fast descent (epochs 200-500), where small differences in the weights are
amplified most; on another CPU (FMA, other SIMD widths) or numpy version the per-step rounding
differs too.  So the float64 bound widens with the epoch: rtol 1e-9 up to epoch 20, 1e-8 up to
epoch 100, 1e-6 after.  Measured on this machine (numpy 2.4 and 1.26): losses agree to <= 2e-13
relative at every recorded epoch, weight checksums to ~2e-13 by epoch 20 and ~1e-12 at epoch
500.  Sums of nearly cancelling arrays (``by`` sums to ~0 by symmetry) get an absolute bound of
rtol times the array's mean absolute entry.  Accuracies are exact counts, compared exactly: a
flipped prediction would be a real difference, not rounding.
"""

import json
import random
from pathlib import Path

import numpy as np
import pytest

from fastrnn import RNN

DATA = Path(__file__).parent / "data" / "tutorial_trajectory.json"


@pytest.fixture(scope="module")
def rec():
    with open(DATA) as f:
        return json.load(f)


def rtol_for(epoch):
    """Relative tolerance after ``epoch`` epochs (float64; measured gaps in the docstring)."""
    if epoch <= 20:
        return 1e-9
    if epoch <= 100:
        return 1e-8
    return 1e-6


def one_hot_inputs(ids, V):
    """The tutorial's ``createInputs``: a list of one-hot ``(V, 1)`` float64 vectors."""
    out = []
    for i in ids:
        v = np.zeros((V, 1))
        v[i] = 1
        out.append(v)
    return out


def softmax(xs):
    """The tutorial's softmax, unchanged (no max subtraction; Python's ``sum`` over rows)."""
    return np.exp(xs) / sum(np.exp(xs))


def process(rnn, sentences, labels, order, backprop=True):
    """The tutorial's ``processData`` over ``order``: returns (mean loss, accuracy)."""
    loss = 0
    num_correct = 0
    for i in order:
        out, _ = rnn.forward(sentences[i])
        probs = softmax(out)
        target = labels[i]
        loss -= np.log(probs[target])
        num_correct += int(np.argmax(probs) == target)
        if backprop:
            d_L_d_y = probs
            d_L_d_y[target] -= 1
            rnn.backprop(d_L_d_y)
    return float(loss[0]) / len(order), num_correct / len(order)


def checksums(rnn):
    out = {}
    for name in ("Whh", "Wxh", "Why", "bh", "by"):
        a = getattr(rnn, name)
        flat = a.reshape(-1)
        out[name] = {"sum": a.sum(), "abs_sum": np.abs(a).sum(), "sq_sum": (a * a).sum(),
                     "first": flat[:4], "last": flat[-1]}
    return out


def assert_weights(rnn, expected, epoch):
    got = checksums(rnn)
    rtol = rtol_for(epoch)
    for name, fields in expected.items():
        for field, value in fields.items():
            # ``sum`` of a ~zero-mean array cancels: its own size sets no scale, abs_sum does
            atol = rtol * fields["abs_sum"] / getattr(rnn, name).size
            np.testing.assert_allclose(got[name][field], value, rtol=rtol, atol=atol,
                                       err_msg=f"{name}.{field} after epoch {epoch}")


def test_recorded_orders_are_python_random_shuffle(rec):
    """The orders re-derive from ``random.seed(seed)`` and one ``random.shuffle`` per epoch."""
    rnd = random.Random(rec["seed"])
    n = len(rec["train"]["labels"])
    for epoch, check in enumerate(rec["order_checks"]):
        idx = list(range(n))
        rnd.shuffle(idx)
        if epoch < len(rec["orders"]):
            assert idx == rec["orders"][epoch]
        assert sum((i + 1) * j for i, j in enumerate(idx)) == check, epoch


def test_tutorial_trajectory(rec):
    V, O, H = rec["input_size"], rec["output_size"], rec["hidden_size"]
    assert rec["learn_rate"] == 2e-2 and rec["clip"] == 1.0  # RNN's defaults, as the tutorial's
    train = [one_hot_inputs(s, V) for s in rec["train"]["tokens"]]
    test = [one_hot_inputs(s, V) for s in rec["test"]["tokens"]]
    y_train, y_test = rec["train"]["labels"], rec["test"]["labels"]
    in_order_train, in_order_test = range(len(train)), range(len(test))

    np.random.seed(rec["seed"])
    rnn = RNN(V, O, H, gradient="tutorial")
    assert_weights(rnn, rec["weights"]["0"], 0)
    rnd = random.Random(rec["seed"])
    records = {r["epoch"]: r for r in rec["epochs"]}
    last = max(records)
    for epoch in range(last + 1):
        got = {}
        if epoch > 0:
            order = list(range(len(train)))
            rnd.shuffle(order)
            got["epoch_loss"], got["epoch_acc"] = process(rnn, train, y_train, order)
        if epoch in records:
            got["train_loss"], got["train_acc"] = process(rnn, train, y_train, in_order_train,
                                                          backprop=False)
            got["test_loss"], got["test_acc"] = process(rnn, test, y_test, in_order_test,
                                                        backprop=False)
            for key, value in records[epoch].items():
                if key.endswith("_loss"):
                    np.testing.assert_allclose(got[key], value, rtol=rtol_for(epoch),
                                               err_msg=f"{key} after epoch {epoch}")
                elif key.endswith("_acc"):
                    assert got[key] == value, f"{key} after epoch {epoch}"
        if str(epoch) in rec["weights"] and epoch > 0:
            assert_weights(rnn, rec["weights"][str(epoch)], epoch)
