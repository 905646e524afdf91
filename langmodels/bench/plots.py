"""Benchmark pictures (matplotlib, Agg backend: no display needed).

perplexity.png         test perplexity per model (± sd over seeds), the oracle as a line
learning_curves.png    train/valid NLL per token by epoch (neural) or EM iteration (HMM)
ppl_vs_time.png        perplexity against training time (log-log)
quality_diversity.png  Test-BLEU against Self-BLEU over the temperature sweep
validation_curves.png  validation perplexity against seconds and against training tokens seen, every
                       run of every family on one figure (an n-gram is one point)
train_sizes.png        test perplexity against training tokens (log x) for `train_sizes` runs, the
                       oracle as a line

Points and curves carry a model number (1, 2, ...) and the legend, outside the axes, says which
model has which number and colour: with 15 models, names written beside the points overlap.
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
        fig, ax = plt.subplots(figsize=(10, 5.5))
        # Fixed margins (tight_layout costs seconds of text measurement per figure); the right
        # quarter holds the legend.
        fig.subplots_adjust(left=0.08, right=0.72, top=0.92, bottom=0.11)
        try:
            if draw(ax, records):
                with atomic_path(out / name) as tmp:
                    fig.savefig(tmp, dpi=110, format="png")
                written.append(out / name)
        finally:
            plt.close(fig)
    for name, draw in (("validation_curves.png", _validation_curves), ("train_sizes.png", _train_sizes)):
        fig = draw(plt, records)
        if fig is not None:
            try:
                with atomic_path(out / name) as tmp:
                    fig.savefig(tmp, dpi=110, format="png")
                written.append(out / name)
            finally:
                plt.close(fig)
    return written


def _validation_curves(plt, records):
    """Two panels, one x axis each (seconds, tokens seen), one line per (model, seed) run."""
    runs = [r for r in _models(records) if any(p.get("valid_perplexity") is not None
                                               for p in r.get("learning_curve") or [])]
    if not runs:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(13, 5.5), sharey=True)
    fig.subplots_adjust(left=0.06, right=0.78, top=0.9, bottom=0.11, wspace=0.08)
    labels = list(dict.fromkeys(r["label"] for r in runs))
    for r in runs:
        pts = [p for p in r["learning_curve"] if _finite(p.get("valid_perplexity"))]
        color = _color(labels.index(r["label"]), len(labels))
        for ax, key in zip(axes, ("seconds", "tokens")):
            ax.plot([p[key] for p in pts], [p["valid_perplexity"] for p in pts], "-", marker=".", color=color)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=_color(i, len(labels)), marker=".", label=label)
               for i, label in enumerate(labels)]
    axes[1].legend(handles=handles, loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=7, title="model")
    for ax, what in zip(axes, ("training seconds (wall clock, log scale)",
                               "training tokens seen (epochs x tokens, log scale)")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel(what)
    axes[0].set_ylabel("validation perplexity (log scale)")
    fig.suptitle("Learning curves on the validation split (each run; one point for one-pass models)")
    return fig


def _train_sizes(plt, records):
    """Test perplexity (mean over seeds) against the training tokens of each nested subset."""
    import numpy as np

    groups: dict[str, dict[int, list]] = {}
    for r in _models(records):
        if r.get("train_size") is not None and _finite(r["metrics"].get("perplexity")):
            by_size = groups.setdefault(r.get("entry_label", r["label"]), {})
            by_size.setdefault(r["data"]["train_tokens"], []).append(r["metrics"]["perplexity"])
    if not groups:
        return None
    fig, ax = plt.subplots(figsize=(10, 5.5))
    fig.subplots_adjust(left=0.08, right=0.72, top=0.92, bottom=0.11)
    for i, (label, by_size) in enumerate(groups.items()):
        xs = sorted(by_size)
        means = [np.mean(by_size[x]) for x in xs]
        sds = [np.std(by_size[x], ddof=1) if len(by_size[x]) > 1 else 0.0 for x in xs]
        ax.errorbar(xs, means, yerr=sds, marker="o", ms=4, capsize=2, color=_color(i, len(groups)),
                    label=label)
    oracle = next((r for r in records if r.get("label", "").startswith("oracle")), None)
    if oracle:
        ax.axhline(oracle["metrics"]["perplexity"], color="k", ls="--", label="oracle (generator): the floor")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training tokens (nested subsets, log scale)")
    ax.set_ylabel("test perplexity (log scale)")
    ax.set_title("Test perplexity against training data (mean ± sd over seeds)")
    _legend(ax, title="model")
    return fig


def _models(records):
    return [r for r in records if r.get("kind") == "model"]


def _by_label(records):
    groups: dict[str, list[dict]] = {}
    for r in _models(records):
        groups.setdefault(r["label"], []).append(r)
    return groups


def _color(i: int, n: int = 20):
    import matplotlib

    # Up to 10 lines: tab10's strong colours; more: tab20's 20 (whose pairs are light and dark).
    return matplotlib.colormaps["tab10"](i) if n <= 10 else matplotlib.colormaps["tab20"](i % 20)


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
    # Horizontal bars: model names read level, however many there are.
    y = np.arange(len(labels))
    ax.figure.subplots_adjust(left=0.22)
    ax.barh(y, means, xerr=sds, color="tab:blue", capsize=3)
    ax.set_yticks(y, labels)
    ax.invert_yaxis()   # the first model on top, as in the results table
    for k, (m, sd) in enumerate(zip(means, sds)):
        ax.annotate(f"{m:.1f}", (m + sd, k), xytext=(6, 0), textcoords="offset points", va="center",
                    fontsize=7)
    oracle = next((r for r in records if r.get("label", "").startswith("oracle")), None)
    if oracle:
        ax.axvline(oracle["metrics"]["perplexity"], color="tab:red", ls="--", label="oracle (generator)")
        _legend(ax)
    # Perplexity 1 (certainty) is the natural origin of a log axis: each bar's length is then the
    # model's cross-entropy, so the ratios of bar lengths are honest; nothing is cut off.
    ax.set_xscale("log")
    ax.set_xlim(1, max(m + s for m, s in zip(means, sds)) * 2)
    ax.set_xlabel("test perplexity (log scale from 1: bar length = cross-entropy)")
    ax.set_title("Perplexity per model (lower is better)")
    return True


def _legend(ax, **kw):
    """The legend outside the axes, right of them, so it never hides data."""
    return ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0, fontsize=7, **kw)


def _learning_curves(ax, records) -> bool:
    from matplotlib.lines import Line2D

    styles = {"train": "-", "valid": "--"}
    drawn_kinds: set[str] = set()
    handles = []
    runs = [r for r in _models(records) if any((r.get("curves") or {}).get(k) for k in styles)]
    for i, r in enumerate(runs):
        curves = r["curves"]
        color = _color(i)
        for name, style in styles.items():
            values = curves.get(name)
            if values:
                ax.plot(range(1, len(values) + 1), values, style, marker=".", color=color)
                drawn_kinds.add(name)
        handles.append(Line2D([], [], color=color, marker=".", label=f"{r['label']} (seed {r['seed']})"))
    if not runs:
        return False
    # The line-style key lists only the kinds of curve actually drawn.
    kinds = [k for k in styles if k in drawn_kinds]
    names = {"train": "train", "valid": "validation"}
    if len(kinds) > 1:
        handles += [Line2D([], [], color="k", ls=styles[k], label=names[k]) for k in kinds]
    _legend(ax, handles=handles)
    ax.set_xlabel("epoch (neural) / EM iteration (HMM)")
    ax.set_ylabel("NLL, nats per token")
    ax.set_title("Learning curves: " + " and ".join(
        f"{names[k]} ({'solid' if styles[k] == '-' else 'dashed'})" if len(kinds) > 1 else names[k]
        for k in kinds))
    return True


def _number(ax, k: int, x, y, color):
    """Model number k beside a point, in the model's colour."""
    ax.annotate(str(k), (x, y), xytext=(4, 3), textcoords="offset points", fontsize=7,
                color=color, fontweight="bold")


