"""Hugging Face causal language models (GPT-2 and kin) scored on the shared word vocabulary.

A word is a run of subword pieces that ends where the next piece starts a new word (a piece with
the tokenizer's word-start mark, such as GPT-2's leading space, or the end-of-text piece). With B
the event "the next piece starts a word", the word-level model is

    p(w | h) = P(pieces(w), then B | h) / P(B | h)          (P(B | <s>) = 1: the first word needs no mark)
    p(</s> | h) = P(end-of-text | h) / P(B | h)
    p(<unk> | h) = 1 - the sum of the above over the vocabulary     (every other string)

The events "pieces(w) then B" are disjoint and lie inside B, so a row sums to 1; and the factors
P(B | h) cancel along a sentence, so the sum of a sentence's word log-probabilities equals the
network's log-probability of its piece sequence followed by end-of-text.

Cost: `token_logprobs` runs one forward pass per sequence (plus a full row for each `<unk>` target).
`next_logprobs` needs every vocabulary word's pieces after each history: for V words of mean length
L pieces and a history of T pieces it runs the history once and then V x L piece positions that
attend to its cached keys and values (in batches of `word_batch` words), e.g. ~10k x 2 positions
per history on PTB: fine for generation and checks, slow for scoring a corpus.

Needs the optional `transformers` package (`pip install langmodels[hf]`).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._checks import check_int
from .._torch import check_threads, resolve_device, torch_threads
from ..base import LanguageModel
from ..corpus import Corpus
from ..errors import CheckpointError, InvalidParameterError
from ..vocabulary import BOS_ID, EOS_ID, SPECIALS, UNK, UNK_ID


def _transformers():
    try:
        import transformers
    except ImportError:
        raise ImportError("hf-causal needs the optional package transformers: "
                          "pip install 'langmodels[hf]' (or pip install transformers)") from None
    return transformers


class HFCausalModel(LanguageModel):
    """A `transformers` causal LM under the langmodels contract; see the module docstring.

    Training (or fine-tuning) runs the neural family's loop (`langmodels.neural.training`) with
    the same training parameters and meaning as `langmodels.neural.estimator.NeuralModel`; only
    some defaults differ (listed below).

    Good calls::

        make("hf-causal", pretrained="gpt2-dir", epochs=3, lr=5e-5).fit(train, valid)
        make("hf-causal", config={"n_layer": 2, "n_embd": 64, "n_head": 2}, epochs=5).fit(train)

    Bad calls::

        make("hf-causal", pretrained="gpt2-dir", config={"n_layer": 2})   # one or the other

    Parameters
    ----------
    pretrained : str or None, default None
        A local directory saved by `save_pretrained` (or a hub name, when online).
    config : dict or None, default None
        Instead of `pretrained`: GPT-2 configuration values for a randomly initialised network
        whose byte-level BPE tokenizer is trained on the fit corpus.
    bpe_vocab_size : int, default 1000
        Pieces of that trained tokenizer (unused with `pretrained`).
    epochs : int, default 0
        Passes over the fit corpus; 0 keeps the network as it is.
    lr : float, default 5e-4
        Peak learning rate.
    batch_size : int, default 16
        Sequences per optimizer step.
    schedule : {"cosine", "plateau", "constant"}, default "constant"
        The learning-rate schedule after warmup (see `NeuralModel`).
    word_batch : int, default 64
        Rows per forward pass when scoring.
    device : {"auto", "cpu", "cuda", "cuda:N"}, default "cpu"
        Where to train and score.
    optimizer, betas, weight_decay, max_steps, clip, warmup, patience, seed
        As in `NeuralModel`, with the RNN family's defaults.
    threads, compile, precision, checkpoint_dir, checkpoint_every, checkpoint_seconds, progress
        As in `NeuralModel`, with the same defaults.

    Attributes
    ----------
    net_ : transformers.PreTrainedModel
        The causal LM network.
    tokenizer_ : transformers.PreTrainedTokenizerBase
        Its tokenizer (pieces); words of `vocab_` are scored as the sum over their pieces.
    history_ : list of dict
        One record per epoch, as in the neural family: train_loss in nats per trained piece,
        valid_loss in nats per word when `valid` is given.
    vocab_ : Vocabulary
        The training corpus's vocabulary.
    """

    # Each sequence is trained and scored on its own, from the start piece (the loop's "sentence").
    context = "sentence"
    fit_options = frozenset({"resume", "on_epoch_end"})

    def __init__(self, pretrained: str | None = None, config: dict | None = None,
                 bpe_vocab_size: int = 1000, epochs: int = 0, lr: float = 5e-4, batch_size: int = 16,
                 optimizer: str = "adamw", betas: tuple[float, float] = (0.9, 0.999),
                 weight_decay: float = 0.01, max_steps: int | None = None, clip: float = 1.0,
                 warmup: int = 0, schedule: str = "constant", patience: int | None = 3,
                 word_batch: int = 64, seed: int = 0, device: str = "cpu", threads: int | None = 1,
                 compile: bool = False, precision: str = "auto",
                 checkpoint_dir: str | None = None, checkpoint_every: int | None = None,
                 checkpoint_seconds: float | None = 60.0, progress: bool = True):
        self.pretrained = pretrained
        self.config = config
        self.bpe_vocab_size = bpe_vocab_size
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.optimizer = optimizer
        self.betas = betas
        self.weight_decay = weight_decay
        self.max_steps = max_steps
        self.clip = clip
        self.warmup = warmup
        self.schedule = schedule
        self.patience = patience
        self.word_batch = word_batch
        self.seed = seed
        self.device = device
        self.threads = threads
        self.compile = compile
        self.precision = precision
        self.checkpoint_dir = checkpoint_dir
        self.checkpoint_every = checkpoint_every
        self.checkpoint_seconds = checkpoint_seconds
        self.progress = progress

    def _check_params(self):
        from ..neural.training import check_training_params

        if (self.pretrained is None) == (self.config is None):
            raise InvalidParameterError("give exactly one of pretrained (a model directory or hub name) "
                                        "and config (GPT-2 settings for a randomly initialised network)")
        if self.pretrained is not None and not isinstance(self.pretrained, (str, os.PathLike)):
            raise InvalidParameterError(
                f"pretrained must be a directory or hub name, got {self.pretrained!r}")
        if self.config is not None and not isinstance(self.config, dict):
            raise InvalidParameterError(f"config must be a dict of GPT-2 settings, got {self.config!r}")
        check_int("bpe_vocab_size", self.bpe_vocab_size, low=260)
        check_int("word_batch", self.word_batch, low=1)
        check_training_params(self)
        check_threads(self.threads)

    # --- fitting -------------------------------------------------------------------------------
    def _fit(self, corpus: Corpus, valid: Corpus | None = None, resume: bool = False,
             on_epoch_end=None) -> None:
        """Build the tokenizer and network, then train with the shared loop (a no-op at epochs=0)."""
        with torch_threads(self.threads):
            self._fit_network(corpus, valid, resume, on_epoch_end)

    def _fit_network(self, corpus: Corpus, valid: Corpus | None, resume: bool, on_epoch_end) -> None:
        tf = _transformers()
        import torch

        from ..neural.training import train

        torch.manual_seed(self.seed)
        if self.pretrained is not None:
            tok, net = _load_pretrained(str(self.pretrained))
        else:
            tok = _train_tokenizer(_texts(corpus), self.bpe_vocab_size)
            cfg = tf.GPT2Config(vocab_size=len(tok), bos_token_id=tok.bos_token_id,
                                eos_token_id=tok.eos_token_id, **self.config)
            net = tf.GPT2LMHeadModel(cfg)
        self._adopt(tok, net)
        train(self, corpus, valid, resume=resume, on_epoch_end=on_epoch_end)

    # --- what the training loop needs (see langmodels.neural.training) ---------------------------
    def _new_module(self, vocab_size: int):
        """The network as it stands (pretrained or fresh) behind the loop's forward(x, state)."""
        from .training import PieceLM

        return PieceLM(self.net_)

    def _epoch_batches(self, corpus: Corpus, rng: np.random.Generator) -> list:
        from .training import piece_batches

        return piece_batches(self, corpus, rng)

    def _score(self, corpus: Corpus) -> np.ndarray:
        return self._token_logprobs(corpus)

    def _adopt(self, tok, net) -> None:
        self.tokenizer_ = tok
        self.net_ = net.to(resolve_device(self.device)).eval()
        self._prepare_pieces()

    def _prepare_pieces(self) -> None:
        tok = self.tokenizer_
        self.start_piece_ = tok.bos_token_id if tok.bos_token_id is not None else tok.eos_token_id
        self.end_piece_ = tok.eos_token_id
        if self.start_piece_ is None or self.end_piece_ is None:
            raise CheckpointError("the tokenizer has no end-of-text (eos) token, so sequences cannot be "
                                  "started and ended; set tokenizer.eos_token")
        n_out = self.net_.get_output_embeddings().weight.shape[0]
        self.word_start_ = _word_start_mask(tok, n_out, self.end_piece_)
        words = [UNK if i < len(SPECIALS) else w for i, w in enumerate(self.vocab_.tokens)]
        self.first_pieces_ = _encode(tok, words, later=False)
        self.later_pieces_ = _encode(tok, words, later=True)
        # A word the tokenizer can only spell with its unknown piece shares that piece with other
        # words, so it cannot be scored apart: it gets probability 0 and its mass goes to <unk>.
        bad = {tok.unk_token_id} if tok.unk_token_id is not None else set()
        self.scorable_ = np.array([i >= len(SPECIALS) and not bad & set(p) and len(p) > 0
                                   for i, p in enumerate(self.later_pieces_)])
        starts = [p[0] for i, p in enumerate(self.later_pieces_) if self.scorable_[i]]
        if starts and not self.word_start_[starts].all():
            raise CheckpointError("this tokenizer's pieces do not mark where words start (no leading "
                                  "space mark, no '##' continuations), so word probabilities cannot be "
                                  "derived from it")

    # --- pieces ----------------------------------------------------------------------------------
    def _pieces(self, words: np.ndarray) -> tuple[list[int], list[tuple[int, int, bool, bool]]]:
        """The start piece and the words' pieces; each word's (start, end, at_start, is_eos) span."""
        out, spans, at_start = [self.start_piece_], [], True
        for w in words:
            if w == EOS_ID:  # a </s> inside a history ends one text and starts the next
                spans.append((len(out), len(out) + 1, at_start, True))
                out.append(self.end_piece_)
                at_start = True
                continue
            p = (self.first_pieces_ if at_start else self.later_pieces_)[w]
            spans.append((len(out), len(out) + len(p), at_start, False))
            out.extend(p)
            at_start = False
        return out, spans

    @property
    def _max_pieces(self) -> int:
        n = getattr(self.net_.config, "n_positions", None) or getattr(
            self.net_.config, "max_position_embeddings", None)
        return int(n) if n else 1 << 30

    def _forward(self, rows: list[list[int]], keep: int = 0):
        """Log-softmax (float64) of right-padded rows; `keep` > 0 keeps only the last `keep` positions."""
        import torch

        width = max(len(r) for r in rows)
        ids = torch.zeros((len(rows), width), dtype=torch.long)
        for k, r in enumerate(rows):
            ids[k, :len(r)] = torch.as_tensor(r)
        # Pads come after every real piece, so a causal model's real positions never see them.
        with torch.no_grad():
            logits = self.net_(input_ids=ids.to(self.net_.device), logits_to_keep=keep).logits
        return torch.log_softmax(logits.double(), dim=-1).cpu().numpy()

    def _log_boundary(self, lsm: np.ndarray) -> np.ndarray:
        """ln P(next piece starts a word), for log-softmax rows (..., n_out)."""
        sub = lsm[..., self.word_start_]
        m = sub.max(axis=-1, keepdims=True)
        return (np.log(np.exp(sub - m).sum(axis=-1, keepdims=True)) + m)[..., 0]

    # --- the query ---------------------------------------------------------------------------
    def _next_logprobs(self, histories):
        with torch_threads(self.threads):
            return np.stack([self._row(h) for h in histories])

    def _row(self, history: np.ndarray) -> np.ndarray:
        import copy

        import torch

        ctx, spans = self._pieces(history)
        at_start = not spans or history[-1] == EOS_ID
        table = self.first_pieces_ if at_start else self.later_pieces_
        words = np.flatnonzero(self.scorable_)
        L = max(len(table[w]) for w in words) if len(words) else 0
        limit = self._max_pieces - L - 1
        if len(ctx) > limit:  # a sliding window: the start piece plus the latest pieces
            ctx = [self.start_piece_] + ctx[len(ctx) - limit + 1:]
        row = np.full(len(self.vocab_), -np.inf)
        # The history runs once; its key/value cache is shared by every candidate word.
        with torch.no_grad():
            out = self.net_(input_ids=torch.as_tensor([ctx], device=self.net_.device), use_cache=True,
                            logits_to_keep=1)
        first = torch.log_softmax(out.logits[0, -1].double(), dim=-1).cpu().numpy()
        log_b = 0.0 if at_start else self._log_boundary(first)
        row[EOS_ID] = first[self.end_piece_] - log_b
        for c in range(0, len(words), self.word_batch):
            chunk = words[c:c + self.word_batch]
            lens = np.array([len(table[w]) for w in chunk])
            P = np.zeros((len(chunk), lens.max()), np.int64)
            for k, w in enumerate(chunk):
                P[k, :lens[k]] = table[w]
            cache = copy.deepcopy(out.past_key_values)
            cache.batch_repeat_interleave(len(chunk))
            with torch.no_grad():
                logits = self.net_(input_ids=torch.as_tensor(P, device=self.net_.device),
                                   past_key_values=cache, use_cache=True).logits
            lsm = torch.log_softmax(logits.double(), dim=-1).cpu().numpy()  # (n, Lmax, n_out)
            # Piece 0 comes from the history's row; piece j >= 1 from lsm[:, j - 1]; the word
            # ends where the next piece, predicted by lsm[:, len - 1], starts a word.
            n = np.arange(len(chunk))
            inner = lsm[n[:, None], np.arange(P.shape[1] - 1)[None, :], P[:, 1:]]
            inner = np.where(np.arange(1, P.shape[1])[None, :] < lens[:, None], inner, 0.0).sum(axis=1)
            row[chunk] = first[P[:, 0]] + inner + self._log_boundary(lsm[n, lens - 1]) - log_b
        rest = 1.0 - np.exp(row[np.isfinite(row)]).sum()
        row[UNK_ID] = np.log(rest) if rest > 0 else -np.inf
        row[BOS_ID] = -np.inf
        return row

    def _token_logprobs(self, corpus: Corpus) -> np.ndarray:
        with torch_threads(self.threads):
            return self._score(corpus)

    def _score(self, corpus: Corpus) -> np.ndarray:
        out = np.empty(corpus.n_targets)
        pos, slow = 0, []
        seqs = list(corpus.sequences())
        for c in range(0, len(seqs), self.word_batch):
            batch = [self._pieces(np.append(s, EOS_ID)) for s in seqs[c:c + self.word_batch]]
            if max(len(p) for p, _ in batch) > self._max_pieces:
                for s in seqs[c:c + self.word_batch]:   # too long for one window: score row by row
                    slow.extend(range(pos, pos + len(s) + 1))
                    pos += len(s) + 1
                continue
            lsm = self._forward([p for p, _ in batch])
            for k, (pieces, spans) in enumerate(batch):
                log_b = self._log_boundary(lsm[k, :len(pieces)])
                for s, e, at_start, is_eos in spans:
                    lp = lsm[k, np.arange(s - 1, e - 1), pieces[s:e]].sum()
                    if not is_eos:               # a word ends where the next piece starts a word
                        lp += log_b[e - 1]
                    out[pos] = lp - (0.0 if at_start else log_b[s - 1])
                    pos += 1
        targets = corpus.targets()
        # <unk> (and any word the tokenizer cannot spell) is what the vocabulary leaves: it needs a full row.
        unscorable = ~self.scorable_[targets] & (targets != EOS_ID)
        slow = sorted(set(slow) | set(np.flatnonzero(unscorable).tolist()))
        if slow:
            hist = _histories(corpus)
            rows = self._next_logprobs([hist[i] for i in slow])
            out[slow] = rows[np.arange(len(slow)), targets[slow]]
        return out

    # --- persistence ----------------------------------------------------------------------------
    # --- the descriptive queries ---------------------------------------------------------------
    def n_parameters(self) -> int:
        """The network's parameters, a tied weight counted once (the tokenizer is not counted)."""
        self._check_fitted()
        return int(sum(p.numel() for p in self.net_.parameters()))

    # learning_curve stays empty: training records its loss per BPE piece (`train_losses_`), not
    # per word, so it is not the per-token NLL the contract's curve holds.

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write the network and tokenizer in Hugging Face's own format, so that a model trained
        here can be fine-tuned later with `make("hf-causal", pretrained=directory, epochs=...)`."""
        from .._io import atomic_directory

        self._check_fitted()
        directory = Path(directory)
        with atomic_directory(directory) as tmp:
            self.net_.save_pretrained(tmp)
            self.tokenizer_.save_pretrained(tmp)
        return directory

    def _get_state(self):
        arrays = {f"net.{k}": v.detach().cpu().float().numpy().copy()
                  for k, v in self.net_.state_dict().items()}
        tok_arrays, specials = tokenizer_to_arrays(self.tokenizer_,
                                                   ("bos_token", "eos_token", "unk_token", "pad_token"))
        arrays.update(tok_arrays)
        return arrays, {"hf_config": self.net_.config.to_dict(), "special_tokens": specials,
                        "history": self.history_}

    def _set_state(self, arrays, meta):
        tf = _transformers()
        import torch

        tok = tokenizer_from_arrays(arrays, meta["special_tokens"])
        cfg = dict(meta["hf_config"])
        net = tf.AutoModelForCausalLM.from_config(tf.AutoConfig.for_model(cfg.pop("model_type"), **cfg))
        state = {k[4:]: torch.from_numpy(np.asarray(v)) for k, v in arrays.items() if k.startswith("net.")}
        net.load_state_dict(state, strict=True)
        self._adopt(tok, net)
        self.history_ = list(meta.get("history", []))


def tokenizer_to_arrays(tok, names) -> tuple[dict, dict]:
    """A fast tokenizer as a uint8 array of its JSON (safetensors holds arrays only, and JSON runs
    no code), and the special tokens `names` it needs back."""
    data = np.frombuffer(tok.backend_tokenizer.to_str().encode("utf-8"), dtype=np.uint8).copy()
    return {"tokenizer_json": data}, {k: getattr(tok, k) for k in names}


def tokenizer_from_arrays(arrays, specials: dict):
    """Undo `tokenizer_to_arrays`."""
    tf = _transformers()
    from tokenizers import Tokenizer

    return tf.PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(bytes(arrays["tokenizer_json"]).decode("utf-8")),
        **{k: v for k, v in specials.items() if v is not None})


def _load_pretrained(name: str):
    tf = _transformers()
    local = Path(name).expanduser()
    if local.exists():
        if not (local / "config.json").is_file():
            raise CheckpointError(f"{local}: not a Hugging Face model directory (no config.json)")
        try:
            cfg = tf.AutoConfig.from_pretrained(str(local))
        except (ValueError, OSError, KeyError) as e:
            raise CheckpointError(f"{local}: unreadable Hugging Face config ({e})") from None
        if type(cfg) not in tf.MODEL_FOR_CAUSAL_LM_MAPPING:
            raise CheckpointError(f"{local}: a {cfg.model_type} model is not a causal language model "
                                  "(AutoModelForCausalLM cannot load it)")
    try:
        tok = tf.AutoTokenizer.from_pretrained(str(name))
        net = tf.AutoModelForCausalLM.from_pretrained(str(name))
    except OSError as e:
        if local.exists():
            raise CheckpointError(f"{local}: cannot load the model or its tokenizer ({e})") from None
        raise CheckpointError(
            f"{name!r} is not a local directory, and fetching it from the Hugging Face hub failed "
            f"(offline, or no such model?): {e}") from None
    if not getattr(tok, "is_fast", False):
        raise CheckpointError(f"{name}: hf-causal needs a fast (Rust) tokenizer; this one is slow")
    return tok, net


def _train_tokenizer(texts: list[str], vocab_size: int):
    """A byte-level BPE tokenizer (GPT-2's scheme) trained on `texts`; end-of-text is <|endoftext|>."""
    tf = _transformers()
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=["<|endoftext|>"],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tk.train_from_iterator(texts, trainer)
    return tf.PreTrainedTokenizerFast(tokenizer_object=tk, bos_token="<|endoftext|>",
                                      eos_token="<|endoftext|>")


def _encode(tok, words: list[str], later: bool) -> list[np.ndarray]:
    """Each word's pieces as the first word of a text, or after a space (`later`)."""
    if not later:
        ids = tok(words, add_special_tokens=False)["input_ids"]
        return [np.asarray(p, np.int64) for p in ids]
    # Spell "a w" and drop the pieces of "a": the tokenizer's own convention for a later word.
    ref = tok(["a"], add_special_tokens=False)["input_ids"][0]
    ids = tok(["a " + w for w in words], add_special_tokens=False)["input_ids"]
    out = []
    for w, p in zip(words, ids):
        if p[:len(ref)] != ref:
            p = ref + tok([" " + w], add_special_tokens=False)["input_ids"][0]
        out.append(np.asarray(p[len(ref):], np.int64))
    return out


def _word_start_mask(tok, n_out: int, end_piece: int) -> np.ndarray:
    """Which piece ids begin a word: marked by a leading space sign, or not a '##' continuation."""
    pieces = tok.convert_ids_to_tokens(list(range(min(n_out, len(tok)))))
    later = tok.convert_ids_to_tokens(_encode(tok, ["b"], later=True)[0][:1].tolist())[0]
    mask = np.zeros(n_out, bool)
    marks = [m for m in ("Ġ", "▁", " ") if later.startswith(m)]
    if marks:
        mask[:len(pieces)] = [p is not None and p.startswith(marks[0]) for p in pieces]
    else:  # word-level or WordPiece: every piece but a '##' continuation starts a word
        mask[:len(pieces)] = [p is not None and not p.startswith("##") for p in pieces]
    mask[end_piece] = True
    return mask


def _texts(corpus: Corpus) -> list[str]:
    return [" ".join(corpus.vocab.decode(s)) for s in corpus.sequences()]


def _histories(corpus: Corpus) -> list[np.ndarray]:
    return [s[:t].astype(np.int64) for s in corpus.sequences() for t in range(len(s) + 1)]
