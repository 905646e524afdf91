"""Text classification: generative (`LMClassifier`, one language model per class) and
discriminative (`TextClassifier`, a neural encoder with a classification head;
`HFSequenceClassifier`, a fine-tuned Hugging Face checkpoint; `NBLogisticRegression`, NBSVM's
NB-weighted logistic regression over word n-grams), the metrics report and the
labelled-file reader.

The discriminative classifiers import torch, so they are loaded on first use: `import
langmodels.classify` stays torch-free.
"""

from .data import LabelledFileError, read_labelled
from .generative import LMClassifier
from .nblr import NBLogisticRegression
from .report import classification_report, classification_scores

__all__ = ["LMClassifier", "NBLogisticRegression", "TextClassifier", "HFSequenceClassifier",
           "classification_scores", "classification_report", "read_labelled", "LabelledFileError"]


def __getattr__(name):
    if name == "TextClassifier":
        from .neural import TextClassifier

        return TextClassifier
    if name == "HFSequenceClassifier":
        from .hf import HFSequenceClassifier

        return HFSequenceClassifier
    raise AttributeError(f"module 'langmodels.classify' has no attribute {name!r}")
