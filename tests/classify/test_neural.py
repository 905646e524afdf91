"""TextClassifier: a neural encoder + pooled head, as a scikit-learn estimator; pre-training then
fine-tuning; the metrics report; the labelled-file reader; and the errors for bad input."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

import langmodels as lm
from langmodels.classify import (
    LabelledFileError,
    LMClassifier,
    TextClassifier,
    classification_report,
    read_labelled,
)
from langmodels.neural.classifier import NO_TOKEN, pool

TINY = {"embed_dim": 16, "hidden_size": 16, "n_layers": 1, "epochs": 4, "lr": 1e-2, "progress": False,
        "device": "cpu", "batch_size": 16}
TINY_TRANSFORMER = {**TINY, "hidden_size": None, "n_heads": 2, "block_size": 12}


def keyword_task(n, seed=0, classes=("neg", "pos")):
    """Label k's texts hold one of its keywords among shared filler words (a learnable rule)."""
    rng = np.random.default_rng(seed)
    keys = {"neg": ["bad", "awful", "dull"], "pos": ["good", "great", "fine"], "mid": ["okay", "so-so"]}
    filler = ["the", "film", "was", "a", "plot", "and", "it"]
    texts, y = [], []
    for k in range(n):
        label = classes[k % len(classes)]
        words = list(rng.choice(filler, rng.integers(2, 7))) + [str(rng.choice(keys[label]))]
        rng.shuffle(words)
        texts.append(" ".join(words))
        y.append(label)
    return texts, np.array(y)


TRAIN, Y = keyword_task(240)
TEST, Y_TEST = keyword_task(60, seed=1)


def test_bf16_training_learns_the_rule_and_predicts_in_float32():
    clf = TextClassifier(**TINY, precision="bf16").fit(TRAIN, Y)
    assert clf.score(TEST, Y_TEST) == 1.0
    np.testing.assert_allclose(clf.predict_proba(TEST).sum(axis=1), 1.0)
    assert all(p.dtype == torch.float32 for p in clf.module_.parameters())
    with pytest.raises(lm.InvalidParameterError, match="precision must be one of"):
        TextClassifier(**TINY, precision="half").fit(TRAIN, Y)


@pytest.mark.parametrize("encoder", ["lstm", "gru", "rnn", "transformer"])
def test_every_encoder_learns_a_keyword_rule(encoder):
    params = TINY_TRANSFORMER if encoder == "transformer" else TINY
    clf = TextClassifier(encoder=encoder, **params).fit(TRAIN, Y)
    assert list(clf.classes_) == ["neg", "pos"]
    assert clf.score(TEST, Y_TEST) == 1.0
    proba = clf.predict_proba(TEST)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(clf.predict(TEST)) == list(clf.classes_[proba.argmax(axis=1)])
    # Two classes: decision_function is the positive class's margin, positive where it wins.
    assert list(clf.decision_function(TEST) > 0) == list(proba[:, 1] > 0.5)
    assert len(clf.history_) >= 1 and "valid_loss" in clf.history_[0]


def test_a_development_set_replaces_the_held_out_fraction():
    # validation_fraction would hold out 99% of the texts: with X_valid it holds out none.
    clf = TextClassifier(**{**TINY, "epochs": 2, "validation_fraction": 0.99}).fit(
        TRAIN, Y, X_valid=TEST, y_valid=Y_TEST)
    assert [r["epoch"] for r in clf.history_] == [1, 2] and "valid_loss" in clf.history_[-1]
    with pytest.raises(ValueError, match="both X_valid and y_valid"):
        TextClassifier(**TINY).fit(TRAIN, Y, X_valid=TEST)
    with pytest.raises(ValueError, match=r"label\(s\) \['meh'\]"):
        TextClassifier(**TINY).fit(TRAIN, Y, X_valid=TEST[:2], y_valid=["pos", "meh"])


