"""Looking inside the per-user recommender, and testing the report's own observations.

Five tools, one per question of chapter 7:

1. **Which genres push a user's score up or down** (report 6.2: recommendations are hard to
   interpret). :func:`occlusion` switches each genre flag of each row off (or on) and records
   the change in the predicted like probability; :func:`genre_attributions` aggregates it per
   genre next to the user's actual like share per genre.
2. **What the cell does along the 18 positions.** :func:`trace_modified_lstm` re-runs a trained
   model's embedding and forget-gate-free cell in NumPy, step by step, and returns every gate
   (``i_t``, ``C~_t``, ``C_t``, ``o_t``, ``h_t``); :func:`memory_profile` measures how long the
   effect of one flag survives along the sequence when ``f_t = 0``.
3. **Genre or position?** :func:`attribution_by_order` trains each user's model with the genres
   in several orders and measures the occlusion effects per genre and per position.
4. **New users with few ratings** (report 6.1: the recommender cannot serve a new user).
   :func:`cold_start_experiment` trains the recommender on ``k`` ratings per user and scores a
   fixed held-out set, next to the popularity and majority baselines; :func:`apply_fallback`
   adds the rule "popularity until the user has ``N`` ratings".
5. **Updating a trained model with new ratings** (report 4.1: a recurrent model can be updated
   easily). :func:`update_classifier` continues fitting a trained Keras model on newly arrived
   rows; :func:`update_experiment` compares that with retraining from scratch.

Per-user models are trained either with Keras
(:class:`recsys_utils.models.sequence.SequenceClassifier`, ``trainer="keras"``) or with the
compiled batched trainer of :mod:`recsys_utils.batched` (``trainer="batched"``: the same network
and training procedure, many users at once, fast enough for the report's 100 epochs on samples
of users).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from recsys_utils.evaluation import accuracy, balanced_accuracy, majority_label, roc_auc
from recsys_utils.features import UserDataset, user_datasets
from recsys_utils.genres import REPORT_GENRES

if TYPE_CHECKING:  # pragma: no cover
    import keras
    import matplotlib.pyplot as plt

    from recsys_utils.batched import BatchedResult
    from recsys_utils.data import MovieLens
    from recsys_utils.models.sequence import SequenceClassifier

Trainer = Literal["keras", "batched"]
#: The trainers of :func:`train_user_models`.
TRAINERS: tuple[str, ...] = ("keras", "batched")
#: The gates a :class:`GateTrace` holds, with the names used in tables and figures.
GATES: dict[str, str] = {"i": "input gate i_t", "c_candidate": "candidate C~_t",
                         "c": "cell state C_t", "o": "output gate o_t", "h": "output h_t"}


# ---------------------------------------------------------------------------------------------
# 1. Occlusion: which genres push a score up or down
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Occlusion:
    """Predicted like probabilities of rows and of their one-flag-flipped copies.

    Attributes:
        X: ``(n, d)`` the rows' 0/1 genre flags.
        base: ``(n,)`` the probability of each row as it is.
        flipped: ``(n, d)`` the probability of row ``r`` with flag ``j`` flipped (1 -> 0 where
            the movie has genre ``j``, 0 -> 1 where it does not).
        attributes: the genre of each of the ``d`` columns.
    """

    X: np.ndarray
    base: np.ndarray
    flipped: np.ndarray
    attributes: tuple[str, ...]

    @property
    def present(self) -> np.ndarray:
        """``(n, d)`` bool: whether row ``r`` has genre ``j``."""
        return self.X.astype(bool)

    @property
    def effect(self) -> np.ndarray:
        """``(n, d)`` p(row with genre j) - p(row without genre j), whichever the row has."""
        sign = np.where(self.present, 1.0, -1.0)
        return sign * (self.base[:, None] - self.flipped)

    @property
    def removal(self) -> np.ndarray:
        """``(n, d)`` p(row) - p(row with genre j switched off); ``nan`` where the row lacks j.

        Positive: having the genre raises this movie's score (the genre pushes it up).
        """
        return np.where(self.present, self.base[:, None] - self.flipped, np.nan)

    @property
    def addition(self) -> np.ndarray:
        """``(n, d)`` p(row with genre j switched on) - p(row); ``nan`` where the row has j."""
        return np.where(self.present, np.nan, self.flipped - self.base[:, None])


def occlusion(predict: Callable[[np.ndarray], np.ndarray], X: np.ndarray,
              attributes: Sequence[str] = REPORT_GENRES) -> Occlusion:
    """Occlusion attributions of a like classifier over genre flags.

    Args:
        predict: maps ``(m, d)`` float32 0/1 rows to ``(m,)`` like probabilities (e.g.
            ``SequenceClassifier.predict_proba``); called once, on ``n * (d + 1)`` rows.
        X: ``(n, d)`` the rows to explain (0/1).
        attributes: the ``d`` genre names.

    Returns:
        An :class:`Occlusion`.
    """
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 2 or X.shape[1] != len(attributes):
        raise ValueError(f"X must be (n, {len(attributes)}), got {X.shape}")
    if X.size and not np.isin(X, (0.0, 1.0)).all():
        raise ValueError("X must hold 0/1 flags")
    n, d = X.shape
    copies = np.repeat(X[:, None, :], d, axis=1)  # (n, d, d): copy j of row r flips flag j
    idx = np.arange(d)
    copies[:, idx, idx] = 1.0 - copies[:, idx, idx]
    batch = np.concatenate([X, copies.reshape(n * d, d)], axis=0)
    p = np.asarray(predict(batch), dtype=np.float64).reshape(-1)
    if p.shape != (n * (d + 1),):
        raise ValueError(f"predict returned {p.shape}, expected ({n * (d + 1)},)")
    return Occlusion(X, p[:n], p[n:].reshape(n, d), tuple(attributes))


def genre_attributions(occ: Occlusion, y: np.ndarray) -> pd.DataFrame:
    """Per genre: the model's mean occlusion effects next to the user's actual like shares.

    Args:
        occ: the occlusion of a user's rows.
        y: ``(n,)`` the user's 0/1 like labels of the same rows.

    Returns:
        One row per genre (attribute order): ``rows`` (rows with the genre), ``like_share``
        (share of likes among them; ``nan`` when none), ``like_share_vs_all`` (that minus the
        user's overall like share), ``removal_mean`` (mean over rows with the genre of
        p(row) - p(row without it)), ``addition_mean`` (mean over rows without it of
        p(row with it) - p(row)) and ``effect_mean`` (mean over all rows of p(with) - p(without)).
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    if y.shape[0] != occ.X.shape[0]:
        raise ValueError(f"{occ.X.shape[0]} rows but {y.shape[0]} labels")
    present = occ.present
    rows = present.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        like_share = (present * y[:, None]).sum(axis=0) / np.where(rows > 0, rows, np.nan)
    removal, addition = occ.removal, occ.addition
    table = pd.DataFrame({
        "rows": rows.astype(int),
        "like_share": like_share,
        "like_share_vs_all": like_share - y.mean(),
        "removal_mean": _nanmean(removal),
        "addition_mean": _nanmean(addition),
        "effect_mean": occ.effect.mean(axis=0),
    }, index=pd.Index(occ.attributes, name="genre"))
    return table


