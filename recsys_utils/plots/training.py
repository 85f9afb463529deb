"""Chapters 2 and 3's figures: training histories, next to what the report printed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from recsys_utils.plots.style import REFERENCE, book_style, legend_below, new_figure, single_axes

#: Axis labels (with units) of the usual history keys; other keys are shown as they are.
HISTORY_LABELS: dict[str, str] = {
    "loss": "loss (cross-entropy)",
    "val_loss": "validation loss (cross-entropy)",
    "accuracy": "accuracy (0-1)",
    "val_accuracy": "validation accuracy (0-1)",
}
#: Markers of the reference (printed) series, in order.
REFERENCE_MARKERS: tuple[str, ...] = ("o", "x", "s", "^")


def training_curves(
    histories: Mapping[str, Mapping[str, Sequence[float]]],
    keys: Sequence[str] = ("loss", "accuracy"),
    *,
    baselines: Mapping[str, tuple[float, str]] | None = None,
    title: str | None = None,
) -> plt.Figure:
    """One panel per key (e.g. loss, accuracy), side by side, one line per model, x = epoch.

    Args:
        histories: ``{model: {key: (n_epochs,) values}}`` (Keras' ``history.history``).
        keys: the panels; a model without a key is left out of that panel.
        baselines: ``{key: (value, label)}``: a dotted horizontal line in that key's panel
            (e.g. the accuracy of always predicting the majority label).
        title: the figure's title.

    Returns:
        The figure; one legend for the models under the panels.
    """
    baselines = baselines or {}
    with book_style():
        fig, axes = new_figure(1, len(keys))
        for ax, key in zip(axes[0], keys):
            for name, hist in histories.items():
                if key in hist:
                    values = np.asarray(hist[key])
                    ax.plot(np.arange(1, len(values) + 1), values, label=name)
            if key in baselines:
                value, label = baselines[key]
                ax.axhline(value, color=REFERENCE, ls=":", label=label)
            ax.set_xlabel("epoch")
            ax.set_ylabel(HISTORY_LABELS.get(key, key))
        handles, labels = {}, []
        for ax in axes[0]:
            for h, label in zip(*ax.get_legend_handles_labels()):
                if label not in handles:
                    handles[label] = h
                    labels.append(label)
        legend_below(fig, [handles[label] for label in labels], labels)
        if title:
            fig.suptitle(title)
    return fig


def epoch_curves(
    curves: Mapping[str, Sequence[float]],
    references: Mapping[str, Sequence[float]] | None = None,
    *,
    ylabel: str,
    first_epoch: int = 1,
    logy: bool = False,
    ax: plt.Axes | None = None,
    title: str | None = None,
) -> plt.Figure:
    """Per-epoch curves (lines) with the report's printed values (markers) where it printed
    them.

    Args:
        curves: ``{label: (n_epochs,) values}``, drawn as lines.
        references: ``{label: (m,) values}``, the printed values of the first ``m`` epochs,
            drawn as markers in black.
        ylabel: the quantity, with its unit.
        first_epoch: the number of the first epoch on the axis (the report prints some logs
            from epoch 0).
        logy: a log-scaled y axis.
    """
    with book_style():
        ax = single_axes(ax)
        for label, values in curves.items():
            values = np.asarray(values, dtype=float)
            ax.plot(first_epoch + np.arange(len(values)), values, label=label)
        for marker, (label, values) in zip(REFERENCE_MARKERS, (references or {}).items()):
            values = np.asarray(values, dtype=float)
            ax.plot(first_epoch + np.arange(len(values)), values, marker, color=REFERENCE, label=label)
        if logy:
            ax.set_yscale("log")
        ax.set_xlabel("epoch" if first_epoch == 1 else f"epoch (from {first_epoch})")
        ax.set_ylabel(ylabel)
        ax.legend()
        if title:
            ax.set_title(title)
    return ax.figure


def curve_with_reference(
    values: Sequence[float],
    reference: Sequence[float] | None = None,
    *,
    label: str,
    reference_label: str = "report (printed)",
    ylabel: str = "",
    ax: plt.Axes | None = None,
    logy: bool = False,
    title: str | None = None,
) -> plt.Figure:
    """One per-epoch curve, with the report's printed values as markers where it printed them
    (:func:`epoch_curves` with one curve)."""
    references = {reference_label: reference} if reference is not None else None
    return epoch_curves({label: values}, references, ylabel=ylabel, logy=logy, ax=ax, title=title)
