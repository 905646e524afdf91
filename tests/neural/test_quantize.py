import numpy as np
import pytest

import langmodels as lm
from langmodels import make
from tests.stubs import FAST_PARAMS

torch = pytest.importorskip("torch")
from langmodels.neural.quantize import module_size_bytes, quantize_dynamic  # noqa: E402


@pytest.mark.filterwarnings("ignore::UserWarning")  # torch announces quantized dtypes' deprecation
@pytest.mark.parametrize("name", ["lstm", "transformer"])
def test_quantised_copy_keeps_the_contract_and_stays_close(name, toy_train, toy_test, tmp_path):
    params = {**FAST_PARAMS[name], "embed_dim": 16, "epochs": 3}
    if name == "lstm":
        params["hidden_size"] = 16
    model = make(name, **params).fit(toy_train)
    before = model.token_logprobs(toy_test)
    q = quantize_dynamic(model)
    # Every Linear became an int8 dynamic Linear; the float model is untouched.
    kinds = {type(m).__module__ for m in q.module_.modules() if "Linear" in type(m).__name__}
    assert kinds and all("quantized" in k for k in kinds)
    assert not any("quantized" in type(m).__module__ for m in model.module_.modules())
    np.testing.assert_array_equal(model.token_logprobs(toy_test), before)
    # Same contract: rows sum to 1, <s> never predicted.
    lp = q.next_logprobs([[], [3, 4, 5]])
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-6)
    assert np.isneginf(lp[:, 1]).all()
    # int8 weights (scale = max|W| / 127) move log-probabilities only a little on this tiny model.
    # Activations get one scale per input tensor, i.e. per batch, so the fast path and the
    # row-by-row path do not agree to the float contract's 1e-5; each stays near the float model.
    fast = q.token_logprobs(toy_test)
    slow = lm.LanguageModel._token_logprobs(q, toy_test)
    assert np.abs(fast - before).max() < 0.05 and np.abs(slow - before).max() < 0.05
    assert module_size_bytes(q) < module_size_bytes(model)
    with pytest.raises(lm.CheckpointError, match="inference only"):
        q.save(tmp_path / "q")


def test_only_neural_models_quantise(toy_train):
    with pytest.raises(lm.InvalidParameterError, match="neural family"):
        quantize_dynamic(make("unigram").fit(toy_train))
