"""Fixtures shared by the harness tests."""

from __future__ import annotations

import pytest

from tests.stubs import TOY_TEST, TOY_TRAIN


@pytest.fixture()
def files(tmp_path):
    """The toy corpus as train/valid/test files: {split: path}."""
    paths = {}
    for split, lines in (("train", TOY_TRAIN), ("valid", TOY_TRAIN[:3]), ("test", TOY_TEST)):
        paths[split] = tmp_path / f"{split}.txt"
        paths[split].write_text("\n".join(lines) + "\n")
    return {k: str(v) for k, v in paths.items()}
