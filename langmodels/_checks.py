"""Hyper-parameter checks that raise InvalidParameterError naming the parameter and its range."""

from __future__ import annotations

import numbers
from collections.abc import Iterable
from typing import Any

from .errors import InvalidParameterError


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
