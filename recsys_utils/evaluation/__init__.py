"""Evaluation: one rule each for metrics, ranking and statistics.

- :mod:`~recsys_utils.evaluation.metrics`: the like rule (:func:`predict_like`), the majority
  tie rule (:func:`majority_label`) and the classification metrics;
- :mod:`~recsys_utils.evaluation.protocols`: the report and held-out protocols for one user
  (:func:`evaluate_user`, :class:`ClassificationResult`);
- :mod:`~recsys_utils.evaluation.splits` and :mod:`~recsys_utils.evaluation.ranking`: the
  ranking split and tie-aware top-k metrics;
- :mod:`~recsys_utils.evaluation.paired`: today's paired statistics of the multi-user run;
  :mod:`~recsys_utils.evaluation.statistics`: the tests and intervals of the statistical plan
  that replaces them, :mod:`~recsys_utils.evaluation.plan`: the plan itself.
"""

from recsys_utils.evaluation.metrics import (
    LIKE_SCORE_THRESHOLD,
    METRICS,
    accuracy,
    balanced_accuracy,
    classification_metrics,
    dropped_counts,
    exact_fraction,
    held_out_metrics_defined,
    majority_label,
    predict_like,
    roc_auc,
)
from recsys_utils.evaluation.plan import StatisticalPlan, plan_table
from recsys_utils.evaluation.protocols import (
    PROTOCOLS,
    ClassificationResult,
    EvaluationSettings,
    FitRecord,
    Protocol,
    describe_rows,
    evaluate_user,
    evaluation_rows,
    score_rows,
)
from recsys_utils.evaluation.ranking import (
    RankingResult,
    compare_rankings,
    evaluate_ranking,
    ranking_metrics,
    tie_block_at_cut,
)
from recsys_utils.evaluation.splits import RankingSplit, ranking_split

__all__ = [
    "ClassificationResult",
    "LIKE_SCORE_THRESHOLD",
    "METRICS",
    "PROTOCOLS",
    "Protocol",
    "RankingResult",
    "RankingSplit",
    "StatisticalPlan",
    "plan_table",
    "accuracy",
    "balanced_accuracy",
    "classification_metrics",
    "compare_rankings",
    "describe_rows",
    "dropped_counts",
    "evaluate_ranking",
    "EvaluationSettings",
    "FitRecord",
    "evaluate_user",
    "evaluation_rows",
    "exact_fraction",
    "held_out_metrics_defined",
    "majority_label",
    "predict_like",
    "ranking_metrics",
    "ranking_split",
    "roc_auc",
    "score_rows",
    "tie_block_at_cut",
]
