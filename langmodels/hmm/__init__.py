"""The hidden Markov model family: categorical emissions over the shared vocabulary, trained by
batched Baum-Welch EM.

- `model.py`: `HMMLanguageModel`, the estimator and the contract
- `initialisation.py`: random and word-cluster starting points
- `forward_backward.py`: the scaled forward-backward recursions in torch (imported only when needed)

Importing this package does not import torch.
"""

from .model import HMMLanguageModel

__all__ = ["HMMLanguageModel"]
