"""Dynamic int8 quantisation of a fitted neural model, for faster and smaller CPU inference.

    W  ~  scale * q,  q = round(W / scale) in int8 (per layer);  activations are quantised on the fly

`torch.ao.quantization.quantize_dynamic` swaps every `nn.Linear` (and `nn.LSTM` / `nn.GRU`) for
an int8 version; embeddings stay float. The result is a copy that obeys the same contract (rows
still sum to 1: the softmax runs on its float logits) and leaves the float model untouched. It is
for inference: fit and save the float model, quantise after loading. One caveat: activations get
one scale per input tensor, i.e. per batch, so a row's log-probabilities move by ~1e-4 to ~3e-3 with
the rows batched beside it (the float model's batch-invariance holds only to that precision).
"""

from __future__ import annotations

import copy
import warnings

from ..base import LanguageModel
from ..errors import CheckpointError, InvalidParameterError


class _QuantizedMixin:
    """What a quantised copy refuses: saving (int8 packed weights are not its checkpoint format)
    and refitting (training needs float weights)."""

    quantized = True

    def save(self, directory):
        raise CheckpointError("a quantised model is for inference only and is not saved; save the float "
                              "model and call langmodels.neural.quantize.quantize_dynamic after loading")

    def fit(self, *args, **kwargs):
        raise InvalidParameterError("a quantised model cannot be trained; fit the float model, then quantise")


def quantize_dynamic(model: LanguageModel) -> LanguageModel:
    """An int8 dynamically quantised copy of a fitted neural model (CPU only)."""
    import torch
    from torch import nn

    module = getattr(model, "module_", None)
    if not isinstance(module, nn.Module):
        raise InvalidParameterError(f"{type(model).__name__} has no fitted torch module (module_) to "
                                    "quantise; dynamic quantisation applies to the neural family")
    if any(p.device.type != "cpu" for p in module.parameters()):
        raise InvalidParameterError("dynamic int8 quantisation runs on CPU; fit or load the model "
                                    "with device='cpu'")
    with warnings.catch_warnings():  # torch.ao.quantization announces its move to torchao
        warnings.simplefilter("ignore", DeprecationWarning)
        qmodule = torch.ao.quantization.quantize_dynamic(
            copy.deepcopy(module).eval(), {nn.Linear, nn.LSTM, nn.GRU}, dtype=torch.qint8)
    cls = type(model)
    qcls = type(f"Quantized{cls.__name__}", (_QuantizedMixin, cls), {"__module__": __name__})
    quantized = qcls.__new__(qcls)
    quantized.__dict__.update(model.__dict__)
    quantized.module_ = qmodule
    return quantized


def module_size_bytes(model: LanguageModel) -> int:
    """Bytes of the module's state as torch serialises it (packed int8 weights included)."""
    import io

    import torch

    buf = io.BytesIO()
    torch.save(model.module_.state_dict(), buf)
    return buf.getbuffer().nbytes
