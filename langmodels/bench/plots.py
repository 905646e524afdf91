"""Benchmark pictures (matplotlib, Agg backend: no display needed).

perplexity.png         test perplexity per model (± sd over seeds), the oracle as a line
learning_curves.png    train/valid NLL per token by epoch (neural) or EM iteration (HMM)
ppl_vs_time.png        perplexity against training time (log-log)
quality_diversity.png  Test-BLEU against Self-BLEU over the temperature sweep
"""

from __future__ import annotations

import math
from pathlib import Path

from .._io import atomic_path


def write_plots(records: list[dict], out: str | Path) -> list[Path]:
    """Draw every plot the records support; returns the files written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out)
    written = []
    for name, draw in (("perplexity.png", _perplexity), ("learning_curves.png", _learning_curves),
                       ("ppl_vs_time.png", _ppl_vs_time), ("quality_diversity.png", _quality_diversity)):
        fig, ax = plt.subplots(figsize=(8, 5))
        # Fixed margins: tight_layout costs seconds of text measurement per figure.
        fig.subplots_adjust(left=0.1, right=0.97, top=0.92, bottom=0.12)
        try:
            if draw(ax, records):
                with atomic_path(out / name) as tmp:
                    fig.savefig(tmp, dpi=110, format="png")
                written.append(out / name)
        finally:
            plt.close(fig)
    return written


def _models(records):
    return [r for r in records if r.get("kind") == "model"]


def _by_label(records):
    groups: dict[str, list[dict]] = {}
    for r in _models(records):
        groups.setdefault(r["label"], []).append(r)
    return groups


def _color(i: int):
    import matplotlib

    return matplotlib.colormaps["tab20"](i % 20)   # 20 distinct colours: one per model


def _finite(x) -> bool:
    return x is not None and not math.isinf(x) and not math.isnan(x)


def _perplexity(ax, records) -> bool:
    import numpy as np

    labels, means, sds = [], [], []
    for label, group in _by_label(records).items():
        vals = [r["metrics"]["perplexity"] for r in group if _finite(r["metrics"].get("perplexity"))]
        if vals:
            labels.append(label)
            means.append(np.mean(vals))
            sds.append(np.std(vals, ddof=1) if len(vals) > 1 else 0.0)
    if not labels:
        return False
    ax.bar(range(len(labels)), means, yerr=sds, color="tab:blue", capsize=3)
    ax.figure.subplots_adjust(bottom=0.3)   # room for the slanted model names
    ax.set_xticks(range(len(labels)), labels, rotation=45, ha="right")
    oracle = next((r for r in records if r.get("label", "").startswith("oracle")), None)
    if oracle:
        ax.axhline(oracle["metrics"]["perplexity"], color="tab:red", ls="--", label="oracle (generator)")
        ax.legend(loc="upper right")
    ax.set_yscale("log")
    ax.set_ylabel("test perplexity (log scale)")
    ax.set_title("Perplexity per model (lower is better)")
    return True


def _learning_curves(ax, records) -> bool:
    drawn = False
    for i, r in enumerate(_models(records)):
        curves = r.get("curves") or {}
        color = _color(i)
        for name, style in (("train", "-"), ("valid", "--")):
            values = curves.get(name)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, marker=".", color=color,
                        label=f"{r['label']} (seed {r['seed']}) {name}")
                drawn = True
    if drawn:
        ax.set_xlabel("epoch (neural) / EM iteration (HMM)")
        ax.set_ylabel("NLL, nats per token")
        ax.set_title("Learning curves: train (solid) and validation (dashed)")
        ax.legend(fontsize=7, loc="upper right")
    return drawn


def _ppl_vs_time(ax, records) -> bool:
    pts = [(r["fit_seconds"], r["metrics"]["perplexity"], r["label"]) for r in _models(records)
           if _finite(r["metrics"].get("perplexity")) and r.get("fit_seconds")]
    if not pts:
        return False
    for i, (t, p, label) in enumerate(pts):
        ax.scatter(t, p, color=_color(i))
        ax.annotate(label, (t, p), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training time (s, log scale)")
    ax.set_ylabel("test perplexity (log scale)")
    ax.set_title("Perplexity against training time")
    return True


def _quality_diversity(ax, records) -> bool:
    drawn = False
    for i, (label, group) in enumerate(_by_label(records).items()):
        sweep = (group[0]["metrics"].get("unconditional") or {}).get("sweep") or []
        if sweep:
            x = [p["self_bleu"] for p in sweep]
            y = [p["test_bleu"] for p in sweep]
            ax.plot(x, y, marker="o", label=label, color=_color(i))
            for p in (sweep[0], sweep[-1]):   # the ends of each curve, to read its direction
                ax.annotate(f"T={p['temperature']:g}", (p["self_bleu"], p["test_bleu"]), fontsize=6)
            drawn = True
    for prefix, marker, name in (("human", "*", "human text"), ("oracle", "P", "generator samples")):
        ref = next((r for r in records if r.get("label", "").startswith(prefix)), None)
        u = (ref or {}).get("metrics", {}).get("unconditional") or {}
        if drawn and "test_bleu4" in u:
            ax.scatter([u["self_bleu4"]], [u["test_bleu4"]], marker=marker, s=120, color="k", label=name)
    if drawn:
        ax.set_xlabel("Self-BLEU (lower = more diverse)")
        ax.set_ylabel("Test-BLEU (higher = closer to the test text)")
        ax.set_title("Quality against diversity over the temperature sweep (Texygen BLEU-4)")
        ax.legend(fontsize=7, loc="lower right")
    return drawn
