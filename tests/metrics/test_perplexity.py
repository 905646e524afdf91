import math

import numpy as np
import pytest

from langmodels import Corpus
from langmodels.metrics import report_from_logprobs


def test_report_by_hand():
    c = Corpus.from_texts(["a b", "c"])           # targets: a b </s> c </s>
    logp = np.log([0.5, 0.25, 0.5, 0.125, 1.0])
    r = report_from_logprobs(logp, c)
    total = math.log(0.5 * 0.25 * 0.5 * 0.125 * 1.0)
    assert r.total_logprob == pytest.approx(total)
    assert r.n_tokens == 5 and r.n_sequences == 2
    assert r.perplexity == pytest.approx(math.exp(-total / 5))
    # ppl1 leaves out the two </s> tokens (0.5 and 1.0).
    assert r.perplexity_no_eos == pytest.approx(math.exp(-math.log(0.5 * 0.25 * 0.125) / 3))
    assert r.bits_per_token == pytest.approx(-total / 5 / math.log(2))
    # characters: "a b" (3) + "c" (1) + one newline per sequence = 6
    assert r.bits_per_char == pytest.approx(-total / 6 / math.log(2))


def test_shape_mismatch_is_an_error():
    c = Corpus.from_texts(["a b"])
    with pytest.raises(ValueError, match="expected 3"):
        report_from_logprobs(np.zeros(2), c)


def test_report_states_the_scoring_context(toy_train, toy_test):
    import langmodels as lm

    report = lm.evaluate(lm.make("unigram").fit(toy_train), toy_test)
    assert report.context == "sentence" and str(report).endswith("sentence context")
    stream = lm.make("lstm", embed_dim=4, hidden_size=4, n_layers=1, epochs=1, context="stream",
                     batch_size=2, bptt=4, seed=0, device="cpu", progress=False).fit(toy_train)
    assert lm.evaluate(stream, toy_test).context == "stream"
