"""Imports flow one way: data -> base -> models -> evaluation/generation -> harness -> CLI.

Only module-level imports count: a model may delegate to generation lazily (model.generate).
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "langmodels"

LAYERS = {  # first component of the module path inside langmodels -> layer
    "errors": 0, "_io": 0, "_checks": 0, "_torch": 0,
    "vocabulary": 0, "tokenize": 0, "corpus": 0, "datasets": 0,
    "base": 1, "registry": 1,
    "metrics": 3, "generation": 3,
    "classify": 4, "bench": 4,
    "cli": 5, "__main__": 5, "__init__": 6,
}
MODEL_LAYER = 2  # baselines, ngram, hmm, neural, hf, interpolated


def layer_of(parts: list[str]) -> int:
    return LAYERS.get(parts[0], MODEL_LAYER) if parts else 6


def module_level_imports(path: Path, module_parts: list[str]):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in tree.body:  # module level only
        if isinstance(node, ast.ImportFrom) and node.level > 0:
            base = module_parts[: len(module_parts) - node.level]
            target = base + (node.module.split(".") if node.module else [])
            yield target, node.lineno
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("langmodels."):
            yield node.module.split(".")[1:], node.lineno


def violations(package: Path) -> list[str]:
    bad = []
    for path in package.rglob("*.py"):
        rel = path.relative_to(package).with_suffix("")
        parts = list(rel.parts)
        if parts[-1] == "__init__":       # a package's __init__ resolves imports from the package
            parts = parts[:-1]
            anchor = parts + ["__init__"]
        else:
            anchor = parts
        if not parts:                     # langmodels/__init__.py re-exports everything
            continue
        mine = layer_of(parts)
        for target, line in module_level_imports(path, anchor):
            same_family = target[:1] == parts[:1]
            if target and not same_family and layer_of(target) > mine:
                bad.append(f"{rel}.py:{line} imports {'.'.join(target)}")
    return bad


def test_imports_flow_one_way():
    bad = violations(PACKAGE)
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_the_check_catches_an_upward_import(tmp_path):
    pkg = tmp_path / "langmodels"
    pkg.mkdir()
    (pkg / "corpus.py").write_text("from .harness import run\n")
    (pkg / "harness.py").write_text("from .corpus import Corpus\n")
    assert violations(pkg) == ["corpus.py:1 imports harness"]
