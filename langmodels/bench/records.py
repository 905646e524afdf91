"""The harness's files: one JSON record per (model, seed) in results.jsonl, and the generations.

Every write goes to a temporary file that is renamed into place, so an interrupted run keeps the
records of the models it finished.
"""

from __future__ import annotations

import json
from pathlib import Path

from .._io import read_utf8, write_text_atomic


def read_records(out: Path) -> list[dict]:
    path = Path(out) / "results.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in read_utf8(path).splitlines() if line.strip()]


def write_records(out: Path, records: list[dict]) -> None:
    write_text_atomic(Path(out) / "results.jsonl", "".join(json.dumps(r) + "\n" for r in records))


def generations_path(out: Path, label: str, seed) -> Path:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in label)
    return Path(out) / "generations" / f"{safe}.seed{seed}.jsonl"


def write_generations(out: Path, label: str, seed, gens: list[dict]) -> None:
    write_text_atomic(generations_path(out, label, seed),
                      "".join(json.dumps({**g, "seed": seed}, ensure_ascii=False) + "\n" for g in gens))


def merge_generations(out: Path, runs) -> None:
    parts = [generations_path(out, e["label"], s) for e, s in runs]
    write_text_atomic(Path(out) / "generations.jsonl", "".join(read_utf8(p) for p in parts if p.exists()))
