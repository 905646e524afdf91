"""Corpora: the built-in synthetic language (an oracle with exact probabilities), real corpora
downloaded into a verified cache, and local directories of split files.

>>> from langmodels import datasets
>>> ds = datasets.load("synthetic", seed=0, n_train=200, n_valid=50, n_test=50)
>>> ds.train.vocab is ds.test.vocab, ds.oracle_perplexity("test") > 1
(True, True)
"""

from ..errors import CatalogError, DownloadError, MissingSplitError, UnknownDatasetError
from .catalog import CORPORA, available_datasets
from .download import cache_dir
from .loading import Dataset, download, load, load_synthetic
from .synthetic import SyntheticLanguage

__all__ = [
    "available_datasets", "load", "download", "load_synthetic", "Dataset", "SyntheticLanguage",
    "cache_dir", "CORPORA", "CatalogError", "DownloadError", "MissingSplitError", "UnknownDatasetError",
]
