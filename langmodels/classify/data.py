"""Labelled texts in and out: the checks every classifier runs on `X` and `y`, and the
`label<TAB>text` file format of the classification corpora.

The errors name the problem and where it is (an index into X or y, a file and line), so a
mistake in the data is found without a debugger.
"""

from __future__ import annotations

import os

import numpy as np

from .._io import read_utf8


class TextInput:
    """scikit-learn's tags for an estimator whose X is a list of strings (not a 2-D array), so that
    its checks and meta-estimators pass texts through unchanged."""

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.string = True
        tags.input_tags.two_d_array = False
        return tags


class LabelledFileError(ValueError):
    """A labelled file with a line that is not `label<TAB>text` (the message names file and line)."""


def check_texts(X) -> list[str]:
    """X as a list of strings; TypeError/ValueError for a single string, no text, or a non-string."""
    if isinstance(X, (str, bytes)):
        raise TypeError("X must be a list of texts, not a single string; wrap it: [text]")
    texts = list(X.ravel()) if isinstance(X, np.ndarray) and X.ndim == 2 and X.shape[1] == 1 else list(X)
    if not texts:
        raise ValueError("X holds no text")
    for k, t in enumerate(texts):
        if not isinstance(t, str):
            raise TypeError(f"X[{k}] is a {type(t).__name__}, not a string; X must be a list of texts")
    return texts


def check_labels(texts: list[str], y) -> np.ndarray:
    """y as a 1-D array of one label per text, with at least two classes."""
    from sklearn.utils.multiclass import check_classification_targets

    y = np.asarray(y)
    if y.ndim != 1 or len(y) != len(texts):
        raise ValueError(f"y must be one label per text: got {len(texts)} texts and labels of "
                         f"shape {y.shape}")
    check_classification_targets(y)
    classes = np.unique(y)
    if len(classes) < 2:
        raise ValueError(f"y holds one class only ({classes[0].item()!r}); a classifier needs "
                         "examples of at least two classes")
    return y


def check_known_labels(classes: np.ndarray, y) -> None:
    """ValueError naming the labels of `y` that are not among the fitted `classes`."""
    unknown = sorted({v.item() if hasattr(v, "item") else v for v in np.asarray(y)} - set(classes.tolist()),
                     key=str)
    if unknown:
        raise ValueError(f"y holds label(s) {unknown[:5]} the classifier was not trained on; "
                         f"its classes are {classes.tolist()}")


def read_labelled(path: str | os.PathLike) -> tuple[list[str], list[str]]:
    """(texts, labels) from a UTF-8 file of `label<TAB>text` lines (blank lines skipped).

    Raises EncodingError for bytes that are not UTF-8 and LabelledFileError for a line without a
    tab, with an empty label or with an empty text."""
    texts, labels = [], []
    for n, line in enumerate(read_utf8(path).splitlines(), 1):
        if not line.strip():
            continue
        label, tab, text = line.partition("\t")
        problem = ("has no tab" if not tab else "has an empty label" if not label.strip()
                   else "has an empty text" if not text.strip() else None)
        if problem:
            raise LabelledFileError(f"{path}:{n}: the line {problem}; each line must be "
                                    f"label<TAB>text, got {line[:60]!r}")
        labels.append(label.strip())
        texts.append(text.strip())
    if not texts:
        raise LabelledFileError(f"{path}: no labelled line in the file")
    return texts, labels
