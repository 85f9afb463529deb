"""Tests of recsys_utils.plots: each figure runs on small synthetic inputs, shows what it should
(labelled axes, legend entries, numbers on bars) and is legible at the book's page width.

Assertions are on the Matplotlib objects, never on images.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.collections import QuadMesh  # noqa: E402
from matplotlib.colors import to_hex  # noqa: E402
from matplotlib.text import Text  # noqa: E402

from recsys_utils import interpret as I  # noqa: E402
from recsys_utils import plots  # noqa: E402
from recsys_utils.data.genres import REPORT_GENRES  # noqa: E402
from recsys_utils.plots import style  # noqa: E402

#: Colours a figure may use for lines and bars: the palette, the reference black, the neutral grey.
ALLOWED_COLOURS = {c.lower() for c in style.CYCLE} | {style.REFERENCE.lower(), style.NOT_LIKE.lower()}


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def heatmap(ax: plt.Axes) -> QuadMesh:
    """The heatmap of ``ax``: drawn as vector cells (a QuadMesh), never an embedded bitmap."""
    assert not ax.get_images(), "heatmaps must not embed bitmaps (the SVG stays plain)"
    return next(c for c in ax.collections if isinstance(c, QuadMesh))


def _texts(fig: plt.Figure) -> list[Text]:
    """The visible, non-empty texts of a drawn figure."""
    fig.canvas.draw()
    return [
        t
        for t in fig.findobj(Text)
        if t.get_visible() and t.get_text().strip() and (t.axes is None or t.axes.get_visible())
    ]


def _strings(fig: plt.Figure) -> list[str]:
    return [t.get_text() for t in _texts(fig)]


def assert_legible(fig: plt.Figure) -> None:
    """Page-wide at most, every text at the body's size or larger, nothing drawn outside."""
    assert fig.get_figwidth() <= style.PAGE_WIDTH_IN + 1e-9
    for t in _texts(fig):
        assert t.get_fontsize() >= style.FONT_SIZE_PT, (t.get_text(), t.get_fontsize())
    drawn = fig.get_tightbbox(fig.canvas.get_renderer())  # inches
    tolerance = 0.02
    assert drawn.x0 >= -tolerance and drawn.y0 >= -tolerance, f"cut off: {drawn}"
    assert drawn.x1 <= fig.get_figwidth() + tolerance, f"cut off: {drawn}"
    assert drawn.y1 <= fig.get_figheight() + tolerance, f"cut off: {drawn}"


def assert_palette(fig: plt.Figure) -> None:
    """Lines and bars use the book's colours only."""
    for ax in fig.axes:
        for line in ax.get_lines():
            assert to_hex(line.get_color()).lower() in ALLOWED_COLOURS, line.get_color()
        for patch in ax.patches:
            if patch.get_fill():
                assert to_hex(patch.get_facecolor(), keep_alpha=False).lower() in ALLOWED_COLOURS


def _legend_labels(fig: plt.Figure) -> list[str]:
    legends = list(fig.legends) + [ax.get_legend() for ax in fig.axes if ax.get_legend()]
    return [t.get_text() for leg in legends for t in leg.get_texts()]


# --- data (chapter 1) ------------------------------------------------------------------------


@pytest.fixture
def ratings() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(1, 31), rng.integers(5, 60, size=30))
    return pd.DataFrame(
        {
            "user_id": users,
            "movie_id": rng.integers(1, 11, size=len(users)),
            "rating": rng.integers(1, 6, size=len(users)),
        }
    )


@pytest.fixture
def movies() -> pd.DataFrame:
    genres = [
        "Action|Comedy",
        "Drama",
        "Comedy",
        "Horror|Thriller",
        "Drama|Romance",
        "Action",
        "Sci-Fi|War",
        "Children's|Animation",
        "Western",
        "Documentary",
    ]
    return pd.DataFrame(
        {"movie_id": np.arange(1, 11), "title": [f"m{i}" for i in range(10)], "genres": genres}
    )


