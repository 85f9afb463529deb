"""Recommenders by name: per user (:func:`make_recommender`) or fitted once (:func:`make_ranker`)."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from recsys_utils.recommenders.base import Recommender
from recsys_utils.recommenders.collaborative import AutoencoderRecommender, MFRecommender, RBMRecommender
from recsys_utils.recommenders.genre import GenreSequenceRecommender
from recsys_utils.recommenders.popularity import PopularityRecommender
from recsys_utils.recommenders.registry import names_with, resolve

__all__ = ["MODEL_NAMES", "RANKER_NAMES", "FIT_ONCE_DEFAULTS", "make_recommender", "make_ranker"]

#: Models with a per-user adapter (accepted by :func:`make_recommender`, with their aliases).
MODEL_NAMES: tuple[str, ...] = names_with(per_user=True)
#: Models with a fitted-once adapter (accepted by :func:`make_ranker`, with their aliases).
RANKER_NAMES: tuple[str, ...] = names_with(fit_once=True)

_CLASSES: Mapping[str, type[Recommender]] = MappingProxyType(
    {
        "popularity": PopularityRecommender,
        "rbm": RBMRecommender,
        "autoencoder": AutoencoderRecommender,
        "mf": MFRecommender,
    }
)

#: The ranking protocol's settings where they differ from the per-user (report) ones:
#: the most-popular list counts likes; the RBM and autoencoder run fewer epochs over every
#: user's row (chapter 05 passes its own).
FIT_ONCE_DEFAULTS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "popularity": MappingProxyType({"kind": "likes"}),
        "rbm": MappingProxyType({"epochs": 20}),
        "autoencoder": MappingProxyType({"epochs": 30}),
        "mf": MappingProxyType({}),
    }
)


def make_recommender(name: str, *, seed: int = 0, epochs: int | None = None, verbose: int = 0) -> Recommender:
    """A per-user recommender by name (:data:`MODEL_NAMES` or an alias), with the report's
    settings; fit it with :meth:`Recommender.fit`.

    ``epochs=None`` keeps each model's report default (100 for the classifiers and the
    RBM, 200 for the autoencoder).
    """
    try:
        spec = resolve(name)
    except ValueError:
        spec = None
    if spec is None or not spec.per_user:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
    kw: dict[str, Any] = {"seed": seed, "verbose": verbose}
    if epochs is not None:
        kw["epochs"] = epochs
    if spec.sequence_kind is not None:
        return GenreSequenceRecommender(spec.name, **kw)
    if spec.name == "popularity":
        return PopularityRecommender()
    if spec.name == "mf":
        return MFRecommender(seed=seed)
    return _CLASSES[spec.name](**kw)


def make_ranker(name: str, **kw: Any) -> Recommender:
    """A fitted-once recommender by name (:data:`RANKER_NAMES` or an alias): ``kw`` over
    :data:`FIT_ONCE_DEFAULTS` go to its class; fit it with :meth:`Recommender.fit_split`."""
    try:
        spec = resolve(name)
    except ValueError:
        spec = None
    if spec is None or not spec.fit_once:
        raise ValueError(f"unknown ranker {name!r}; choose one of {', '.join(RANKER_NAMES)}")
    return _CLASSES[spec.name](**{**FIT_ONCE_DEFAULTS[spec.name], **kw})
