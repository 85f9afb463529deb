"""The one registry of model names: canonical name, aliases, display label, and where it runs.

Every place that names a model (the command line, :func:`~recsys_utils.recommenders.factory.make_recommender`,
:func:`~recsys_utils.recommenders.factory.make_ranker`, the multi-user run of
:mod:`recsys_utils.population`, the batched trainer's cells, the Keras kinds of
:mod:`recsys_utils.models.sequence`, tables and figures) resolves the name here.

Two namespaces, kept apart on purpose:

- **model names** (:func:`resolve`): the canonical name or any alias. ``"lstm"`` is the
  report's LSTM recommender (100 units, sigmoid, no dropout: section 4.2.2);
- **cell names** (:func:`by_cell`): the four recurrent cells the batched trainer swaps into
  the report's *modified* architecture (``"modified"``, ``"nfg"``, ``"lstm"``, ``"gru"``). Here
  ``"lstm"`` is Keras' standard LSTM cell at the modified network's size (18 units), the
  model ``"lstm-same-size"``, not the report's 100-unit LSTM.

The multi-user run (:mod:`recsys_utils.population`) keys its tables by :attr:`ModelSpec.key`:
the cell name for a recurrent model, the canonical name otherwise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = [
    "ModelSpec",
    "MODELS",
    "resolve",
    "by_cell",
    "resolve_cell",
    "label",
    "names_with",
    "CELL_NAMES",
    "POPULATION_KEYS",
    "population_key",
]


@dataclass(frozen=True)
class ModelSpec:
    """One model and every name it goes by.

    Attributes:
        name: canonical name (unique among names and aliases).
        label: how tables and figures name it.
        aliases: other names accepted by :func:`resolve` (the report's wording, older names).
        family: ``"genre-network"`` (per user, 18 genre flags in, like probability out),
            ``"genre-linear"``, ``"baseline"`` or ``"collaborative"`` (a rating matrix).
        sequence_kind: the Keras kind of :func:`recsys_utils.models.sequence.build_sequence_recommender`,
            or ``None``.
        cell: the batched trainer's cell (``recsys_utils.batched.CELLS``), or ``None``.
        per_user: has a per-user adapter (:func:`~recsys_utils.recommenders.factory.make_recommender`).
        fit_once: has a fitted-once adapter (:func:`~recsys_utils.recommenders.factory.make_ranker`).
    """

    name: str
    label: str
    aliases: tuple[str, ...] = ()
    family: str = "genre-network"
    sequence_kind: str | None = None
    cell: str | None = None
    per_user: bool = False
    fit_once: bool = False

    @property
    def key(self) -> str:
        """The name in the multi-user run's tables: the cell name, else the canonical name."""
        return self.cell or self.name


#: Every model: the report's four (section 5.2's order) with the ablation cells and the
#: linear and majority baselines after its two networks, then the popularity and
#: matrix-factorisation baselines.
MODELS: tuple[ModelSpec, ...] = (
    ModelSpec(
        "lstm",
        "LSTM recommender (report, 100 units)",
        aliases=("report LSTM",),
        sequence_kind="lstm",
        per_user=True,
    ),
    ModelSpec(
        "modified-lstm",
        "modified LSTM (f=0, report)",
        aliases=("modified", "report", "modified LSTM", "modified_lstm"),
        sequence_kind="modified-lstm",
        cell="modified",
        per_user=True,
    ),
    ModelSpec("nfg-lstm", "no forget gate (f=1)", aliases=("nfg",), sequence_kind="nfg-lstm", cell="nfg"),
    ModelSpec(
        "lstm-same-size",
        "standard LSTM",
        aliases=("standard LSTM",),
        sequence_kind="lstm-same-size",
        cell="lstm",
    ),
    ModelSpec("gru-same-size", "GRU", aliases=("gru", "GRU"), sequence_kind="gru-same-size", cell="gru"),
    ModelSpec(
        "logistic",
        "logistic regression",
        aliases=("logistic regression",),
        family="genre-linear",
        sequence_kind="logistic",
    ),
    ModelSpec("majority", "majority class", aliases=("majority class",), family="baseline"),
    ModelSpec("rbm", "RBM", aliases=("RBM",), family="collaborative", per_user=True, fit_once=True),
    ModelSpec(
        "autoencoder", "autoencoder", aliases=("ae",), family="collaborative", per_user=True, fit_once=True
    ),
    ModelSpec("popularity", "popularity", family="baseline", per_user=True, fit_once=True),
    ModelSpec(
        "mf",
        "matrix factorisation (ALS)",
        aliases=("mf (ALS)", "als"),
        family="collaborative",
        per_user=True,
        fit_once=True,
    ),
)

_BY_NAME: Mapping[str, ModelSpec] = MappingProxyType(
    {n: spec for spec in MODELS for n in (spec.name, *spec.aliases)}
)
_BY_CELL: Mapping[str, ModelSpec] = MappingProxyType({spec.cell: spec for spec in MODELS if spec.cell})
if len(_BY_NAME) != sum(1 + len(s.aliases) for s in MODELS):  # pragma: no cover
    raise RuntimeError("a model name or alias is registered twice")

#: The batched trainer's cells, in table order.
CELL_NAMES: tuple[str, ...] = tuple(_BY_CELL)
#: The models of the multi-user run (:mod:`recsys_utils.population`), by :attr:`ModelSpec.key`.
POPULATION_KEYS: tuple[str, ...] = CELL_NAMES + ("logistic", "majority")


def resolve(name: str) -> ModelSpec:
    """The model called ``name`` (canonical or alias); ``ValueError`` listing the names if none."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise ValueError(
            f"unknown model {name!r}; known models: "
            f"{', '.join(spec.name for spec in MODELS)} "
            f"(aliases: {', '.join(a for s in MODELS for a in s.aliases)})"
        ) from None


def by_cell(cell: str) -> ModelSpec:
    """The model whose batched cell is ``cell`` (one of :data:`CELL_NAMES`)."""
    try:
        return _BY_CELL[cell]
    except (KeyError, TypeError):
        raise ValueError(f"unknown cell {cell!r}; expected one of {CELL_NAMES}") from None


def resolve_cell(name: str) -> str:
    """The batched cell of ``name``: a cell name as is, else a model name or alias whose model
    has a cell (``"report"`` and ``"modified-lstm"`` give ``"modified"``)."""
    if name in _BY_CELL:
        return name
    spec = resolve(name)
    if spec.cell is None:
        raise ValueError(
            f"model {name!r} ({spec.label}) has no cell of the batched trainer; cells: {CELL_NAMES}"
        )
    return spec.cell


def population_key(name: str) -> str:
    """The multi-user run's name of ``name`` (a cell name, a model name or an alias)."""
    if name in _BY_CELL:
        return name
    key = resolve(name).key
    if key not in POPULATION_KEYS:
        raise ValueError(f"model {name!r} is not one of the multi-user run's models {POPULATION_KEYS}")
    return key


def label(name: str) -> str:
    """The display label of ``name``, read as a cell name first, then as a model name."""
    return (_BY_CELL.get(name) or resolve(name)).label


def names_with(
    *, per_user: bool | None = None, fit_once: bool | None = None, sequence_kind: bool | None = None
) -> tuple[str, ...]:
    """Canonical names, in registry order, of the models with the given adapters or kinds."""
    out = []
    for spec in MODELS:
        if per_user is not None and spec.per_user != per_user:
            continue
        if fit_once is not None and spec.fit_once != fit_once:
            continue
        if sequence_kind is not None and (spec.sequence_kind is not None) != sequence_kind:
            continue
        out.append(spec.name)
    return tuple(out)
