"""The named experiments: per-user fits (chapters 02-04) and population runs stored per user
(chapters 05-06), with fake computations that count their calls and small real ones."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recsys_utils import population
from recsys_utils.data import MovieLens
from recsys_utils.evaluation import PROTOCOLS, ClassificationResult, EvaluationSettings, evaluate_user
from recsys_utils.experiments import (
    POPULATION_SHARD,
    USER_FIT,
    PopulationSpec,
    Store,
    StoreWarning,
    population_run,
    user_fit,
)
from recsys_utils.experiments import user_fits as user_fits_module

MODELS = ("modified", "lstm", "majority")


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store", version="9.9", code="c0de")


# ------------------------------------------------------------------- population runs
class FakePopulation:
    """Stands for :func:`recsys_utils.population.run_population`: a deterministic metric per
    (user, model, seed, epochs), and a record of every call."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], tuple[str, ...], tuple[int, ...]]] = []

    def __call__(self, data, user_ids, spec, *, keep_results, n_threads=None, progress=True, verbose=False):
        models, seeds, epochs = spec.models, spec.seeds, spec.epochs
        users = [int(u) for u in user_ids]
        self.calls.append((tuple(users), tuple(models), tuple(int(s) for s in seeds)))
        rows, timings = [], []
        for seed in seeds:
            for model in models:
                for u in users:
                    rows.append(
                        {
                            "user_id": u,
                            "seed": int(seed),
                            "model": model,
                            "n_ratings": 20 + u,
                            "n_train": 13,
                            "n_test": 7,
                            "train_like_rate": 0.5,
                            "test_like_rate": u / 100,
                            "accuracy": (u * 7 + seed * 3 + len(model) + epochs) % 10 / 10,
                            "balanced_accuracy": 0.5,
                            "roc_auc": np.nan if u % 2 else 0.7,
                            "predicted_like_share": 1.0,
                        }
                    )
                timings.append(
                    {
                        "model": model,
                        "seed": int(seed),
                        "users": len(users),
                        "train_time_s": 0.5,
                        "user_steps": 30 * len(users),
                        "us_per_user_step": 1e6 * 0.5 / (30 * len(users)),
                    }
                )
        return population.PopulationRun(
            pd.DataFrame(rows), pd.DataFrame(timings), {}, {"models": list(models)}
        )


def expected_table(users, spec: PopulationSpec) -> pd.DataFrame:
    """What one call for all ``users`` gives (the order run_population uses)."""
    return FakePopulation()(None, users, spec, keep_results=False).table


def test_an_overlapping_user_list_computes_only_the_missing_users(store: Store, synthetic_ml1m: MovieLens):
    fake = FakePopulation()
    spec = PopulationSpec(models=MODELS, seeds=(0, 1), epochs=3)
    first = population_run(synthetic_ml1m, [3, 1, 2], spec, store=store, compute=fake)
    assert fake.calls == [((3, 1, 2), MODELS, (0,)), ((3, 1, 2), MODELS, (1,))]
    assert first.config["users_computed"] == 3 * 3 * 2
    pd.testing.assert_frame_equal(first.table, expected_table([3, 1, 2], spec))

    fake.calls.clear()
    second = population_run(synthetic_ml1m, [2, 5, 3, 4], spec, store=store, compute=fake)
    assert fake.calls == [((5, 4), MODELS, (0,)), ((5, 4), MODELS, (1,))]
    assert second.config["users_computed"] == 2 * 3 * 2
    pd.testing.assert_frame_equal(second.table, expected_table([2, 5, 3, 4], spec))
    stored = second.timings[second.timings["stored"]]
    assert set(stored["users_used"]) == {2} and set(stored["users"]) == {3}

    fake.calls.clear()
    third = population_run(synthetic_ml1m, [1, 2, 3, 4, 5], spec, store=store, compute=fake)
    assert fake.calls == [] and third.config["users_computed"] == 0
    pd.testing.assert_frame_equal(third.table, expected_table([1, 2, 3, 4, 5], spec))
    assert len(store.entries(POPULATION_SHARD)) == 2 * 3 * 2
    # each shard's compute time is its training time (the fake's 0.5 s), not the write's
    assert {e.compute_s for e in store.entries(POPULATION_SHARD)} == {0.5}


def test_more_models_or_seeds_compute_only_what_is_new(store: Store, synthetic_ml1m: MovieLens):
    fake = FakePopulation()
    population_run(
        synthetic_ml1m, [1, 2], PopulationSpec(models=MODELS, seeds=(0,)), store=store, compute=fake
    )
    fake.calls.clear()
    wider = PopulationSpec(models=MODELS + ("logistic",), seeds=(0, 4))
    run = population_run(synthetic_ml1m, [1, 2], wider, store=store, compute=fake)
    assert fake.calls == [((1, 2), ("logistic",), (0,)), ((1, 2), MODELS + ("logistic",), (4,))]
    pd.testing.assert_frame_equal(run.table, expected_table([1, 2], wider))


