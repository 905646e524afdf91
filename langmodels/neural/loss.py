"""The training loss: summed cross-entropy that overwrites the logits it is given.

    loss = sum over kept rows i of  ln sum_v exp(z_iv) - z_i,y_i        (rows with y_i = IGNORE skipped)
    d loss / d z_i = softmax(z_i) - onehot(y_i)

torch's `cross_entropy` writes log_softmax(z) to a new (N, V) buffer, exponentiates it again in the
backward pass, and builds the one-hot gradient in a second zero-filled (N, V) buffer. With a large
vocabulary these passes over N x V floats are costly: for N = 700, V = 6,023 on one CPU thread they
took about 40% as long as the output layer's three matrix products. Here the forward pass turns
the logits' own buffer into exp(z - max) once, and the backward pass scales that buffer into the
gradient: one exponential, no new N x V buffer.

The logits must not be needed afterwards: the output layer's backward reads its input and weight,
never its output. The buffer is changed inside an autograd Function without `mark_dirty` (which
torch refuses for a view, and the logits are usually a reshaped view); in-place writes still bump
the tensor's version counter, so a graph that had saved the logits fails loudly at backward rather
than computing a wrong gradient. Measured in the training loop on PTB-mini (V = 6,023, LSTM 2x200):
1.14x tokens/s at one thread, 1.09x at two (`benchmarks/RESULTS.md`).
"""

from __future__ import annotations

import functools

from .batching import IGNORE


@functools.cache
def _function():
    import torch

    class SummedCrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, logits, target):                       # logits (N, V), target (N,)
            keep = target != IGNORE
            target = torch.where(keep, target, 0)
            picked = logits.gather(1, target[:, None]).squeeze(1)      # z_i,y_i   (N,)
            top = logits.amax(1)                                       # (N,)
            exps = logits.sub_(top[:, None]).exp_()                    # (N, V), in place
            total = exps.sum(1)                                        # (N,)
            ctx.save_for_backward(exps, total, target, keep)
            nll = (total.log() + top - picked) * keep
            return nll.sum()

        @staticmethod
        def backward(ctx, grad_loss):
            exps, total, target, keep = ctx.saved_tensors
            weight = grad_loss * keep                                  # (N,)
            grad = exps.mul_((weight / total)[:, None])                # softmax x weight, in place
            grad[torch.arange(len(target), device=target.device), target] -= weight
            return grad, None

    return SummedCrossEntropy


def summed_cross_entropy(logits, target):
    """Sum of -ln softmax(logits)[target] over rows whose target is not IGNORE.

    logits (N, V) float, target (N,) int64. The logits' buffer is overwritten (see the module
    docstring); pass a copy if they are needed afterwards.
    """
    return _function().apply(logits, target)