def _nanmean(a: np.ndarray) -> np.ndarray:
    """Column means ignoring ``nan``; ``nan`` for an all-``nan`` column, without a warning."""
    counts = np.sum(~np.isnan(a), axis=0)
    sums = np.nansum(a, axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def attribution_agreement(table: pd.DataFrame, *, min_rows: int = 3,
                          column: str = "removal_mean") -> dict[str, float | int]:
    """Does the model push up the genres the user actually likes more often?

    Spearman's rank correlation, over the genres with at least ``min_rows`` rows, between
    ``column`` of :func:`genre_attributions` and ``like_share_vs_all``.

    Returns:
        ``{"genres": how many genres, "spearman": rho (nan with fewer than 3 genres or a
        constant column)}``.
    """
    from scipy.stats import spearmanr

    sub = table[table["rows"] >= min_rows]
    a, b = sub[column].to_numpy(float), sub["like_share_vs_all"].to_numpy(float)
    if len(sub) < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return {"genres": int(len(sub)), "spearman": math.nan}
    return {"genres": int(len(sub)), "spearman": float(spearmanr(a, b).statistic)}


def plot_genre_attributions(table: pd.DataFrame, ax: "plt.Axes | None" = None,
                            title: str | None = None) -> "plt.Axes":
    """Bar chart per genre: the mean removal effect (bars) and the like share vs all (dots).

    Genres the user never rated get no bar. Two y axes: probability change (left) and the
    difference of like shares (right), both centred on zero.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3.6), layout="constrained")
    x = np.arange(len(table))
    eff = table["removal_mean"].to_numpy(float)
    colors = np.where(eff >= 0, "tab:green", "tab:red")
    ax.bar(x, np.nan_to_num(eff), color=colors, alpha=0.8,
           label="model: mean p(row) - p(row without the genre)")
    ax.axhline(0, color="black", lw=0.6)
    lim = np.nanmax(np.abs(eff)) if np.isfinite(eff).any() else 1.0
    ax.set_ylim(-1.15 * lim - 1e-12, 1.15 * lim + 1e-12)
    ax.set_ylabel("change in like probability")
    ax.set_xticks(x, [f"{g} ({n})" for g, n in zip(table.index, table["rows"])], rotation=60,
                  ha="right")
    ax2 = ax.twinx()
    share = table["like_share_vs_all"].to_numpy(float)
    ax2.plot(x, share, "o", color="black", ms=4, label="data: like share of the genre - overall")
    lim2 = np.nanmax(np.abs(share)) if np.isfinite(share).any() else 1.0
    ax2.set_ylim(-1.15 * lim2 - 1e-12, 1.15 * lim2 + 1e-12)
    ax2.set_ylabel("like share difference")
    handles = ax.get_legend_handles_labels()[0] + ax2.get_legend_handles_labels()[0]
    labels = ax.get_legend_handles_labels()[1] + ax2.get_legend_handles_labels()[1]
    ax.legend(handles, labels, loc="lower left", fontsize=8)
    if title:
        ax.set_title(title)
    return ax


def plot_occlusion_heatmap(occ: Occlusion, ax: "plt.Axes | None" = None,
                           title: str | None = None) -> "plt.Axes":
    """Heatmap rows x genres of the removal effect (blank where the movie lacks the genre)."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.12 * len(occ.base) + 2), layout="constrained")
    values = occ.removal
    lim = np.nanmax(np.abs(values)) if np.isfinite(values).any() else 1.0
    im = ax.imshow(np.ma.masked_invalid(values), aspect="auto", cmap="RdBu",
                   vmin=-lim, vmax=lim, interpolation="nearest")
    ax.set_xticks(np.arange(len(occ.attributes)), occ.attributes, rotation=60, ha="right")
    ax.set_ylabel("rated movie (row)")
    ax.figure.colorbar(im, ax=ax, label="p(row) - p(row without the genre)")
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# 2. The cell, step by step, in NumPy
# ---------------------------------------------------------------------------------------------

_NP_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
    "tanh": np.tanh,
    "hard_sigmoid": lambda x: np.clip(x / 6.0 + 0.5, 0.0, 1.0),  # Keras 3's
    "keras2_hard_sigmoid": lambda x: np.clip(0.2 * x + 0.5, 0.0, 1.0),
    "relu": lambda x: np.maximum(x, 0.0),
    "linear": lambda x: x,
}


def _np_activation(fn: Any) -> Callable[[np.ndarray], np.ndarray]:
    """The NumPy twin of a Keras activation (by its function name)."""
    name = fn if isinstance(fn, str) else getattr(fn, "__name__", str(fn))
    if name not in _NP_ACTIVATIONS:
        raise ValueError(f"no NumPy version of activation {name!r}; "
                         f"known: {sorted(_NP_ACTIVATIONS)}")
    return _NP_ACTIVATIONS[name]


@dataclass(frozen=True)
class CellWeights:
    """The weights of a modified-LSTM recommender, as NumPy arrays (float64).

    Attributes:
        embedding: ``(vocab, e)``.
        kernel: ``(e, 3u)``, gates i, C~, o.
        recurrent_kernel: ``(u, 3u)``.
        bias: ``(3u,)``.
        dense_kernel: ``(u,)``, dense_bias: ``()``: the output unit.
        activation, recurrent_activation, output_activation: the activations' names.
        variant: ``"report"`` (f_t = 0) or ``"nfg"`` (f_t = 1).
    """

    embedding: np.ndarray
    kernel: np.ndarray
    recurrent_kernel: np.ndarray
    bias: np.ndarray
    dense_kernel: np.ndarray
    dense_bias: float
    activation: str
    recurrent_activation: str
    output_activation: str
    variant: str

    @property
    def units(self) -> int:
        return int(self.recurrent_kernel.shape[0])


def _act_name(fn: Any) -> str:
    return fn if isinstance(fn, str) else getattr(fn, "__name__", str(fn))


