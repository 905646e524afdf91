"""langmodels: classic and neural language models under one contract.

Every model — n-gram, HMM, RNN/LSTM/GRU, Transformer — predicts the next token over one shared
vocabulary and is scored by the same code, so their numbers can be compared. Masked (BERT-style)
models have a contract of their own, `MaskedLanguageModel` (`available_models("masked")`).

Heavy dependencies (torch, nltk, hmmlearn) are imported only when a model that needs them is made.
"""

from ._version import __version__
from .base import LanguageModel, clone, load
from .corpus import Corpus, split_corpus
from .errors import (
    CheckpointError,
    DownloadError,
    EmptyCorpusError,
    EncodingError,
    InvalidParameterError,
    LangModelsError,
    MissingSplitError,
    NotFittedError,
    PartialFitWarning,
    UnknownDatasetError,
    UnknownModelError,
    VocabularyMismatchError,
    WorkerError,
)
from .masked import MaskedLanguageModel
from .metrics import EvaluationReport, evaluate, perplexity
from .registry import available_models, get_class, make, register
from .vocabulary import BOS, EOS, UNK, Vocabulary

__all__ = [
    "__version__", "LanguageModel", "MaskedLanguageModel", "Corpus", "Vocabulary", "UNK", "BOS", "EOS",
    "make", "available_models", "register", "get_class", "load", "clone",
    "evaluate", "perplexity", "EvaluationReport",
    "LangModelsError", "EmptyCorpusError", "EncodingError", "UnknownModelError",
    "UnknownDatasetError", "MissingSplitError", "VocabularyMismatchError", "CheckpointError",
    "InvalidParameterError", "NotFittedError", "DownloadError", "PartialFitWarning",
    "WorkerError",
    "split_corpus", "datasets", "load_arpa", "generate", "LMClassifier", "TextClassifier",
    "HFSequenceClassifier", "NBLogisticRegression",
    "classification_scores", "classification_report", "read_labelled",
    "corpus_bleu", "continuation_bleu", "test_bleu", "self_bleu", "distinct_n",
]

# Names whose modules are imported on first use (they pull in nltk, torch or larger code).
_LAZY = {
    "datasets": "langmodels.datasets",
    "load_arpa": "langmodels.ngram.model:load_arpa",
    "generate": "langmodels.generation:generate",
    "LMClassifier": "langmodels.classify.generative:LMClassifier",
    "NBLogisticRegression": "langmodels.classify.nblr:NBLogisticRegression",
    "TextClassifier": "langmodels.classify.neural:TextClassifier",
    "HFSequenceClassifier": "langmodels.classify.hf:HFSequenceClassifier",
    "classification_scores": "langmodels.classify.report:classification_scores",
    "classification_report": "langmodels.classify.report:classification_report",
    "read_labelled": "langmodels.classify.data:read_labelled",
    "corpus_bleu": "langmodels.metrics.bleu:sacrebleu_corpus",
    "continuation_bleu": "langmodels.metrics.bleu:continuation_bleu",
    "test_bleu": "langmodels.metrics.bleu:texygen_test_bleu",
    "self_bleu": "langmodels.metrics.bleu:texygen_self_bleu",
    "distinct_n": "langmodels.metrics.bleu:distinct_n",
}


def __getattr__(name):
    import importlib

    if name not in _LAZY:
        raise AttributeError(f"module 'langmodels' has no attribute {name!r}")
    module, _, attr = _LAZY[name].partition(":")
    value = importlib.import_module(module)
    return getattr(value, attr) if attr else value


def __dir__():
    return sorted(list(globals()) + list(_LAZY))
