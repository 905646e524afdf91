"""Safe file input and output: UTF-8 reads that name the bad byte, atomic writes."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from .errors import EncodingError


def read_utf8(path: str | os.PathLike) -> str:
    """Return the text of `path`, or raise EncodingError naming the file and byte offset."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise EncodingError(
            f"{path}: not valid UTF-8 at byte offset {e.start} (byte 0x{data[e.start]:02x}); "
            "re-encode the file as UTF-8"
        ) from None


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success rename it into place, else delete it.

    Readers never see a half-written file, and a failure leaves any earlier file intact.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json_atomic(path: str | os.PathLike, obj, sort_keys: bool = True) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=sort_keys, ensure_ascii=False) + "\n")


@contextlib.contextmanager
def atomic_directory(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory; on success it replaces `path` as a whole.

    An existing directory at `path` is kept until the new one is complete.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        if path.exists():
            old = path.with_name(f".{path.name}.old-{os.getpid()}")
            os.replace(path, old)
            os.replace(tmp, path)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


_TUPLE = "__tuple__"


def params_to_json(obj: Any) -> Any:
    """Constructor parameters as JSON that `params_from_json` turns back into equal values.

    Like `to_jsonable`, but a tuple is written as {"__tuple__": [...]}: plain JSON would load
    betas=(0.9, 0.999) as the list [0.9, 0.999], and a loaded model must have the parameters it
    was saved with (scikit-learn estimators store their constructor arguments unchanged).
    """
    if isinstance(obj, tuple):
        return {_TUPLE: [params_to_json(v) for v in obj]}
    if isinstance(obj, list):
        return [params_to_json(v) for v in obj]
    if isinstance(obj, dict):
        return {str(k): params_to_json(v) for k, v in obj.items()}
    return to_jsonable(obj)


def params_from_json(obj: Any) -> Any:
    """Undo `params_to_json`; JSON written without tuple markers loads as it reads."""
    if isinstance(obj, list):
        return [params_from_json(v) for v in obj]
    if isinstance(obj, dict):
        if obj.keys() == {_TUPLE}:
            return tuple(params_from_json(v) for v in obj[_TUPLE])
        return {k: params_from_json(v) for k, v in obj.items()}
    return obj


def to_jsonable(obj: Any, default: Callable[[Any], Any] | None = None) -> Any:
    """Nested dicts, lists and tuples with numpy values turned into plain JSON types.

    Any other object is passed to `default`, or left as it is when `default` is None, so that
    `json.dumps` rejects it rather than a checkpoint silently storing its repr.
    """
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, default) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v, default) for v in obj]
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, np.generic):
        return obj.item()
    if default is None or isinstance(obj, (str, int, float, bool)) or obj is None:
        return obj
    return default(obj)