def cell_weights(model: "keras.Model | SequenceClassifier | CellWeights") -> CellWeights:
    """Read the embedding, ModifiedLSTM and output weights of a modified-LSTM recommender.

    ``model``: a Keras model (or a :class:`SequenceClassifier`) built by
    :func:`recsys_utils.models.sequence.build_modified_lstm_recommender` (any variant); a
    :class:`CellWeights` is returned as it is.
    """
    if isinstance(model, CellWeights):
        return model
    import keras

    from recsys_utils.cells import ModifiedLSTM

    model = getattr(model, "model", model)
    emb = [layer for layer in model.layers if isinstance(layer, keras.layers.Embedding)]
    rnn = [layer for layer in model.layers if isinstance(layer, ModifiedLSTM)]
    dense = [layer for layer in model.layers if isinstance(layer, keras.layers.Dense)]
    if len(emb) != 1 or len(rnn) != 1 or len(dense) != 1:
        raise ValueError("expected one Embedding, one ModifiedLSTM and one Dense layer, got "
                         f"{[type(layer).__name__ for layer in model.layers]}")
    cell = rnn[0].cell
    f64 = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
    u = cell.units
    bias = f64(cell.bias) if cell.use_bias else np.zeros(3 * u)
    d_kernel, d_bias = dense[0].get_weights()
    return CellWeights(
        embedding=f64(emb[0].embeddings), kernel=f64(cell.kernel),
        recurrent_kernel=f64(cell.recurrent_kernel), bias=bias,
        dense_kernel=f64(d_kernel).reshape(-1), dense_bias=float(np.asarray(d_bias).reshape(-1)[0]),
        activation=_act_name(cell.activation),
        recurrent_activation=_act_name(cell.recurrent_activation),
        output_activation=_act_name(dense[0].activation), variant=cell.variant)


def batched_cell_weights(result: "BatchedResult", user_id: int) -> CellWeights:
    """One user's weights from :func:`recsys_utils.batched.train_users` (cells ``"modified"``
    and ``"nfg"``), as :class:`CellWeights` (embedding rows 0 and 1 only)."""
    cell = result.layout.cell
    if cell not in ("modified", "nfg"):
        raise ValueError(f"not a forget-gate-free cell: {cell!r}")
    w = result.user_weights(user_id)
    cfg = result.config
    f64 = lambda v: np.asarray(v, dtype=np.float64)  # noqa: E731
    return CellWeights(
        embedding=f64(w["embedding"]), kernel=f64(w["kernel"]),
        recurrent_kernel=f64(w["recurrent_kernel"]), bias=f64(w["bias"]),
        dense_kernel=f64(w["dense_kernel"]).reshape(-1), dense_bias=float(w["dense_bias"][0]),
        activation=cfg.get("activation", "sigmoid"),
        recurrent_activation=cfg.get("recurrent_activation", "tanh"),
        output_activation=cfg.get("output_activation", "keras2_hard_sigmoid"),
        variant="report" if cell == "modified" else "nfg")


@dataclass(frozen=True)
class GateTrace:
    """Every gate of the cell at every position, for a batch of rows.

    Attributes:
        X: ``(n, T)`` the 0/1 flags read (position t = attribute t).
        i, c_candidate, c, o, h: ``(n, T, units)``: input gate, candidate, cell state, output
            gate and output at each step (the forget gate is 0 for ``variant="report"``).
        probability: ``(n,)`` the model's like probability (dropout off).
        attributes: the genre read at each position.
    """

    X: np.ndarray
    i: np.ndarray
    c_candidate: np.ndarray
    c: np.ndarray
    o: np.ndarray
    h: np.ndarray
    probability: np.ndarray
    attributes: tuple[str, ...]

    def gate(self, name: str) -> np.ndarray:
        """One of :data:`GATES` by name, ``(n, T, units)``."""
        if name not in GATES:
            raise KeyError(f"unknown gate {name!r}; choose one of {list(GATES)}")
        return getattr(self, name)

    def mean_by_position(self, name: str) -> np.ndarray:
        """``(units, T)`` the gate's mean over rows at each position."""
        return self.gate(name).mean(axis=0).T

    def summary(self) -> pd.DataFrame:
        """Per gate: min, mean, max over rows, positions and units, and the share below 0."""
        rows = []
        for name, label in GATES.items():
            g = self.gate(name)
            rows.append({"gate": label, "min": g.min(), "mean": g.mean(), "max": g.max(),
                         "share < 0": float(np.mean(g < 0))})
        return pd.DataFrame(rows).set_index("gate")


def trace_modified_lstm(model: "keras.Model | SequenceClassifier | CellWeights", X: np.ndarray,
                        attributes: Sequence[str] = REPORT_GENRES) -> GateTrace:
    """Run a trained modified-LSTM recommender in NumPy, step by step, keeping every gate.

    Inference mode (no dropout), zero initial states, as Keras' layer::

        e_t  = E[x_t]                                 (n, e)
        z    = e_t W + h_{t-1} U + b = [z_i | z_c | z_o]
        i_t  = ract(z_i),  C~_t = act(z_c),  o_t = ract(z_o)
        C_t  = i_t * C~_t           (variant "report": f_t = 0)
             = C_{t-1} + i_t * C~_t  (variant "nfg": f_t = 1)
        h_t  = o_t * act(C_t)
        p    = out(h_T w + b_out)

    Args:
        model: a modified-LSTM recommender (Keras model, :class:`SequenceClassifier`, or its
            weights read by :func:`cell_weights` / :func:`batched_cell_weights`).
        X: ``(n, T)`` 0/1 flags.
        attributes: the genre of each position.

    Returns:
        A :class:`GateTrace` (float64 arrays).
    """
    w = cell_weights(model)
    X = np.asarray(X)
    idx = X.astype(np.int64)
    if X.ndim != 2 or not np.array_equal(idx, X):
        raise ValueError(f"X must be (n, T) integer-valued flags, got shape {X.shape}")
    act, ract = _np_activation(w.activation), _np_activation(w.recurrent_activation)
    out = _np_activation(w.output_activation)
    n, T = X.shape
    u = w.units
    zx = w.embedding[idx] @ w.kernel + w.bias  # (n, T, 3u): the input part of every step
    h, c = np.zeros((n, u)), np.zeros((n, u))
    gates = {name: np.empty((n, T, u)) for name in GATES}
    for t in range(T):
        z = zx[:, t] + h @ w.recurrent_kernel
        i, cand, o = ract(z[:, :u]), act(z[:, u:2 * u]), ract(z[:, 2 * u:])
        c = i * cand if w.variant == "report" else c + i * cand
        h = o * act(c)
        for name, value in (("i", i), ("c_candidate", cand), ("c", c), ("o", o), ("h", h)):
            gates[name][:, t] = value
    p = out(h @ w.dense_kernel + w.dense_bias)
    return GateTrace(X=idx, probability=p, attributes=tuple(attributes), **gates)


def memory_profile(model: "keras.Model | SequenceClassifier | CellWeights",
                   X: np.ndarray) -> np.ndarray:
    """How far along the sequence the effect of one flag travels.

    For each position ``s`` the flag at ``s`` of every row is flipped and the cell re-run:
    ``out[s, t]`` is the mean over rows and units of ``|h_t(flipped) - h_t|``, zero for
    ``t < s`` (a flag cannot act before it is read). With ``f_t = 0`` the cell state does not
    carry over, so the effect reaches step ``t > s`` only through ``h_{t-1}`` and the gates.

    Args:
        model: a modified-LSTM recommender (as :func:`trace_modified_lstm` takes it).
        X: ``(n, T)`` 0/1 flags.

    Returns:
        ``(T, T)`` float64, rows = flipped position ``s``, columns = step ``t``.
    """
    w = cell_weights(model)
    X = np.asarray(X).astype(np.int64)
    base = trace_modified_lstm(w, X, attributes=[""] * X.shape[1]).h
    T = X.shape[1]
    out = np.zeros((T, T))
    for s in range(T):
        Xs = X.copy()
        Xs[:, s] = 1 - Xs[:, s]
        h = trace_modified_lstm(w, Xs, attributes=[""] * T).h
        out[s] = np.abs(h - base).mean(axis=(0, 2))
    return out


