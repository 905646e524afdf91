"""Hugging Face masked language models (BERT and kin) scored on the shared word vocabulary.

The sequence `<s> w1 .. wn </s>` is read as the network's pieces `[CLS] pieces(w1) .. pieces(wn) [SEP]`:
`<s>` is `[CLS]`, `</s>` is the `[SEP]` slot, `<unk>` is the tokenizer's unknown piece, and every
other word is spelled by the tokenizer on its own.

Convention for a masked word (whole-word masking): all pieces of the word at a masked position are
masked at once. A candidate word v of k pieces is scored with k `[MASK]` pieces in that slot,

    s(v) = sum_j ln P(piece_j(v) at mask j | the rest),      j = 1 .. k, one forward pass per k

and the distribution over the shared vocabulary is the softmax of s over its words (`<s>` excluded):
probability the network gives to piece strings outside the vocabulary is dropped, and words of
different lengths are compared on one scale through that normalisation. With several positions
masked together, each other masked position holds one `[MASK]` piece while one is scored.

Cost: per masked position, one forward pass for each distinct piece length in the vocabulary (2-5
for word vocabularies), `word_batch` rows per pass. A sequence longer than the network's window is
an error. Needs the optional `transformers` package (`pip install langmodels[hf]`).
"""

from __future__ import annotations

import os

import numpy as np

from .._checks import check_int
from .._torch import check_device, check_threads, resolve_device, torch_threads
from ..errors import CheckpointError, InvalidParameterError
from ..masked import MaskedLanguageModel
from ..vocabulary import BOS_ID, EOS_ID, UNK_ID
from .model import _transformers, tokenizer_from_arrays, tokenizer_to_arrays

SPECIALS = ("unk_token", "cls_token", "sep_token", "pad_token", "mask_token")


