"""Classification metrics, all computed by `sklearn.metrics`: accuracy, macro-averaged precision,
recall and F1, the per-class table and the confusion matrix, in one report."""

from __future__ import annotations

import numpy as np


def classification_scores(y_true, y_pred) -> dict[str, float]:
    """Accuracy and macro-averaged precision, recall and F1 (from `sklearn.metrics`)."""
    from sklearn.metrics import accuracy_score, precision_recall_fscore_support

    p, r, f, _ = precision_recall_fscore_support(y_true, y_pred, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y_true, y_pred)), "precision": float(p),
            "recall": float(r), "f1": float(f)}


def classification_report(y_true, y_pred, labels=None) -> dict:
    """Every classification metric of one set of predictions, as plain JSON-ready values.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n,)
        The gold and predicted labels.
    labels : list or None, default None
        The classes in table order (None: the sorted union of y_true and y_pred).

    Returns
    -------
    dict
        accuracy, precision, recall, f1 (macro averages), n, labels, confusion (rows: true class,
        columns: predicted class, in `labels` order) and per_class (one dict per class: label,
        precision, recall, f1, support).
    """
    from sklearn.metrics import confusion_matrix, precision_recall_fscore_support

    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    if labels is None:
        labels = np.unique(np.concatenate([y_true, y_pred]))
    labels = list(np.asarray(labels).tolist())
    p, r, f, support = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    out = classification_scores(y_true, y_pred)
    out.update(n=len(y_true), labels=labels,
               confusion=confusion_matrix(y_true, y_pred, labels=labels).tolist(),
               per_class=[{"label": lab, "precision": float(p[i]), "recall": float(r[i]),
                           "f1": float(f[i]), "support": int(support[i])} for i, lab in enumerate(labels)])
    return out