def test_like_share_by_genre_counts_a_movie_once_per_genre(movies):
    ratings = pd.DataFrame({"user_id": [1, 1, 2], "movie_id": [1, 2, 1], "rating": [5, 2, 3]})
    table = plots.like_share_by_genre(ratings, movies)
    assert list(table.index) == list(REPORT_GENRES)
    assert table.loc["Action", ["movies", "ratings", "likes"]].tolist() == [2, 2, 1]
    assert table.loc["Comedy", "like_share"] == pytest.approx(0.5)
    assert table.loc["Drama", "like_share"] == 0.0
    assert np.isnan(table.loc["Horror", "like_share"])


def test_ratings_per_user(ratings):
    fig = plots.ratings_per_user(ratings, mark_user=3, title="t")
    ax = fig.axes[0]
    assert "ratings per user" in ax.get_xlabel() and ax.get_xscale() == "log"
    assert ax.get_ylabel() == "users (count)"
    n3 = int((ratings["user_id"] == 3).sum())
    assert f"user 3: {n3} ratings" in _legend_labels(fig)
    assert sum(p.get_height() for p in ax.patches) == ratings["user_id"].nunique()
    assert_legible(fig)
    assert_palette(fig)


def test_rating_distribution_writes_the_shares_on_the_bars(ratings):
    fig = plots.rating_distribution(ratings)
    ax = fig.axes[0]
    assert len(ax.patches) == 5
    assert ax.get_xlabel() == "rating (stars)" and "%" in ax.get_ylabel()
    share = 100 * ratings["rating"].value_counts(normalize=True).sort_index()
    assert [t.get_text() for t in ax.texts] == [f"{v:.0f}%" for v in share]
    assert _legend_labels(fig) == ["not a like (< 4 stars)", "a like (>= 4 stars)"]
    liked = [p for p in ax.patches if to_hex(p.get_facecolor()).lower() == style.LIKE.lower()]
    assert len(liked) == 2
    assert_legible(fig)
    assert_palette(fig)


def test_ratings_per_genre(ratings, movies):
    table = plots.like_share_by_genre(ratings, movies)
    fig = plots.ratings_per_genre(table, title="Ratings per genre")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(REPORT_GENRES)
    assert len(ax.patches) == 2 * 18
    assert "ratings" in ax.get_xlabel()
    shares = [t.get_text() for t in ax.texts]
    assert f"{table.loc['Action', 'like_share']:.0%}" in shares
    assert _legend_labels(fig) == ["liked (rating >= 4)", "not liked"]
    assert_legible(fig)
    assert_palette(fig)


def test_plots_draw_on_a_given_axes(ratings):
    fig, (a, b) = plt.subplots(1, 2)
    assert plots.rating_distribution(ratings, ax=a) is fig
    assert plots.ratings_per_user(ratings, ax=b) is fig
    assert len(fig.axes) == 2


# --- training (chapters 2 and 3) -------------------------------------------------------------


def test_training_curves_with_a_baseline():
    histories = {
        "lstm": {"loss": [0.7, 0.6, 0.5], "accuracy": [0.5, 0.6, 0.7]},
        "modified-lstm": {"loss": [0.7, 0.65, 0.6], "accuracy": [0.5, 0.55, 0.6]},
    }
    fig = plots.training_curves(histories, baselines={"accuracy": (0.76, "always 'like'")}, title="user 1")
    loss, acc = fig.axes
    assert loss.get_xlabel() == acc.get_xlabel() == "epoch"
    assert "loss" in loss.get_ylabel() and "accuracy" in acc.get_ylabel()
    assert len(loss.get_lines()) == 2 and len(acc.get_lines()) == 3
    np.testing.assert_array_equal(loss.get_lines()[0].get_xdata(), [1, 2, 3])
    assert _legend_labels(fig) == ["lstm", "modified-lstm", "always 'like'"]
    assert_legible(fig)
    assert_palette(fig)


