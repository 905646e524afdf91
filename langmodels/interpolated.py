"""Mixtures of language models on one vocabulary.

    linear      p(w | h) = sum_i lambda_i p_i(w | h)            lambda_i >= 0, sum_i lambda_i = 1
    log-linear  p(w | h) = prod_i p_i(w | h)^lambda_i / Z(h)    lambda_i >= 0, Z sums over the vocabulary

The linear weights are tuned by EM on held-out text, as SRILM's `compute-best-mix` does: each
held-out token is explained by component i with posterior r_ti = lambda_i p_i(t) / p(t), and the new
lambda_i is the mean of r_ti. Each step never lowers the held-out likelihood. The log-linear weights
are tuned by L-BFGS on the held-out likelihood (it needs whole rows, so it is far costlier).

Two ways to build one:

    make("interpolated", components=[("kneser-ney", {"order": 3}), ("lstm", {...})]).fit(train, valid)
    InterpolatedModel.from_models([kn, lstm]).tune_weights(valid)      # already-fitted models

`fit` fits every component on the training corpus (and passes `valid` on, for early stopping), then
tunes the weights on `valid`. Without `valid` it holds out a `heldout` fraction of the training
sequences, fits the components on the rest, tunes the weights there, and refits the components on
the whole corpus (so every component is fitted twice). Saving stores each component's arrays in the
mixture's own checkpoint, so `langmodels.load` restores the whole mixture.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._checks import check_choice, check_float, check_int
from ._io import params_from_json, params_to_json
from .base import LanguageModel
from .corpus import Corpus
from .errors import InvalidParameterError, NotFittedError, VocabularyMismatchError
from .registry import get_class, make
from .vocabulary import BOS_ID

_SEP = "."  # component i's array "x" is saved as "c{i}.x"


class InterpolatedModel(LanguageModel):
    """A linear or log-linear mixture of component models; see the module docstring.

    Parameters
    ----------
    components : list of (str, dict), default (("unigram", {"k": 0.5}), ("uniform", {}))
        (registry name, params) pairs, one per component; a bare name means default params.
    weights : list of float or None, default None
        Fixed mixture weights lambda_i >= 0 (summing to 1 for a linear mixture), or None to
        tune them on held-out text.
    mixture : {"linear", "loglinear"}, default "linear"
        p = sum_i lambda_i p_i, or p proportional to prod_i p_i^lambda_i.
    heldout : float, default 0.1
        Fraction in (0, 1) of the training sequences held out to tune the weights when `fit`
        gets no `valid`.
    max_iter : int, default 200
        EM (linear) or L-BFGS (log-linear) iterations at most when tuning the weights.
    tol : float, default 1e-7
        EM stops when the mean held-out log-probability per token improves by less than this.
    seed : int, default 0
        Which sequences are held out.

    Attributes
    ----------
    models_ : list of LanguageModel
        The fitted components, in `components` order.
    weights_ : ndarray of shape (K,)
        The mixture weights lambda_i.
    em_history_ : list of float
        The held-out mean log-probability per token after each EM step (tuned linear weights).
    vocab_ : Vocabulary
        The training corpus's vocabulary (shared by every component).
    """

    has_incremental_state = True

    def __init__(self, components=(("unigram", {"k": 0.5}), ("uniform", {})), weights=None,
                 mixture: str = "linear", heldout: float = 0.1, max_iter: int = 200,
                 tol: float = 1e-7, seed: int = 0):
        self.components = components
        self.weights = weights
        self.mixture = mixture
        self.heldout = heldout
        self.max_iter = max_iter
        self.tol = tol
        self.seed = seed

    # --- construction from fitted models ---------------------------------------------------
    @classmethod
    def from_models(cls, models: Sequence[LanguageModel], weights=None, mixture: str = "linear",
                    **params) -> InterpolatedModel:
        """A fitted mixture of already-fitted models on one vocabulary (weights uniform until
        `tune_weights`, unless given). Refitting it refits every component from its parameters."""
        models = list(models)
        if not models:
            raise InvalidParameterError("components must hold at least one model")
        for m in models:
            if not isinstance(m, LanguageModel):
                raise TypeError(f"from_models expects fitted LanguageModels, got {type(m).__name__}")
            if not m.is_fitted:
                raise NotFittedError(f"component {type(m).__name__} is not fitted; fit it first")
        for m in models[1:]:
            if m.vocab_.fingerprint != models[0].vocab_.fingerprint:
                raise VocabularyMismatchError(
                    f"cannot mix models on different vocabularies: {type(models[0]).__name__} has "
                    f"{len(models[0].vocab_)} tokens ({models[0].vocab_.fingerprint[:12]}), "
                    f"{type(m).__name__} has {len(m.vocab_)} ({m.vocab_.fingerprint[:12]})")
        specs = [(m.registry_name or type(m).__name__, m.get_params()) for m in models]
        self = cls(components=specs, weights=weights, mixture=mixture, **params)
        self._check_params(check_names=False)
        self.vocab_ = models[0].vocab_
        self.tokenizer_name_ = models[0].tokenizer_name_
        self.models_ = models
        self.weights_ = self._initial_weights()
        return self

    # --- parameters --------------------------------------------------------------------------
    def _specs(self) -> list[tuple[str, dict]]:
        comps = self.components
        if isinstance(comps, (str, dict)) or not isinstance(comps, Sequence) or len(comps) == 0:
            raise InvalidParameterError(
                f"components must be a non-empty list of (model name, params) pairs, got {comps!r}")
        specs = []
        for c in comps:
            if isinstance(c, str):
                c = (c, {})
            if (not isinstance(c, Sequence) or len(c) != 2 or not isinstance(c[0], str)
                    or not isinstance(c[1], dict)):
                raise InvalidParameterError(
                    f"each component must be a (model name, params dict) pair, got {c!r}")
            specs.append((c[0], dict(c[1])))
        return specs

    def _check_params(self, check_names: bool = True) -> None:
        specs = self._specs()
        if check_names:
            for name, _ in specs:
                get_class(name)  # UnknownModelError names the bad component early
        check_choice("mixture", self.mixture, ["linear", "loglinear"])
        check_float("heldout", self.heldout, low=0.0, high=1.0, low_open=True, high_open=True)
        check_int("max_iter", self.max_iter, low=1)
        check_float("tol", self.tol, low=0.0)
        check_int("seed", self.seed)
        if self.weights is not None:
            w = np.asarray(self.weights, dtype=np.float64) if _is_numeric_list(self.weights) else None
            if w is None or w.shape != (len(specs),) or (w < 0).any() or not np.isfinite(w).all():
                raise InvalidParameterError(
                    f"weights must be None or {len(specs)} non-negative numbers, got {self.weights!r}")
            if self.mixture == "linear" and abs(w.sum() - 1.0) > 1e-6:
                raise InvalidParameterError(f"linear weights must sum to 1, got {self.weights!r} "
                                            f"(sum {w.sum():.6g})")

    def _initial_weights(self) -> np.ndarray:
        K = len(self._specs())
        return np.full(K, 1.0 / K) if self.weights is None else np.asarray(self.weights, np.float64)

    # --- fitting -----------------------------------------------------------------------------
    @property
    def fit_options(self) -> frozenset[str]:
        """The options every component's `fit` accepts (fit passes them to each), but `init`:
        one base model cannot start components of different families."""
        options = [get_class(name).fit_options for name, _ in self._specs()]
        return frozenset.intersection(*options) - {"init"}

    def _fit(self, corpus: Corpus, valid: Corpus | None, **kwargs) -> None:
        specs = self._specs()

        def fit_all(train, dev):
            return [make(name, **params).fit(train, dev, **kwargs) for name, params in specs]

        self.weights_ = self._initial_weights()
        if self.weights is not None or len(specs) == 1:
            self.models_ = fit_all(corpus, valid)
        elif valid is not None:
            self.models_ = fit_all(corpus, valid)
            self.tune_weights(valid)
        elif len(corpus) >= 2:
            rng = np.random.default_rng(self.seed)
            order = rng.permutation(len(corpus))
            n_out = min(len(corpus) - 1, max(1, round(self.heldout * len(corpus))))
            held, rest = np.sort(order[:n_out]), np.sort(order[n_out:])
            self.models_ = fit_all(corpus.subset(rest), None)
            self.tune_weights(corpus.subset(held))
            self.models_ = fit_all(corpus, None)
        else:
            # One sequence: nothing can be held out, so the weights stay uniform.
            self.models_ = fit_all(corpus, None)

    def tune_weights(self, corpus: Corpus) -> InterpolatedModel:
        """Set `weights_` to maximise the likelihood of held-out `corpus`; returns self."""
        self._check_fitted()
        corpus.check_vocab(self.vocab_, what="mixture")
        if self.mixture == "linear":
            L = np.stack([m.token_logprobs(corpus) for m in self.models_], axis=1)  # (N, K)
            # EM starts from uniform weights: a zero weight would stay zero for ever.
            uniform = np.full(len(self.models_), 1.0 / len(self.models_))
            self.weights_, self.em_history_ = em_weights(L, uniform, self.max_iter, self.tol)
        else:
            self.weights_ = self._tune_loglinear(corpus)
        return self

    def _tune_loglinear(self, corpus: Corpus, max_cells: int = 10_000_000) -> np.ndarray:
        from scipy.optimize import minimize

        # Rows are (positions, K, V): subsample positions so the cache stays small on big data.
        hist, targets = _histories_and_targets(corpus)
        max_rows = max(1, max_cells // (len(self.models_) * len(self.vocab_)))
        if len(hist) > max_rows:
            keep = np.sort(np.random.default_rng(self.seed).choice(len(hist), max_rows, replace=False))
            hist, targets = [hist[i] for i in keep], targets[keep]
        rows = np.stack([m.next_logprobs(hist) for m in self.models_], axis=1)  # (N, K, V)
        # A floor keeps gradients finite where a component gives probability 0 (tuning only).
        rows = np.maximum(rows, -50.0)
        rows[:, :, BOS_ID] = -np.inf
        tgt = rows[np.arange(len(targets)), :, targets]  # (N, K)

        def nll(w):
            s = np.einsum("k,nkv->nv", w, rows)
            lse = _logsumexp(s, axis=1)
            p = np.exp(s - lse[:, None])
            expect = np.einsum("nv,nkv->nk", p, np.where(np.isneginf(rows), 0.0, rows))
            n = len(targets)
            return -(tgt @ w - lse).sum() / n, -(tgt - expect).sum(axis=0) / n

        res = minimize(nll, self.weights_, jac=True, method="L-BFGS-B",
                       bounds=[(0.0, None)] * len(self.models_), options={"maxiter": self.max_iter})
        return np.asarray(res.x, np.float64)

    # --- the query ---------------------------------------------------------------------------
    def _combine(self, parts: list[np.ndarray]) -> np.ndarray:
        w = self.weights_
        if self.mixture == "linear":
            with np.errstate(divide="ignore"):
                logw = np.log(w)
            return _logsumexp(np.stack([lw + p for lw, p in zip(logw, parts) if lw > -np.inf]), axis=0)
        # 0 * (-inf) must be 0: a component with weight 0 takes no part.
        s = sum(wi * p for wi, p in zip(w, parts) if wi > 0)
        if not isinstance(s, np.ndarray):
            s = np.zeros_like(parts[0])
            s[..., BOS_ID] = -np.inf
        return s - _logsumexp(s, axis=-1)[..., None]

    def _next_logprobs(self, histories):
        return self._combine([m.next_logprobs(histories) for m in self.models_])

    def _token_logprobs(self, corpus: Corpus) -> np.ndarray:
        if self.mixture == "loglinear":  # the normaliser needs whole rows
            return super()._token_logprobs(corpus)
        return self._combine([m.token_logprobs(corpus) for m in self.models_])

    def _start_state(self, histories):
        pairs = [m.start_state(histories) for m in self.models_]
        return [s for s, _ in pairs], self._combine([lp for _, lp in pairs])

    def _advance(self, state, tokens):
        pairs = [m.advance(s, tokens) for m, s in zip(self.models_, state)]
        return [s for s, _ in pairs], self._combine([lp for _, lp in pairs])

    def _reorder_state(self, state, rows):
        return [m.reorder_state(s, rows) for m, s in zip(self.models_, state)]

    # --- the descriptive queries ---------------------------------------------------------------
    @property
    def scoring_context(self) -> str:
        """A linear mixture scores through its components' `token_logprobs`, so it reads a corpus
        as they do ("mixed" when they disagree); a log-linear one scores each sequence from `<s>`."""
        self._check_fitted()
        if self.mixture == "loglinear":
            return "sentence"
        contexts = {m.scoring_context for m in self.models_}
        return contexts.pop() if len(contexts) == 1 else "mixed"

    def n_parameters(self) -> int:
        """The components' parameters plus one mixture weight per component."""
        self._check_fitted()
        return int(sum(m.n_parameters() for m in self.models_) + len(self.models_))

    # --- persistence: every component's arrays live in this checkpoint -------------------------
    def _get_state(self):
        arrays: dict[str, np.ndarray] = {"weights": np.asarray(self.weights_, np.float64)}
        metas = []
        for i, m in enumerate(self.models_):
            if m.registry_name is None:
                raise InvalidParameterError(f"component {type(m).__name__} is not registered; "
                                            "register it to save the mixture")
            a, meta = m._get_state()
            arrays.update({f"c{i}{_SEP}{k}": v for k, v in a.items()})
            metas.append({"model": m.registry_name, "params": params_to_json(m.get_params()), "state": meta})
        return arrays, {"components": metas}

    def _set_state(self, arrays, meta):
        comps = meta["components"]
        if len(comps) != len(self._specs()):
            raise ValueError(f"{len(comps)} saved components for {len(self._specs())} in components")
        self.models_ = []
        for i, c in enumerate(comps):
            prefix = f"c{i}{_SEP}"
            m = make(c["model"], **params_from_json(c["params"]))
            m.vocab_, m.tokenizer_name_ = self.vocab_, self.tokenizer_name_
            m._set_state({k[len(prefix):]: v for k, v in arrays.items() if k.startswith(prefix)},
                         c["state"])
            self.models_.append(m)
        w = np.asarray(arrays["weights"], np.float64)
        if w.shape != (len(comps),):
            raise ValueError(f"weights have shape {w.shape}, expected ({len(comps)},)")
        self.weights_ = w


