"""The book's figures, one module per part of the book, all in one style (:mod:`.style`).

Each plotting function takes the data it draws (it only aggregates: counts, means, standard
errors) and returns the Matplotlib Figure; the single-panel ones can draw on a given ``ax``
instead. Figures are page-wide, their text at the body's size, in the colour-blind-safe
Okabe-Ito palette.

- :mod:`.data`: chapter 1 (ratings per user, per star, per genre);
- :mod:`.training`: chapters 2 and 3 (training histories beside the report's printed logs);
- :mod:`.classifiers`: chapters 2 and 3 (one user's accuracy per protocol and seed; predicted
  against actual ratings);
- :mod:`.population`: chapters 5 and 6 (distributions over users, paired differences,
  rankings, position effects);
- :mod:`.interpret`: chapter 7 (occlusion, gates, memory, cold start);
- :mod:`.tables`: tables as printed.
"""

from recsys_utils.plots.classifiers import accuracy_by_protocol, grouped_bars, predicted_vs_actual
from recsys_utils.plots.data import (
    like_share_by_genre,
    rating_distribution,
    ratings_per_genre,
    ratings_per_user,
)
from recsys_utils.plots.interpret import (
    plot_attribution_by_order,
    plot_cold_start,
    plot_decay_by_distance,
    plot_gate_heatmaps,
    plot_genre_attributions,
    plot_memory_profile,
    plot_occlusion_heatmap,
)
from recsys_utils.plots.population import (
    difference_by_group,
    metric_distributions,
    paired_differences,
    position_effect,
    ranking_bars,
)
from recsys_utils.plots.style import apply as apply_style
from recsys_utils.plots.tables import rounded
from recsys_utils.plots.training import curve_with_reference, epoch_curves, training_curves

__all__ = [
    "accuracy_by_protocol",
    "apply_style",
    "grouped_bars",
    "predicted_vs_actual",
    "curve_with_reference",
    "difference_by_group",
    "epoch_curves",
    "like_share_by_genre",
    "metric_distributions",
    "paired_differences",
    "plot_attribution_by_order",
    "plot_cold_start",
    "plot_decay_by_distance",
    "plot_gate_heatmaps",
    "plot_genre_attributions",
    "plot_memory_profile",
    "plot_occlusion_heatmap",
    "position_effect",
    "ranking_bars",
    "rating_distribution",
    "ratings_per_genre",
    "ratings_per_user",
    "rounded",
    "training_curves",
]