def test_curve_with_reference_marks_the_printed_values():
    fig = plots.curve_with_reference(
        [0.03, 0.02, 0.019], [0.027, 0.021], label="ours", ylabel="reconstruction MSE", logy=True
    )
    ax = fig.axes[0]
    ours, printed = ax.get_lines()
    assert printed.get_linestyle() == "None" and printed.get_marker() == "o"
    assert to_hex(printed.get_color()) == style.REFERENCE.lower()
    assert ax.get_yscale() == "log" and ax.get_ylabel() == "reconstruction MSE"
    assert _legend_labels(fig) == ["ours", "report (printed)"]
    assert_legible(fig)


def test_epoch_curves_number_epochs_from_the_first():
    fig = plots.epoch_curves(
        {"train": [3.0, 2.0], "test": [4.0, 3.5]},
        {"report, train": [2.9], "report, test": [4.1]},
        ylabel="MSE",
        first_epoch=0,
    )
    ax = fig.axes[0]
    assert [line.get_xdata()[0] for line in ax.get_lines()] == [0, 0, 0, 0]
    assert ax.get_xlabel() == "epoch (from 0)"
    assert [line.get_marker() for line in ax.get_lines()[2:]] == ["o", "x"]
    assert_legible(fig)


def test_accuracy_by_protocol_one_dot_per_seed():
    rows = [
        {"seed": seed, "model": model, "protocol": protocol, "accuracy": acc + 0.01 * seed, "majority": 0.85}
        for seed in range(3)
        for model, acc in (("lstm", 0.8), ("modified-lstm", 0.9))
        for protocol in ("report (all rows)", "held-out, random split")
    ]
    fig = plots.accuracy_by_protocol(pd.DataFrame(rows), title="User 1: one dot per seed")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["report (all rows)", "held-out, random split"]
    assert ax.get_ylabel() == "accuracy (%)"
    dots = [line for line in ax.get_lines() if line.get_marker() == "o"]
    assert sum(len(line.get_ydata()) for line in dots) == 12
    np.testing.assert_allclose(sorted(dots[0].get_ydata()), [80, 81, 82])
    assert _legend_labels(fig) == ["lstm", "modified-lstm", "majority baseline"]
    assert_legible(fig)
    assert_palette(fig)


def test_predicted_vs_actual():
    scores = pd.DataFrame(
        {
            "rating": [1, 4, 4, 5, 3, 4],
            "part": ["train"] * 4 + ["test"] * 2,
            "rbm (x5)": [2.0, 3.0, 3.2, 3.1, 2.5, 3.4],
            "autoencoder": [1.5, 3.9, 4.1, 4.5, 2.9, 3.6],
        }
    )
    fig = plots.predicted_vs_actual(scores, ["rbm (x5)", "autoencoder"])
    rbm, ae = fig.axes
    assert rbm.get_title() == "rbm (x5)" and ae.get_title() == "autoencoder"
    assert rbm.get_ylabel() == "predicted rating (stars)"
    assert rbm.get_xlabel() == "actual rating (stars)"
    train = rbm.get_lines()[0]
    # Two train rows rated 4: spread sideways within the star, in order of prediction.
    x, y = train.get_xdata(), train.get_ydata()
    fours = np.abs(x - 4) < 0.5
    assert fours.sum() == 2 and len(set(x[fours])) == 2
    np.testing.assert_allclose(sorted(y[fours]), [3.0, 3.2])
    assert _legend_labels(fig) == ["train rows", "test rows", "like threshold (3.5)"]
    assert_legible(fig)
    assert_palette(fig)


# --- population (chapters 5 and 6) -----------------------------------------------------------


def _means() -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(1)
    return {
        m: pd.DataFrame(rng.random((20, 3)), columns=["modified", "lstm", "majority"])
        for m in ("accuracy", "balanced_accuracy", "roc_auc")
    }