def test_other_epochs_retrain_the_networks_but_reuse_the_baselines(store: Store, synthetic_ml1m: MovieLens):
    fake = FakePopulation()
    population_run(
        synthetic_ml1m, [1, 2], PopulationSpec(models=MODELS, seeds=(0,), epochs=5), store=store, compute=fake
    )
    fake.calls.clear()
    spec = PopulationSpec(models=MODELS, seeds=(0,), epochs=6)
    run = population_run(synthetic_ml1m, [1, 2], spec, store=store, compute=fake)
    assert fake.calls == [((1, 2), ("modified", "lstm"), (0,))]
    majority = run.table[run.table["model"] == "majority"]
    # the baseline rows are the ones stored with epochs=5 (it ignores epochs)
    assert list(majority["accuracy"]) == [(u * 7 + len("majority") + 5) % 10 / 10 for u in (1, 2)]


def test_population_entries_are_keyed_by_the_data(store: Store, synthetic_ml1m: MovieLens):
    fake = FakePopulation()
    spec = PopulationSpec(models=("majority",), seeds=(0,))
    population_run(synthetic_ml1m, [1, 2], spec, store=store, compute=fake)
    changed = synthetic_ml1m.ratings.copy()
    changed.loc[0, "rating"] = changed.loc[0, "rating"] % 5 + 1
    other = SimpleNamespace(ratings=changed, movies=synthetic_ml1m.movies, users=synthetic_ml1m.users)
    population_run(other, [1, 2], spec, store=store, compute=fake)
    assert len(fake.calls) == 2


def test_a_damaged_shard_is_not_used_and_its_users_are_computed_again(
    store: Store, synthetic_ml1m: MovieLens
):
    fake = FakePopulation()
    spec = PopulationSpec(models=("majority",), seeds=(0,))
    population_run(synthetic_ml1m, [1, 2, 3], spec, store=store, compute=fake)
    (entry,) = store.entries(POPULATION_SHARD)
    (entry.path / "result.json").write_text("{}")
    fake.calls.clear()
    with pytest.warns(StoreWarning, match="damaged"):
        run = population_run(synthetic_ml1m, [2, 3], spec, store=store, compute=fake)
    assert fake.calls == [((2, 3), ("majority",), (0,))]
    pd.testing.assert_frame_equal(run.table, expected_table([2, 3], spec))


@pytest.mark.parametrize(
    "users, spec, match",
    [
        ([1, 1], PopulationSpec(), "distinct"),
        ([], PopulationSpec(), "at least one user"),
        ([1], PopulationSpec(seeds=()), "at least one seed"),
    ],
)
def test_population_run_rejects_bad_requests(store: Store, synthetic_ml1m: MovieLens, users, spec, match):
    with pytest.raises(ValueError, match=match):
        population_run(synthetic_ml1m, users, spec, store=store, compute=FakePopulation())


def test_a_real_population_run_is_computed_once_then_read_back_equal(store: Store, synthetic_ml1m: MovieLens):
    """A few synthetic users, 2 epochs: the stored rows and networks equal a direct
    ``run_population`` call, for the first users and for an overlapping superset."""
    users = population.sample_users(synthetic_ml1m, 5, seed=3)
    spec = PopulationSpec(models=("modified", "logistic", "majority"), seeds=(0, 1), epochs=2)
    direct_kw = {"keep_results": True, "progress": False}
    first = population_run(synthetic_ml1m, users[:3], spec, store=store, keep_results=True)
    assert first.config["users_computed"] == 3 * 3 * 2
    direct = population.run_population(synthetic_ml1m, users[:3], spec, **direct_kw)
    pd.testing.assert_frame_equal(first.table, direct.table)

    again = population_run(synthetic_ml1m, users[:3], spec, store=store, keep_results=True)
    assert again.config["users_computed"] == 0 and again.timings["stored"].all()
    pd.testing.assert_frame_equal(again.table, direct.table)

    wider = population_run(synthetic_ml1m, users[::-1], spec, store=store, keep_results=True)
    assert wider.config["users_computed"] == 2 * 3 * 2
    direct_wide = population.run_population(synthetic_ml1m, users[::-1], spec, **direct_kw)
    pd.testing.assert_frame_equal(wider.table, direct_wide.table)
    for key, net in direct_wide.results.items():
        got = wider.results[key]
        np.testing.assert_array_equal(got.user_ids, net.user_ids)
        np.testing.assert_array_equal(got.loss_history, net.loss_history)
        np.testing.assert_array_equal(got.adam_steps, net.adam_steps)
        for name, w in net.weights.items():
            np.testing.assert_array_equal(got.weights[name], w)
        X = [np.eye(18, dtype=np.uint8)[:4] for _ in users]
        for p, q in zip(got.predict_proba(X), net.predict_proba(X)):
            np.testing.assert_array_equal(p, q)
    # a run without networks reuses the shards that hold them
    plain = population_run(synthetic_ml1m, users, spec, store=store)
    assert plain.config["users_computed"] == 0 and plain.results == {}


