"""The classification benchmark's reports: results.md (the comparison table, then each
classifier's per-class table), results.csv and confusion.png (one confusion matrix per classifier,
the first seed's)."""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path

import numpy as np

from .._io import atomic_path, write_text_atomic

HEADER = ["classifier", "seeds", "accuracy %", "sd %", "macro P %", "macro R %", "macro F1 %",
          "dev accuracy %", "fit s", "evaluations"]


def summary_rows(records: list[dict]) -> list[list]:
    """One row per label: means over seeds of the per-seed figures (sd: over seeds when there are
    several, else over folds)."""
    rows, by_label = [], {}
    for r in records:
        by_label.setdefault(r["label"], []).append(r)
    for label, rs in by_label.items():
        ok = [r for r in rs if r.get("kind") == "classifier"]
        if not ok:
            rows.append([label, len(rs), f"{rs[0].get('kind', 'failed')}: " + rs[0].get("error", "?")]
                        + [""] * 7)
            continue
        acc = [r["accuracy_mean"] for r in ok]
        sd = float(np.std(acc)) if len(ok) > 1 else ok[0]["accuracy_sd"]
        dev = [r["dev_accuracy"] for r in ok if "dev_accuracy" in r]

        macro = [100 * float(np.mean([r["metrics"][k] for r in ok])) for k in ("precision", "recall", "f1")]
        rows.append([label, len(ok), 100 * float(np.mean(acc)), 100 * sd, *macro,
                     100 * float(np.mean(dev)) if dev else None,
                     float(np.mean([r["fit_seconds"] for r in ok])), len(ok[0]["fold_accuracy"])])
    return rows


def _fmt(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.2f}" if not math.isnan(v) else ""
    return str(v)


def markdown(records: list[dict], spec: dict) -> str:
    lines = [f"# {spec['name']}", "", f"Corpus: {', '.join(f'{k}={v}' for k, v in spec['corpus'].items())}; "
             f"protocol: {spec['protocol']}. Accuracy: mean over the evaluations (folds or the test "
             "split), then over seeds; sd over seeds (one seed: over folds). Macro P/R/F1 from "
             "sklearn.metrics over all predictions pooled. " + _jobs_note(records, spec)
             + _pretrain_note(records), "",
             "| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    rows = summary_rows(records)
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    lines += _selected_on_dev(rows)
    for r in records:
        if r.get("kind") != "classifier":
            continue
        m = r["metrics"]
        lines += ["", f"## {r['label']} (seed {r['seed']})", "",
                  "| class | precision % | recall % | F1 % | support |", "|---|---|---|---|---|"]
        lines += [f"| {c['label']} | {100 * c['precision']:.2f} | {100 * c['recall']:.2f} | "
                  f"{100 * c['f1']:.2f} | {c['support']} |" for c in m["per_class"]]
        lines += ["", "Confusion (rows: true, columns: predicted, in the class order above): "
                  + "; ".join(" ".join(str(v) for v in row) for row in m["confusion"])]
    return "\n".join(lines) + "\n"


def _selected_on_dev(rows: list[list]) -> list[str]:
    """The classifier a reader should quote as "best": the highest mean dev accuracy (ties all
    named), with its test accuracy, so the choice is made on dev, never on test."""
    dev = HEADER.index("dev accuracy %")
    scored = [row for row in rows if isinstance(row[dev], float)]
    if not scored:
        return []
    best = max(row[dev] for row in scored)
    chosen = [row for row in scored if row[dev] == best]
    named = "; ".join(f"**{row[0]}**, test accuracy {row[2]:.2f} % (sd {row[3]:.2f})" for row in chosen)
    return ["", f"Selected on dev (the highest mean dev accuracy, {best:.2f} %): {named}. Quote this "
                "entry as the best; the highest test accuracy in the table is chosen on test."]


def _jobs_note(records: list[dict], spec: dict) -> str:
    ran = {r.get("jobs", 1) for r in records if r.get("kind") == "classifier"}
    jobs = sorted(ran or {spec.get("jobs", 1)})
    if jobs == [1]:
        return "Fits ran one at a time (jobs: 1); fit s is wall time."
    return (f"Fits ran in parallel worker processes (jobs: {', '.join(map(str, jobs))}); fit s is wall "
            "time while sharing the machine with the other jobs, so it overstates a lone fit.")


def _pretrain_note(records: list[dict]) -> str:
    shared = [r for r in records if r.get("kind") == "classifier" and "pretrain_cpu_seconds" in r]
    if not shared:
        return ""
    users: dict = {}    # one saved language model may serve several entries and seeds
    for r in shared:
        users.setdefault((r.get("pretrain_model", r["label"]), r["pretrain_cpu_seconds"]), []).append(
            f"{r['label']} seed {r['seed']}")
    each = "; ".join(f"{name}: {cpu:.1f} s, for {', '.join(u)}" for (name, cpu), u in users.items())
    return " Pre-training shared by every fold, fitted once (CPU, not in fit s): " + each + "."


def write_classification_reports(records: list[dict], out: str | Path, spec: dict) -> list[Path]:
    out = Path(out)
    write_text_atomic(out / "results.md", markdown(records, spec))
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(HEADER)
    writer.writerows([[_fmt(v) for v in row] for row in summary_rows(records)])
    write_text_atomic(out / "results.csv", buf.getvalue())
    written = [out / "results.md", out / "results.csv"]
    shown = {}
    for r in records:
        if r.get("kind") == "classifier":
            shown.setdefault(r["label"], r)
    if shown:
        written.append(_confusion_plot(list(shown.values()), out / "confusion.png"))
    return written


def _confusion_plot(records: list[dict], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(records)
    cols = min(n, 4)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, r in zip(axes.flat, records):
        m = r["metrics"]
        cm = np.array(m["confusion"], dtype=float)
        norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)    # each true class sums to 1
        ax.imshow(norm, vmin=0, vmax=1, cmap="Blues")
        ticks = range(len(m["labels"]))
        ax.set_xticks(ticks, [str(x) for x in m["labels"]], fontsize=7)
        ax.set_yticks(ticks, [str(x) for x in m["labels"]], fontsize=7)
        for i in ticks:
            for j in ticks:
                ax.text(j, i, int(cm[i, j]), ha="center", va="center", fontsize=7,
                        color="white" if norm[i, j] > 0.5 else "black")
        ax.set_title(f"{r['label']}\nacc {100 * m['accuracy']:.1f}%", fontsize=8)
        ax.set_xlabel("predicted", fontsize=7)
        ax.set_ylabel("true", fontsize=7)
    # Fixed margins: tight_layout costs seconds of text measurement (see bench/plots.py).
    fig.subplots_adjust(left=0.1, right=0.97, top=0.85, bottom=0.12, wspace=0.6, hspace=0.9)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    return path