def em_weights(L: np.ndarray, init: np.ndarray, max_iter: int = 200, tol: float = 1e-7):
    """EM for linear mixture weights from per-token component log-probabilities L (N, K).

    Returns (weights, history of the mean log-probability per token). Tokens every component
    gives probability 0 cannot be helped by any weights and are left out.
    """
    L = np.asarray(L, np.float64)
    L = L[~np.isneginf(L).all(axis=1)]
    w = np.asarray(init, np.float64).copy()
    if len(L) == 0:
        return w, []
    # Scale each token's probabilities by its best component once; every step is then two
    # mat-vec products: p_t = sum_i w_i P_ti, and w_i <- w_i mean_t(P_ti / p_t).
    m = L.max(axis=1)
    P = np.exp(L - m[:, None])
    history = []
    for _ in range(max_iter):
        p = P @ w
        history.append(float(np.log(p).mean() + m.mean()))
        if len(history) > 1 and history[-1] - history[-2] < tol:
            break
        w = w * ((P / p[:, None]).mean(axis=0))
        w /= w.sum()
    return w, history


def _logsumexp(a: np.ndarray, axis: int) -> np.ndarray:
    m = np.max(a, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)  # all -inf stays -inf without a nan
    with np.errstate(divide="ignore"):
        return (np.log(np.exp(a - m).sum(axis=axis, keepdims=True)) + m).squeeze(axis)


def _histories_and_targets(corpus: Corpus) -> tuple[list[np.ndarray], np.ndarray]:
    hist = [seq[:t].astype(np.int64) for seq in corpus.sequences() for t in range(len(seq) + 1)]
    return hist, corpus.targets().astype(np.int64)


def _is_numeric_list(x) -> bool:
    try:
        np.asarray(x, dtype=np.float64)
        return True
    except (TypeError, ValueError):
        return False