@pytest.mark.parametrize("pooling", ["max", "mean", "last"])
def test_padding_never_changes_a_texts_scores(pooling):
    # A text is scored alone and beside a much longer one (padded batch): the same numbers.
    clf = TextClassifier(pooling=pooling, **{**TINY, "epochs": 1}).fit(TRAIN, Y)
    alone = clf.predict_proba(["good film"])
    batched = clf.predict_proba(["good film", " ".join(["the plot was dull and"] * 6)])[:1]
    np.testing.assert_allclose(alone, batched, rtol=1e-5, atol=1e-6)


def test_pooling_known_answer():
    h = torch.tensor([[[1.0, -2.0], [3.0, 0.0], [9.0, 9.0]]])      # (1, 3, 2); the last is padding
    real = torch.tensor([[True, True, False]])
    assert pool(h, real, "mean").tolist() == [[2.0, -1.0]]
    assert pool(h, real, "max").tolist() == [[3.0, 0.0]]
    assert pool(h, real, "last").tolist() == [[3.0, 0.0]]
    assert NO_TOKEN < 0   # padding can never be a vocabulary id


def test_three_classes_and_decision_function_shape():
    texts, y = keyword_task(180, classes=("neg", "pos", "mid"))
    clf = TextClassifier(**TINY).fit(texts, y)
    assert list(clf.classes_) == ["mid", "neg", "pos"]
    assert clf.decision_function(texts[:5]).shape == (5, 3)
    assert clf.predict_proba(texts[:5]).shape == (5, 3)


def test_a_seed_makes_runs_reproducible():
    a = TextClassifier(**{**TINY, "epochs": 1}).fit(TRAIN, Y).predict_proba(TEST)
    b = TextClassifier(**{**TINY, "epochs": 1}).fit(TRAIN, Y).predict_proba(TEST)
    c = TextClassifier(**{**TINY, "epochs": 1, "seed": 1}).fit(TRAIN, Y).predict_proba(TEST)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c)


def test_scikit_learn_clone_pipeline_cross_validation_and_grid_search():
    clf = TextClassifier(**{**TINY, "epochs": 10, "validation_fraction": 0.0})   # 120 texts a fold
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin.hidden_size == 16
    pipe = make_pipeline(FunctionTransformer(lambda xs: [x.upper().lower() for x in xs]), clf)
    assert cross_val_score(pipe, TRAIN, Y, cv=2).tolist() == [1.0, 1.0]
    grid = GridSearchCV(clf, {"pooling": ["max", "mean"]}, cv=2).fit(TRAIN, Y)
    assert grid.best_params_["pooling"] in ("max", "mean")


# --- pre-training then fine-tuning ---------------------------------------------------------------
@pytest.fixture(scope="module")
def pretrained():
    corpus = lm.Corpus.from_texts(TRAIN + TEST)
    return lm.make("lstm", embed_dim=16, hidden_size=16, n_layers=1, epochs=1, progress=False,
                   device="cpu").fit(corpus)


def test_init_starts_the_encoder_from_the_language_model(pretrained, tmp_path):
    before = {k: v.clone() for k, v in pretrained.module_.state_dict().items()}
    clf = TextClassifier(init=pretrained, **{**TINY, "epochs": 0}).fit(TRAIN, Y)
    enc = clf.module_.encoder
    for name, value in enc.rnn.state_dict().items():       # recurrent weights copied as they are
        torch.testing.assert_close(value, pretrained.module_.rnn.state_dict()[name])
    # Embedding rows follow the words, whatever their ids in each vocabulary.
    for word in ("good", "film"):
        torch.testing.assert_close(enc.embed.weight[clf.vocab_[word]],
                                   pretrained.module_.embed.weight[pretrained.vocab_[word]])
    for name, value in pretrained.module_.state_dict().items():   # the base model is untouched
        torch.testing.assert_close(value, before[name])
    # A saved directory works the same, and vocab="init" takes the language model's vocabulary.
    saved = pretrained.save(tmp_path / "lm")
    other = TextClassifier(init=str(saved), vocab="init", **{**TINY, "epochs": 0}).fit(TRAIN, Y)
    assert other.vocab_ == pretrained.vocab_
    torch.testing.assert_close(other.module_.encoder.embed.weight, pretrained.module_.embed.weight)


