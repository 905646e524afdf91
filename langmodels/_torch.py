"""The torch runtime in one place: which device a model runs on, and how many CPU threads it uses.

Every torch-backed family (HMM, neural, Hugging Face) takes the same two parameters and reads them
through this module: `device` ('auto', 'cpu', 'cuda' or 'cuda:N') and `threads` (torch's intra-op
CPU threads; None means the default, 1). The trained families also take `precision`, the arithmetic
of their training forward pass (`training_autocast`).

torch is imported inside the functions, so importing this module (and `langmodels`) never loads it.
"""

from __future__ import annotations

import contextlib
import os

from ._checks import check_int
from .errors import InvalidParameterError

#: One intra-op thread unless asked otherwise: on the shared 2-core machines these models were
#: measured on, OpenMP's spin-waiting against other jobs made 2 threads up to 240x slower on the
#: HMM's small products and more than 8x slower for LSTM training, while an idle machine gained
#: at most 1.8x (benchmarks/RESULTS.md, HMM and neural sections).
DEFAULT_THREADS = 1

DEVICES = "'auto', 'cpu', 'cuda' or 'cuda:N'"
PRECISIONS = ("auto", "bf16", "fp32")


def _parse_device(device) -> tuple[str, int | None]:
    """('auto' | 'cpu' | 'cuda', the CUDA index when one is written)."""
    if device is None or device == "auto":
        return "auto", None
    if device == "cpu":
        return "cpu", None
    if isinstance(device, str):
        kind, colon, index = device.partition(":")
        if kind == "cuda" and not colon:
            return "cuda", None
        if kind == "cuda" and index.isascii() and index.isdigit():
            return "cuda", int(index)
    raise InvalidParameterError(f"device must be {DEVICES}, got {device!r}")


def check_device(device) -> None:
    """Raise InvalidParameterError unless `device` is 'auto' (or None), 'cpu', 'cuda' or 'cuda:N'.

    Checks the spelling only, without torch: whether the device exists is `resolve_device`'s job."""
    _parse_device(device)


def check_threads(threads) -> None:
    """Raise InvalidParameterError unless `threads` is None or a positive integer."""
    if threads is not None:
        check_int("threads", threads, low=1)


def resolve_device(device):
    """The `torch.device` for a `device` parameter.

    'auto' (or None): CUDA when torch sees a GPU, else the CPU. 'cuda': a GPU, and under torchrun
    (LOCAL_RANK set) this process's own GPU, as 'auto' also picks there. 'cuda:N': GPU N.
    Raises InvalidParameterError for a malformed string, for CUDA when torch sees no GPU, and
    for a GPU index that torch does not have.
    """
    kind, index = _parse_device(device)
    import torch

    if kind == "cpu":
        return torch.device("cpu")
    if not torch.cuda.is_available():
        if kind == "auto":
            return torch.device("cpu")
        raise InvalidParameterError(
            f"device={device!r} was requested but torch reports no CUDA device (no GPU, or a CPU-only "
            "torch build); use device='auto' or device='cpu'")
    source = f"device={device!r}"
    if index is None:
        local_rank = os.environ.get("LOCAL_RANK", "0")
        if not local_rank.isdigit():
            raise InvalidParameterError(
                f"LOCAL_RANK must be a GPU index (torchrun sets it), got {local_rank!r}")
        index, source = int(local_rank), f"LOCAL_RANK={local_rank} (torchrun)"
    count = torch.cuda.device_count()
    if index >= count:
        raise InvalidParameterError(
            f"{source} asks for CUDA device {index}, but torch reports {count} CUDA device(s), "
            f"numbered 0 to {count - 1} (CUDA_VISIBLE_DEVICES may hide some)")
    return torch.device("cuda", index)


@contextlib.contextmanager
def torch_threads(n: int | None = None):
    """Run the block with `n` torch intra-op CPU threads (None: DEFAULT_THREADS), then restore
    torch's previous setting, also when the block raises."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(DEFAULT_THREADS if n is None else n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def check_precision(precision) -> None:
    """Raise InvalidParameterError unless `precision` is 'auto', 'bf16' or 'fp32'."""
    if precision not in PRECISIONS:
        raise InvalidParameterError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")


def training_autocast(precision: str, device):
    """The context a training forward pass runs in for `precision` on `device` (a torch.device).

    'bf16': bfloat16 autocast (matrix products in bf16; weights, optimizer state, reductions and
    the loss stay float32). 'fp32': none. 'auto': bf16 on CUDA, float32 on the CPU, where bf16 is
    fast only on CPUs with bf16 matrix instructions (AVX512-BF16, AMX) and results would then
    depend on the machine. Scoring never runs under it: log-probabilities are float32.
    """
    import torch

    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()
