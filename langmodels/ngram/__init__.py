"""The n-gram family: MLE, add-k, Witten-Bell, absolute discounting, Kneser-Ney, modified
Kneser-Ney (KenLM's lmplz, exactly) and Katz, counted and queried with vectorised numpy, and
ARPA files in and out."""

from .model import (
    AbsoluteDiscountModel,
    AddKModel,
    ArpaModel,
    KatzModel,
    KneserNeyModel,
    LaplaceModel,
    MLEModel,
    ModifiedKneserNeyModel,
    NGramModel,
    WittenBellModel,
    load_arpa,
)

__all__ = ["NGramModel", "MLEModel", "LaplaceModel", "AddKModel", "WittenBellModel",
           "AbsoluteDiscountModel", "KneserNeyModel", "ModifiedKneserNeyModel", "KatzModel",
           "ArpaModel", "load_arpa"]
