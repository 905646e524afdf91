"""HFSequenceClassifier: a Hugging Face sequence classifier fine-tuned from a local directory,
tested offline on a tiny randomly initialised BERT with a WordPiece tokenizer (tests/stubs.py)."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.model_selection import cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from langmodels.bench.classification import check_classification_spec, run_classification
from langmodels.errors import EmptyCorpusError, InvalidParameterError

from .test_neural import TEST, TRAIN, Y_TEST, Y, keyword_task

pytest.importorskip("transformers")
from langmodels.classify import HFSequenceClassifier  # noqa: E402
from tests.stubs import tiny_bert_classifier_dir  # noqa: E402

FAST = {"epochs": 8, "lr": 3e-3, "batch_size": 16, "progress": False, "device": "cpu"}


@pytest.fixture(scope="module")
def bert_dir(tmp_path_factory):
    return tiny_bert_classifier_dir(tmp_path_factory.mktemp("tiny-bert"),
                                    TRAIN + keyword_task(30, classes=("mid",))[0])


@pytest.fixture(scope="module")
def fitted(bert_dir):
    return HFSequenceClassifier(pretrained=str(bert_dir), **FAST).fit(TRAIN, Y)


def test_it_learns_a_keyword_rule_with_probabilities_and_margins(fitted):
    assert list(fitted.classes_) == ["neg", "pos"]
    assert fitted.score(TEST, Y_TEST) == 1.0
    proba = fitted.predict_proba(TEST)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert list(fitted.predict(TEST)) == list(fitted.classes_[proba.argmax(axis=1)])
    assert list(fitted.decision_function(TEST) > 0) == list(proba[:, 1] > 0.5)
    assert len(fitted.history_) >= 1 and "valid_loss" in fitted.history_[0]
    assert fitted.module_.net.config.id2label == {0: "neg", 1: "pos"}


def test_the_same_seed_gives_the_same_model_and_the_checkpoint_is_left_as_it_was(bert_dir, fitted):
    before = {p.name: p.read_bytes() for p in bert_dir.iterdir()}
    again = HFSequenceClassifier(pretrained=str(bert_dir), **FAST).fit(TRAIN, Y)
    np.testing.assert_array_equal(again.predict_proba(TEST), fitted.predict_proba(TEST))
    assert {p.name: p.read_bytes() for p in bert_dir.iterdir()} == before
    other = HFSequenceClassifier(pretrained=str(bert_dir), **{**FAST, "seed": 1, "epochs": 1}).fit(TRAIN, Y)
    assert not np.array_equal(other.predict_proba(TEST), fitted.predict_proba(TEST))


def test_three_classes_a_dev_set_and_scikit_learn_tools(bert_dir):
    texts, y = keyword_task(150, classes=("neg", "pos", "mid"))
    dev, y_dev = keyword_task(30, seed=2, classes=("neg", "pos", "mid"))
    clf = HFSequenceClassifier(pretrained=bert_dir, **{**FAST, "epochs": 2})
    fitted = clone(clf).fit(texts, y, X_valid=dev, y_valid=y_dev)
    assert list(fitted.classes_) == ["mid", "neg", "pos"]
    assert fitted.decision_function(texts[:5]).shape == (5, 3)
    assert fitted.predict_proba(texts[:5]).shape == (5, 3)
    assert clone(clf).get_params() == clf.get_params()
    lower = FunctionTransformer(lambda X: [t.lower() for t in X])
    scores = cross_val_score(make_pipeline(lower, clf), TRAIN[:60], Y[:60], cv=2)
    assert scores.shape == (2,) and np.all((scores >= 0) & (scores <= 1))


def test_bad_input_and_parameters_get_clear_errors(tmp_path, fitted, bert_dir):
    with pytest.raises(FileNotFoundError, match="no such directory"):
        HFSequenceClassifier(pretrained=tmp_path / "missing").fit(TRAIN, Y)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        HFSequenceClassifier(pretrained=tmp_path).fit(TRAIN, Y)
    with pytest.raises(InvalidParameterError, match="pretrained is required"):
        HFSequenceClassifier().fit(TRAIN, Y)
    with pytest.raises(InvalidParameterError, match="max_length"):
        HFSequenceClassifier(pretrained=bert_dir, max_length=0).fit(TRAIN, Y)
    with pytest.raises(ValueError, match="one class only"):
        HFSequenceClassifier(pretrained=bert_dir).fit(TRAIN, ["pos"] * len(TRAIN))
    with pytest.raises(ValueError, match="one label per text"):
        HFSequenceClassifier(pretrained=bert_dir).fit(TRAIN, Y[:-1])
    with pytest.raises(EmptyCorpusError, match=r"X\[1\] is empty"):
        HFSequenceClassifier(pretrained=bert_dir).fit(["good film", "  ", "bad"], ["pos", "neg", "neg"])
    with pytest.raises(ValueError, match=r"label\(s\) \['mid'\]"):
        fitted.score(TEST[:2], ["mid", "pos"])


def test_a_classification_spec_names_it_and_skips_it_without_its_directory(tmp_path, bert_dir):
    data = tmp_path / "labelled.tsv"
    data.write_text("".join(f"{label}\t{text}\n" for text, label in zip(TRAIN[:90], Y[:90])),
                    encoding="utf-8")
    raw = {"task": "classification", "corpus": {"all": str(data)}, "protocol": {"kfold": 3, "folds": 1},
           "out": str(tmp_path / "out"),
           "classifiers": [{"classifier": "hf", "params": {"pretrained": str(bert_dir), **FAST}}]}
    [record] = run_classification(check_classification_spec(raw), log=lambda line: None)
    assert (record["label"], record["classifier"], record["seed"]) == ("hf", "hf", 0)
    assert record["metrics"]["n"] == 30 and record["metrics"]["labels"] == ["neg", "pos"]
    assert "| hf | 1 |" in (tmp_path / "out" / "results.md").read_text()
    missing = {**raw, "classifiers": [{"classifier": "hf", "params": {"pretrained": str(tmp_path / "no")}}]}
    # A spec kept for machines that hold the checkpoint runs elsewhere without it, saying why.
    [entry] = check_classification_spec(missing)["classifiers"]
    assert entry["skip"].startswith(f"no local checkpoint at {str(tmp_path / 'no')!r}")
