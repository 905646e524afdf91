"""Hyper-parameter checks that raise InvalidParameterError naming the parameter and its range,
and the check of a saved array against the shape a model's parameters imply (CheckpointError)."""

from __future__ import annotations

import numbers
import re
from collections.abc import Iterable
from typing import Any

from .errors import CheckpointError, InvalidParameterError


def check_int(name: str, value: Any, low: int | None = None, high: int | None = None) -> int:
    """`value` must be an integer in [low, high]."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidParameterError(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    if (low is not None and value < low) or (high is not None and value > high):
        raise InvalidParameterError(f"{name} must be an integer{_range(low, high)}, got {value!r}")
    return int(value)


def check_float(name: str, value: Any, low: float | None = None, high: float | None = None,
                low_open: bool = False, high_open: bool = False) -> float:
    """`value` must be a real number in the interval (open ends where asked)."""
    bad = isinstance(value, bool) or not isinstance(value, numbers.Real) or value != value
    if not bad:
        bad = ((low is not None and (value < low or (low_open and value == low)))
               or (high is not None and (value > high or (high_open and value == high))))
    if bad:
        lo = "" if low is None else ("(" if low_open else "[") + str(low)
        hi = "" if high is None else str(high) + (")" if high_open else "]")
        where = f" in {lo or '(-inf'}, {hi or 'inf)'}" if low is not None or high is not None else ""
        raise InvalidParameterError(f"{name} must be a number{where}, got {value!r}")
    return float(value)


def check_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    choices = list(choices)
    if value not in choices:
        raise InvalidParameterError(f"{name} must be one of {choices}, got {value!r}")
    return value


def _range(low, high) -> str:
    if low is not None and high is not None:
        return f" in [{low}, {high}]"
    if low is not None:
        return f" >= {low}"
    if high is not None:
        return f" <= {high}"
    return ""


def check_stored_shape(name: str, arrays: dict, expected: tuple[int, ...]) -> Any:
    """The saved array `arrays[name]`, which must exist and have the `expected` shape (what the
    model's saved parameters and vocabulary imply); else CheckpointError naming both shapes."""
    if name not in arrays:
        raise CheckpointError(f"the saved arrays lack {name!r} (expected shape {tuple(expected)})")
    stored = tuple(arrays[name].shape)
    if stored != tuple(expected):
        raise CheckpointError(f"saved array {name!r} has shape {stored}, but the saved parameters and "
                              f"vocabulary imply {tuple(expected)} (an edited config.json, or files from "
                              f"different checkpoints?)")
    return arrays[name]


_UNITS = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}


def parse_memory(memory: int | str) -> int:
    """Bytes of a budget given as a number or as lmplz writes it: "512M", "4G", "1.5G"."""
    if isinstance(memory, numbers.Integral) and not isinstance(memory, bool) and memory > 0:
        return int(memory)
    match = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([KMGT]?)B?\s*", memory, re.IGNORECASE) \
        if isinstance(memory, str) else None
    if match and float(match[1]) > 0:
        return max(int(float(match[1]) * _UNITS[match[2].upper()]), 1)
    raise InvalidParameterError(f"memory must be a positive number of bytes or a size such as '512M' "
                                f"or '4G', got {memory!r}")