@pytest.mark.parametrize("tie_weights", ["auto", True])
def test_a_language_model_with_an_adaptive_softmax_starts_the_encoder(tie_weights):
    # A general-text LM with a large vocabulary trains with an adaptive softmax (tied or not); the
    # classifier takes its embedding and recurrent weights and has no use for its output clusters.
    base = lm.make("lstm", embed_dim=16, hidden_size=16, n_layers=1, epochs=1, progress=False, device="cpu",
                   softmax="adaptive", cutoffs=[8], tie_weights=tie_weights)
    base.fit(lm.Corpus.from_texts(TRAIN + TEST))
    clf = TextClassifier(init=base, **{**TINY, "epochs": 0}).fit(TRAIN, Y)
    enc = clf.module_.encoder
    for name, value in enc.rnn.state_dict().items():
        torch.testing.assert_close(value, base.module_.rnn.state_dict()[name])
    torch.testing.assert_close(enc.embed.weight[clf.vocab_["good"]],
                               base.module_.embed.weight[base.vocab_["good"]])
    trained = TextClassifier(init=base, **TINY).fit(TRAIN, Y)
    assert trained.score(TEST, Y_TEST) == 1.0


def test_frozen_encoder_and_encoder_learning_rate(pretrained):
    frozen = TextClassifier(init=pretrained, freeze_epochs=1, **{**TINY, "epochs": 1}).fit(TRAIN, Y)
    still = TextClassifier(init=pretrained, encoder_lr=0.0, **{**TINY, "epochs": 1}).fit(TRAIN, Y)
    moving = TextClassifier(init=pretrained, **{**TINY, "epochs": 1}).fit(TRAIN, Y)
    ref = pretrained.module_.rnn.weight_hh_l0
    torch.testing.assert_close(frozen.module_.encoder.rnn.weight_hh_l0, ref)
    torch.testing.assert_close(still.module_.encoder.rnn.weight_hh_l0, ref)
    assert not torch.allclose(moving.module_.encoder.rnn.weight_hh_l0, ref)
    # The head trains all the same (epochs=0: the same seeded start, untrained).
    start = TextClassifier(init=pretrained, **{**TINY, "epochs": 0}).fit(TRAIN, Y)
    assert not torch.allclose(frozen.module_.out.weight, start.module_.out.weight)


def test_clone_keeps_the_pretrained_model(pretrained):
    clf = TextClassifier(init=pretrained, **{**TINY, "epochs": 10, "validation_fraction": 0.0})
    assert clone(clf).init is pretrained    # not rebuilt unfitted from its parameters
    assert cross_val_score(clf, TRAIN, Y, cv=2).min() >= 0.95


def test_checkpoints_with_a_pretrained_start(pretrained, tmp_path):
    params = {**TINY, "epochs": 2, "checkpoint_dir": str(tmp_path / "ckpt")}
    a = TextClassifier(init=pretrained, **params).fit(TRAIN, Y)
    b = TextClassifier(init=pretrained, **params).fit(TRAIN, Y, resume=True)   # finished: restored
    np.testing.assert_array_equal(a.predict_proba(TEST), b.predict_proba(TEST))


def test_init_must_match_family_and_architecture(pretrained):
    with pytest.raises(lm.InvalidParameterError, match="not a GRUModel"):
        TextClassifier(encoder="gru", init=pretrained, **TINY).fit(TRAIN, Y)
    with pytest.raises(lm.InvalidParameterError, match="hidden_size"):
        TextClassifier(init=pretrained, **{**TINY, "hidden_size": 32}).fit(TRAIN, Y)
    with pytest.raises(lm.InvalidParameterError, match="vocab='init' needs init"):
        TextClassifier(vocab="init", **TINY).fit(TRAIN, Y)


# --- metrics ---------------------------------------------------------------------------------------
def test_classification_report_known_answer():
    r = classification_report(["a", "a", "b", "c"], ["a", "b", "b", "b"])
    assert r["accuracy"] == 0.5 and r["n"] == 4 and r["labels"] == ["a", "b", "c"]
    assert r["confusion"] == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    # precision a 1, b 1/3, c 0 -> 4/9; recall a 1/2, b 1, c 0 -> 1/2; F1 a 2/3, b 1/2, c 0 -> 7/18
    assert r["precision"] == pytest.approx(4 / 9) and r["recall"] == pytest.approx(0.5)
    assert r["f1"] == pytest.approx(7 / 18)
    assert r["per_class"][1] == pytest.approx({"label": "b", "precision": 1 / 3, "recall": 1.0,
                                               "f1": 0.5, "support": 1})


