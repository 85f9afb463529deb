"""Looking inside the per-user recommender, and testing the report's own observations.

One module per question of chapter 7:

- :mod:`~recsys_utils.interpret.occlusion`: which genres push a user's score up or down
  (report 6.2: recommendations are hard to interpret);
- ``gates``: the forget-gate-free cell re-run in NumPy, every gate
  at every position;
- ``memory``: how far a flag's effect travels along the sequence,
  and whether an effect belongs to the genre or to its position;
- ``positions``: which positions a trained network reads, per user, seed and cell, and
  whether the effects follow the genres or the positions when the order changes;
- ``timed``: the users whose rating times are known (users 1 to 2999 of MovieLens 1M), the
  only ones time-ordered experiments accept, and their rows in time order;
- ``cold_start``: new users with few ratings (report 6.1);
- ``updates``: updating a trained model with new ratings
  (report 4.1);
- ``inference``: the statistical plan applied to each of the chapter's families of tests;
- ``models``: the per-user models these train, with Keras or the
  batched trainer.

The figures of these results are in ``recsys_utils.plots.interpret``. Users are sampled by
:func:`recsys_utils.features.sample_users`, rows ordered by
:func:`recsys_utils.features.seeded_order` and scores turned into likes by
:func:`recsys_utils.evaluation.metrics.predict_like`, as everywhere in the package.
"""

from recsys_utils.interpret.cold_start import (
    COLD_START_MODELS,
    apply_fallback,
    cold_start_experiment,
    cold_start_split,
    cold_start_table,
    fallback_effect,
    first_k_split,
    paired_wins,
    popularity_scores,
    seed_means,
    summarize_by_k,
)
from recsys_utils.interpret.gates import (
    GATES,
    CellWeights,
    GateTrace,
    batched_cell_weights,
    cell_weights,
    trace_modified_lstm,
)
from recsys_utils.interpret.inference import Comparison, compare_family, one_sample
from recsys_utils.interpret.memory import (
    attribution_by_order,
    decay_by_distance,
    memory_profile,
    position_sensitivity,
)
from recsys_utils.interpret.models import (
    TRAINERS,
    Trainer,
    UserModels,
    classifier_state,
    restore_classifier_state,
    train_user_models,
    update_classifier,
    update_user_models,
)
from recsys_utils.interpret.occlusion import (
    Occlusion,
    attribution_agreement,
    genre_attributions,
    occlusion,
)
from recsys_utils.interpret.positions import (
    LAST_POSITIONS,
    order_correlations,
    order_effects,
    position_shares,
    position_table,
)
from recsys_utils.interpret.timed import (
    FIRST_USER_WITHOUT_TIME,
    check_timed_users,
    sample_timed_users,
    time_order,
    time_orders,
    timed_user_ids,
)
from recsys_utils.interpret.updates import (
    UPDATE_STRATEGIES,
    ArrivalProtocol,
    ArrivalSplit,
    arrival_split,
    update_experiment,
)

__all__ = [
    "COLD_START_MODELS",
    "FIRST_USER_WITHOUT_TIME",
    "GATES",
    "LAST_POSITIONS",
    "TRAINERS",
    "UPDATE_STRATEGIES",
    "ArrivalProtocol",
    "ArrivalSplit",
    "CellWeights",
    "Comparison",
    "GateTrace",
    "Occlusion",
    "Trainer",
    "UserModels",
    "apply_fallback",
    "arrival_split",
    "attribution_agreement",
    "attribution_by_order",
    "batched_cell_weights",
    "cell_weights",
    "check_timed_users",
    "classifier_state",
    "cold_start_experiment",
    "cold_start_split",
    "cold_start_table",
    "compare_family",
    "decay_by_distance",
    "fallback_effect",
    "first_k_split",
    "genre_attributions",
    "memory_profile",
    "occlusion",
    "one_sample",
    "order_correlations",
    "order_effects",
    "paired_wins",
    "popularity_scores",
    "position_sensitivity",
    "position_shares",
    "position_table",
    "restore_classifier_state",
    "sample_timed_users",
    "seed_means",
    "summarize_by_k",
    "time_order",
    "time_orders",
    "timed_user_ids",
    "trace_modified_lstm",
    "train_user_models",
    "update_classifier",
    "update_experiment",
    "update_user_models",
]
