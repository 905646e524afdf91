"""The benchmark plots: written for 1, 5 and 15 models, legends only for what is drawn."""

import matplotlib
import pytest

from langmodels.bench import plots

matplotlib.use("Agg")

PLOTS = ["perplexity.png", "learning_curves.png", "ppl_vs_time.png", "quality_diversity.png"]


def fake_records(n_models, with_valid=True):
    """An oracle and a human reference row, then n_models model rows with every field a plot reads."""
    records = [{"kind": "reference", "label": "oracle (generator)", "seed": 0,
                "metrics": {"perplexity": 30.0, "unconditional": {"test_bleu4": 0.4, "self_bleu4": 0.4}}},
               {"kind": "reference", "label": "human (test text)", "seed": 0,
                "metrics": {"unconditional": {"test_bleu4": 0.45, "self_bleu4": 0.35}}}]
    for i in range(n_models):
        curves = {"train": [5.0 - i / 10, 4.5 - i / 10]}
        if with_valid:
            curves["valid"] = [5.2 - i / 10, 4.8 - i / 10]
        sweep = [{"temperature": t, "self_bleu": 0.2 + i / 100 + t / 10, "test_bleu": 0.3 - t / 10}
                 for t in (0.7, 1.0, 1.3)]
        records.append({"kind": "model", "label": f"model-{i}", "seed": 0, "fit_seconds": 1.0 + i,
                        "metrics": {"perplexity": 40.0 + i, "unconditional": {"sweep": sweep}},
                        "curves": curves})
    return records


@pytest.mark.parametrize("n_models", [1, 5, 15])
def test_every_plot_is_written(tmp_path, n_models):
    written = plots.write_plots(fake_records(n_models), tmp_path)
    assert sorted(p.name for p in written) == sorted(PLOTS)
    for p in written:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def draw(function, records):
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    try:
        assert function(ax, records)
        legend = ax.get_legend()
        return ax, [t.get_text() for t in legend.get_texts()] if legend else []
    finally:
        plt.close(fig)


def test_learning_curve_legend_lists_only_the_curves_drawn():
    _, entries = draw(plots._learning_curves, fake_records(2, with_valid=False))
    assert entries == ["model-0 (seed 0)", "model-1 (seed 0)"]
    ax, entries = draw(plots._learning_curves, fake_records(2, with_valid=True))
    assert entries == ["model-0 (seed 0)", "model-1 (seed 0)", "train", "validation"]
    assert ax.get_title() == "Learning curves: train (solid) and validation (dashed)"


def test_learning_curves_title_promises_no_validation_curve_that_is_not_there():
    ax, _ = draw(plots._learning_curves, fake_records(3, with_valid=False))
    assert ax.get_title() == "Learning curves: train"


def test_points_are_numbered_and_the_legend_names_the_numbers():
    ax, entries = draw(plots._ppl_vs_time, fake_records(15))
    assert entries == [f"{i + 1}  model-{i}" for i in range(15)]
    assert sorted(int(t.get_text()) for t in ax.texts) == list(range(1, 16))
    ax, entries = draw(plots._quality_diversity, fake_records(15))
    assert entries[:15] == [f"{i + 1}  model-{i}" for i in range(15)]
    assert entries[15:] == ["first temperature (T=0.7)", "last temperature (T=1.3)", "human text",
                            "generator samples"]
    assert all(t.get_text().isdigit() for t in ax.texts)   # no "T=..." labels crowding the curves


def test_perplexity_axis_starts_at_1_and_is_not_truncated():
    ax, entries = draw(plots._perplexity, fake_records(5))
    assert ax.get_xscale() == "log"
    assert ax.get_xlim()[0] == 1.0 and ax.get_xlim()[1] > 44.0
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"model-{i}" for i in range(5)]
    assert entries == ["oracle (generator)"]
