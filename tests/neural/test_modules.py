"""The networks are plain top-level nn.Module classes with stable state_dict names."""

import importlib

import pytest
from torch import nn

from langmodels import make
from langmodels.neural.rnn import RNNModule
from langmodels.neural.transformer import Block, SelfAttention, TransformerModule


@pytest.mark.parametrize("cls", [RNNModule, SelfAttention, Block, TransformerModule])
def test_each_module_is_a_top_level_importable_class(cls):
    assert issubclass(cls, nn.Module)
    assert cls.__qualname__ == cls.__name__                      # not defined inside a function
    assert getattr(importlib.import_module(cls.__module__), cls.__name__) is cls


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru"])
def test_recurrent_estimators_build_the_top_level_module_with_the_saved_names(name):
    module = make(name, embed_dim=4, hidden_size=4, n_layers=1)._new_module(7)
    assert type(module) is RNNModule and isinstance(module.rnn, getattr(nn, name.upper()))
    # Saved checkpoints load by these names: renaming a submodule would break them.
    assert [k for k in module.state_dict() if not k.startswith("rnn.")] == [
        "embed.weight", "head.weight", "head.bias"]
    assert module.state_dict()["head.weight"].shape == (7, 4)


def test_transformer_estimator_builds_the_top_level_module_with_the_saved_names():
    module = make("transformer", embed_dim=4, n_heads=2, n_layers=1, block_size=8,
                  positions="learned")._new_module(7)
    assert type(module) is TransformerModule and type(module.blocks[0]) is Block
    assert list(module.state_dict()) == [
        "embed.weight", "pos.weight",
        "blocks.0.ln1.weight", "blocks.0.ln1.bias", "blocks.0.ln2.weight", "blocks.0.ln2.bias",
        "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias",
        "blocks.0.attn.proj.weight", "blocks.0.attn.proj.bias",
        "blocks.0.mlp.0.weight", "blocks.0.mlp.0.bias", "blocks.0.mlp.2.weight", "blocks.0.mlp.2.bias",
        "ln_f.weight", "ln_f.bias", "head.weight"]
