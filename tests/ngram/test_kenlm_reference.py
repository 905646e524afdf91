"""Modified Kneser-Ney against the ARPA files KenLM's lmplz wrote (../shared/data/kenlm)."""

from __future__ import annotations

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, make
from tests.stubs import shared_data_or_skip

LN10 = np.log(10)
# ../shared/data/kenlm/README.md: what lmplz printed and what KenLM's query reported.
LMPLZ_D3 = [(0.597215, 1.047, 1.3923), (0.768022, 1.122, 1.48163), (0.872805, 1.15222, 1.45422)]
QUERY_PPL = {3: (168.8823, 123.1263), 5: (167.7689, 122.3319)}


@pytest.fixture(scope="module")
def shakespeare():
    d = shared_data_or_skip("shakespeare-words")
    train = Corpus.from_file(d / "train.txt")
    return train, Corpus.from_file(d / "test.txt", vocab=train.vocab)


@pytest.mark.parametrize("order, memory", [(3, None), (5, None), (5, "1M")],
                         ids=["3", "5", "5 counted in shards, spilled to disk"])
def test_every_ngram_matches_lmplz(order, memory, shakespeare):
    train, test = shakespeare
    ref = lm.load_arpa(shared_data_or_skip("kenlm", f"shakespeare-words.o{order}.arpa.gz"), vocab=train.vocab)
    ours = make("modified-kneser-ney", order=order).fit(train, memory=memory)
    a, b = ours.tables_, ref.tables_
    for k in range(order):
        np.testing.assert_array_equal(a.keys[k], b.keys[k], err_msg=f"{k + 1}-grams differ")
        finite = np.isfinite(b.logp[k])
        np.testing.assert_array_equal(np.isfinite(a.logp[k]), finite)
        np.testing.assert_allclose(a.logp[k][finite] / LN10, b.logp[k][finite] / LN10, rtol=0, atol=1e-4)
        if k < order - 1:
            np.testing.assert_allclose(a.logbow[k] / LN10, b.logbow[k] / LN10, rtol=0, atol=1e-4)
    report = lm.evaluate(ours, test)
    assert (round(report.perplexity, 4), round(report.perplexity_no_unk, 4)) == pytest.approx(
        QUERY_PPL[order], abs=1.5e-4)
    assert report.n_tokens == 27264 and report.n_oov == 1060
    if order == 3:
        np.testing.assert_allclose(ours.discounts_, LMPLZ_D3, rtol=2e-5)