def _ppl_vs_time(ax, records) -> bool:
    groups = []
    for label, group in _by_label(records).items():
        pts = [(r["fit_seconds"], r["metrics"]["perplexity"]) for r in group
               if _finite(r["metrics"].get("perplexity")) and r.get("fit_seconds")]
        if pts:
            groups.append((label, pts))
    if not groups:
        return False
    for i, (label, pts) in enumerate(groups):
        color = _color(i)
        ax.scatter([t for t, _ in pts], [p for _, p in pts], color=color, label=f"{i + 1}  {label}")
        _number(ax, i + 1, *pts[0], color)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("training time (s, log scale)")
    ax.set_ylabel("test perplexity (log scale)")
    ax.set_title("Perplexity against training time (one point per seed)")
    _legend(ax, title="model")
    return True


def _quality_diversity(ax, records) -> bool:
    from matplotlib.lines import Line2D

    handles = []
    curves = [(label, (group[0]["metrics"].get("unconditional") or {}).get("sweep") or [])
              for label, group in _by_label(records).items()]
    curves = [(label, sweep) for label, sweep in curves if sweep]
    for i, (label, sweep) in enumerate(curves):
        color = _color(i)
        x = [p["self_bleu"] for p in sweep]
        y = [p["test_bleu"] for p in sweep]
        ax.plot(x, y, "-", marker=".", color=color)
        # The ends of the sweep by marker shape (not text), so that the direction reads without clutter.
        ax.scatter(x[:1], y[:1], marker="^", color=color, s=30)
        ax.scatter(x[-1:], y[-1:], marker="s", color=color, s=30)
        _number(ax, i + 1, x[0], y[0], color)
        handles.append(Line2D([], [], color=color, marker=".", label=f"{i + 1}  {label}"))
    if not curves:
        return False
    temps = [p["temperature"] for p in curves[0][1]]
    ends = [("^", f"first temperature (T={temps[0]:g})"), ("s", f"last temperature (T={temps[-1]:g})")]
    handles += [Line2D([], [], ls="", marker=m, color="gray", label=label) for m, label in ends[:len(temps)]]
    for prefix, marker, name in (("human", "*", "human text"), ("oracle", "P", "generator samples")):
        ref = next((r for r in records if r.get("label", "").startswith(prefix)), None)
        u = (ref or {}).get("metrics", {}).get("unconditional") or {}
        if "test_bleu4" in u:
            handles.append(ax.scatter([u["self_bleu4"]], [u["test_bleu4"]], marker=marker, s=120, color="k",
                                      label=name))
    ax.set_xlabel("Self-BLEU (lower = more diverse)")
    ax.set_ylabel("Test-BLEU (higher = closer to the test text)")
    ax.set_title("Quality against diversity over the temperature sweep (Texygen BLEU-4)")
    _legend(ax, handles=handles, title="model")
    return True