def decay_by_distance(profile: np.ndarray) -> pd.Series:
    """Mean over ``s`` of ``profile[s, s + d] / profile[s, s]`` for each distance ``d``.

    The share of a flag's immediate effect on ``h`` that is left ``d`` steps later
    (1 at ``d = 0``); positions where the flag has no immediate effect are skipped.
    """
    T = profile.shape[0]
    out = {}
    for d in range(T):
        ratios = [profile[s, s + d] / profile[s, s] for s in range(T - d) if profile[s, s] > 0]
        out[d] = float(np.mean(ratios)) if ratios else math.nan
    return pd.Series(out, name="share of the effect left").rename_axis("steps later")


def plot_gate_heatmaps(trace: GateTrace, names: Sequence[str] = tuple(GATES),
                       title: str | None = None) -> "plt.Figure":
    """One heatmap per gate: mean activation over rows, units (rows) x positions (columns)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(names), figsize=(3.1 * len(names), 3.6),
                             layout="constrained", sharey=True)
    axes = np.atleast_1d(axes)
    T = trace.X.shape[1]
    for ax, name in zip(axes, names):
        m = trace.mean_by_position(name)
        lim = max(float(np.abs(m).max()), 1e-12)
        signed = float(m.min()) < 0
        im = ax.imshow(m, aspect="auto", interpolation="nearest",
                       cmap="RdBu_r" if signed else "viridis",
                       vmin=-lim if signed else 0.0, vmax=lim)
        ax.set_title(GATES[name], fontsize=9)
        ax.set_xticks(np.arange(T), [a[:5] for a in trace.attributes], rotation=90, fontsize=6)
        fig.colorbar(im, ax=ax, shrink=0.8)
    axes[0].set_ylabel("unit")
    if title:
        fig.suptitle(title)
    return fig


def plot_memory_profile(profile: np.ndarray, attributes: Sequence[str] = REPORT_GENRES,
                        ax: "plt.Axes | None" = None, title: str | None = None) -> "plt.Axes":
    """Heatmap: flipped position (rows) x step (columns) of the mean ``|change of h_t|``."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(5.6, 4.6), layout="constrained")
    T = profile.shape[0]
    masked = np.ma.masked_where(np.tri(T, k=-1, dtype=bool), profile)
    im = ax.imshow(masked, cmap="magma_r", interpolation="nearest", aspect="auto")
    ax.set_xticks(np.arange(T), [a[:5] for a in attributes], rotation=90, fontsize=7)
    ax.set_yticks(np.arange(T), attributes, fontsize=7)
    ax.set_xlabel("step t (attribute read)")
    ax.set_ylabel("flag flipped at position s")
    ax.figure.colorbar(im, ax=ax, label="mean |h_t(flipped) - h_t|")
    if title:
        ax.set_title(title)
    return ax


# ---------------------------------------------------------------------------------------------
# Per-user models, trained with Keras or the batched trainer
# ---------------------------------------------------------------------------------------------


