"""The per-user fits of chapters 02-04 (one model, one user, one seed), stored once.

Chapter 02 fits the LSTM and the modified LSTM for user 1, chapter 03 the RBM and the
autoencoder, and chapter 04 compares all four: with :func:`user_fit` every chapter asks for the
fit it needs and the first one to ask computes it; chapter 04 reads 02's and 03's fits.

An entry (experiment ``"user-fit"``) is keyed by the model, the user, the seed, the epochs (as
passed: ``None``, the model's default, is a key of its own, so chapters must pass the same
value to share a fit), the split, the training fraction, a hash of the user's rows in file
order (the report's split depends on that order, which the data fingerprint ignores) and the
kind of device the fit runs on (``RECSYS_DEVICE``, :mod:`recsys_utils.device`: the Keras models
are placed on it, and a GPU's arithmetic gives other last digits than a CPU's). It holds
the :class:`~recsys_utils.evaluation.ClassificationResult` of both protocols, the fitted
recommender's per-epoch ``history`` and epoch times, and its scores for all of the user's rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from recsys_utils.device import resolve_device
from recsys_utils.evaluation import PROTOCOLS, ClassificationResult, EvaluationSettings, evaluate_user
from recsys_utils.experiments.fingerprint import user_rows_fingerprint
from recsys_utils.experiments.store import Store, default_store
from recsys_utils.features import REPORT_TRAIN_FRACTION

if TYPE_CHECKING:  # pragma: no cover
    from recsys_utils.data import MovieLens

#: The experiment's name in the store.
USER_FIT = "user-fit"
#: Length of the top-N list of unseen movies stored with each fit (the report's top 20).
TOP_N = 20


@dataclass
class UserFit:
    """One stored fit of ``model`` for ``user_id`` (see the module docstring).

    Attributes:
        results: ``{protocol: ClassificationResult}`` for both protocols.
        history: the fitted recommender's per-epoch history ``{name: [value per epoch]}``
            (empty when it keeps none).
        movie_ids: ``(n,)`` int64, the user's rated movies in file order.
        scores: ``(n,)`` float64, the fitted recommender's score of each (a like probability,
            or a rating scaled so that ``like_threshold`` separates like from dislike).
        like_threshold: a score above it predicts a like.
        fit_time_s, epoch_times_s: the fit's wall time and each epoch's, as measured when it
            was computed (a fit read from the store keeps its original times).
        recommendations: the fitted recommender's top :data:`TOP_N` unseen movies
            (``Recommender.recommend``: rank, movie_id, title, genres, score, tied).
        device: the device the fit ran on (:meth:`recsys_utils.device.Device.note`: kind, model
            and the ``RECSYS_DEVICE`` asked for), as recorded when it was computed.
        computed: whether the fit ran in this call (``False``: read from the store).
    """

    model: str
    user_id: int
    seed: int
    epochs: int | None
    split: str
    train_fraction: float
    results: dict[str, ClassificationResult]
    history: dict[str, list[float]] = field(default_factory=dict)
    movie_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64), repr=False)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    like_threshold: float = 0.5
    fit_time_s: float | None = None
    epoch_times_s: list[float] = field(default_factory=list)
    recommendations: pd.DataFrame | None = field(default=None, repr=False)
    device: str = ""
    computed: bool = False


def user_movie_ids(data: MovieLens, user_id: int) -> np.ndarray:
    """``(n,)`` int64: the movies ``user_id`` rated, in the order of ``data.ratings``."""
    ratings = data.ratings
    movie_ids = ratings.loc[ratings["user_id"] == int(user_id), "movie_id"].to_numpy(np.int64)
    if not len(movie_ids):
        raise KeyError(f"user {user_id} has no ratings in {getattr(data, 'name', 'the data')}")
    return movie_ids


def _fit_payload(
    model: str, data: MovieLens, user_id: int, settings: dict[str, Any], verbose: int, device: str
) -> dict[str, Any]:
    """Fit and score (the computation stored): plain data only; ``device`` is the note of
    the device that ``RECSYS_DEVICE`` chose (the models resolve the same one)."""
    results, rec = evaluate_user(
        model, data, user_id, EvaluationSettings(protocols=PROTOCOLS, verbose=verbose, **settings)
    )
    movie_ids = user_movie_ids(data, user_id)
    history = getattr(rec, "history", None) or {}
    return {
        "results": {p: asdict(r) for p, r in results.items()},
        "history": {str(k): [float(x) for x in v] for k, v in history.items()},
        "movie_ids": movie_ids,
        "scores": np.asarray(rec.score(movie_ids), dtype=np.float64),
        "like_threshold": float(rec.like_threshold),
        "fit_time_s": None if rec.fit_time_s is None else float(rec.fit_time_s),
        "epoch_times_s": [float(t) for t in (rec.epoch_times_s or [])],
        "recommendations": rec.recommend(TOP_N).reset_index(drop=True),
        "device": device,
    }


def user_fit(
    model: str,
    data: MovieLens,
    user_id: int,
    *,
    seed: int = 0,
    epochs: int | None = None,
    split: str = "ordered",
    train_fraction: float = REPORT_TRAIN_FRACTION,
    verbose: int = 0,
    store: Store | None = None,
) -> UserFit:
    """:func:`recsys_utils.evaluation.protocols.evaluate_user` for one model, user and seed, computed
    once per store (module docstring).

    Args:
        model, data, user_id, seed, epochs, split, train_fraction, verbose: as for
            :func:`~recsys_utils.evaluation.protocols.evaluate_user` (``verbose`` is not part of the
            key: it only changes what the fit prints).
        store: default :func:`~recsys_utils.experiments.default_store`.

    The device is ``RECSYS_DEVICE``'s (:func:`recsys_utils.device.resolve_device`), resolved
    before any work: ``gpu`` on a machine without one raises
    :class:`~recsys_utils.device.DeviceUnavailableError`.

    Returns:
        The fit, with the results of both protocols (``PROTOCOLS``).
    """
    user_movie_ids(data, user_id)  # an unknown user is an error before any work
    device = resolve_device()
    settings = {
        "seed": int(seed),
        "epochs": None if epochs is None else int(epochs),
        "split": split,
        "train_fraction": float(train_fraction),
    }
    params = {
        "model": model,
        "user_id": int(user_id),
        **settings,
        "rows": user_rows_fingerprint(data, user_id),
        "device": device.kind,
    }
    store = store or default_store()
    stored = store.cached(
        USER_FIT,
        params,
        lambda: _fit_payload(model, data, int(user_id), settings, verbose, device.note()),
        data=data,
    )
    value = stored.value
    return UserFit(
        model=model,
        user_id=int(user_id),
        seed=int(seed),
        epochs=settings["epochs"],
        split=split,
        train_fraction=float(train_fraction),
        results={p: ClassificationResult(**r) for p, r in value["results"].items()},
        history=value["history"],
        movie_ids=value["movie_ids"],
        scores=value["scores"],
        like_threshold=value["like_threshold"],
        fit_time_s=value["fit_time_s"],
        epoch_times_s=value["epoch_times_s"],
        recommendations=value.get("recommendations"),
        device=value.get("device", ""),
        computed=stored.computed,
    )
