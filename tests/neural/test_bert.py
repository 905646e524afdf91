"""bert: BERT's masking recipe, exact resume, both-side context, the encoder's features."""

import numpy as np
import pytest
import torch

import langmodels as lm
from langmodels import Corpus, make

SMALL = {"embed_dim": 8, "n_heads": 2, "n_layers": 1, "block_size": 8, "epochs": 3, "batch_size": 2,
         "seed": 3, "device": "cpu", "progress": False, "patience": None, "warmup": 2}
TEXTS = ["a b c d e f", "b c a", "d e f a b c d e f a b", "c c a b"]


def test_each_epoch_masks_fifteen_percent_80_10_10():
    words = [f"w{i}" for i in range(50)]
    rng = np.random.default_rng(0)
    train = Corpus.from_texts([" ".join(rng.choice(words, 30)) for _ in range(1000)])
    # epochs=0 only adopts the vocabulary; the loop draws each epoch's batches with this hook
    model = make("bert", **{**SMALL, "block_size": 64, "batch_size": 50, "epochs": 0}).fit(train)
    V = len(train.vocab)
    batches = model._epoch_batches(train, np.random.default_rng([3, 1]))
    again = model._epoch_batches(train, np.random.default_rng([3, 1]))
    other = model._epoch_batches(train, np.random.default_rng([3, 2]))
    xs = np.concatenate([x.ravel() for x, _, _ in batches])
    ys = np.concatenate([y.ravel() for _, y, _ in batches])
    assert all((a[0] == b[0]).all() for a, b in zip(batches, again))          # same (seed, epoch): same masks
    assert sum(len(y) for _, y, _ in other) == sum(len(y) for _, y, _ in batches)
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(batches, other))   # a new draw each epoch
    chosen = ys != -100
    real = xs != V + 1                                          # not padding
    # 1000 x 31 tokens after <s>: ~4650 chosen, so the shares below are within ~3.5 sd
    assert chosen.sum() / (real.sum() - 1000) == pytest.approx(0.15, abs=0.01)
    assert (ys[chosen] != train.vocab.bos_id).all()
    masked, kept = (xs[chosen] == V).mean(), (xs[chosen] == ys[chosen]).mean()
    assert masked == pytest.approx(0.8, abs=0.02)
    # 10% random words, of which 1 in V-1 happens to be the target itself
    assert kept == pytest.approx(0.1 + 0.1 / (V - 1), abs=0.02)
    assert ((xs[chosen] < V) & (xs[chosen] != ys[chosen])).mean() == pytest.approx(0.1, abs=0.02)


def test_resume_equals_straight_run(tmp_path):
    train = Corpus.from_texts(TEXTS)
    valid = Corpus.from_texts(["a b c", "f e d"], vocab=train.vocab)
    params = {**SMALL, "checkpoint_dir": str(tmp_path / "ckpt")}
    straight = make("bert", **{**params, "checkpoint_dir": None}).fit(train, valid)

    def stop(record):
        if record["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt), pytest.warns(lm.PartialFitWarning):
        make("bert", **params).fit(train, valid, on_epoch_end=stop)
    resumed = make("bert", **params).fit(train, valid, resume=True)
    assert [r["epoch"] for r in resumed.history_] == [1, 2, 3]
    for k, v in straight.module_.state_dict().items():
        np.testing.assert_array_equal(resumed.module_.state_dict()[k].numpy(), v.numpy(), err_msg=k)
    assert resumed.history_[-1]["valid_loss"] == pytest.approx(-straight.pseudo_log_likelihood(valid).mean())


def test_the_right_hand_side_decides_the_masked_word():
    # The left context is the same ("the"); only the word after the mask tells red from green.
    train = Corpus.from_texts(["the red apple", "the green pear"] * 10)
    model = make("bert", embed_dim=16, n_heads=2, n_layers=1, block_size=8, dropout=0.0, lr=0.005,
                 epochs=40, batch_size=4, warmup=0, seed=0, device="cpu", progress=False).fit(train)
    (apple,), (pear,) = model.fill_mask(["the <mask> apple", "the <mask> pear"], top_k=1)
    assert apple[0][0] == "red" and pear[0][0] == "green"


def test_features_ignore_padding_and_long_sequences_are_windowed():
    train = Corpus.from_texts(TEXTS)
    model = make("bert", **SMALL).fit(train)
    enc = model.module_
    x = torch.tensor([[1, 3, 4, 5, 2]])
    padded = torch.cat([x, torch.full((1, 3), enc.pad_id)], dim=1)
    h = enc.features(x)
    assert h.shape == (1, 5, 8)
    torch.testing.assert_close(enc.features(padded)[:, :5], h)
    long = [3, 4, 5] * 5                                                    # 17 tokens, window 8
    assert model.masked_logprobs([long, long], [0, 15]).shape == (2, len(train.vocab))
    with pytest.raises(ValueError, match="window"):
        model.masked_logprobs([long], [[0, 15]])


@pytest.mark.parametrize("bad, match", [({"mask_prob": 0.0}, "mask_prob"), ({"mask_prob": 1.0}, "mask_prob"),
                                        ({"embed_dim": 10, "n_heads": 4}, "multiple"),
                                        ({"positions": "rotary"}, "positions")])
def test_bad_parameters_are_named(bad, match):
    with pytest.raises(lm.InvalidParameterError, match=match):
        make("bert", **{**SMALL, **bad}).check_params()
