"""The comparison table (results.md, results.csv) from benchmark records: means ± sd over seeds."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .._io import write_text_atomic
from .validation import describe


def _get(*path) -> Callable[[dict], float | None]:
    def get(record):
        node = record
        for p in path:
            if not isinstance(node, dict) or node.get(p) is None:
                return None
            node = node[p]
        return float(node)

    return get


def _pct(get):
    return lambda r: None if get(r) is None else 100 * get(r)


# (column, how to read it from a record, format)
COLUMNS: list[tuple[str, Callable, str]] = [
    ("perplexity", _get("metrics", "perplexity"), ".2f"),
    # The chosen setting's validation perplexity: what the selection (and early stopping) saw.
    ("valid ppl", _get("selection", "valid_perplexity"), ".2f"),
    # Masked models: exp(-mean pseudo-log-likelihood), on its own scale (see `notes`).
    ("pseudo-perplexity", _get("metrics", "pseudo_perplexity"), ".2f"),
    ("bits/char", _get("metrics", "bits_per_char"), ".3f"),
    ("top-1 %", _pct(_get("metrics", "top1_accuracy")), ".2f"),
    ("top-5 %", _pct(_get("metrics", "top5_accuracy")), ".2f"),
    ("MRR", _get("metrics", "mrr"), ".4f"),
    ("cont-BLEU greedy", _get("metrics", "continuation_bleu", "greedy", "score"), ".2f"),
    ("cont-BLEU sampled", _get("metrics", "continuation_bleu", "sample", "bleu_mean"), ".2f"),
    ("cont-ROUGE-L greedy", _get("metrics", "continuation_rouge", "rougeL", "f1"), ".2f"),
    ("Test-BLEU-4", _get("metrics", "unconditional", "test_bleu4"), ".3f"),
    ("Self-BLEU-4", _get("metrics", "unconditional", "self_bleu4"), ".3f"),
    ("distinct-2", _get("metrics", "unconditional", "distinct2"), ".3f"),
    ("gap to oracle (nats/token)", _get("oracle_gap_nats"), ".4f"),
    ("fit s", _get("fit_seconds"), ".2f"),
    ("train tokens seen", _get("selection", "tokens_seen"), ".0f"),
    ("settings tried", _get("selection", "n_tried"), ".0f"),
    ("score s", _get("score_seconds"), ".2f"),
    ("generate s", _get("generate_seconds"), ".2f"),
    ("peak RSS MB", _get("peak_rss_mb"), ".0f"),
    ("parameters", _get("n_parameters"), ".0f"),
]


def table_rows(records: list[dict]) -> tuple[list[str], list[dict]]:
    """One row per label (models in run order, then reference rows): {column: (mean, sd, n)}."""
    oracle = next((r for r in records if r.get("label", "").startswith("oracle")), None)
    groups: dict[str, list[dict]] = {}
    for r in records:
        if r.get("kind") == "failed":
            continue
        if oracle is not None and r.get("kind") == "model" and r["metrics"].get("perplexity"):
            gap = math.log(r["metrics"]["perplexity"] / oracle["metrics"]["perplexity"])
            r = {**r, "oracle_gap_nats": gap}
        groups.setdefault(r["label"], []).append(r)
    rows = []
    for label, group in groups.items():
        row = {"label": label, "model": group[0].get("model", "reference"), "n_seeds": len(group)}
        for name, get, _ in COLUMNS:
            vals = [v for v in (get(r) for r in group) if v is not None]
            if vals:
                sd = float(np.std(vals, ddof=1)) if len(vals) > 1 else None
                row[name] = (float(np.mean(vals)), sd)
        rows.append(row)
    used = [name for name, _, _ in COLUMNS if any(name in row for row in rows)]
    return used, rows


def markdown_table(records: list[dict]) -> str:
    columns, rows = table_rows(records)
    fmt = {name: f for name, _, f in COLUMNS}
    lines = ["| model | seeds | " + " | ".join(columns) + " |",
             "| --- | ---: | " + " | ".join("---:" for _ in columns) + " |"]
    for row in rows:
        cells = []
        for c in columns:
            if c not in row:
                cells.append("")
                continue
            mean, sd = row[c]
            cells.append(_fmt(mean, fmt[c]) + ("" if sd is None else " ± " + _fmt(sd, fmt[c])))
        lines.append(f"| {row['label']} | {row['n_seeds'] if row['model'] != 'reference' else ''} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _fmt(x: float, spec: str) -> str:
    return str(x) if math.isinf(x) or math.isnan(x) else format(x, spec)


def csv_table(records: list[dict]) -> str:
    columns, rows = table_rows(records)
    buf = io.StringIO()
    w = csv.writer(buf)
    chosen = chosen_settings(records)
    w.writerow(["label", "model", "n_seeds"] + [f"{c} {s}" for c in columns for s in ("mean", "sd")]
               + ["chosen setting"])
    for row in rows:
        cells = [row["label"], row["model"], row["n_seeds"]]
        for c in columns:
            mean, sd = row.get(c, (None, None))
            cells += ["" if mean is None else repr(mean), "" if sd is None else repr(sd)]
        w.writerow(cells + ["; ".join(chosen.get(row["label"], []))])
    return buf.getvalue()


MASKED_NOTE = ("- Pseudo-perplexity (masked models): exp(-mean pseudo-log-likelihood), each test token "
               "scored with it alone masked and both sides visible (Salazar et al., 2020), `</s>` "
               "included. It is NOT comparable with perplexity: the PLLs of a sentence are not a "
               "factorisation of its probability, and seeing the right-hand side makes each "
               "prediction easier. A masked model's top-k / MRR are likewise ranks with both sides "
               "visible, not next-token ranks.")


def notes(records: list[dict]) -> str:
    """What the numbers mean: data, protocols and signatures, measured as recorded."""
    failed = [f"- **Failed**: {r['label']} (seed {r['seed']}): {r['error']}"
              for r in records if r.get("kind") == "failed"]
    models = [r for r in records if r.get("kind") == "model"]
    if not models:
        return "\n".join(failed) + "\n" if failed else ""
    d, r0 = models[0]["data"], models[0]
    lines = [f"- Data: {d['name']} (hash {d['hash'][:12]}), vocabulary {d['vocab_size']}, tokenizer "
             f"{d['tokenizer']}, {d['train_tokens']} training tokens, {d['test_tokens']} test tokens in "
             f"{d['test_sequences']} sequences ({d['test_oov']} OOV).",
             f"- Validation (the same for every model; early stopping, EM stopping and mixture weights use "
             f"it, the other families ignore it): {describe(d.get('valid'))}.",
             "- Perplexity: exp of the total NLL over all counted test tokens, `</s>` included; bits/char "
             "divides the total NLL in bits by the characters of the detokenised text (one newline each).",
             "- top-k / MRR: rank of each true next token, ties shared at random (in expectation).",
             *([MASKED_NOTE] if any("pseudo_perplexity" in r["metrics"] for r in models) else []),
             "- ± is the standard deviation over model seeds (ddof 1); models without a seed run once."]
    cb = r0["metrics"].get("continuation_bleu")
    if cb:
        lines.append(f"- Continuation BLEU: protocol `{cb['protocol']}`; sacrebleu "
                     f"`{cb['greedy']['signature']}`; the sampled column is the mean over the sampling "
                     "seeds (their sd is in results.jsonl).")
    un = r0["metrics"].get("unconditional")
    if un:
        lines.append(f"- Test-BLEU / Self-BLEU ({un['definition']}), on {un['n_samples']} samples "
                     "from `<s>`; distinct-2 = distinct bigrams / bigrams. Self-BLEU rises with the "
                     "number of samples compared: the human row uses min(n_samples, validation "
                     "sequences), the oracle row the generator's own samples.")
    lines.append(f"- Memory: {r0['memory_method']}. Parameters: {r0['n_parameters_source']}: "
                 "n-gram, the probabilities and backoff weights an ARPA file lists; HMM, the entries "
                 "of pi, A and B; neural and Hugging Face, the network's parameters; unigram, V "
                 "probabilities; uniform, 0; a mixture, its components' plus its weights.")
    load = [x for r in models for x in r["load_average"]]
    lines.append(f"- Machine: {r0['environment']['platform']}, {r0['environment']['cpu_count']} CPUs; "
                 f"1-min load average during the runs {min(load):.2f}-{max(load):.2f}"
                 + (" (noisy: above 1.5)" if max(load) > 1.5 else "") + ".")
    jobs = sorted({r["environment"].get("jobs", 1) for r in models if r.get("environment")})
    if jobs != [1]:
        lines.append(f"- Jobs: runs fitted {' or '.join(map(str, jobs))} at a time, each in its own process "
                     "(`jobs`): the timings of concurrent runs share the machine's cores, so they are "
                     "slower than runs alone; every other number is the same as with one at a time.")
    return "\n".join(failed + lines) + "\n"


def chosen_settings(records: list[dict]) -> dict[str, list[str]]:
    """{label: ["seed 0: order=3 (valid ppl 91.2, 1 of 3)", ...]} for every searched, budgeted or
    mixed row (fixed settings without a budget say nothing new and are left out)."""
    out: dict[str, list[str]] = {}
    for r in records:
        sel = r.get("selection")
        mixture = r.get("interpolate") is not None   # a mixture of fitted rows
        if r.get("kind") != "model" or not sel or (sel["mode"] == "fixed" and not sel.get("budget")
                                                   and not mixture):
            continue
        if mixture:
            setting = " + ".join(f"{w:.3f} x {c}" for c, w in zip(sel["chosen"]["components"],
                                                                  sel["chosen"]["weights"]))
        elif sel["mode"] == "fixed":
            setting = "as given"
        else:
            setting = ", ".join(f"{k}={v}" for k, v in sel["chosen"].items())
        v = sel.get("valid_perplexity")
        budget = sel.get("budget") or {}
        stop = " stopped by the budget" if budget.get("stopped") else ""
        run = "one run" if r["seed"] is None else f"seed {r['seed']}"
        how = (f"chosen on seed {sel['chosen_on_seed']}" if sel.get("chosen_on_seed") is not None
               else f"{sel['n_tried']} tried")
        out.setdefault(r["label"], []).append(
            f"{run}: {setting} (valid ppl {'-' if v is None else format(v, '.2f')}, {how}{stop})")
    return out


def selection_notes(records: list[dict]) -> str:
    """The selection section of results.md: what each row's search chose, and the budget."""
    chosen = chosen_settings(records)
    if not chosen:
        return ""
    models = [r for r in records if r.get("kind") == "model"]
    budget = next((r.get("budget_spec") for r in models if r.get("budget_spec")), None)
    lines = ["", "## Selection", "",
             "Each searched row tried every setting listed (grid) or a seeded sample (random), each fitted "
             "on train with early stopping on valid, and kept the one with the lowest validation "
             "perplexity; test was scored once, for that setting. A model with seeds searches on the first "
             "seed and trains the chosen setting with the others (unless `each_seed`). Every tried "
             "setting is in results.jsonl (`selection.trials`).",
             "Budget per run (each setting tried is a run): "
             + ("none" if not budget else ", ".join(f"{v:,} {k}" for k, v in budget.items())
                + " (neural: checked at epoch ends, an epoch that would overrun it is not started; "
                  "HMM: tokens cap the EM iterations; one-pass families: tokens cap the training text, "
                  "seconds are recorded only)") + ".", ""]
    lines += [f"- {label}: " + "; ".join(items) for label, items in chosen.items()]
    return "\n".join(lines) + "\n"


def write_reports(records: list[dict], out: str | Path) -> str:
    """Write results.md, results.csv and the plots; return the markdown table."""
    from .plots import write_plots

    out = Path(out)
    table = markdown_table(records)
    write_text_atomic(out / "results.md", "# Benchmark results\n\n" + table + "\n" + notes(records)
                      + selection_notes(records))
    write_text_atomic(out / "results.csv", csv_table(records))
    write_plots(records, out)
    return table
