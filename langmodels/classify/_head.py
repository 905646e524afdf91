"""What the neural classifiers share once a network gives one row of class scores per text:
the training loop's batches and validation score, exact batched scoring, and scikit-learn's
prediction methods.

    p(c | x) = softmax(logits(x))_c        decision_function: logit(pos) - logit(neg) for two classes
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_is_fitted

from .._torch import resolve_device, torch_threads
from .data import check_known_labels, check_texts

# Scoring batches: at most this many texts, and about this many positions, per forward pass.
SCORE_ROWS, SCORE_TOKENS = 256, 16384


def pad_rows(rows: list[np.ndarray], fill: int) -> np.ndarray:
    """(n, longest) int64 ids, each row followed by `fill`."""
    x = np.full((len(rows), max(len(r) for r in rows)), fill, np.int64)
    for i, r in enumerate(rows):
        x[i, :len(r)] = r
    return x


def log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


class HeadPredictions:
    """Mixin for a classifier with a fitted `module_` that maps padded ids (B, T) to logits
    (B, 1, C). Subclasses give `_pad_id` (the id that fills a short row) and `_text_rows(texts)`
    (each text as the network's input ids)."""

    _pad_id: int

    def _text_rows(self, texts: list[str]) -> list[np.ndarray]:
        raise NotImplementedError

    def _train_and_valid(self, rows, y_idx, X_valid, y_valid) -> tuple:
        """(training rows and class ids, validation rows and class ids or None): the development
        set when given, else a stratified `validation_fraction` of the training texts (seeded)."""
        from sklearn.model_selection import train_test_split

        if (X_valid is None) != (y_valid is None):
            raise ValueError("give both X_valid and y_valid, or neither")
        if X_valid is not None:
            dev, y_dev = check_texts(X_valid), np.asarray(y_valid)
            if y_dev.shape != (len(dev),):
                raise ValueError(f"y_valid must be one label per text: got {len(dev)} texts and labels "
                                 f"of shape {y_dev.shape}")
            check_known_labels(self.classes_, y_dev)
            return (rows, y_idx), (self._text_rows(dev), np.searchsorted(self.classes_, y_dev))
        if self.validation_fraction == 0:
            return (rows, y_idx), None
        n_held = int(np.ceil(self.validation_fraction * len(rows)))
        if n_held >= len(rows):
            raise ValueError(f"validation_fraction={self.validation_fraction} holds out all "
                             f"{len(rows)} training texts")
        stratify = y_idx if np.bincount(y_idx).min() >= 2 and n_held >= len(self.classes_) else None
        keep, held = train_test_split(np.arange(len(rows)), test_size=n_held, random_state=self.seed,
                                      stratify=stratify)
        return ([rows[k] for k in keep], y_idx[keep]), ([rows[k] for k in held], y_idx[held])

    def _predict_logits(self, X) -> np.ndarray:
        check_is_fitted(self, "module_")
        rows = self._text_rows(check_texts(X))
        with torch_threads(self.threads):
            return self._logits(rows)

    def _pad(self, rows: list[np.ndarray]) -> np.ndarray:
        return pad_rows(rows, self._pad_id)

    # --- what the training loop asks (see langmodels.neural.training) --------------------------
    def _epoch_batches(self, data, rng: np.random.Generator) -> list:
        """Shuffled batches of texts of similar length (less padding): (x (B, T), y (B, 1), reset)."""
        rows, labels = data
        order = rng.permutation(len(rows))
        chunk = self.batch_size * 50              # sort by length within chunks of 50 batches
        batches = []
        for start in range(0, len(order), chunk):
            part = sorted(order[start:start + chunk], key=lambda k: len(rows[k]))
            batches += [part[i:i + self.batch_size] for i in range(0, len(part), self.batch_size)]
        return [(self._pad([rows[k] for k in batches[b]]), labels[batches[b]][:, None].astype(np.int64), True)
                for b in rng.permutation(len(batches))]

    def _score(self, data) -> np.ndarray:
        """ln p(true class) of every row: the loop's validation loss is minus their mean."""
        rows, labels = data
        return log_softmax(self._logits(rows))[np.arange(len(rows)), labels]

    def _logits(self, rows: list[np.ndarray]) -> np.ndarray:
        """(n, C) logits of id rows, in batches of similar lengths (padding does not change them)."""
        import torch

        out = np.empty((len(rows), len(self.classes_)))
        order = np.argsort([len(r) for r in rows], kind="stable")
        dev = resolve_device(self.device)
        self.module_.eval()
        with torch.no_grad():
            start = 0
            while start < len(order):
                width = len(rows[order[min(start + SCORE_ROWS, len(order)) - 1]])
                stop = min(start + SCORE_ROWS, start + max(1, SCORE_TOKENS // width), len(order))
                idx = order[start:stop]
                x = torch.from_numpy(self._pad([rows[k] for k in idx])).to(dev)
                out[idx] = self.module_(x)[0][:, 0].double().cpu().numpy()
                start = stop
        return out

    # --- prediction ----------------------------------------------------------------------------
    def decision_function(self, X) -> np.ndarray:
        """The head's scores: (n,) for two classes (positive: `classes_[1]`), else (n, C)."""
        scores = self._predict_logits(X)
        return scores[:, 1] - scores[:, 0] if scores.shape[1] == 2 else scores

    def predict_log_proba(self, X) -> np.ndarray:
        return log_softmax(self._predict_logits(X))

    def predict_proba(self, X) -> np.ndarray:
        """(n_texts, n_classes): p(c | x), columns in `classes_` order."""
        return np.exp(self.predict_log_proba(X))

    def predict(self, X) -> np.ndarray:
        return self.classes_[np.argmax(self._predict_logits(X), axis=1)]

    def score(self, X, y, sample_weight=None) -> float:
        """Accuracy on (X, y); a label the classifier was not trained on is an error."""
        check_is_fitted(self, "module_")
        check_known_labels(self.classes_, y)
        return super().score(X, y, sample_weight)