def test_metric_distributions():
    fig = plots.metric_distributions(_means(), labels={"modified": "modified LSTM"})
    visible = fig.axes
    assert len(visible) == 3  # the fourth slot of the 2 x 2 grid is left empty
    assert visible[2].get_xlabel() == "held-out ROC AUC (0-1)"
    assert all(ax.get_ylabel() == "users at or below (%)" for ax in visible)
    assert visible[0].get_lines()[0].get_ydata()[-1] == pytest.approx(100)
    assert _legend_labels(fig) == ["modified LSTM", "lstm", "majority"]
    assert_legible(fig)
    assert_palette(fig)


def test_paired_differences_gives_each_mean():
    fig = plots.paired_differences(
        {"a - b": np.array([0.1, -0.1, np.nan]), "a - c": np.array([0.2, 0.3, 0.1])}, xlabel="difference"
    )
    ax = fig.axes[0]
    assert _legend_labels(fig) == ["a - b (mean +0.000)", "a - c (mean +0.200)"]
    assert ax.get_xlabel() == "difference" and ax.get_ylabel() == "users (count)"
    assert_legible(fig)
    assert_palette(fig)


def test_difference_by_group_writes_the_differences():
    frame = pd.DataFrame(
        {"users": [4, 6], "mean_diff": [0.1, -0.05], "modified_wins": [0.75, 0.3], "lstm_wins": [0.25, 0.5]},
        index=pd.Index(["1-50", "51+"], name="n_ratings"),
    )
    fig = plots.difference_by_group(
        {"number of ratings": frame, "like rate": frame}, ylabel="accuracy: modified - LSTM"
    )
    assert len(fig.axes) == 4
    bars, wins = fig.axes[:2]
    assert [t.get_text() for t in bars.texts] == ["+0.100", "-0.050"]
    assert bars.get_xlabel() == wins.get_xlabel() == "number of ratings"
    assert bars.get_ylabel() == "accuracy: modified - LSTM" and wins.get_ylabel() == "users (%)"
    assert [t.get_text() for t in bars.get_xticklabels()] == ["1-50", "51+"]
    np.testing.assert_allclose(wins.get_lines()[0].get_ydata(), [75, 30])
    assert _legend_labels(fig) == ["users where modified wins", "users where lstm wins"]
    assert_legible(fig)
    assert_palette(fig)


def test_ranking_bars_write_each_value():
    summary = pd.DataFrame(
        {"precision": [0.2, 0.1], "precision_min": [0.1, 0.1], "precision_max": [0.3, 0.1]},
        index=["genre", "mf"],
    )
    fig = plots.ranking_bars(summary, ylabel="precision@10")
    ax = fig.axes[0]
    assert len(ax.patches) == 2 and ax.get_ylabel() == "precision@10"
    assert [t.get_text() for t in ax.texts] == ["0.200", "0.100"]
    assert _legend_labels(fig) == ["expected over tie orders", "worst to best tie order"]
    assert_legible(fig)
    assert_palette(fig)


def test_position_effect():
    effect = pd.DataFrame(
        {"modified": np.linspace(0.1, 0.01, 18), "lstm": np.full(18, 0.05)},
        index=pd.RangeIndex(1, 19, name="position"),
    )
    fig = plots.position_effect(effect)
    ax = fig.axes[0]
    assert len(ax.get_lines()) == 2 and "position" in ax.get_xlabel()
    assert _legend_labels(fig) == ["modified", "lstm"]
    assert_legible(fig)
    assert_palette(fig)


# --- interpretation (chapter 7) --------------------------------------------------------------


def _flags(n: int, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random((n, 18)) < 0.3).astype(np.float32)


def _occlusion() -> I.Occlusion:
    w = np.linspace(-1.0, 1.0, 18)
    return I.occlusion(lambda Z: 1.0 / (1.0 + np.exp(-(np.asarray(Z, float) @ w))), _flags(12))


