"""Text classification: generative (`LMClassifier`, one language model per class) and
discriminative (`TextClassifier`, a neural encoder with a classification head), the metrics
report and the labelled-file reader.

`TextClassifier` imports torch, so it is loaded on first use: `import langmodels.classify`
stays torch-free.
"""

from .data import LabelledFileError, read_labelled
from .generative import LMClassifier
from .report import classification_report, classification_scores

__all__ = ["LMClassifier", "TextClassifier", "classification_scores", "classification_report",
           "read_labelled", "LabelledFileError"]


def __getattr__(name):
    if name == "TextClassifier":
        from .neural import TextClassifier

        return TextClassifier
    raise AttributeError(f"module 'langmodels.classify' has no attribute {name!r}")
