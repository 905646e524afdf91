"""Collection rules for the docstring examples that `--doctest-modules` runs in langmodels/.

Test fixtures live in tests/conftest.py; this file only decides which package modules are imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent / "langmodels"

# Modules that need an optional extra: left out where the extra is not installed.
OPTIONAL = {"hf": "transformers", "metrics/rouge.py": "rouge_score"}
collect_ignore = [f"langmodels/{path}" for path, module in OPTIONAL.items()
                  if importlib.util.find_spec(module) is None]


def pytest_ignore_collect(collection_path: Path, config):
    # A module with no examples would be imported for nothing, and some import torch at the top.
    if (collection_path.suffix == ".py" and PACKAGE in collection_path.resolve().parents
            and ">>>" not in collection_path.read_text(encoding="utf-8")):
        return True
    return None
