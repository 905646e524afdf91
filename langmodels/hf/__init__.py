"""Hugging Face causal language models on the shared word vocabulary (`pip install -e ".[hf]"`).

- `model.py`: `HFCausalModel`, a pretrained or freshly configured causal LM scored per word
- `training.py`: what it gives the one training loop of `langmodels.neural.training` (also the
  sequence-classification module of `langmodels.classify.hf`)
- `masked.py`: `HFMaskedModel`, a pretrained masked LM scored per word (the masked contract)

Importing this package imports neither torch nor transformers.
"""

from .masked import HFMaskedModel
from .model import HFCausalModel

__all__ = ["HFCausalModel", "HFMaskedModel"]