def _weights(units: int = 4, seed: int = 0) -> I.CellWeights:
    rng = np.random.default_rng(seed)
    return I.CellWeights(
        embedding=rng.normal(size=(2, 3)),
        kernel=rng.normal(size=(3, 3 * units)),
        recurrent_kernel=rng.normal(size=(units, 3 * units)),
        bias=rng.normal(size=3 * units),
        dense_kernel=rng.normal(size=units),
        dense_bias=0.1,
        activation="sigmoid",
        recurrent_activation="tanh",
        output_activation="keras2_hard_sigmoid",
        variant="report",
    )


def test_plot_genre_attributions():
    occ = _occlusion()
    y = (np.arange(12) % 2).astype(np.float32)
    table = I.genre_attributions(occ, y)
    fig = plots.plot_genre_attributions(table, title="User 1")
    model, data = fig.axes
    assert model.get_title() == "model: removing the genre"
    assert data.get_title() == "data: like share vs all"
    assert "pp" in model.get_xlabel() and "pp" in data.get_xlabel()
    ticks = [t.get_text() for t in model.get_yticklabels()]
    assert ticks[0] == f"Action ({table.loc['Action', 'rows']})" and len(ticks) == 18
    widths = [p.get_width() for p in model.patches][::-1]  # drawn bottom-up
    np.testing.assert_allclose(sorted(widths), sorted(np.nan_to_num(100 * table["removal_mean"])))
    # Blue above zero, red below.
    for p in model.patches:
        colour = to_hex(p.get_facecolor(), keep_alpha=False)
        assert colour == (style.POSITIVE if p.get_width() >= 0 else style.NEGATIVE).lower()
    assert_legible(fig)


def test_plot_occlusion_heatmap():
    occ = _occlusion()
    fig = plots.plot_occlusion_heatmap(occ, title="rows x genres")
    ax, bar = fig.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == list(REPORT_GENRES)
    assert ax.get_ylabel() == "rated movie (row)"
    assert "pp" in bar.get_ylabel()
    image = heatmap(ax).get_array()
    assert image.shape == (12, 18) and image.mask[~occ.present].all()
    assert_legible(fig)


def test_plot_gate_heatmaps_share_one_scale():
    trace = I.trace_modified_lstm(_weights(), _flags(9))
    fig = plots.plot_gate_heatmaps(trace, title="gates")
    panels = [
        ax
        for ax in fig.axes
        if ax.get_label() != "<colorbar>" and any(isinstance(c, QuadMesh) for c in ax.collections)
    ]
    assert [ax.get_title() for ax in panels] == list(I.GATES.values())
    assert len({heatmap(ax).get_clim() for ax in panels}) == 1
    low, high = heatmap(panels[0]).get_clim()
    assert low == -high
    assert "position" in fig.get_supxlabel()
    assert sum(1 for ax in fig.axes if ax.get_ylabel() == "mean activation") == 1  # one colour bar
    assert_legible(fig)


def test_plot_memory_profile_and_decay():
    w = _weights()
    profile = I.memory_profile(w, _flags(6).astype(np.int64))
    fig = plots.plot_memory_profile(profile, title="memory")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == list(REPORT_GENRES)
    assert ax.get_xlabel() == "step t (genre read)"
    assert heatmap(ax).get_array().mask[np.tri(18, k=-1, dtype=bool)].all()
    assert_legible(fig)
    decay = I.decay_by_distance(profile)
    fig = plots.plot_decay_by_distance(decay)
    ax = fig.axes[0]
    assert ax.get_yscale() == "log" and "%" in ax.get_ylabel()
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), 100 * decay.to_numpy())
    assert_legible(fig)
    assert_palette(fig)


