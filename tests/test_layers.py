"""Imports flow one way: data -> base -> models -> evaluation/generation -> harness -> CLI.

Every import counts, wherever it stands: at module level, inside a function (a lazy import is
still a dependency, only a later one), or as `importlib.import_module("langmodels. ...")`. The
few lazy upward delegations the design wants are listed, with their reason, in ALLOWED.
"""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "langmodels"

LAYERS = {  # first component of the module path inside langmodels -> layer
    "errors": 0, "_io": 0, "_checks": 0, "_maths": 0, "_version": 0, "_torch": 0,
    "vocabulary": 0, "tokenize": 0, "reading": 0, "corpus": 0, "datasets": 0,
    "base": 1, "registry": 1, "masked": 1,
    "baselines": 2, "ngram": 2, "hmm": 2, "neural": 2, "hf": 2, "interpolated": 2,
    "metrics": 3, "generation": 3,
    "classify": 4, "bench": 4,
    "cli": 5, "__main__": 5,
}
ROOT_LAYER = 6  # langmodels/__init__.py re-exports everything

# (importer, imported) first components allowed to point upward, each for a stated reason.
ALLOWED = {
    # `LanguageModel.generate` is a convenience that hands the model to the one shared decoder.
    ("base", "generation"),
}


def layer_of(parts: list[str]) -> int:
    if not parts:
        return ROOT_LAYER
    if parts[0] not in LAYERS:
        raise KeyError(f"langmodels.{parts[0]} has no layer: add it to LAYERS in tests/test_layers.py")
    return LAYERS[parts[0]]


def _submodule(package: Path, parts: list[str]) -> bool:
    where = package.joinpath(*parts) if parts else package
    return where.with_suffix(".py").is_file() or (where / "__init__.py").is_file()


def imports(path: Path, anchor: list[str], package: Path):
    """(target module parts inside langmodels, line) for every import of langmodels in the file."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name == "langmodels" or alias.name.startswith("langmodels."):
                    yield alias.name.split(".")[1:], node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level > 0:
                base = anchor[: len(anchor) - node.level] + (node.module.split(".") if node.module else [])
            elif node.module == "langmodels" or (node.module or "").startswith("langmodels."):
                base = node.module.split(".")[1:]
            else:
                continue
            for alias in node.names:  # `from . import x` imports the submodule x when there is one
                yield (base + [alias.name] if _submodule(package, base + [alias.name]) else base), node.lineno
        elif (isinstance(node, ast.Call) and _called_name(node.func) == "import_module" and node.args
              and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)
              and node.args[0].value.startswith("langmodels")):
            yield node.args[0].value.split(".")[1:], node.lineno


def _called_name(func) -> str | None:
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)


def violations(package: Path) -> list[str]:
    bad = []
    for path in sorted(package.rglob("*.py")):
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
        for target, line in imports(path, anchor, package):
            same_family = target[:1] == parts[:1]
            allowed = (parts[0], target[0] if target else "") in ALLOWED
            if not same_family and not allowed and layer_of(target) > mine:
                bad.append(f"{rel}.py:{line} imports {'.'.join(target) or 'langmodels'}")
    return bad


def test_imports_flow_one_way():
    bad = violations(PACKAGE)
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_every_allowed_exception_is_still_needed():
    # An exception nobody uses any more must go, or the list only ever grows.
    for importer, imported in ALLOWED:
        layer_of([importer]), layer_of([imported])
        files = [PACKAGE / f"{importer}.py"] + list((PACKAGE / importer).rglob("*.py"))
        used = any(t[:1] == [imported] for f in files if f.is_file()
                   for t, _ in imports(f, [importer], PACKAGE))
        assert used, f"ALLOWED lists {importer} -> {imported}, which no longer imports it"


def _fake_package(tmp_path, files: dict[str, str]) -> Path:
    pkg = tmp_path / "langmodels"
    for name, text in files.items():
        (pkg / name).parent.mkdir(parents=True, exist_ok=True)
        (pkg / name).write_text(text)
    return pkg


def test_the_check_catches_an_upward_import(tmp_path):
    pkg = _fake_package(tmp_path, {"corpus.py": "from .bench import run\n",
                                   "bench/__init__.py": "from ..corpus import Corpus\n"})
    assert violations(pkg) == ["corpus.py:1 imports bench"]


def test_the_check_catches_lazy_upward_imports(tmp_path):
    pkg = _fake_package(tmp_path, {
        "corpus.py": ("def lazy():\n"
                      "    from .metrics import perplexity\n"           # relative, in a function
                      "    import langmodels.cli\n"                     # absolute
                      "    from . import classify\n"                    # a submodule by name
                      "    import importlib\n"
                      "    return importlib.import_module('langmodels.bench.harness')\n"),
        "base.py": "def version():\n    from . import __version__\n",  # the root imports everything
        "metrics/__init__.py": "", "metrics/perplexity.py": "", "cli.py": "", "classify.py": "",
        "bench/__init__.py": "", "bench/harness.py": "from ..corpus import Corpus\n",
    })
    assert violations(pkg) == ["base.py:2 imports langmodels",
                               "corpus.py:2 imports metrics.perplexity", "corpus.py:3 imports cli",
                               "corpus.py:4 imports classify", "corpus.py:6 imports bench.harness"]


# --- no code outside a family reaches into a model's private methods ---------------------------
# A family's package (and base.py, which defines the hooks) may call `_fit`, `_get_state`, ...;
# everything else goes through the public contract (`check_is_fitted`, `param_names`,
# `check_params`, `check_histories`, `fit_options`, ...). The check reads attribute accesses
# `x._name` where x is a variable that by the project's naming holds a model or a model class,
# or a direct `make(...)` / `get_class(...)` result.
FAMILIES = {"base", "masked", "baselines", "ngram", "hmm", "neural", "hf"}
MODEL_NAMES = {"model", "m", "lm", "cls", "component", "twin"}
MODEL_FACTORIES = {"make", "get_class"}

# (module first component, private name) allowed, each for a stated reason.
ALLOWED_PRIVATE = {
    # A mixture stores its components inside its own checkpoint, as `load` does for one model:
    # it goes through the persistence hooks the contract gives every LanguageModel subclass.
    ("interpolated", "_get_state"), ("interpolated", "_set_state"),
}


def _private_accesses(path: Path):
    """(line, private name) for every `model._name` access in the file."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__")):
            continue
        owner = node.value
        if ((isinstance(owner, ast.Name) and owner.id in MODEL_NAMES)
                or (isinstance(owner, ast.Call) and _called_name(owner.func) in MODEL_FACTORIES)):
            yield node.lineno, node.attr


