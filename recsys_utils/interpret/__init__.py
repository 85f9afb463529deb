"""Looking inside the per-user recommender, and testing the report's own observations.

One module per question of chapter 7:

- :mod:`~recsys_utils.interpret.occlusion`: which genres push a user's score up or down
  (report 6.2: recommendations are hard to interpret);
- ``gates``: the forget-gate-free cell re-run in NumPy, every gate
  at every position;
- ``memory``: how far a flag's effect travels along the sequence,
  and whether an effect belongs to the genre or to its position;
- ``cold_start``: new users with few ratings (report 6.1);
- ``updates``: updating a trained model with new ratings
  (report 4.1);
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
    paired_wins,
    popularity_scores,
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
from recsys_utils.interpret.updates import (
    UPDATE_STRATEGIES,
    ArrivalSplit,
    arrival_split,
    update_experiment,
)

__all__ = [
    "COLD_START_MODELS",
    "GATES",
    "TRAINERS",
    "UPDATE_STRATEGIES",
    "ArrivalSplit",
    "CellWeights",
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
    "classifier_state",
    "cold_start_experiment",
    "cold_start_split",
    "cold_start_table",
    "decay_by_distance",
    "fallback_effect",
    "genre_attributions",
    "memory_profile",
    "occlusion",
    "paired_wins",
    "popularity_scores",
    "position_sensitivity",
    "restore_classifier_state",
    "summarize_by_k",
    "trace_modified_lstm",
    "train_user_models",
    "update_classifier",
    "update_experiment",
    "update_user_models",
]
