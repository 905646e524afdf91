"""The one training loop: the neural family (RNN, LSTM, GRU, Transformer, BERT) and Hugging Face models.

    for each epoch (data order drawn from rng(seed, epoch), so a resumed run sees the same batches):
        for each global batch (x, y, reset):          this rank's share of the rows
            lr = warmup then cosine / plateau / constant
            loss = sum of token NLLs / tokens in the GLOBAL batch   (x world size: DDP averages)
            backward, clip, step; carry the (detached) hidden state unless the next batch resets
            every `checkpoint_every` steps or `checkpoint_seconds`: checkpoint mid-epoch
        score `valid` exactly (the model's own scoring path); keep the best weights
            (without `valid`: the latest epoch's weights are the best so far)
        checkpoint: weights, best weights, optimizer, lr state, torch RNG, position   (rank 0 only)
        log one line: epoch, train loss, valid perplexity, tokens/s, elapsed   (logger langmodels.*)
    restore the best weights

A checkpoint records the position in the epoch (batches done, the carried hidden state, the
epoch's loss so far), so resuming mid-epoch gives the same weights as a run never interrupted.
Mid-epoch checkpoints are written by single-process runs only: under torchrun each rank carries
its own rows' hidden state, so checkpoints stay at epoch ends there.

Ctrl-C (KeyboardInterrupt): with `checkpoint_dir`, the position reached is checkpointed first
(unless the interrupt landed inside an optimizer step), so `resume=True` loses nothing. Then, if
an epoch finished, the model keeps the best weights so far, is marked as a partial fit
(`model.partial_fit_`, `model.is_partial_fit`) with a `PartialFitWarning`; otherwise it is left
unfitted. The KeyboardInterrupt is re-raised either way, so a script stops.

Under torchrun (WORLD_SIZE > 1) the module is wrapped in DistributedDataParallel (gloo on CPU,
nccl on GPU); every rank builds the same global batches and takes its own rows, which makes N
processes equal to one process with the same global batch. On CUDA the forward pass runs under
bf16 autocast (on the CPU too with `precision="bf16"`; `langmodels._torch.training_autocast`),
and `compile=True` uses torch.compile. AdamW is fused on every device.

Checkpoints are `state.json` + `tensors.safetensors` (never pickle), replaced whole each epoch.

What the loop needs from a model (`NeuralModel`, `HFCausalModel` and the masked `BertModel` provide it):

    the training parameters checked by `check_training_params` (lr, optimizer, betas, weight_decay,
        epochs, max_steps, batch_size, clip, warmup, schedule, patience, seed, device, compile,
        precision, progress, checkpoint_every, checkpoint_seconds), `checkpoint_dir`, `context` ("stream"
        carries a hidden state) and `vocab_`
    _new_module(V)            the nn.Module to train, built under the seeded torch RNG; its
                              forward(x (B, T), state) returns (logits (B, T, n_out), state), or,
                              when it has `computes_loss` true, forward(x, state, y) returns
                              (the summed loss over y's counted targets, state)
    _epoch_batches(corpus, rng)   the epoch's global batches: (x, y, reset) int64 arrays
    _score(corpus)            ln p of every counted target (the model's exact scoring) for valid_loss
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from .._checks import check_choice, check_float, check_int
from .._io import atomic_directory, read_utf8, write_json_atomic
from .._torch import check_device, check_precision, resolve_device, training_autocast
from ..errors import CheckpointError, InvalidParameterError, PartialFitWarning
from .batching import IGNORE, PAD
from .loss import summed_cross_entropy

STATE_FILE, TENSORS_FILE = "state.json", "tensors.safetensors"
PLATEAU_FACTOR = 0.25   # lr x 1/4 after an epoch without improvement (PyTorch word-LM example)
MIN_LR_RATIO = 0.1      # cosine decays to lr / 10 (nanoGPT)
# Parameters that may change between an interrupted run and its resumption.
RESUME_FREE = {"device", "threads", "compile", "progress", "checkpoint_dir", "checkpoint_every",
               "checkpoint_seconds"}
log = logging.getLogger(__name__)


def check_training_params(model) -> None:
    """Check the training parameters the loop reads (the same rules for every family)."""
    check_float("lr", model.lr, low=0.0, low_open=True)
    check_choice("optimizer", model.optimizer, ["adamw", "sgd"])
    if not (isinstance(model.betas, (tuple, list)) and len(model.betas) == 2):
        raise InvalidParameterError(f"betas must be a pair (beta1, beta2), got {model.betas!r}")
    for i, beta in enumerate(model.betas):
        check_float(f"betas[{i}]", beta, low=0.0, high=1.0, high_open=True)
    check_float("weight_decay", model.weight_decay, low=0.0)
    check_int("epochs", model.epochs, low=0)   # 0: no training (e.g. a fine-tuning start as is)
    if model.max_steps is not None:
        check_int("max_steps", model.max_steps, low=1)
    check_int("batch_size", model.batch_size, low=1)
    check_float("clip", model.clip, low=0.0)
    check_int("warmup", model.warmup, low=0)
    check_choice("schedule", model.schedule, ["cosine", "plateau", "constant"])
    if model.patience is not None:
        check_int("patience", model.patience, low=1)
    check_int("seed", model.seed, low=0)
    check_device(model.device)
    check_choice("compile", model.compile, [True, False])
    check_precision(model.precision)
    check_choice("progress", model.progress, [True, False])
    if model.checkpoint_every is not None:
        check_int("checkpoint_every", model.checkpoint_every, low=1)
    if model.checkpoint_seconds is not None:
        check_float("checkpoint_seconds", model.checkpoint_seconds, low=0.0, low_open=True)


@dataclass
class LoopState:
    """What the loop carries between steps (saved as JSON in a checkpoint). `epoch` counts the
    finished epochs; `batch` the batches done of the next one, whose loss sum, token count and
    seconds so far are `epoch_loss`, `epoch_tokens` and `epoch_seconds`."""

    epoch: int = 0
    step: int = 0
    batch: int = 0
    epoch_loss: float = 0.0
    epoch_tokens: int = 0
    epoch_seconds: float = 0.0
    best_loss: float = math.inf
    bad_epochs: int = 0
    lr_factor: float = 1.0
    done: bool = False
    history: list = field(default_factory=list)


def lr_at(model, step: int, total: int, factor: float) -> float:
    """Linear warmup over `warmup` steps, then cosine to lr/10 over the rest, or lr x factor."""
    if step < model.warmup:
        return model.lr * (step + 1) / model.warmup
    if model.schedule == "cosine":
        progress = min(1.0, (step - model.warmup) / max(1, total - model.warmup))
        low = model.lr * MIN_LR_RATIO
        return low + 0.5 * (1.0 + math.cos(math.pi * progress)) * (model.lr - low)
    return model.lr * factor


def make_optimizer(model, module, device):
    """AdamW or SGD over the trainable parameters, then the module's `constrain()` after each step
    where it has one. A model with `lr_scale_of(name)` (the text
    classifier's discriminative learning rates) gets one group per scale, each group's lr that
    factor times the schedule's (its `lr_scale` entry)."""
    import torch

    named = [(n, p) for n, p in module.named_parameters() if p.requires_grad]
    scale_of = getattr(model, "lr_scale_of", lambda name: 1.0)
    groups: dict = {}
    for name, p in named:
        # No weight decay on biases, norms and embeddings' 1-D companions (nanoGPT's rule: dim < 2).
        decay = model.weight_decay if (model.optimizer == "sgd" or p.dim() >= 2) else 0.0
        key = (decay, scale_of(name))
        groups.setdefault(key, {"params": [], "weight_decay": decay, "lr_scale": key[1]})["params"].append(p)
    groups = list(groups.values())
    if model.optimizer == "sgd":
        opt = torch.optim.SGD(groups, lr=model.lr)
    else:
        # fused: one kernel per step on CPU and CUDA alike (on one CPU thread, 1.9 ms for the
        # WT2-mini GRU's 3.6M parameters against 18 ms for torch's default per-tensor loop)
        opt = torch.optim.AdamW(groups, lr=model.lr, betas=tuple(model.betas), fused=True)
    if hasattr(module, "constrain"):   # a weight constraint (Kim's max-norm) projects after every step
        opt.register_step_post_hook(lambda *_: module.constrain())
    return opt


# --- distributed ---------------------------------------------------------------------------
@dataclass
class Dist:
    world: int = 1
    rank: int = 0


def init_distributed(device) -> Dist:
    """Join the torchrun process group when WORLD_SIZE > 1 (gloo on CPU, nccl on CUDA)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Dist()
    import torch
    import torch.distributed as dist

    if not dist.is_initialized():
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_world_size(), dist.get_rank())


def train(model, corpus, valid, resume: bool = False, on_epoch_end=None, init=None) -> None:
    """Fit `model.module_` on `corpus` (see the module docstring); sets `model.history_`.
    `on_epoch_end(record)` is called after each epoch; returning True stops training there.
    `init`: a state_dict for this vocabulary to start from instead of a fresh initialisation."""
    if resume and not model.checkpoint_dir:
        raise InvalidParameterError("resume=True needs the checkpoint_dir parameter: where the "
                                    "interrupted run wrote its checkpoints")
    device = resolve_device(model.device)
    # The process group stays up after fit: a later fit in the same process reuses it (joining
    # a second group through torchrun's store can hang), and the caller may still need it.
    _train(model, corpus, valid, resume, on_epoch_end, device, init_distributed(device), init)


def _train(model, corpus, valid, resume, on_epoch_end, device, dist_: Dist, init=None) -> None:
    import torch

    if model.context == "stream" and dist_.world > model.batch_size:
        raise InvalidParameterError(f"batch_size ({model.batch_size}) must be at least the number of "
                                    f"processes ({dist_.world}): each carries its own rows of the stream")
    torch.manual_seed(model.seed)
    module = model._new_module(len(model.vocab_))
    if init is not None:
        module.load_state_dict(init)
    module = module.to(device)
    model.module_ = module
    opt = make_optimizer(model, module, device)
    state, best, hidden = LoopState(done=model.epochs == 0 and not model.max_steps), None, None
    ckpt = Path(model.checkpoint_dir) if model.checkpoint_dir else None
    if resume and ckpt is not None and (ckpt / STATE_FILE).exists():
        state, best, hidden = load_checkpoint(ckpt, model, module, opt, device)
    net = torch.compile(module) if model.compile else module
    if dist_.world > 1:
        from torch.nn.parallel import DistributedDataParallel

        net = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    autocast = training_autocast(model.precision, device)
    # An adaptive softmax computes its loss from the targets' clusters only: no (b, T, V) output.
    fused_loss = getattr(module, "computes_loss", False)
    # Mid-epoch checkpoints: one process only (each rank carries its own rows' hidden state).
    mid_epoch = ckpt is not None and dist_.world == 1
    last_save = time.perf_counter()
    # `consistent`: the weights, optimizer, hidden state and `state` all describe the same position
    # (false only while a step or an epoch's end is being committed).
    consistent, loss_sum, t0, rng = True, torch.zeros((), device=device), time.perf_counter(), None

    def snapshot():
        """`state` with the epoch's running totals, ready to checkpoint."""
        state.epoch_loss = float(loss_sum)
        state.epoch_seconds = time.perf_counter() - t0
        return state

    try:
        while not state.done:
            epoch = state.epoch + 1
            batches = model._epoch_batches(corpus, np.random.default_rng([model.seed, epoch]))
            total = model.max_steps or model.epochs * len(batches)
            module.train()
            bar = _progress(model, dist_, len(batches), epoch, state.batch)
            # float32 like the running sum, so a resumed epoch reports the same loss
            loss_sum = torch.tensor(state.epoch_loss, dtype=torch.float32, device=device)
            t0 = time.perf_counter() - state.epoch_seconds
            for i in range(state.batch, len(batches)):
                if state.step >= total:
                    break
                x, y, reset = batches[i]
                count = int((y != IGNORE).sum())                       # tokens in the global batch
                x, y = _shard(x, y, dist_)
                X = torch.from_numpy(x).to(device, non_blocking=True)
                Y = torch.from_numpy(y).to(device, non_blocking=True)
                if mid_epoch:   # the forward pass draws dropout masks: Ctrl-C saves the RNG of before
                    rng = _rng_states(module)
                lr = lr_at(model, state.step, total, state.lr_factor)
                for group in opt.param_groups:
                    group["lr"] = lr * group.get("lr_scale", 1.0)
                with autocast:
                    if fused_loss:
                        out, new_hidden = net(X, None if reset else hidden, Y)  # summed loss
                    else:
                        out, new_hidden = net(X, None if reset else hidden)     # (b, T, n_out)
                # bf16 logits (autocast) are reduced in float32 inside the loss, block by block
                loss = out if fused_loss else summed_cross_entropy(out.flatten(0, 1), Y.reshape(-1))
                opt.zero_grad(set_to_none=True)
                (loss * (dist_.world / max(count, 1))).backward()
                if model.clip:
                    torch.nn.utils.clip_grad_norm_(module.parameters(), model.clip)
                consistent = False
                opt.step()
                hidden = _detach(new_hidden)
                state.step, state.batch = state.step + 1, i + 1
                loss_sum += loss.detach()                                  # this rank's rows
                state.epoch_tokens += count
                consistent = True
                if bar is not None and (i % 10 == 9 or i == len(batches) - 1):
                    _show(bar, loss_sum, state.epoch_tokens, dist_.world, t0, i + 1)   # rank 0's estimate
                if mid_epoch and state.batch < len(batches) and _due(model, state.step, last_save):
                    save_checkpoint(ckpt, model, module, opt, snapshot(), best, hidden)
                    last_save = time.perf_counter()
            if bar is not None:
                bar.close()
            elapsed = time.perf_counter() - t0
            if dist_.world > 1:
                torch.distributed.all_reduce(loss_sum)
            n_tokens = state.epoch_tokens
            train_loss = float(loss_sum) / max(n_tokens, 1)
            last_lr = lr_at(model, state.step - 1, total, state.lr_factor)
            record = {"epoch": epoch, "step": state.step, "lr": last_lr,
                      "train_loss": train_loss, "train_tokens_per_s": n_tokens / max(elapsed, 1e-9)}
            module.eval()
            best_loss, bad_epochs, lr_factor = state.best_loss, state.bad_epochs, state.lr_factor
            new_best = best
            if valid is not None:
                with torch.no_grad():
                    record["valid_loss"] = float(-np.mean(model._score(valid)))   # nats per token
                if record["valid_loss"] < best_loss:
                    best_loss, bad_epochs = record["valid_loss"], 0
                    new_best = _copy_weights(module)
                else:
                    bad_epochs += 1
                    if model.schedule == "plateau":
                        lr_factor *= PLATEAU_FACTOR
            else:
                new_best = _copy_weights(module)   # an interrupted fit keeps the latest epoch's weights
            stopped = model.patience is not None and bad_epochs >= model.patience
            out_of_steps = state.step >= model.max_steps if model.max_steps else epoch >= model.epochs
            consistent = False
            state = LoopState(epoch=epoch, step=state.step, best_loss=best_loss, bad_epochs=bad_epochs,
                              lr_factor=lr_factor, done=stopped or out_of_steps,
                              history=[*state.history, record])
            best, hidden, rng = new_best, None, None
            loss_sum, t0 = torch.zeros((), device=device), time.perf_counter()
            consistent = True
            if ckpt is not None and dist_.rank == 0:
                save_checkpoint(ckpt, model, module, opt, state, best, hidden)
                last_save = time.perf_counter()
            if dist_.world > 1:
                torch.distributed.barrier()
            if dist_.rank == 0:
                _log_epoch(model, record, elapsed)
            # The caller's callback returns True to stop here (e.g. the bench harness's time or
            # token budget); the best weights so far are kept as after early stopping.
            if on_epoch_end is not None and on_epoch_end(dict(record)) is True:
                break
    except KeyboardInterrupt:
        if mid_epoch and consistent:
            save_checkpoint(ckpt, model, module, opt, snapshot(), best, hidden, rng)
        _keep_partial(model, module, state, best, ckpt)
        raise
    if best is not None:
        module.load_state_dict(best)
    module.eval()
    model.history_ = state.history


def _due(model, step: int, last_save: float) -> bool:
    """Whether a mid-epoch checkpoint is due after `step` steps."""
    if model.checkpoint_every is not None and step % model.checkpoint_every == 0:
        return True
    seconds = model.checkpoint_seconds
    return seconds is not None and time.perf_counter() - last_save >= seconds


def _copy_weights(module) -> dict:
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def _keep_partial(model, module, state: LoopState, best, ckpt) -> None:
    """After Ctrl-C: keep the best weights of the finished epochs, marked partial; with no finished
    epoch leave nothing marked (LanguageModel.fit then leaves the model unfitted)."""
    where = f"; resume from {ckpt} with fit(..., resume=True)" if ckpt is not None else ""
    if best is None:
        warnings.warn(f"training interrupted before its first epoch ended: the model is not "
                      f"fitted{where}", PartialFitWarning, stacklevel=7)
        return
    module.load_state_dict(best)
    module.eval()
    model.history_ = state.history
    model.partial_fit_ = {"reason": "interrupted", "epochs": state.epoch, "steps": state.step}
    kept = "best validated" if any("valid_loss" in r for r in state.history) else "latest"
    warnings.warn(f"training interrupted after {state.epoch} epoch(s): the model holds the {kept} "
                  f"weights so far and is marked as a partial fit (model.is_partial_fit){where}",
                  PartialFitWarning, stacklevel=7)


def _log_epoch(model, record: dict, elapsed: float) -> None:
    """One line per epoch, whatever stderr is (tqdm bars are erased and only show on a terminal)."""
    # A model whose targets are not tokens (a classifier: one label per text) names its unit, and
    # its validation loss is not a perplexity.
    unit = getattr(model, "target_unit", "token")
    valid = ("" if "valid_loss" not in record else f", valid loss {record['valid_loss']:.4f}"
             if unit != "token" else f", valid ppl {math.exp(min(record['valid_loss'], 700)):.2f}")
    of = f"/{model.epochs}" if not model.max_steps else ""
    log.info("%s epoch %d%s: train loss %.4f%s, %.0f %ss/s, %.1fs (step %d)", type(model).__name__,
             record["epoch"], of, record["train_loss"], valid, record["train_tokens_per_s"], unit, elapsed,
             record["step"])


def _shard(x, y, dist_: Dist):
    """This rank's rows of a global batch; a rank left without rows gets one row that counts nothing
    (it must still run backward for DDP's gradient all-reduce)."""
    if dist_.world == 1:
        return x, y
    rows = np.array_split(np.arange(len(x)), dist_.world)[dist_.rank]
    if len(rows) == 0:
        return np.full_like(x[:1], PAD), np.full_like(y[:1], IGNORE)
    return np.ascontiguousarray(x[rows]), np.ascontiguousarray(y[rows])


def _detach(hidden):
    if hidden is None:
        return None
    if isinstance(hidden, tuple):
        return tuple(h.detach() for h in hidden)
    return hidden.detach()


def _progress(model, dist_, total, epoch, done=0):
    if not model.progress or dist_.rank != 0:
        return None
    from tqdm.auto import tqdm

    # disable=None: quiet when stderr is not a terminal (the per-epoch log line remains)
    return tqdm(total=total, initial=done, desc=f"{type(model).__name__} epoch {epoch}", disable=None,
                leave=False)


def _show(bar, loss_sum, n_tokens, world, t0, done):
    loss = float(loss_sum) * world / max(n_tokens, 1)
    bar.set_postfix(loss=f"{loss:.3f}", ppl=f"{math.exp(min(loss, 50)):.1f}",
                    tok_s=f"{n_tokens / max(time.perf_counter() - t0, 1e-9):.0f}", refresh=False)
    bar.update(done - bar.n)


# --- checkpoints -----------------------------------------------------------------------------
def _rng_states(module) -> dict:
    """The torch RNG states training draws from (CPU, and the module's GPU)."""
    import torch

    states = {"rng.torch": torch.get_rng_state()}
    param = next(module.parameters())
    if param.is_cuda:
        states["rng.cuda"] = torch.cuda.get_rng_state(param.device)
    return states


def save_checkpoint(directory: Path, model, module, opt, state: LoopState, best, hidden=None,
                    rng=None) -> None:
    """Weights, best weights, optimizer state, the loop state, the hidden state carried into the
    next batch (a tensor or a tuple of them) and the torch RNG (`rng`: states taken earlier by
    `_rng_states`, default now); no pickle."""
    import torch
    from safetensors.torch import save_file

    from ..base import _jsonable

    tensors = {f"model.{k}": v.detach().cpu().clone() for k, v in module.state_dict().items()}
    if best is not None:
        tensors.update({f"best.{k}": v.cpu().clone() for k, v in best.items()})
    opt_state = opt.state_dict()
    scalars = {}
    for pid, entry in opt_state["state"].items():
        for name, value in entry.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optim.{pid}.{name}"] = value.detach().cpu().clone()
            else:
                scalars[f"{pid}.{name}"] = value
    if hidden is not None:
        parts = hidden if isinstance(hidden, tuple) else (hidden,)
        tensors.update({f"hidden.{i}": h.detach().cpu().clone() for i, h in enumerate(parts)})
    tensors.update(rng or _rng_states(module))
    with atomic_directory(directory) as tmp:
        save_file(tensors, str(tmp / TENSORS_FILE))
        write_json_atomic(tmp / STATE_FILE, {
            "loop": asdict(state), "param_groups": _jsonable(opt_state["param_groups"]),
            "optim_scalars": _jsonable(scalars), "params": _jsonable(model.get_params()),
            "vocab_fingerprint": model.vocab_.fingerprint,
            "hidden": None if hidden is None else "tuple" if isinstance(hidden, tuple) else "tensor",
        })


def load_checkpoint(directory: Path, model, module, opt, device):
    """Restore what save_checkpoint wrote into `module` and `opt`; returns (LoopState, best, hidden)."""
    import torch
    from safetensors.torch import load_file

    from ..base import _jsonable

    try:
        meta = json.loads(read_utf8(directory / STATE_FILE))
        tensors = load_file(str(directory / TENSORS_FILE))
    except (OSError, ValueError) as e:
        raise CheckpointError(f"{directory}: unreadable training checkpoint ({e})") from None
    if meta.get("vocab_fingerprint") != model.vocab_.fingerprint:
        raise CheckpointError(f"{directory}: the checkpoint was trained on another vocabulary")
    now = _jsonable(model.get_params())
    changed = sorted(k for k in now if k not in RESUME_FREE and meta["params"].get(k) != now[k])
    if changed:
        raise InvalidParameterError(f"{directory}: cannot resume with changed parameters {changed}; "
                                    "use the parameters of the interrupted run")
    module.load_state_dict({k[6:]: v for k, v in tensors.items() if k.startswith("model.")})
    best = {k[5:]: v.to(device) for k, v in tensors.items() if k.startswith("best.")} or None
    opt_state = {"state": {}, "param_groups": meta["param_groups"]}
    for key, value in tensors.items():
        if key.startswith("optim."):
            _, pid, name = key.split(".", 2)
            opt_state["state"].setdefault(int(pid), {})[name] = value
    for key, value in meta["optim_scalars"].items():
        pid, name = key.split(".", 1)
        opt_state["state"].setdefault(int(pid), {})[name] = value
    opt.load_state_dict(opt_state)
    torch.set_rng_state(tensors["rng.torch"])
    if "rng.cuda" in tensors and device.type == "cuda":
        torch.cuda.set_rng_state(tensors["rng.cuda"], device)
    parts = tuple(tensors[f"hidden.{i}"].to(device)
                  for i in range(sum(k.startswith("hidden.") for k in tensors)))
    hidden = {"tuple": parts, "tensor": parts[0] if parts else None}.get(meta.get("hidden"))
    return LoopState(**meta["loop"]), best, hidden
