"""Old import path of the ranking protocol, kept for existing code: the names now live in
:mod:`recsys_utils.evaluation.splits` (the split), :mod:`recsys_utils.evaluation.ranking`
(tie-aware top-k metrics, :func:`evaluate_ranking`) and :mod:`recsys_utils.recommenders`
(:func:`make_ranker` and the fitted-once adapters, fitted with ``fit_split``)."""

from recsys_utils.evaluation.ranking import (
    METRICS,
    TIES,
    RankingResult,
    compare_rankings,
    evaluate_ranking,
    ranking_metrics,
    tie_block_at_cut,
)
from recsys_utils.evaluation.splits import RankingSplit, ranking_split
from recsys_utils.recommenders import RANKER_NAMES, make_ranker

__all__ = [
    "METRICS",
    "TIES",
    "RANKER_NAMES",
    "RankingResult",
    "RankingSplit",
    "compare_rankings",
    "evaluate_ranking",
    "make_ranker",
    "ranking_metrics",
    "ranking_split",
    "tie_block_at_cut",
]
