"""hf-masked: a tiny randomly initialised BERT and a WordPiece tokenizer built here, offline."""

import numpy as np
import pytest

import langmodels as lm
from langmodels import make
from tests.stubs import tiny_bert_dir

tf = pytest.importorskip("transformers", reason="hf-masked needs the optional package transformers")
torch = pytest.importorskip("torch")
tokenizers = pytest.importorskip("tokenizers")

@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return tiny_bert_dir(tmp_path_factory.mktemp("tiny-bert"))


@pytest.fixture(scope="module")
def model(bert_dir, toy_train):
    return make("hf-masked", pretrained=str(bert_dir)).fit(toy_train)


def test_a_masked_word_is_scored_with_all_its_pieces_masked(model, bert_dir, toy_train):
    tok = tf.AutoTokenizer.from_pretrained(bert_dir)
    net = tf.AutoModelForMaskedLM.from_pretrained(bert_dir).eval()
    v = toy_train.vocab
    seq = [v["the"], v["cat"], v["sat"]]
    lp = model.masked_logprobs([seq], [1])[0]
    assert np.isneginf(lp[v.bos_id]) and np.exp(lp).sum() == pytest.approx(1.0, abs=1e-9)

    def score(word):          # by hand: [CLS] the [MASK] x k sat [SEP], summed piece log-probs
        pieces = tok(word, add_special_tokens=False)["input_ids"]
        ids = ([tok.cls_token_id] + tok("the", add_special_tokens=False)["input_ids"]
               + [tok.mask_token_id] * len(pieces) + tok("sat", add_special_tokens=False)["input_ids"]
               + [tok.sep_token_id])
        start = 1 + len(tok("the", add_special_tokens=False)["input_ids"])
        with torch.no_grad():
            lsm = torch.log_softmax(net(input_ids=torch.tensor([ids])).logits[0].double(), -1).numpy()
        return sum(lsm[start + j, p] for j, p in enumerate(pieces))

    assert [len(tok(w, add_special_tokens=False)["input_ids"]) for w in ("dog", "dogs", "red")] == [1, 2, 3]
    for a, b in [("dog", "dogs"), ("dogs", "red"), ("mat", "log")]:   # free of the normaliser
        np.testing.assert_allclose(lp[v[a]] - lp[v[b]], score(a) - score(b), atol=1e-5)


def test_pll_fill_mask_and_save_load(model, toy_test, tmp_path):
    pll = model.pseudo_log_likelihood(toy_test)
    assert pll.shape == (toy_test.n_targets,) and np.isfinite(pll).all()
    seq = toy_test[0]
    lp = model.masked_logprobs([seq], [len(seq)])                 # the </s> slot: [SEP] masked
    assert lp[0, toy_test.vocab.eos_id] == pytest.approx(pll[len(seq)], abs=1e-9)
    (words,), = model.fill_mask(["the <mask> sat"], top_k=2)
    assert len(words) == 2 and words[0][1] >= words[1][1]
    model.save(tmp_path / "m")
    again = lm.load(tmp_path / "m")
    assert type(again) is type(model)
    np.testing.assert_allclose(again.pseudo_log_likelihood(toy_test), pll, atol=1e-9)
    assert again.n_parameters() == model.n_parameters()


def test_pretrained_is_required():
    with pytest.raises(lm.InvalidParameterError, match="pretrained"):
        make("hf-masked").check_params()
