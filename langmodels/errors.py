"""Exceptions raised by langmodels; each names the problem and, where it can, the fix."""


class LangModelsError(Exception):
    """Base class of every error langmodels raises on purpose."""


class EmptyCorpusError(LangModelsError, ValueError):
    """A corpus, file or text list holds no sequence with a token in it."""


class EncodingError(LangModelsError, ValueError):
    """A text file is not valid UTF-8."""


class UnknownModelError(LangModelsError, ValueError):
    """A model name that is not in the registry."""


class UnknownDatasetError(LangModelsError, ValueError):
    """A dataset name that is neither registered nor a directory."""


class CatalogError(LangModelsError, ValueError):
    """A corpus catalogue file (data/corpora/*.yaml) that is malformed; names the file and field."""


class MissingSplitError(LangModelsError, FileNotFoundError):
    """A dataset directory lacks a split that was asked for."""


class VocabularyMismatchError(LangModelsError, ValueError):
    """A corpus or checkpoint built on another vocabulary than the model's."""


class CheckpointError(LangModelsError, ValueError):
    """A saved model directory that is missing, corrupt or inconsistent."""


class InvalidParameterError(LangModelsError, ValueError):
    """A hyper-parameter outside its allowed values."""


class NotFittedError(LangModelsError, RuntimeError):
    """A model queried before `fit` (or `load`)."""


class DownloadError(LangModelsError, OSError):
    """A download that failed or whose checksum did not match."""


class PartialFitWarning(UserWarning):
    """A fit stopped early (Ctrl-C): the model holds the best weights so far, or is left unfitted."""


class WorkerError(LangModelsError, RuntimeError):
    """A worker process of `langmodels bench --jobs N` died while fitting a run."""