@dataclass
class UserModels:
    """One trained modified-LSTM recommender per user, whichever trainer trained them.

    Attributes:
        trainer: ``"keras"`` or ``"batched"``.
        user_ids: ``(n_users,)``.
        classifiers: with ``"keras"``, one :class:`SequenceClassifier` per user.
        batched: with ``"batched"``, the :class:`recsys_utils.batched.BatchedResult`.
        fit_time_s: wall time of the training (all users), in seconds.
        settings: epochs, batch_size, seed.
        user_times_s: with ``"keras"``, each user's training time (the batched trainer runs
            users side by side and has only the total).
        user_first_epoch_s: with ``"keras"``, the time of each user's first epoch, which
            includes Keras' one-off preparation of the training step.
    """

    trainer: str
    user_ids: np.ndarray
    classifiers: list["SequenceClassifier"] | None
    batched: "BatchedResult | None"
    fit_time_s: float
    settings: dict[str, Any]
    user_times_s: list[float] | None = None
    user_first_epoch_s: list[float] | None = None

    def predict(self, X_list: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Like probabilities (dropout off): one ``(n_u, d)`` array per user -> ``(n_u,)``."""
        if len(X_list) != len(self.user_ids):
            raise ValueError(f"{len(X_list)} X arrays for {len(self.user_ids)} users")
        if self.trainer == "keras":
            return [np.asarray(c.predict_proba(X), dtype=np.float64)
                    for c, X in zip(self.classifiers, X_list)]
        return [np.asarray(p, dtype=np.float64)
                for p in self.batched.predict_proba([np.asarray(X) for X in X_list], n_threads=1)]

    def predict_user(self, user_id: int, X: np.ndarray) -> np.ndarray:
        """Like probabilities of one user's model for ``X`` ``(n, d)``: ``(n,)``."""
        i = int(np.flatnonzero(self.user_ids == int(user_id))[0])
        X = np.asarray(X, dtype=np.float32)
        X_list = [X if j == i else np.zeros((0, X.shape[1]), np.float32)
                  for j in range(len(self.user_ids))]
        return self.predict(X_list)[i]

    def state(self) -> list[list[np.ndarray]] | None:
        """Keras: each classifier's :func:`classifier_state`; batched: ``None`` (its updates
        never change a trained result)."""
        if self.trainer == "keras":
            return [classifier_state(c) for c in self.classifiers]
        return None

    def restore(self, state: list[list[np.ndarray]] | None) -> None:
        """Undo the in-place updates made since :meth:`state` (Keras)."""
        if self.trainer == "keras":
            for clf, s in zip(self.classifiers, state):
                restore_classifier_state(clf, s)

    def cell_weights(self, user_id: int) -> CellWeights:
        """One user's weights as :class:`CellWeights` (for :func:`trace_modified_lstm`)."""
        i = int(np.flatnonzero(self.user_ids == int(user_id))[0])
        if self.trainer == "keras":
            return cell_weights(self.classifiers[i])
        return batched_cell_weights(self.batched, int(user_id))


def train_user_models(X_list: Sequence[np.ndarray], y_list: Sequence[np.ndarray],
                      user_ids: Sequence[int], *, trainer: Trainer = "batched",
                      epochs: int = 100, batch_size: int = 10, seed: int = 0) -> UserModels:
    """Train the report's modified-LSTM recommender for each user.

    Args:
        X_list: one ``(n_u, 18)`` 0/1 array per user; y_list: one ``(n_u,)`` 0/1 array.
        user_ids: the users (the batched trainer seeds each user's stream with it).
        trainer: ``"keras"`` (one :class:`SequenceClassifier` per user, seeded with ``seed``)
            or ``"batched"`` (:func:`recsys_utils.batched.train_users`, seeded with
            ``(seed, user_id)``).
        epochs, batch_size: as the report (100, 10).
    """
    ids = np.asarray(user_ids, dtype=np.int64)
    if not (len(X_list) == len(y_list) == len(ids)):
        raise ValueError("X_list, y_list and user_ids must have one length")
    settings = {"epochs": epochs, "batch_size": batch_size, "seed": seed}
    if trainer == "keras":
        from recsys_utils.models.sequence import SequenceClassifier

        classifiers, times = [], []
        for X, y in zip(X_list, y_list):
            clf = SequenceClassifier("modified-lstm", n_attributes=np.shape(X)[1], seed=seed)
            clf.fit(X, y, epochs=epochs, batch_size=batch_size)
            classifiers.append(clf)
            times.append(float(clf.fit_time_s))
        return UserModels("keras", ids, classifiers, None, float(sum(times)), settings, times,
                          [_first_epoch(c) for c in classifiers])
    if trainer == "batched":
        from recsys_utils.batched import train_users

        res = train_users(list(X_list), list(y_list), ids, cell="modified", epochs=epochs,
                          batch_size=batch_size, seed=seed, progress=False)
        return UserModels("batched", ids, None, res, res.train_time_s, settings)
    raise ValueError(f"trainer must be one of {TRAINERS}, got {trainer!r}")


def attribution_by_order(data: "MovieLens", user_ids: Sequence[int],
                         orders: dict[str, Sequence[str]] | None = None, *, max_rows: int = 100,
                         epochs: int = 100, batch_size: int = 10, seed: int = 0,
                         trainer: Trainer = "batched",
                         ) -> tuple[pd.DataFrame, dict[str, UserModels]]:
    """Is a genre's effect about the genre or about where it sits in the sequence?

    Each user's model is trained once per attribute order (default: the report's order and
    its reverse) on the same rows (the first ``max_rows`` rows of :func:`seeded_order`),
    then explained by :func:`occlusion` on those rows.

    Returns:
        A table with one row per (user, order, genre): ``user_id``, ``order``, ``genre``,
        ``position`` (1-based position of the genre in that order), ``rows`` (rows with the
        genre), ``mean_abs_effect`` (mean over the rows of |p(with) - p(without)|) and
        ``mean_effect`` (the same, signed); and the trained models by order.
    """
    if orders is None:
        orders = {"report order": REPORT_GENRES, "reversed": tuple(reversed(REPORT_GENRES))}
    ids = [int(u) for u in user_ids]
    datasets = user_datasets(data, ids)
    rows_of = {ds.user_id: np.sort(seeded_order(ds, seed)[:max_rows]) for ds in datasets}
    out, models_by_order = [], {}
    for name, order in orders.items():
        cols = [REPORT_GENRES.index(g) for g in order]
        if sorted(cols) != list(range(len(REPORT_GENRES))):
            raise ValueError(f"order {name!r} is not a permutation of the 18 genres")
        X_list = [ds.X[rows_of[ds.user_id]][:, cols] for ds in datasets]
        y_list = [ds.y[rows_of[ds.user_id]] for ds in datasets]
        models = train_user_models(X_list, y_list, ids, trainer=trainer, epochs=epochs,
                                   batch_size=batch_size, seed=seed)
        models_by_order[name] = models
        for ds, X in zip(datasets, X_list):
            occ = occlusion(lambda Z, u=ds.user_id: models.predict_user(u, Z), X, tuple(order))
            eff = occ.effect
            for pos, genre in enumerate(order):
                out.append({"user_id": ds.user_id, "order": name, "genre": genre,
                            "position": pos + 1, "rows": int(X[:, pos].sum()),
                            "mean_abs_effect": float(np.abs(eff[:, pos]).mean()),
                            "mean_effect": float(eff[:, pos].mean())})
    return pd.DataFrame(out), models_by_order


def plot_attribution_by_order(table: pd.DataFrame, title: str | None = None) -> "plt.Figure":
    """Two panels: mean |effect| over users by position, and by genre, one line per order."""
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")
    for name in dict.fromkeys(table["order"]):
        sub = table[table["order"] == name]
        by_pos = sub.groupby("position")["mean_abs_effect"].mean()
        ax1.plot(by_pos.index, by_pos.to_numpy(), marker="o", ms=3, label=name)
        by_genre = sub.groupby("genre")["mean_abs_effect"].mean().reindex(list(REPORT_GENRES))
        ax2.plot(np.arange(len(by_genre)), by_genre.to_numpy(), marker="o", ms=3, label=name)
    ax1.set_xticks(np.arange(1, len(REPORT_GENRES) + 1))
    ax1.set_xlabel("position in the sequence (1 = read first)")
    ax1.set_ylabel("mean |p(with) - p(without)|")
    ax1.set_yscale("log")
    ax1.legend(fontsize=8)
    ax2.set_xticks(np.arange(len(REPORT_GENRES)), REPORT_GENRES, rotation=60, ha="right")
    ax2.set_ylabel("mean |p(with) - p(without)|")
    ax2.set_yscale("log")
    ax1.set_title("by position", fontsize=10)
    ax2.set_title("by genre (report's order on the axis)", fontsize=10)
    if title:
        fig.suptitle(title)
    return fig


def _first_epoch(classifier: "SequenceClassifier") -> float:
    return float(classifier.epoch_times_s[0]) if classifier.epoch_times_s else math.nan


def classifier_state(classifier: "SequenceClassifier") -> list[np.ndarray]:
    """A snapshot of everything a further ``fit`` changes: the model's variables (weights and
    the dropout layers' random-generator states) and the optimizer's (Adam's step count and
    moments). Restore it with :func:`restore_classifier_state`."""
    model = classifier.model
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    return [np.array(v.numpy()) for v in list(model.variables) + list(model.optimizer.variables)]


def restore_classifier_state(classifier: "SequenceClassifier", state: list[np.ndarray]) -> None:
    """Put a classifier back into the state of :func:`classifier_state` (same compiled model,
    so no training function is rebuilt)."""
    model = classifier.model
    variables = list(model.variables) + list(model.optimizer.variables)
    if len(variables) != len(state):
        raise ValueError(f"state has {len(state)} arrays, "
                         f"the classifier {len(variables)} variables")
    for v, value in zip(variables, state):
        v.assign(value)


def update_classifier(classifier: "SequenceClassifier", X_new: np.ndarray, y_new: np.ndarray,
                      *, epochs: int = 10, batch_size: int = 10,
                      X_old: np.ndarray | None = None, y_old: np.ndarray | None = None) -> float:
    """Update a trained classifier with newly arrived rows, without retraining from scratch.

    The same compiled model keeps training (its weights and Adam's state carry over) for
    ``epochs`` epochs on the new rows ``X_new`` ``(m, d)``, ``y_new`` ``(m,)``, or on the new
    rows and the old ones when ``X_old``/``y_old`` are given (a replay that guards against
    drifting away from what the old rows taught). The classifier is changed in place.

    Returns:
        The wall time of the update, in seconds.
    """
    X = np.asarray(X_new, dtype=np.float32)
    y = np.asarray(y_new, dtype=np.float32).reshape(-1)
    if (X_old is None) != (y_old is None):
        raise ValueError("give both X_old and y_old, or neither")
    if X_old is not None:
        X = np.concatenate([np.asarray(X_old, dtype=np.float32), X])
        y = np.concatenate([np.asarray(y_old, dtype=np.float32).reshape(-1), y])
    if len(X) == 0:
        return 0.0
    classifier.fit(X, y, epochs=epochs, batch_size=batch_size)
    return float(classifier.fit_time_s)


def update_user_models(models: UserModels, X_list: Sequence[np.ndarray],
                       y_list: Sequence[np.ndarray], *, epochs: int = 10,
                       seed: int | None = None) -> UserModels:
    """Continue training every user's model on ``X_list``/``y_list`` for ``epochs`` epochs.

    Keras: :func:`update_classifier` on each classifier, so Adam's state carries over; the
    classifiers are updated **in place** (the returned object holds the same ones: take
    :meth:`UserModels.state` first to go back). Batched: :func:`recsys_utils.batched.train_users`
    started from the trained weights (Adam's moments restart from zero there), with random
    stream ``seed`` (default: the training seed + 1); ``models`` is left as it was.
    """
    batch_size = int(models.settings["batch_size"])
    if models.trainer == "keras":
        times = [update_classifier(clf, X, y, epochs=epochs, batch_size=batch_size)
                 for clf, X, y in zip(models.classifiers, X_list, y_list)]
        return UserModels("keras", models.user_ids, models.classifiers, None, float(sum(times)),
                          {**models.settings, "epochs": epochs}, times,
                          [_first_epoch(c) for c in models.classifiers])
    from recsys_utils.batched import train_users

    seed = int(models.settings["seed"]) + 1 if seed is None else seed
    res = train_users(list(X_list), list(y_list), models.user_ids, cell="modified", epochs=epochs,
                      batch_size=batch_size, seed=seed, progress=False,
                      initial_weights=models.batched.weights)
    return UserModels("batched", models.user_ids, None, res, res.train_time_s,
                      {**models.settings, "epochs": epochs, "seed": seed})


# ---------------------------------------------------------------------------------------------
# 3. New users with few ratings
# ---------------------------------------------------------------------------------------------


def sample_users(data: "MovieLens", n_users: int, *, min_ratings: int = 60,
                 seed: int = 0) -> np.ndarray:
    """A seeded random sample of ``n_users`` users with at least ``min_ratings`` ratings.

    The eligible ids are sorted, then drawn by ``numpy.random.default_rng(seed)`` without
    replacement; the sample is returned sorted, ``(n_users,)`` int64.
    """
    counts = data.ratings.groupby("user_id").size()
    eligible = np.sort(counts.index[counts >= min_ratings].to_numpy(np.int64))
    if n_users > len(eligible):
        raise ValueError(f"only {len(eligible)} users have >= {min_ratings} ratings, "
                         f"asked for {n_users}")
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(eligible, size=n_users, replace=False))


