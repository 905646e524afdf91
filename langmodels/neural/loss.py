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

bfloat16 logits (the output layer under `precision="bf16"` autocast; float16 ones alike) are
reduced in float32, a block of ROWS rows at a time, and their buffer keeps the exponentials in
their own dtype: the block's float32 copy stays in cache, and no float32 (N, V) copy of the logits
or of their gradient is made (the gradient is low-precision either way, since the low-precision
matrix product that consumes it casts it). On one CPU thread, N = 700, V = 13,203, bf16: 49 ms for
the output layer's forward and backward with the loss, against 64 ms for `.float()` then the
float32 loss, with the same loss and gradient.
"""

from __future__ import annotations

import functools

from .batching import IGNORE

ROWS = 64   # rows of low-precision logits reduced per block on the CPU (a (64, V) float32 block in cache)


@functools.cache
def _function():
    import torch

    class SummedCrossEntropy(torch.autograd.Function):
        @staticmethod
        def forward(ctx, logits, target):                       # logits (N, V), target (N,)
            keep = target != IGNORE
            target = torch.where(keep, target, 0)
            picked = logits.gather(1, target[:, None]).squeeze(1)      # z_i,y_i   (N,)
            if logits.dtype in (torch.float32, torch.float64):
                top = logits.amax(1)                                   # (N,)
                exps = logits.sub_(top[:, None]).exp_()                # (N, V), in place
                total = exps.sum(1)                                    # (N,)
            else:
                picked = picked.float()
                top, total = (torch.empty(len(target), device=logits.device) for _ in range(2))
                rows = ROWS if logits.device.type == "cpu" else len(target)
                for s in range(0, len(target), rows):
                    z = logits[s:s + rows].float()                     # (rows, V) float32
                    top[s:s + rows] = z.amax(1)
                    total[s:s + rows] = z.sub_(top[s:s + rows, None]).exp_().sum(1)
                    logits[s:s + rows] = z                             # the exponentials, bf16
                exps = logits
            ctx.save_for_backward(exps, total, target, keep)
            nll = (total.log() + top - picked) * keep
            return nll.sum()

        @staticmethod
        def backward(ctx, grad_loss):
            exps, total, target, keep = ctx.saved_tensors
            weight = grad_loss * keep                                  # (N,)
            grad = exps.mul_((weight / total)[:, None].to(exps.dtype))  # softmax x weight, in place
            grad[torch.arange(len(target), device=target.device), target] -= weight.to(exps.dtype)
            return grad, None

    return SummedCrossEntropy


def summed_cross_entropy(logits, target):
    """Sum of -ln softmax(logits)[target] over rows whose target is not IGNORE.

    logits (N, V) float (float32, float64, or bfloat16 / float16: then the loss is float32), target (N,)
    int64. The logits' buffer is overwritten (see the module docstring); pass a copy if they are
    needed afterwards.
    """
    return _function().apply(logits, target)