class HFMaskedModel(MaskedLanguageModel):
    """A `transformers` masked LM under the masked contract; see the module docstring.

    Good calls::

        make("hf-masked", pretrained="bert-dir").fit(train)   # fit only reads train's vocabulary

    Bad calls::

        make("hf-masked")                                     # a pretrained directory is required

    Parameters
    ----------
    pretrained : str
        A local directory saved by `save_pretrained` (`AutoModelForMaskedLM` and its tokenizer,
        which needs cls, sep, mask, pad and unk tokens), or a hub name when online.
    word_batch : int, default 64
        Rows per forward pass.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default "cpu"
        Where to score.
    threads : int or None, default 1
        torch CPU threads while scoring (None: 1).

    Attributes
    ----------
    net_ : transformers.PreTrainedModel
        The masked LM network.
    tokenizer_ : transformers.PreTrainedTokenizerBase
        Its tokenizer; each vocabulary word is spelled as its pieces.
    vocab_ : Vocabulary
        The fit corpus's vocabulary.
    """

    def __init__(self, pretrained: str | None = None, word_batch: int = 64, device: str = "cpu",
                 threads: int | None = 1):
        self.pretrained = pretrained
        self.word_batch = word_batch
        self.device = device
        self.threads = threads

    def _check_params(self) -> None:
        if not isinstance(self.pretrained, (str, os.PathLike)):
            raise InvalidParameterError(f"pretrained must be a model directory or hub name, got "
                                        f"{self.pretrained!r}")
        check_int("word_batch", self.word_batch, low=1)
        check_threads(self.threads)
        check_device(self.device)

    def _fit(self, corpus, valid=None) -> None:
        tf = _transformers()
        try:
            tok = tf.AutoTokenizer.from_pretrained(str(self.pretrained))
            net = tf.AutoModelForMaskedLM.from_pretrained(str(self.pretrained))
        except (OSError, ValueError) as e:
            raise CheckpointError(f"{self.pretrained}: cannot load a masked LM and its tokenizer "
                                  f"({e})") from None
        self._adopt(tok, net)

    def _adopt(self, tok, net) -> None:
        missing = [name for name in SPECIALS if getattr(tok, name, None) is None]
        if missing:
            raise CheckpointError(f"{self.pretrained}: the tokenizer lacks {missing}")
        self.tokenizer_ = tok
        self.net_ = net.to(resolve_device(self.device)).eval()
        words = self.vocab_.tokens
        spelled = tok(list(words), add_special_tokens=False)["input_ids"]
        special = {UNK_ID: [tok.unk_token_id], BOS_ID: [tok.cls_token_id], EOS_ID: [tok.sep_token_id]}
        self._pieces = [np.asarray(special.get(i) or spelled[i] or [tok.unk_token_id], np.int64)
                        for i in range(len(words))]
        lengths = np.array([len(p) for p in self._pieces])
        lengths[BOS_ID] = 0                                   # never a candidate
        # candidates grouped by piece count: {k: (word ids, (n, k) piece ids)}
        self._by_length = {int(k): (np.flatnonzero(lengths == k),
                                    np.stack([self._pieces[i] for i in np.flatnonzero(lengths == k)]))
                           for k in np.unique(lengths[lengths > 0])}

    def n_parameters(self) -> int:
        """The network's parameters (the tokenizer is not counted)."""
        self.check_is_fitted()
        return int(sum(p.numel() for p in self.net_.parameters()))

    # --- scoring ---------------------------------------------------------------------------------
    def _masked_logprobs(self, sequences, masks):
        tok, V = self.tokenizer_, len(self.vocab_)
        limit = getattr(self.net_.config, "max_position_embeddings", None)
        jobs = []     # (pieces, first mask slot, k, output row)
        row = 0
        for seq, m in zip(sequences, masks):
            for p in m:
                for k in self._by_length:
                    parts = [[tok.cls_token_id]]
                    for i, w in enumerate(np.append(seq, EOS_ID)):
                        if i == p:
                            start = sum(len(x) for x in parts)
                            parts.append([tok.mask_token_id] * k)
                        elif i in m:
                            parts.append([tok.mask_token_id])
                        else:
                            parts.append(self._pieces[w])
                    pieces = np.concatenate(parts).astype(np.int64)
                    if limit is not None and len(pieces) > limit:
                        raise ValueError(f"a sequence of {len(pieces)} pieces exceeds the network's "
                                         f"window of {limit}")
                    jobs.append((pieces, start, k, row))
                row += 1
        scores = np.full((row, V), -np.inf)
        import torch

        dev = resolve_device(self.device)
        with torch_threads(self.threads), torch.no_grad():
            for b in range(0, len(jobs), self.word_batch):
                batch = jobs[b:b + self.word_batch]
                T = max(len(j[0]) for j in batch)
                x = np.full((len(batch), T), tok.pad_token_id, np.int64)
                attn = np.zeros((len(batch), T), np.int64)
                for r, (pieces, _, _, _) in enumerate(batch):
                    x[r, :len(pieces)], attn[r, :len(pieces)] = pieces, 1
                logits = self.net_(input_ids=torch.from_numpy(x).to(dev),
                                   attention_mask=torch.from_numpy(attn).to(dev)).logits
                lsm = torch.log_softmax(logits.double(), dim=-1).cpu().numpy()     # (B, T, pieces)
                for r, (_, start, k, out) in enumerate(batch):
                    words, ids = self._by_length[k]
                    scores[out, words] = lsm[r, start + np.arange(k)[None, :], ids].sum(axis=1)
        scores -= scores.max(axis=1, keepdims=True)
        return scores - np.log(np.exp(scores).sum(axis=1, keepdims=True))

    # --- persistence ------------------------------------------------------------------------------
    def _get_state(self):
        arrays = {f"net.{k}": v.detach().cpu().float().numpy().copy()
                  for k, v in self.net_.state_dict().items()}
        arrays_tok, specials = tokenizer_to_arrays(self.tokenizer_, SPECIALS)
        return {**arrays, **arrays_tok}, {"hf_config": self.net_.config.to_dict(), "special_tokens": specials}

    def _set_state(self, arrays, meta):
        tf = _transformers()
        import torch

        tok = tokenizer_from_arrays(arrays, meta["special_tokens"])
        cfg = dict(meta["hf_config"])
        net = tf.AutoModelForMaskedLM.from_config(tf.AutoConfig.for_model(cfg.pop("model_type"), **cfg))
        net.load_state_dict({k[4:]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()
                             if k.startswith("net.")}, strict=True)
        self._adopt(tok, net)
