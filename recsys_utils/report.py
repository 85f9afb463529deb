"""The report's settings and printed numbers, written down once.

Everything the report states or prints that the package reproduces or compares with lives
here, with the section or appendix it comes from; the models, features and chapters import
these names rather than retyping the values. Where the report's text and its code disagree,
both are recorded and the code (the one that printed the results) is what the package uses.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

# ------------------------------------------------------------------------------- data
#: Training fraction of the report's code (``int(len(dataset) * 0.65)``, Appendix A).
TRAIN_FRACTION: float = 0.65
#: Training fraction the report's text states (sections 4.1 and 5.2: "70-30").
TEXT_TRAIN_FRACTION: float = 0.70
#: A rating at or above this counts as a like (the report's ``likes`` column, section 4.1).
LIKE_RATING: int = 4
#: The report's user (section 5.2, Appendix B).
USER_ID: int = 1

# -------------------------------------------------------------- sequence classifiers
#: ``model.fit(..., epochs=100, batch_size=10)`` (Appendix A, both classifiers): epochs.
SEQUENCE_EPOCHS: int = 100
#: ... and the batch size.
SEQUENCE_BATCH_SIZE: int = 10
#: Units of the report's LSTM recommender (``LSTM(100)``, Appendix A).
LSTM_UNITS: int = 100

# ------------------------------------------------------------------------------- RBM
#: Users the report *intends* to train on (``amountOfUsedUsers = 1500``).
RBM_N_TRAIN_USERS: int = 1500
#: Users the report's loop actually appends before ``break`` (counter 1500 .. 0).
RBM_LOOP_N_TRAIN_USERS: int = 1501
#: ``hiddenLayer = 30``.
RBM_N_HIDDEN: int = 30
#: ``alpha = 1.0``.
RBM_LEARNING_RATE: float = 1.0
#: ``batchsize = 150``.
RBM_BATCH_SIZE: int = 150
#: ``epochs = 100`` in the code (the printed log shows only 10 epochs).
RBM_EPOCHS: int = 100
#: The reconstruction errors printed in Appendix B, one per epoch.
RBM_PRINTED_ERRORS: tuple[float, ...] = (
    0.027124168,
    0.021825418,
    0.020945786,
    0.020423517,
    0.020211646,
    0.020089017,
    0.020006616,
    0.01990658,
    0.019823827,
    0.019748472,
)

# ----------------------------------------------------------------------- autoencoder
#: ``n_nodes_hl1 = 256``.
AE_N_HIDDEN: int = 256
#: ``learn_rate = 0.1`` (commented "Assumed for now").
AE_LEARNING_RATE: float = 0.1
#: ``batch_size = 100``.
AE_BATCH_SIZE: int = 100
#: ``hm_epochs = 200``.
AE_EPOCHS: int = 200
#: ``train_test_split(..., train_size=0.8)``.
AE_TRAIN_FRACTION: float = 0.8
#: Appendix B, epochs 0..9: MSE on train, MSE on test, sum of batch losses.
AE_PRINTED_HISTORY: Mapping[str, tuple[float, ...]] = MappingProxyType(
    {
        "train_mse": (
            57.70589462886741,
            38.04793482187772,
            27.35864053066486,
            21.35755986176045,
            17.62925489109174,
            15.105641225034647,
            13.352840468383492,
            11.981539847238224,
            10.912621198707308,
            10.050076362360121,
        ),
        "test_mse": (
            57.99464622328289,
            38.18121606613857,
            27.517741874885832,
            21.56659312060692,
            17.87601660450571,
            15.317726342225757,
            13.550743621901116,
            12.18787262964488,
            11.131543910524886,
            10.301115221972,
        ),
        "loss": (
            3966.329334259033,
            2265.6043014526367,
            1560.1739902496338,
            1168.436803817749,
            940.1502532958984,
            790.7911939620972,
            688.9431276321411,
            614.039101600647,
            554.7536573410034,
            507.80521408081055,
        ),
    }
)

# ------------------------------------------------------------------ printed results


@dataclass(frozen=True)
class PrintedResult:
    """One line of the report's results (section 5.2): accuracy in percent, training time."""

    model: str
    accuracy_pct: float
    training_time: str
    training_time_s: int


#: Section 5.2's results on user 1, by the package's model names.
RESULTS: Mapping[str, PrintedResult] = MappingProxyType(
    {
        "lstm": PrintedResult("lstm", 84.91, "1 min 20 s", 80),
        "modified-lstm": PrintedResult("modified-lstm", 86.91, "1 min 14 s", 74),
        "rbm": PrintedResult("rbm", 86.62, "1 min 30 s", 90),
        "autoencoder": PrintedResult("autoencoder", 83.20, "2 min 03 s", 123),
    }
)

#: The last epochs of the two classifiers' Keras logs in Appendix B: ``{epoch: (loss, acc)}``
#: as printed (the LSTM log's first line reads "Epoch 32/100" before 93..100, most likely 92).
#: Both print a training accuracy of 0.7647 = 26/34 every epoch (the majority share of the
#: 34 training rows).
PRINTED_EPOCHS: Mapping[str, Mapping[int, tuple[float, float]]] = MappingProxyType(
    {
        "lstm": MappingProxyType(
            {
                32: (0.5516, 0.7647),
                93: (0.5529, 0.7647),
                94: (0.5472, 0.7647),
                95: (0.5470, 0.7647),
                96: (0.5485, 0.7647),
                97: (0.5413, 0.7647),
                98: (0.5416, 0.7647),
                99: (0.5429, 0.7647),
                100: (0.5424, 0.7647),
            }
        ),
        "modified-lstm": MappingProxyType(
            {
                92: (0.5862, 0.7647),
                93: (0.5523, 0.7647),
                94: (0.4902, 0.7647),
                95: (0.5277, 0.7647),
                96: (0.5062, 0.7647),
                97: (0.5346, 0.7647),
                98: (0.5327, 0.7647),
                99: (0.4989, 0.7647),
                100: (0.6075, 0.7647),
            }
        ),
    }
)