def private_calls(package: Path) -> list[str]:
    bad = []
    for path in sorted(package.rglob("*.py")):
        rel = path.relative_to(package).with_suffix("")
        first = rel.parts[0]
        if first in FAMILIES:
            continue
        bad += [f"{rel}.py:{line} uses .{name}" for line, name in _private_accesses(path)
                if (first, name) not in ALLOWED_PRIVATE]
    return bad


def test_no_module_outside_a_family_calls_a_models_private_methods():
    bad = private_calls(PACKAGE)
    assert not bad, "private model methods used outside the family:\n" + "\n".join(bad)


def test_every_allowed_private_call_is_still_needed():
    for module, name in ALLOWED_PRIVATE:
        used = any(n == name for f in [PACKAGE / f"{module}.py", *(PACKAGE / module).rglob("*.py")]
                   if f.is_file() for _, n in _private_accesses(f))
        assert used, f"ALLOWED_PRIVATE lists {module} -> {name}, which it no longer uses"


def test_the_check_catches_private_calls(tmp_path):
    pkg = _fake_package(tmp_path, {
        "generation.py": ("def generate(model, prompts):\n"
                          "    model._check_fitted()\n"                      # flagged
                          "    model.check_is_fitted()\n"                    # public: fine
                          "    self._cache = model.vocab_\n"                 # self and a public attribute
                          "    return model.__class__\n"),                   # dunder: fine
        "bench/harness.py": ("from ..registry import get_class\n"
                             "def seeds(entry):\n"
                             "    return get_class(entry['model'])._param_names()\n"),
        "ngram/model.py": "def f(model):\n    return model._fit\n",          # inside a family: fine
    })
    assert private_calls(pkg) == ["bench/harness.py:3 uses ._param_names",
                                  "generation.py:2 uses ._check_fitted"]
