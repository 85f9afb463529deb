"""One registry of model names and one adapter layer: fit / score / recommend, per user or
fitted once.

- :mod:`~recsys_utils.recommenders.registry`: every model's canonical name, aliases and label;
- :mod:`~recsys_utils.recommenders.base`: :class:`Recommender`, the adapter (its docstring
  states both protocols);
- :mod:`~recsys_utils.recommenders.genre`, :mod:`~recsys_utils.recommenders.collaborative`,
  :mod:`~recsys_utils.recommenders.popularity`: the adapters of each model;
- :mod:`~recsys_utils.recommenders.factory`: :func:`make_recommender`, :func:`make_ranker`.
"""

from recsys_utils.recommenders.base import Recommender, TrainingRatings, rank_table
from recsys_utils.recommenders.collaborative import (
    RATING_LIKE_THRESHOLD,
    AutoencoderRecommender,
    MFRecommender,
    RBMRecommender,
)
from recsys_utils.recommenders.factory import (
    FIT_ONCE_DEFAULTS,
    MODEL_NAMES,
    RANKER_NAMES,
    make_ranker,
    make_recommender,
)
from recsys_utils.recommenders.genre import GenreScores, GenreSequenceRecommender
from recsys_utils.recommenders.popularity import PopularityRecommender
from recsys_utils.recommenders.registry import ModelSpec, by_cell, label, resolve

__all__ = [
    "AutoencoderRecommender",
    "FIT_ONCE_DEFAULTS",
    "GenreScores",
    "GenreSequenceRecommender",
    "MFRecommender",
    "MODEL_NAMES",
    "ModelSpec",
    "PopularityRecommender",
    "RANKER_NAMES",
    "RATING_LIKE_THRESHOLD",
    "RBMRecommender",
    "Recommender",
    "TrainingRatings",
    "by_cell",
    "label",
    "make_ranker",
    "make_recommender",
    "rank_table",
    "resolve",
]
