"""langmodels.load checks every saved array against the shapes the saved parameters imply,
before building anything, and names the array, the expected and the stored shape."""

import json
import shutil

import pytest

import langmodels as lm
from langmodels import CheckpointError, Corpus, make

torch = pytest.importorskip("torch")

TEXTS = ["a b c a", "b c", "c a b b a"]
OTHER = ["a b c d e f", "g h"]          # a larger vocabulary: 8 words + 3 specials


def _saved(tmp_path, name, texts=TEXTS, **params):
    path = tmp_path / name
    make(name, **params).fit(Corpus.from_texts(texts)).save(path)
    return path


def _edit_params(path, **changes):
    config = json.loads((path / "config.json").read_text())
    config["params"].update(changes)
    (path / "config.json").write_text(json.dumps(config))


NEURAL = {"lstm": {"embed_dim": 4, "hidden_size": 4, "n_layers": 1},
          "transformer": {"embed_dim": 4, "n_heads": 2, "n_layers": 1, "block_size": 8}}


@pytest.mark.parametrize("name", list(NEURAL))
def test_a_huge_edited_size_fails_on_the_meta_device_before_any_allocation(tmp_path, name, monkeypatch):
    path = _saved(tmp_path, name, epochs=1, progress=False, device="cpu", **NEURAL[name])
    key = "hidden_size" if name == "lstm" else "embed_dim"
    cls = lm.get_class(name)
    devices = []
    real = cls._new_module
    monkeypatch.setattr(cls, "_new_module", lambda self, V: (devices.append(torch.get_default_device().type),
                                                               real(self, V))[1])
    for size in (10**6, 10**9):   # a 16 TB weight; one whose element count overflows int64
        _edit_params(path, **{key: size})
        with pytest.raises(CheckpointError, match="the saved parameters .*imply"):
            lm.load(path)
    assert devices == ["meta", "meta"]


def test_the_mismatch_names_the_array_and_both_shapes(tmp_path):
    path = _saved(tmp_path, "lstm", epochs=1, progress=False, device="cpu", **NEURAL["lstm"])
    _edit_params(path, hidden_size=6)
    with pytest.raises(CheckpointError, match=r"saved array 'rnn.weight_ih_l0' has shape \(16, 4\), but the "
                                              r"saved parameters and vocabulary imply \(24, 4\)"):
        lm.load(path)


def test_an_edited_n_states_is_named(tmp_path):
    path = _saved(tmp_path, "hmm", n_states=3, n_iter=1, progress=False, device="cpu")
    _edit_params(path, n_states=4)
    with pytest.raises(CheckpointError, match=r"'startprob' has shape \(3,\), but .* imply \(4,\)"):
        lm.load(path)


def test_an_edited_order_is_named(tmp_path):
    path = _saved(tmp_path, "kneser-ney", order=2)
    _edit_params(path, order=3)
    with pytest.raises(CheckpointError, match="hold 2 n-gram orders but the saved parameters say order=3"):
        lm.load(path)


def test_an_invalid_edited_parameter_is_a_checkpoint_error(tmp_path):
    path = _saved(tmp_path, "kneser-ney", order=2)
    _edit_params(path, order=0)
    with pytest.raises(CheckpointError, match="config.json: order must be an integer"):
        lm.load(path)


@pytest.mark.parametrize("name, params, array", [
    ("unigram", {}, "logprobs"),
    ("kneser-ney", {"order": 2}, "keys1"),
    ("hmm", {"n_states": 2, "n_iter": 1, "progress": False, "device": "cpu"}, "emissionprob"),
    ("lstm", {**NEURAL["lstm"], "epochs": 1, "progress": False, "device": "cpu"}, "embed.weight"),
])
def test_arrays_saved_on_another_vocabulary_are_named(tmp_path, name, params, array):
    path = _saved(tmp_path, name, **params)
    other = _saved(tmp_path / "other", name, texts=OTHER, **params)
    shutil.copy(other / "arrays.safetensors", path / "arrays.safetensors")
    with pytest.raises(CheckpointError, match=f"'{array}' has shape .*11.*imply .*6"):
        lm.load(path)