# --- bad input ---------------------------------------------------------------------------------------
def test_bad_input_is_named(tmp_path):
    clf = TextClassifier(**TINY)
    with pytest.raises(ValueError, match="one class only"):
        clf.fit(TRAIN, ["pos"] * len(TRAIN))
    with pytest.raises(ValueError, match="one class only"):
        LMClassifier(model="unigram").fit(TRAIN, ["pos"] * len(TRAIN))
    with pytest.raises(ValueError, match="X holds no text"):
        clf.fit([], [])
    with pytest.raises(lm.EmptyCorpusError, match=r"X\[1\] is empty"):
        clf.fit(["good", "  ", "bad"], ["pos", "neg", "neg"])
    with pytest.raises(ValueError, match="one label per text: got 240 texts"):
        clf.fit(TRAIN, Y[:10])
    with pytest.raises(lm.InvalidParameterError, match="encoder must be one of"):
        TextClassifier(encoder="svm").fit(TRAIN, Y)
    with pytest.raises(lm.InvalidParameterError, match="lstm encoder has no parameter 'n_heads'"):
        TextClassifier(n_heads=2).fit(TRAIN, Y)
    with pytest.raises(lm.InvalidParameterError, match="pooling"):
        TextClassifier(pooling="sum").fit(TRAIN, Y)
    with pytest.raises(Exception, match="not fitted"):
        clf.predict(["good"])
    fitted = TextClassifier(**{**TINY, "epochs": 1}).fit(TRAIN, Y)
    with pytest.raises(ValueError, match=r"label\(s\) \['meh'\] the classifier was not trained on"):
        fitted.score(TEST[:2], ["pos", "meh"])
    with pytest.raises(TypeError, match="single string"):
        fitted.predict("good film")


def test_labelled_files(tmp_path):
    good = tmp_path / "good.tsv"
    good.write_text("1\tgood film\n\n0\tbad  film \n", encoding="utf-8")
    assert read_labelled(good) == (["good film", "bad  film"], ["1", "0"])
    latin = tmp_path / "latin.tsv"
    latin.write_bytes("1\tcaf\u00e9\n".encode("latin-1"))
    with pytest.raises(lm.EncodingError, match="not valid UTF-8 at byte offset 5"):
        read_labelled(latin)
    for body, problem in [("1\tok\nno tab here\n", "latin.tsv:2|:2: the line has no tab"),
                          ("\tno label\n", ":1: the line has an empty label"),
                          ("1\t \n", ":1: the line has an empty text")]:
        bad = tmp_path / "bad.tsv"
        bad.write_text(body, encoding="utf-8")
        with pytest.raises(LabelledFileError, match=problem.split("|")[-1]):
            read_labelled(bad)


def test_the_epoch_log_speaks_of_texts_not_perplexity(caplog):
    with caplog.at_level("INFO", logger="langmodels"):
        TextClassifier(**{**TINY, "epochs": 1}).fit(TRAIN, Y)
    line = next(r.getMessage() for r in caplog.records if "epoch 1/1" in r.getMessage())
    assert "valid loss" in line and "texts/s" in line and "ppl" not in line


def test_a_bidirectional_encoder_is_given_the_padding_mask():
    from langmodels.neural.classifier import token_features

    class Bidirectional(torch.nn.Module):
        def features(self, x, mask):
            return (x * mask).unsqueeze(-1).float()          # zero wherever the row is padding

    x = torch.tensor([[1, 5, 7], [1, 4, 9]])
    real = torch.tensor([[True, True, True], [True, True, False]])
    assert token_features(Bidirectional(), x, real)[..., 0].tolist() == [[1, 5, 7], [1, 4, 0]]