# ------------------------------------------------------------------------ user fits
class FakeRecommender:
    like_threshold = 0.5

    def __init__(self, history) -> None:
        self.history = history
        self.fit_time_s = 1.25
        self.epoch_times_s = [0.5, 0.75]

    def score(self, movie_ids):
        return np.asarray(movie_ids, dtype=np.float64) % 7 / 7

    def recommend(self, top):
        return pd.DataFrame(
            {
                "rank": np.arange(1, top + 1),
                "movie_id": np.arange(top) * 3,
                "title": [f"movie {i}" for i in range(top)],
                "score": np.linspace(1, 0, top),
            }
        )


def fake_results(model: str, user_id: int, seed: int) -> dict[str, ClassificationResult]:
    return {
        p: ClassificationResult(
            model=model,
            user_id=user_id,
            protocol=p,
            rows=f"rows of {p}",
            n_rows=10,
            n_likes=6,
            accuracy=0.6 + seed / 100,
            balanced_accuracy=0.5,
            roc_auc=float("nan"),
            majority_accuracy=0.6,
            predicted_like_share=1.0,
            threshold=0.5,
            seed=seed,
            fit_time_s=1.25,
            time_per_epoch_s=0.625,
            epochs=2,
            extra={"note": [1, 2]},
        )
        for p in PROTOCOLS
    }


@pytest.fixture()
def fake_evaluate(monkeypatch: pytest.MonkeyPatch) -> list[dict]:
    calls: list[dict] = []

    def evaluate(model, data, user_id, settings):
        calls.append(
            {
                "model": model,
                "user_id": user_id,
                "seed": settings.seed,
                "epochs": settings.epochs,
                "split": settings.split,
                "train_fraction": settings.train_fraction,
            }
        )
        return (
            fake_results(model, user_id, settings.seed),
            FakeRecommender({"loss": [0.7, 0.6], "accuracy": [0.5, 0.6]}),
        )

    monkeypatch.setattr(user_fits_module, "evaluate_user", evaluate)
    return calls


def test_a_user_fit_is_computed_once_and_read_back_whole(
    store: Store, fake_evaluate, synthetic_ml1m: MovieLens
):
    fit = user_fit("lstm", synthetic_ml1m, 1, seed=2, epochs=2, store=store)
    again = user_fit("lstm", synthetic_ml1m, 1, seed=2, epochs=2, verbose=1, store=store)
    assert fit.computed and not again.computed and len(fake_evaluate) == 1
    expected = fake_results("lstm", 1, 2)
    for got in (fit, again):
        assert set(got.results) == set(PROTOCOLS)
        for p in PROTOCOLS:
            a, b = dataclasses.asdict(got.results[p]), dataclasses.asdict(expected[p])
            assert np.isnan(a.pop("roc_auc")) and np.isnan(b.pop("roc_auc"))
            assert a == b
        assert got.history == {"loss": [0.7, 0.6], "accuracy": [0.5, 0.6]}
        own = synthetic_ml1m.ratings.loc[synthetic_ml1m.ratings["user_id"] == 1, "movie_id"]
        np.testing.assert_array_equal(got.movie_ids, own.to_numpy())
        np.testing.assert_array_equal(got.scores, own.to_numpy() % 7 / 7)
        assert got.fit_time_s == 1.25 and got.epoch_times_s == [0.5, 0.75]
        assert list(got.recommendations["title"]) == [f"movie {i}" for i in range(20)]
    (entry,) = store.entries(USER_FIT)
    assert entry.params["model"] == "lstm" and entry.params["seed"] == 2


@pytest.mark.parametrize(
    "change",
    [
        {"model": "rbm"},
        {"user_id": 2},
        {"seed": 1},
        {"epochs": 3},
        {"epochs": None},
        {"split": "random"},
        {"train_fraction": 0.5},
    ],
)
def test_every_fit_setting_is_its_own_entry(
    store: Store, fake_evaluate, synthetic_ml1m: MovieLens, change: dict
):
    base = {"model": "lstm", "user_id": 1, "seed": 0, "epochs": 2, "split": "ordered", "train_fraction": 0.65}
    for settings in (base, {**base, **change}):
        kw = dict(settings)
        user_fit(kw.pop("model"), synthetic_ml1m, kw.pop("user_id"), store=store, **kw)
    assert len(fake_evaluate) == 2 and fake_evaluate[1] == {**base, **change}


