"""hf-causal: a tiny randomly initialised GPT-2 and a tokenizer trained here, offline."""

import numpy as np
import pytest

import langmodels as lm
from langmodels import Corpus, make
from tests.stubs import TOY_TRAIN

tf = pytest.importorskip("transformers", reason="hf-causal needs the optional package transformers")
torch = pytest.importorskip("torch")
tokenizers = pytest.importorskip("tokenizers")

EOT = "<|endoftext|>"
# The network runs in float32 and its sums depend on the batch shape: compare to ~1e-5.


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    """A GPT-2-style directory: byte-level BPE trained on the toy corpus + a 1-layer random network."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator(TOY_TRAIN, trainers.BpeTrainer(
        vocab_size=290, special_tokens=[EOT], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False))
    tok = tf.GPT2TokenizerFast(tokenizer_object=tk, bos_token=EOT, eos_token=EOT, unk_token=EOT)
    torch.manual_seed(0)
    net = tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=len(tok), n_positions=64, n_embd=16, n_layer=1,
                                           n_head=2, bos_token_id=tok.eos_token_id,
                                           eos_token_id=tok.eos_token_id))
    path = tmp_path_factory.mktemp("tiny-gpt2")
    tok.save_pretrained(path)
    net.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def model(gpt2_dir, toy_train):
    return make("hf-causal", pretrained=str(gpt2_dir)).fit(toy_train)


@pytest.fixture(scope="module")
def reference(gpt2_dir):
    tok = tf.AutoTokenizer.from_pretrained(gpt2_dir)
    net = tf.AutoModelForCausalLM.from_pretrained(gpt2_dir).eval()

    def logsoftmax(ids):
        with torch.no_grad():
            return torch.log_softmax(net(input_ids=torch.tensor([ids])).logits[0].double(), -1).numpy()

    return tok, logsoftmax


def test_sentence_score_equals_the_networks_piece_probability(model, reference, toy_train):
    tok, logsoftmax = reference
    text = "the cat sat on the log"
    ids = [tok.eos_token_id] + tok(text)["input_ids"] + [tok.eos_token_id]
    lsm = logsoftmax(ids)
    direct = sum(lsm[t - 1, ids[t]] for t in range(1, len(ids)))
    ours = model.token_logprobs(Corpus.from_texts([text], vocab=toy_train.vocab))
    assert len(ours) == 7 and ours.sum() == pytest.approx(direct, abs=1e-5)


def test_one_word_by_hand(model, reference, toy_train):
    # p(cat | the) = P(pieces(" cat") | <eot> the) * P(word start after them) / P(word start after "the")
    tok, logsoftmax = reference
    start = np.array([t.startswith("Ġ") for t in tok.convert_ids_to_tokens(list(range(len(tok))))])
    start[tok.eos_token_id] = True
    ctx = [tok.eos_token_id] + tok("the")["input_ids"]
    cat = tok(" cat")["input_ids"]
    lsm = logsoftmax(ctx + cat)

    def log_b(row):
        return np.log(np.exp(row[start]).sum())

    n = len(ctx)
    expected = (sum(lsm[n - 1 + j, p] for j, p in enumerate(cat)) + log_b(lsm[n - 1 + len(cat)])
                - log_b(lsm[n - 1]))
    v = toy_train.vocab
    assert model.next_logprobs([[v["the"]]])[0, v["cat"]] == pytest.approx(expected, abs=1e-5)
    # </s> after "the": P(<eot> | <eot> the) / P(word start | <eot> the)
    assert model.next_logprobs([[v["the"]]])[0, v.eos_id] == pytest.approx(
        lsm[n - 1, tok.eos_token_id] - log_b(lsm[n - 1]), abs=1e-5)


def test_unk_takes_the_rest_and_rows_sum_to_one(model, toy_train, toy_test):
    lp = model.next_logprobs([[], [toy_train.vocab["dog"]]])
    p = np.exp(lp)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-9)
    assert (p[:, 0] > 0).all() and (p[:, 1] == 0).all()
    # "bird" is <unk> in the toy test set: scored as the leftover mass of its history's row.
    test = Corpus.from_texts(["a bird"], vocab=toy_train.vocab)
    np.testing.assert_allclose(model.token_logprobs(test)[1],
                               model.next_logprobs([[toy_train.vocab["a"]]])[0, 0])


def test_save_load_and_generation(model, toy_train, toy_test, tmp_path):
    model.save(tmp_path / "hf")
    again = lm.load(tmp_path / "hf")
    np.testing.assert_allclose(again.token_logprobs(toy_test), model.token_logprobs(toy_test), rtol=1e-12)
    # Greedy generation through the shared generate: each step is the argmax of next_logprobs.
    out = model.generate(["the cat"], max_new_tokens=3)[0]
    hist = [toy_train.vocab["the"], toy_train.vocab["cat"]]
    for t in out.tokens:
        assert t == int(np.argmax(model.next_logprobs([hist])[0]))
        hist.append(t)


def test_word_level_tokenizer_and_words_it_cannot_spell(tmp_path, toy_train):
    # A word-level tokenizer without "mat": every piece is a word, "mat" is its [UNK] piece.
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = sorted({w for line in TOY_TRAIN for w in line.split()} - {"mat"})
    vocab = {w: i for i, w in enumerate(["[UNK]", EOT] + words)}
    tk = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = tf.PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="[UNK]", eos_token=EOT)
    torch.manual_seed(1)
    net = tf.GPT2LMHeadModel(tf.GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=8, n_layer=1,
                                           n_head=2, bos_token_id=None, eos_token_id=vocab[EOT])).eval()
    tok.save_pretrained(tmp_path)
    net.save_pretrained(tmp_path)
    m = make("hf-causal", pretrained=str(tmp_path)).fit(toy_train)
    v = toy_train.vocab
    lp = m.next_logprobs([[], [v["the"]]])
    assert np.isneginf(lp[:, v["mat"]]).all()
    np.testing.assert_allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-9)
    # Every piece starts a word here, so p(cat | the) is the network's softmax for the piece "cat".
    with torch.no_grad():
        logits = net(input_ids=torch.tensor([[vocab[EOT], vocab["the"]]])).logits[0, -1].double()
    assert lp[1, v["cat"]] == pytest.approx(torch.log_softmax(logits, -1)[vocab["cat"]].item(), abs=1e-5)


@pytest.mark.slow
def test_fine_tuning_lowers_training_perplexity(gpt2_dir, toy_train):
    before = make("hf-causal", pretrained=str(gpt2_dir)).fit(toy_train)
    after = make("hf-causal", pretrained=str(gpt2_dir), epochs=3, lr=1e-2, batch_size=4,
                 progress=False).fit(toy_train)
    assert [r["epoch"] for r in after.history_] == [1, 2, 3]
    assert lm.perplexity(after, toy_train) < lm.perplexity(before, toy_train)


def test_bad_directories_and_offline_hub_names(tmp_path, toy_train, monkeypatch):
    import huggingface_hub.constants

    with pytest.raises(lm.CheckpointError, match="no config.json"):
        make("hf-causal", pretrained=str(tmp_path)).fit(toy_train)
    tf.T5Config(d_model=8, num_layers=1).save_pretrained(tmp_path / "t5")
    with pytest.raises(lm.CheckpointError, match="not a causal language model"):
        make("hf-causal", pretrained=str(tmp_path / "t5")).fit(toy_train)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(lm.CheckpointError, match="not a local directory.*offline"):
        make("hf-causal", pretrained="no-such-user/no-such-model").fit(toy_train)
    with pytest.raises(lm.InvalidParameterError, match="exactly one of"):
        make("hf-causal").fit(toy_train)


@pytest.mark.slow
def test_pretrain_then_fine_tune_through_save_pretrained(toy_train, toy_test, tmp_path):
    params = {"config": {"n_layer": 1, "n_embd": 16, "n_head": 2, "n_positions": 64},
              "bpe_vocab_size": 300, "epochs": 2, "lr": 1e-2, "batch_size": 4, "progress": False}
    base = make("hf-causal", **params).fit(toy_train)
    base.save_pretrained(tmp_path / "base")
    reloaded = make("hf-causal", pretrained=str(tmp_path / "base")).fit(toy_train)
    np.testing.assert_allclose(reloaded.token_logprobs(toy_test), base.token_logprobs(toy_test), atol=1e-5)
    other = Corpus.from_texts(["the bird sat on the log", "a bird ran"])
    tuned = make("hf-causal", pretrained=str(tmp_path / "base"), epochs=3, lr=1e-2, batch_size=2,
                 progress=False).fit(other)
    # The fine-tuned model fits its new corpus better than the base model does.
    base_on_other = make("hf-causal", pretrained=str(tmp_path / "base")).fit(other)
    assert lm.perplexity(tuned, other) < lm.perplexity(base_on_other, other)