TINY_BERT = {"embed_dim": 16, "n_layers": 1, "n_heads": 2, "block_size": 12, "epochs": 6, "lr": 1e-2,
             "progress": False, "device": "cpu", "batch_size": 16}


@pytest.fixture(scope="module")
def pretrained_bert():
    corpus = lm.Corpus.from_texts(TRAIN + TEST)
    return lm.make("bert", **{**TINY_BERT, "epochs": 1}).fit(corpus)


def test_bert_encodes_from_random_initialisation():
    clf = TextClassifier(encoder="bert", **TINY_BERT).fit(TRAIN, Y)
    assert clf.score(TEST, Y_TEST) == 1.0


def test_bert_starts_the_encoder_then_is_fine_tuned(pretrained_bert):
    """BERT's own pre-train -> fine-tune path: the masked LM's encoder starts the classifier."""
    V = len(pretrained_bert.vocab_)
    start = TextClassifier(encoder="bert", init=pretrained_bert, **{**TINY_BERT, "epochs": 0}).fit(TRAIN, Y)
    enc, base = start.module_.encoder, pretrained_bert.module_
    for name, value in base.blocks.state_dict().items():        # encoder blocks copied as they are
        torch.testing.assert_close(enc.blocks.state_dict()[name], value)
    for word in ("good", "film"):                                # embedding rows follow the words
        torch.testing.assert_close(enc.embed.weight[start.vocab_[word]],
                                   base.embed.weight[pretrained_bert.vocab_[word]])
    # the network's own ids ([MASK], padding) come after the classifier's vocabulary, unchanged
    torch.testing.assert_close(enc.embed.weight[-2:], base.embed.weight[V:V + 2])
    assert enc.embed.weight.shape[0] == len(start.vocab_) + 2
    tuned = TextClassifier(encoder="bert", init=pretrained_bert, **TINY_BERT).fit(TRAIN, Y)
    assert tuned.score(TEST, Y_TEST) == 1.0
    with pytest.raises(lm.InvalidParameterError, match="n_layers"):
        TextClassifier(encoder="bert", init=pretrained_bert, **{**TINY_BERT, "n_layers": 2}).fit(TRAIN, Y)


def test_bert_padding_never_changes_a_texts_scores(pretrained_bert):
    clf = TextClassifier(encoder="bert", init=pretrained_bert, **{**TINY_BERT, "epochs": 1}).fit(TRAIN, Y)
    alone = clf.predict_proba(TEST[:1])
    with_longer = clf.predict_proba([TEST[0], "the film was a plot and it was good and dull"])[:1]
    np.testing.assert_allclose(alone, with_longer, atol=1e-6)


# --- Kim's CNN encoder ---------------------------------------------------------------------------------
TINY_CNN = {"encoder": "cnn", "embed_dim": 16, "n_filters": 8, "widths": (1, 2, 3), "epochs": 4,
            "lr": 1e-2, "progress": False, "device": "cpu", "batch_size": 16}


def test_the_cnn_learns_a_keyword_rule_reproducibly():
    clf = TextClassifier(**TINY_CNN).fit(TRAIN, Y)
    assert clf.score(TEST, Y_TEST) == 1.0
    np.testing.assert_allclose(clf.predict_proba(TEST).sum(axis=1), 1.0)
    assert clf.module_.out.in_features == 8 * 3   # the maps of every width, pooled over time
    again = TextClassifier(**TINY_CNN).fit(TRAIN, Y)
    other = TextClassifier(**{**TINY_CNN, "seed": 1}).fit(TRAIN, Y)
    np.testing.assert_array_equal(clf.predict_proba(TEST), again.predict_proba(TEST))
    assert not np.allclose(clf.predict_proba(TEST), other.predict_proba(TEST))


@pytest.mark.parametrize("pooling", ["max", "mean", "last"])
def test_cnn_padding_never_changes_a_texts_scores(pooling):
    clf = TextClassifier(**{**TINY_CNN, "pooling": pooling, "epochs": 1}).fit(TRAIN, Y)
    alone = clf.predict_proba(["good film"])
    batched = clf.predict_proba(["good film", " ".join(["the plot was dull and"] * 6)])[:1]
    np.testing.assert_allclose(alone, batched, rtol=1e-5, atol=1e-6)