def test_a_user_fit_depends_on_the_order_of_that_user_s_rows(
    store: Store, fake_evaluate, synthetic_ml1m: MovieLens
):
    ratings = synthetic_ml1m.ratings
    own = ratings["user_id"] == 1
    reordered = pd.concat([ratings[own].iloc[::-1], ratings[~own]], ignore_index=True)
    other = SimpleNamespace(
        ratings=reordered, movies=synthetic_ml1m.movies, users=synthetic_ml1m.users, name="ml-1m"
    )
    user_fit("lstm", synthetic_ml1m, 1, store=store)
    user_fit("lstm", other, 1, store=store)
    user_fit("lstm", other, 2, store=store)
    user_fit("lstm", synthetic_ml1m, 2, store=store)  # user 2's order did not change
    assert [c["user_id"] for c in fake_evaluate] == [1, 1, 2]


def test_a_user_fit_of_an_unknown_user_is_a_clear_error(
    store: Store, fake_evaluate, synthetic_ml1m: MovieLens
):
    with pytest.raises(KeyError, match="user 999999 has no ratings"):
        user_fit("lstm", synthetic_ml1m, 999_999, store=store)
    assert fake_evaluate == [] and store.entries() == []


# The synthetic twin's 60 users give the report's RBM (batches of 150) no training step; its
# history (the reconstruction error of each epoch) and scores are still the fit's to store.
@pytest.mark.filterwarnings("ignore:60 rows give no batch:RuntimeWarning")
def test_a_real_user_fit_reads_back_what_it_computed(store: Store, synthetic_ml1m: MovieLens):
    """The RBM (3 epochs, under a second) through the real ``evaluate_user``."""
    user = int(synthetic_ml1m.ratings["user_id"].iloc[0])
    fit = user_fit("rbm", synthetic_ml1m, user, seed=0, epochs=3, store=store)
    again = user_fit("rbm", synthetic_ml1m, user, seed=0, epochs=3, store=store)
    assert fit.computed and not again.computed
    direct, rec = evaluate_user("rbm", synthetic_ml1m, user, EvaluationSettings(seed=0, epochs=3))
    for got in (fit, again):
        assert len(got.history["reconstruction_mse"]) == 3
        np.testing.assert_allclose(
            got.history["reconstruction_mse"], rec.history["reconstruction_mse"], rtol=0, atol=0
        )
        np.testing.assert_array_equal(got.scores, rec.score(got.movie_ids))
        for p in PROTOCOLS:
            for field in (
                "accuracy",
                "balanced_accuracy",
                "majority_accuracy",
                "n_rows",
                "n_likes",
                "predicted_like_share",
                "rows",
            ):
                assert getattr(got.results[p], field) == getattr(direct[p], field)
    manifest = json.loads((store.entries(USER_FIT)[0].path / "manifest.json").read_text())
    assert manifest["params"]["rows"] and manifest["data"]


def test_shards_of_another_code_version_are_not_reused(store: Store, synthetic_ml1m: MovieLens):
    fake = FakePopulation()
    spec = PopulationSpec(models=("majority",), seeds=(0,))
    population_run(synthetic_ml1m, [1, 2], spec, store=store, compute=fake)
    newer = Store(store.root, version=store.version, code="beef")
    population_run(synthetic_ml1m, [1, 2], spec, store=newer, compute=fake)
    population_run(synthetic_ml1m, [1, 2], spec, store=newer, compute=fake)
    assert [c[0] for c in fake.calls] == [(1, 2), (1, 2)]
    assert [newer.is_current(e) for e in newer.entries()] == [False, True]


def test_a_user_fit_is_keyed_by_the_device_and_records_it(
    store: Store, fake_evaluate, synthetic_ml1m: MovieLens, monkeypatch: pytest.MonkeyPatch
):
    from recsys_utils import device as devmod

    monkeypatch.setattr(devmod, "visible_gpus", lambda: ["NVIDIA Test GPU"])
    monkeypatch.setenv(devmod.DEVICE_ENV, "cpu")
    on_cpu = user_fit("lstm", synthetic_ml1m, 1, store=store)
    monkeypatch.setenv(devmod.DEVICE_ENV, "gpu")
    on_gpu = user_fit("lstm", synthetic_ml1m, 1, store=store)
    assert len(fake_evaluate) == 2  # a GPU's fit is not a CPU's
    assert on_cpu.device.startswith("cpu: ") and on_gpu.device == "gpu: NVIDIA Test GPU (RECSYS_DEVICE=gpu)"
    assert sorted(e.params["device"] for e in store.entries(USER_FIT)) == ["cpu", "gpu"]
    monkeypatch.setattr(devmod, "visible_gpus", lambda: [])
    with pytest.raises(devmod.DeviceUnavailableError):
        user_fit("lstm", synthetic_ml1m, 2, store=store)
    assert len(fake_evaluate) == 2  # refused before any work
