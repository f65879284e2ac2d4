"""The gated kernels' disk-cache keys are the same in every process (issue 11: a warm start
compiled the GRU epoch and predict kernels again, ~9 s, because their closures held dispatchers,
whose pickled form carries a per-process uuid, and numba keys a closure's cache on the pickled
cell contents)."""

import json

from numba.core.dispatcher import Dispatcher

from conftest import run_python
from fastrnn.kernels import dropin as KD
from fastrnn.kernels import gated as KG
from fastrnn.kernels import ngram as KN
from fastrnn.kernels import rnn as KR

_KEYS = r"""
import hashlib, json
from numba.core.serialize import dumps
from fastrnn.kernels import gated as KG
out = {}
for name in sorted(vars(KG)):
    d = getattr(KG, name)
    if hasattr(d, "py_func") and d.py_func.__closure__ is not None:
        cells = tuple(c.cell_contents for c in d.py_func.__closure__)
        out[name] = hashlib.sha256(dumps(cells)).hexdigest()
print(json.dumps(out))
"""


def _keys():
    r = run_python(_KEYS, timeout=300)
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_closure_cache_keys_are_the_same_in_every_process():
    a, b = _keys(), _keys()
    # every entry point of both cells is a closure (the factories), all of them checked
    assert {"train_epoch_gru_adagrad", "train_epoch_lstm_adam", "predict_proba_range_gru",
            "predict_proba_range_lstm"} <= set(a)
    assert a == b


def test_closures_hold_plain_constants_only():
    # every kernel module (the tanh and embedding epoch kernels are factory closures too)
    seen = 0
    for module in (KR, KG, KD, KN):
        for name, d in vars(module).items():
            if isinstance(d, Dispatcher) and d.py_func.__closure__ is not None:
                seen += 1
                for c in d.py_func.__closure__:
                    assert isinstance(c.cell_contents, (bool, int)), (name, c.cell_contents)
    assert seen >= 20  # 6 tanh (one-hot + embedding) + 12 gated epoch + 2 gated predict