def test_plot_attribution_by_order():
    rows = []
    for order, genres in (("report order", REPORT_GENRES), ("reversed", REPORT_GENRES[::-1])):
        for user in (1, 2):
            for pos, genre in enumerate(genres):
                rows.append(
                    {
                        "user_id": user,
                        "order": order,
                        "genre": genre,
                        "position": pos + 1,
                        "mean_abs_effect": 0.01 * (pos + 1) * user,
                    }
                )
    table = pd.DataFrame(rows)
    fig = plots.plot_attribution_by_order(table, title="orders")
    by_position, by_genre = fig.axes
    assert "position" in by_position.get_xlabel() and "genre" in by_genre.get_xlabel()
    assert [t.get_text() for t in by_genre.get_xticklabels()] == list(REPORT_GENRES)
    # By position, both orders give the same curve (the effect here follows the position).
    a, b = by_position.get_lines()
    np.testing.assert_allclose(a.get_ydata(), b.get_ydata())
    np.testing.assert_allclose(a.get_ydata(), 0.015 * np.arange(1, 19))
    assert _legend_labels(fig) == ["report order", "reversed"]
    assert_legible(fig)
    assert_palette(fig)


def test_plot_cold_start():
    rows = []
    for user in (1, 2, 3):
        for k in (5, 10, 20):
            for model, acc in (("modified LSTM", 0.6), ("popularity", 0.65), ("fallback (N=10)", 0.62)):
                rows.append(
                    {
                        "user_id": user,
                        "k": k,
                        "model": model,
                        "accuracy": acc + 0.01 * user,
                        "roc_auc": 0.5 + 0.01 * k,
                    }
                )
    fig = plots.plot_cold_start(pd.DataFrame(rows), title="cold start")
    acc, auc = fig.axes
    assert acc.get_ylabel() == "held-out accuracy (0-1)"
    assert auc.get_ylabel() == "held-out ROC AUC (0-1)"
    assert [t.get_text() for t in acc.get_xticklabels()] == ["5", "10", "20"]
    lstm, _, fallback = acc.get_lines()
    np.testing.assert_allclose(lstm.get_ydata(), 0.62)
    assert fallback.get_linestyle() == "--"
    assert _legend_labels(fig) == ["modified LSTM", "popularity", "fallback (N=10)"]
    assert acc.get_xlabel() == auc.get_xlabel() == "k: user's ratings trained on"
    assert acc.get_xscale() == "log"
    assert_legible(fig)
    assert_palette(fig)


# --- style and tables ------------------------------------------------------------------------


def test_style_is_scoped_and_can_be_applied():
    before = plt.rcParams["font.size"]
    with style.book_style():
        assert plt.rcParams["font.size"] == style.FONT_SIZE_PT
        assert plt.rcParams["axes.prop_cycle"].by_key()["color"] == list(style.CYCLE)
    assert plt.rcParams["font.size"] == before
    with plt.rc_context():
        plots.apply_style()
        assert plt.rcParams["legend.fontsize"] == style.FONT_SIZE_PT


def test_rounded_removes_negative_zeros_and_keeps_ints():
    frame = pd.DataFrame({"n": [1, 2], "x": [-1e-9, 0.123456]})
    out = plots.rounded(frame, 2)
    assert out["n"].dtype == frame["n"].dtype
    assert str(out.loc[0, "x"]) == "0.0" and out.loc[1, "x"] == 0.12


def test_grouped_bars_labels_every_bar_and_leaves_gaps():
    from recsys_utils import plots

    values = pd.DataFrame({"report": [84.91, np.nan], "ours": [84.91, 15.09]}, index=["lstm", "rbm"])
    fig = plots.grouped_bars(values, ylabel="accuracy (%)", baseline=(84.91, "majority"))
    ax = fig.axes[0]
    labels = [t.get_text() for t in ax.texts]
    assert labels.count("84.9") == 2 and "15.1" in labels and len(ax.patches) == 4
    assert ax.get_ylabel() == "accuracy (%)"
    assert [t.get_text() for t in ax.get_xticklabels()] == ["lstm", "rbm"]