def test_a_cnn_map_reads_the_width_words_ending_at_its_position():
    from langmodels.neural.cnn import CNNModule

    torch.manual_seed(0)
    net = CNNModule(10, 4, 2, (2,))
    x = torch.tensor([[1, 2, 3, 4]])
    h = net.features(x)[0]                                         # (T, 2)
    w, b, e = net.convs[0].weight, net.convs[0].bias, net.embed.weight
    # position 2 covers words 1 and 2; position 0 reads a zero vector before the text
    torch.testing.assert_close(h[2], torch.relu(w[:, :, 0] @ e[2] + w[:, :, 1] @ e[3] + b))
    torch.testing.assert_close(h[0], torch.relu(w[:, :, 1] @ e[1] + b))


def test_the_cnn_in_scikit_learn_clone_and_cross_validation():
    clf = TextClassifier(**{**TINY_CNN, "epochs": 10, "validation_fraction": 0.0})
    twin = clone(clf)
    assert twin.get_params() == clf.get_params() and twin.n_filters == 8
    assert cross_val_score(clf, TRAIN, Y, cv=2).tolist() == [1.0, 1.0]
    grid = GridSearchCV(clf, {"n_filters": [4, 8]}, cv=2).fit(TRAIN, Y)
    assert grid.best_params_["n_filters"] in (4, 8)


def test_the_cnn_starts_from_a_language_models_word_vectors(pretrained):
    clf = TextClassifier(init=pretrained, **{**TINY_CNN, "epochs": 0}).fit(TRAIN, Y)
    for word in ("good", "film", "<unk>"):
        torch.testing.assert_close(clf.module_.encoder.embed.weight[clf.vocab_[word]],
                                   pretrained.module_.embed.weight[pretrained.vocab_[word]])
    # the filters keep their seeded random start
    scratch = TextClassifier(**{**TINY_CNN, "epochs": 0}).fit(TRAIN, Y)
    torch.testing.assert_close(clf.module_.encoder.convs[0].weight, scratch.module_.encoder.convs[0].weight)


def test_bad_cnn_parameters_and_starts_are_named(pretrained):
    with pytest.raises(lm.InvalidParameterError, match="embed_dim=16 but this cnn encoder has embed_dim=32"):
        TextClassifier(init=pretrained, **{**TINY_CNN, "embed_dim": 32}).fit(TRAIN, Y)
    ngram = lm.make("unigram").fit(lm.Corpus.from_texts(TRAIN))
    with pytest.raises(lm.InvalidParameterError, match="fitted neural language model"):
        TextClassifier(init=ngram, **TINY_CNN).fit(TRAIN, Y)
    with pytest.raises(lm.InvalidParameterError, match="no parameter 'hidden_size'"):
        TextClassifier(**{**TINY_CNN, "hidden_size": 16}).fit(TRAIN, Y)
    with pytest.raises(lm.InvalidParameterError, match="widths"):
        TextClassifier(**{**TINY_CNN, "widths": ()}).fit(TRAIN, Y)
    with pytest.raises(lm.InvalidParameterError, match="n_filters"):
        TextClassifier(**{**TINY_CNN, "n_filters": 0}).fit(TRAIN, Y)


def test_max_norm_bounds_each_output_row_after_every_step():
    free = TextClassifier(**{**TINY_CNN, "weight_decay": 0.0}).fit(TRAIN, Y)
    assert (free.module_.out.weight.norm(dim=1) > 0.2).all()      # unconstrained rows grow past 0.2
    held = TextClassifier(**{**TINY_CNN, "weight_decay": 0.0, "max_norm": 0.2}).fit(TRAIN, Y)
    # each row projected back onto the ball after the step that pushed it out
    torch.testing.assert_close(held.module_.out.weight.norm(dim=1), torch.full((2,), 0.2))
    assert held.score(TEST, Y_TEST) == 1.0
    with pytest.raises(lm.InvalidParameterError, match="max_norm must be a number in \\(0.0"):
        TextClassifier(**{**TINY_CNN, "max_norm": 0}).fit(TRAIN, Y)
