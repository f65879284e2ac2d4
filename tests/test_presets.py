"""``Model.preset``: named recipes on top of the defaults."""

import pytest

from fastrnn import Model


def test_presets_are_configured_models():
    assert Model.preset("fast").get_params() == Model().get_params()
    acc = Model.preset("accurate", seed=3)
    assert acc.cell == "gru" and acc.ngrams == Model().ngrams and acc.seed == 3
    assert Model.preset("accurate", cell="lstm").cell == "lstm"  # overrides win


def test_preset_bad_input():
    with pytest.raises(ValueError, match="unknown preset 'best'.*'fast', 'accurate'"):
        Model.preset("best")
    with pytest.raises(TypeError, match="unknown Model parameter.*hidden"):
        Model.preset("fast", hidden=3)