def seeded_order(ds: UserDataset, seed: int) -> np.ndarray:
    """The user's row indices in a seeded random order that ignores the file's order.

    Rows sorted by movie id, then permuted by ``default_rng([seed, user_id])`` (as
    :meth:`UserDataset.random_split`): ``(n,)`` int64.
    """
    order = np.argsort(ds.movie_ids, kind="stable")
    return order[np.random.default_rng([seed, ds.user_id]).permutation(len(order))]


def cold_start_split(ds: UserDataset, n_test: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A fixed test set and a pool of training rows for the few-ratings experiment.

    The first ``n_test`` rows of :func:`seeded_order` are the test rows; the others, in that
    order, are the pool: a model "with k ratings" trains on ``pool[:k]`` (so the k-row sets
    are nested and do not depend on the largest k).

    Returns:
        ``pool`` ``(n - n_test,)`` and ``test`` ``(n_test,)`` row indices.
    """
    if not 0 < n_test < len(ds):
        raise ValueError(f"user {ds.user_id} has {len(ds)} rows; cannot hold out {n_test}")
    order = seeded_order(ds, seed)
    return order[n_test:], order[:n_test]


def popularity_scores(data: "MovieLens", user_id: int, movie_ids: np.ndarray) -> np.ndarray:
    """``(n,)`` popularity scores of ``movie_ids`` for a user none of whose ratings is known.

    :class:`recsys_utils.recommenders.PopularityRecommender` fitted with every rating of the
    user hidden: each movie's (shrunk) like share among the other users.
    """
    from recsys_utils.recommenders import PopularityRecommender

    own = data.ratings.loc[data.ratings["user_id"] == user_id, "movie_id"].to_numpy()
    rec = PopularityRecommender().fit(data, user_id, heldout_movie_ids=own)
    return rec.score(np.asarray(movie_ids))


def _metrics(y: np.ndarray, scores: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    pred = (np.asarray(scores) >= threshold).astype(int)
    return {"accuracy": accuracy(y, pred), "balanced_accuracy": balanced_accuracy(y, pred),
            "roc_auc": roc_auc(y, scores), "predicted_like_share": float(pred.mean())}


#: Model names in the tables of :func:`cold_start_experiment`.
COLD_START_MODELS: tuple[str, ...] = ("modified LSTM", "popularity", "majority of k")


def cold_start_experiment(data: "MovieLens", user_ids: Sequence[int], ks: Sequence[int], *,
                          n_test: int = 20, seed: int = 0, epochs: int = 100,
                          batch_size: int = 10, trainer: Trainer = "batched") -> pd.DataFrame:
    """Train the recommender on only ``k`` ratings per user and score a fixed held-out set.

    Protocol, per user (see :func:`cold_start_split`): the test rows are ``n_test`` rows drawn
    by ``seed``; the model "with k ratings" is trained on the first ``k`` pool rows
    (``epochs``, ``batch_size``; a fresh model per k, same initial weights for a user) and
    scored on the test rows. Compared on the same rows:

    - ``popularity``: :func:`popularity_scores`, needing no rating of the user (so it is the
      same at every k);
    - ``majority of k``: the majority label of the k rows (ties: like) for every test row; a
      constant score, so its ROC AUC is 0.5.

    A score of 0.5 or more predicts a like.

    Returns:
        One row per (user, k, model): ``user_id``, ``k``, ``model``, ``n_test``,
        ``test_likes``, ``train_likes``, ``accuracy``, ``balanced_accuracy``, ``roc_auc``
        (``nan`` when the test rows hold one class), ``predicted_like_share``.
    """
    ids = [int(u) for u in user_ids]
    ks = sorted({int(k) for k in ks})
    if not ks or ks[0] < 1:
        raise ValueError(f"ks must be positive, got {ks}")
    datasets = user_datasets(data, ids)
    splits = {}
    for ds in datasets:
        pool, test = cold_start_split(ds, n_test, seed)
        if len(pool) < ks[-1]:
            raise ValueError(f"user {ds.user_id} has {len(ds)} rows: fewer than "
                             f"n_test + max(k) = {n_test + ks[-1]}")
        splits[ds.user_id] = (pool, test)
    pop = {ds.user_id: popularity_scores(data, ds.user_id, ds.movie_ids[splits[ds.user_id][1]])
           for ds in datasets}
    rows = []
    for k in ks:
        X_train = [ds.X[splits[ds.user_id][0][:k]] for ds in datasets]
        y_train = [ds.y[splits[ds.user_id][0][:k]] for ds in datasets]
        models = train_user_models(X_train, y_train, ids, trainer=trainer, epochs=epochs,
                                   batch_size=batch_size, seed=seed)
        preds = models.predict([ds.X[splits[ds.user_id][1]] for ds in datasets])
        for ds, y_k, p in zip(datasets, y_train, preds):
            test = splits[ds.user_id][1]
            y = ds.y[test]
            base = {"user_id": ds.user_id, "k": k, "n_test": len(test),
                    "test_likes": int(y.sum()), "train_likes": int(y_k.sum())}
            maj = np.full(len(test), float(majority_label(y_k)))
            for name, scores in zip(COLD_START_MODELS, (p, pop[ds.user_id], maj)):
                rows.append({**base, "model": name, **_metrics(y, scores)})
    return pd.DataFrame(rows)


def apply_fallback(results: pd.DataFrame, min_ratings: int, *, model: str = "modified LSTM",
                   fallback: str = "popularity") -> pd.DataFrame:
    """Add the rule "``fallback`` while the user has fewer than ``min_ratings`` ratings, then
    ``model``" to a :func:`cold_start_experiment` table (rows named ``"fallback (N=...)"``)."""
    a = results[results["model"] == (fallback)].set_index(["user_id", "k"])
    b = results[results["model"] == model].set_index(["user_id", "k"])
    chosen = pd.concat([a[a.index.get_level_values("k") < min_ratings],
                        b[b.index.get_level_values("k") >= min_ratings]]).reset_index()
    chosen["model"] = f"fallback (N={min_ratings})"
    return pd.concat([results, chosen[results.columns]], ignore_index=True)


def summarize_by_k(results: pd.DataFrame, metric: str = "roc_auc") -> pd.DataFrame:
    """Mean of ``metric`` over users: rows ``k``, columns models (first-seen order)."""
    order = list(dict.fromkeys(results["model"]))
    table = results.pivot_table(index="k", columns="model", values=metric, aggfunc="mean")
    return table[order]


def cold_start_table(results: pd.DataFrame,
                     metrics: Sequence[str] = ("accuracy", "balanced_accuracy", "roc_auc")
                     ) -> pd.DataFrame:
    """Means over users: one row per (metric, model), one column per k."""
    parts = {metric: summarize_by_k(results, metric).T for metric in metrics}
    table = pd.concat(parts, names=["metric", "model"])
    table.columns.name = "k"
    return table


def fallback_effect(results: pd.DataFrame, min_ratings: int, *, model: str = "modified LSTM",
                    fallback: str = "popularity",
                    metrics: Sequence[str] = ("accuracy", "balanced_accuracy", "roc_auc")
                    ) -> pd.DataFrame:
    """The fallback rule's gain over always ``model`` and over always ``fallback``.

    ``results`` must hold the rule's rows (:func:`apply_fallback`). Each entry is the mean over
    the ks of (mean over users of the rule's metric - that of the other).
    """
    rule = f"fallback (N={min_ratings})"
    out = {}
    for metric in metrics:
        t = summarize_by_k(results, metric)
        out[metric] = {f"{rule} - always {model}": float((t[rule] - t[model]).mean()),
                       f"{rule} - always {fallback}": float((t[rule] - t[fallback]).mean())}
    return pd.DataFrame(out)


def rounded(frame: pd.DataFrame, digits: int) -> pd.DataFrame:
    """``frame`` with its float columns rounded to ``digits`` and no negative zeros (so that a
    tiny negative number prints as 0.0, identically on every run); other columns untouched."""
    out = frame.copy()
    for col in out.columns:
        if pd.api.types.is_float_dtype(out[col]):
            out[col] = out[col].round(digits) + 0.0
    return out


def paired_wins(results: pd.DataFrame, a: str, b: str, metric: str = "roc_auc") -> pd.DataFrame:
    """Per k: for how many users ``a`` scores higher than ``b`` on ``metric`` (ties and ``nan``
    apart), and the mean difference ``a - b``."""
    x = results[results["model"] == a].set_index(["user_id", "k"])[metric]
    y = results[results["model"] == b].set_index(["user_id", "k"])[metric]
    diff = (x - y).dropna()
    by_k = diff.groupby(level="k")
    return pd.DataFrame({"users": by_k.size(),
                         f"{a} higher": by_k.apply(lambda d: int((d > 0).sum())),
                         f"{b} higher": by_k.apply(lambda d: int((d < 0).sum())),
                         "mean difference": by_k.mean()})


def plot_cold_start(results: pd.DataFrame, metrics: Sequence[str] = ("accuracy", "roc_auc"),
                    title: str | None = None) -> "plt.Figure":
    """One panel per metric: the mean over users vs k, one line per model (+/- 1 standard
    error of the mean as a band)."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(metrics), figsize=(4.6 * len(metrics), 3.4),
                             layout="constrained")
    axes = np.atleast_1d(axes)
    labels = {"accuracy": "accuracy", "roc_auc": "ROC AUC",
              "balanced_accuracy": "balanced accuracy"}
    for ax, metric in zip(axes, metrics):
        for model in dict.fromkeys(results["model"]):
            sub = results[results["model"] == model].groupby("k")[metric]
            mean, sem = sub.mean(), sub.sem()
            style = "--" if model.startswith("fallback") else "-"
            line, = ax.plot(mean.index, mean.to_numpy(), style, marker="o", ms=4, label=model)
            ax.fill_between(mean.index, mean - sem, mean + sem, color=line.get_color(), alpha=0.12)
        ax.set_xscale("log", base=2)
        ks = sorted(results["k"].unique())
        ax.set_xticks(ks, [str(k) for k in ks])
        ax.minorticks_off()
        ax.set_xlabel("k: ratings of the user the model trains on")
        ax.set_ylabel(labels.get(metric, metric))
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return fig


# ---------------------------------------------------------------------------------------------
# 4. Updating with new ratings vs retraining
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArrivalSplit:
    """A user's rows as they arrive: an initial batch, a later batch, a fixed test set.

    Attributes:
        initial: ``(n_i,)`` row indices known when the model is first trained.
        new: ``(n_n,)`` row indices that arrive afterwards (all rated after the initial ones).
        test: ``(n_t,)`` held-out row indices (random, spread over time), never trained on.
    """

    initial: np.ndarray
    new: np.ndarray
    test: np.ndarray


def arrival_split(data: "MovieLens", ds: UserDataset, *, test_fraction: float = 0.3,
                  initial_fraction: float = 0.5, seed: int = 0) -> ArrivalSplit:
    """Split a user's rows into initial / newly arrived / test.

    The test rows are the first ``round(test_fraction * n)`` rows of :func:`seeded_order`.
    The other rows, sorted by rating time (then movie id), arrive in that order: the first
    ``int(initial_fraction * m)`` are the initial batch, the rest arrive later.
    """
    if not 0 < test_fraction < 1 or not 0 < initial_fraction < 1:
        raise ValueError("test_fraction and initial_fraction must be in (0, 1)")
    rows = data.ratings[data.ratings["user_id"] == ds.user_id]
    stamps = rows["timestamp"].to_numpy(np.int64)
    if not np.array_equal(rows["movie_id"].to_numpy(np.int32), ds.movie_ids):
        raise ValueError("the dataset's rows are not the user's ratings in file order")
    n_test = max(1, int(round(test_fraction * len(ds))))
    order = seeded_order(ds, seed)
    test, rest = np.sort(order[:n_test]), order[n_test:]
    rest = rest[np.lexsort((ds.movie_ids[rest], stamps[rest]))]
    n_init = int(initial_fraction * len(rest))
    if n_init < 1 or n_init >= len(rest):
        raise ValueError(f"user {ds.user_id}: too few rows ({len(ds)}) for this split")
    return ArrivalSplit(rest[:n_init], rest[n_init:], test)


#: Strategies compared by :func:`update_experiment`, in table order.
UPDATE_STRATEGIES: tuple[str, ...] = (
    "initial model (stale)", "update: new rows", "update: old + new rows", "retrain from scratch",
)


def update_experiment(data: "MovieLens", user_ids: Sequence[int], *, trainer: Trainer = "keras",
                      epochs: int = 100, update_epochs: int = 10, batch_size: int = 10,
                      test_fraction: float = 0.3, initial_fraction: float = 0.5,
                      seed: int = 0) -> pd.DataFrame:
    """Compare updating a trained recommender with new ratings against retraining it.

    Protocol, per user (:func:`arrival_split`): train on the initial rows for ``epochs``
    epochs; then, from that model, (a) keep it as is, (b) continue on the new rows only for
    ``update_epochs`` epochs, (c) continue on the initial and new rows for ``update_epochs``
    epochs; and (d) train a fresh model on the initial and new rows for ``epochs`` epochs.
    All four are scored on the same held-out rows.

    Returns:
        One row per (user, strategy): ``user_id``, ``strategy``, ``rows_trained`` (rows the
        last step used), ``epochs``, ``n_test``, ``accuracy``, ``balanced_accuracy``,
        ``roc_auc``, ``predicted_like_share``, ``time_s`` (the wall time of that training
        step: the user's own with Keras, that of all the users together with the batched
        trainer; the initial training's for the stale model) and ``first_epoch_s`` (Keras: the
        first epoch's time, which for a new model includes preparing the training step;
        ``nan`` for the batched trainer).
    """
    ids = [int(u) for u in user_ids]
    datasets = user_datasets(data, ids)
    splits = [arrival_split(data, ds, test_fraction=test_fraction,
                            initial_fraction=initial_fraction, seed=seed) for ds in datasets]
    X_init = [ds.X[s.initial] for ds, s in zip(datasets, splits)]
    y_init = [ds.y[s.initial] for ds, s in zip(datasets, splits)]
    X_new = [ds.X[s.new] for ds, s in zip(datasets, splits)]
    y_new = [ds.y[s.new] for ds, s in zip(datasets, splits)]
    X_all = [np.concatenate([a, b]) for a, b in zip(X_init, X_new)]
    y_all = [np.concatenate([a, b]) for a, b in zip(y_init, y_new)]
    X_test = [ds.X[s.test] for ds, s in zip(datasets, splits)]

    initial = train_user_models(X_init, y_init, ids, trainer=trainer, epochs=epochs,
                                batch_size=batch_size, seed=seed)
    stale = initial.predict(X_test)
    saved = initial.state()
    # Keras updates the models in place: predict after each update, then go back.
    on_new = update_user_models(initial, X_new, y_new, epochs=update_epochs)
    pred_new = on_new.predict(X_test)
    initial.restore(saved)
    on_all = update_user_models(initial, X_all, y_all, epochs=update_epochs)
    pred_all = on_all.predict(X_test)
    initial.restore(saved)
    fresh = train_user_models(X_all, y_all, ids, trainer=trainer, epochs=epochs,
                              batch_size=batch_size, seed=seed)
    runs = [(UPDATE_STRATEGIES[0], initial, stale, [len(y) for y in y_init], epochs),
            (UPDATE_STRATEGIES[1], on_new, pred_new, [len(y) for y in y_new], update_epochs),
            (UPDATE_STRATEGIES[2], on_all, pred_all, [len(y) for y in y_all], update_epochs),
            (UPDATE_STRATEGIES[3], fresh, fresh.predict(X_test), [len(y) for y in y_all], epochs)]
    rows = []
    for strategy, models, preds, n_rows, n_epochs in runs:
        times = models.user_times_s or [models.fit_time_s] * len(datasets)
        first = models.user_first_epoch_s or [math.nan] * len(datasets)
        for ds, s, p, n, t, t1 in zip(datasets, splits, preds, n_rows, times, first):
            y = ds.y[s.test]
            rows.append({"user_id": ds.user_id, "strategy": strategy, "rows_trained": n,
                         "epochs": n_epochs, "n_test": len(y), **_metrics(y, p), "time_s": t,
                         "first_epoch_s": t1})
    return pd.DataFrame(rows)


def position_sensitivity(result: "BatchedResult", X_list: Sequence[np.ndarray]) -> np.ndarray:
    """How much each position of the sequence moves each user's score.

    For every user of ``result`` (a :func:`recsys_utils.batched.train_users` result) and each of
    their rows in ``X_list`` (``(n_u, d)`` 0/1, in ``result.user_ids`` order), every flag is
    flipped in turn (:func:`occlusion`); the mean absolute change of the like probability
    per flag is that user's sensitivity to the position.

    Returns:
        ``(n_users, d)`` float64; ``NaN`` rows for users with no rows.
    """
    d = result.layout.n_attributes
    batches = []
    for X in X_list:
        X = np.asarray(X, dtype=np.float32).reshape(-1, d)
        copies = np.repeat(X[:, None, :], d, axis=1)
        idx = np.arange(d)
        copies[:, idx, idx] = 1.0 - copies[:, idx, idx]
        batches.append(np.concatenate([X, copies.reshape(-1, d)]).astype(np.uint8))
    probs = result.predict_proba(batches)
    out = np.full((len(batches), d), np.nan)
    for i, (X, p) in enumerate(zip(X_list, probs)):
        n = len(X)
        if n:
            p = np.asarray(p, dtype=np.float64)
            out[i] = np.abs(p[n:].reshape(n, d) - p[:n, None]).mean(axis=0)
    return out
