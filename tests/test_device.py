"""The device switch (``RECSYS_DEVICE``, :mod:`recsys_utils.device`).

Whether this machine has a GPU is not assumed: the GPU cases replace
``recsys_utils.device.visible_gpus`` (what TensorFlow sees) by a stand-in.
"""

from __future__ import annotations

import contextlib

import pytest

from recsys_utils import device as devmod
from recsys_utils.device import (
    DEVICE_ENV,
    Device,
    DeviceUnavailableError,
    cpu_name,
    multi_user_trainer,
    requested_device,
    resolve_device,
)
from recsys_utils.errors import EXIT_ENVIRONMENT_REFUSED, BadArgumentError


@pytest.fixture
def no_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devmod, "visible_gpus", lambda: [])


@pytest.fixture
def one_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(devmod, "visible_gpus", lambda: ["NVIDIA Test GPU"])


def test_requested_device_reads_the_variable(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    assert requested_device() == "auto"
    monkeypatch.setenv(DEVICE_ENV, " GPU ")
    assert requested_device() == "gpu"
    assert requested_device("cpu") == "cpu"  # an explicit value wins
    monkeypatch.setenv(DEVICE_ENV, "tpu")
    with pytest.raises(BadArgumentError, match=r"RECSYS_DEVICE='tpu': expected one of auto, cpu, gpu"):
        requested_device()
    with pytest.raises(BadArgumentError, match=r"--device='npu'"):
        requested_device("npu", argument="--device")


def test_auto_is_the_gpu_when_there_is_one(monkeypatch: pytest.MonkeyPatch, one_gpu):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    dev = resolve_device()
    assert dev == Device("gpu", "NVIDIA Test GPU", "auto")
    assert dev.tf_device == "/GPU:0"
    assert dev.note() == "gpu: NVIDIA Test GPU (RECSYS_DEVICE=auto)"
    assert resolve_device("cpu").kind == "cpu"  # cpu asked for: the CPU even with a GPU


def test_auto_falls_back_to_the_cpu(monkeypatch: pytest.MonkeyPatch, no_gpu):
    monkeypatch.delenv(DEVICE_ENV, raising=False)
    dev = resolve_device()
    assert dev.kind == "cpu" and dev.name == cpu_name() and dev.tf_device == "/CPU:0"
    assert dev.to_dict() == {"device": "cpu", "device_name": cpu_name(), "device_requested": "auto"}


def test_gpu_without_a_gpu_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, no_gpu):
    monkeypatch.setenv(DEVICE_ENV, "gpu")
    with pytest.raises(DeviceUnavailableError, match=r"^RECSYS_DEVICE=gpu: TensorFlow sees no GPU") as err:
        resolve_device()
    assert err.value.exit_code == EXIT_ENVIRONMENT_REFUSED
    with pytest.raises(DeviceUnavailableError, match=r"^--device=gpu: "):
        resolve_device("gpu", argument="--device")


def test_cpu_does_not_ask_tensorflow(monkeypatch: pytest.MonkeyPatch):
    def fail() -> list[str]:
        raise AssertionError("cpu must not query the GPUs")

    monkeypatch.setattr(devmod, "visible_gpus", fail)
    assert resolve_device("cpu").kind == "cpu"


def test_cpu_name_is_a_model_name():
    name = cpu_name()
    assert isinstance(name, str) and name.strip() == name and name


def test_visible_gpus_agrees_with_tensorflow():
    import tensorflow as tf

    assert len(devmod.visible_gpus()) == len(tf.config.list_physical_devices("GPU"))


def test_multi_user_trainer_follows_the_device(monkeypatch: pytest.MonkeyPatch, one_gpu):
    from recsys_utils.batched import train_users
    from recsys_utils.batched_tf import TFOptions
    from recsys_utils.batched_tf import train_users as train_users_tf

    assert multi_user_trainer("cpu") is train_users
    gpu = multi_user_trainer("gpu")
    assert gpu.func is train_users_tf and gpu.keywords == {"options": TFOptions(device="gpu")}
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    assert multi_user_trainer() is train_users


def test_device_scope_places_tensorflow_work(no_gpu):
    import tensorflow as tf

    with devmod.device_scope("cpu") as dev:
        x = tf.constant([1.0]) + 1.0
    assert dev.kind == "cpu" and "CPU" in x.device


def test_environment_note_names_the_device(monkeypatch: pytest.MonkeyPatch, no_gpu):
    from recsys_utils.environment import device_info

    monkeypatch.setenv(DEVICE_ENV, "cpu")
    info = device_info()
    assert info["device_used"] == f"cpu: {cpu_name()} (RECSYS_DEVICE=cpu)"
    assert {"python", "cpu_cores", "cpu", "device"} <= set(info)  # the names the chapters print
    monkeypatch.setenv(DEVICE_ENV, "gpu")
    assert device_info()["device_used"].startswith("unavailable: RECSYS_DEVICE=gpu: TensorFlow sees no GPU")


# --- who honours the switch: the TensorFlow models, the per-user fits, interpret's trainer ---


def _spy_scope(monkeypatch: pytest.MonkeyPatch, module) -> list:
    """Replace ``module.device_scope`` by one that records each device it is entered with."""
    entered: list = []
    real = devmod.device_scope

    @contextlib.contextmanager
    def spy(device=None):
        with real(device) as dev:
            entered.append(dev)
            yield dev

    monkeypatch.setattr(module, "device_scope", spy)
    return entered


def test_sequence_classifier_builds_fits_and_scores_on_its_device(monkeypatch: pytest.MonkeyPatch, no_gpu):
    import numpy as np

    from recsys_utils.models import sequence

    entered = _spy_scope(monkeypatch, sequence)
    monkeypatch.setenv(DEVICE_ENV, "cpu")
    clf = sequence.SequenceClassifier("modified-lstm", seed=0, units=4)
    assert clf.device == Device("cpu", cpu_name(), "cpu")
    assert all("CPU" in w.value.device for w in clf.model.weights)
    X = np.random.default_rng(0).integers(0, 2, (6, 18))
    clf.fit(X, np.array([0, 1, 0, 1, 1, 0]), epochs=1, batch_size=3)
    clf.predict_proba(X)
    assert entered == [clf.device] * 3  # build, fit, score


def test_sequence_classifier_refuses_a_missing_gpu(monkeypatch: pytest.MonkeyPatch, no_gpu):
    from recsys_utils.models.sequence import SequenceClassifier

    monkeypatch.setenv(DEVICE_ENV, "gpu")
    with pytest.raises(DeviceUnavailableError, match="RECSYS_DEVICE=gpu"):
        SequenceClassifier("modified-lstm", seed=0)


def test_autoencoder_fits_and_scores_on_its_device(monkeypatch: pytest.MonkeyPatch, no_gpu):
    import numpy as np

    from recsys_utils.models import autoencoder

    entered = _spy_scope(monkeypatch, autoencoder)
    R = np.random.default_rng(0).integers(0, 6, (8, 5)).astype(np.float32)
    with pytest.raises(DeviceUnavailableError):
        autoencoder.RatingAutoencoder(3, device="gpu").fit(R, epochs=1, batch_size=4)
    ae = autoencoder.RatingAutoencoder(3, device="cpu").fit(R, epochs=1, batch_size=4)
    ae.predict(R)
    assert ae.device_.kind == "cpu" and entered == [ae.device_] * 2
    given = Device("cpu", cpu_name(), "cpu")  # a Device is taken as it is
    assert autoencoder.RatingAutoencoder(3, device=given).fit(R, epochs=1, batch_size=4).device_ is given
    assert all("CPU" in v.device for v in ae._vars)


def test_interpret_batched_models_train_with_the_device_s_trainer(monkeypatch: pytest.MonkeyPatch):
    import numpy as np

    from recsys_utils.interpret.models import train_user_models, update_user_models

    asked = _trainer_spy(monkeypatch)
    rng = np.random.default_rng(0)
    X, y = [rng.integers(0, 2, (5, 18))], [np.array([0, 1, 1, 0, 1])]
    models = train_user_models(X, y, [7], trainer="batched", epochs=1)
    update_user_models(models, X, y, epochs=1)
    assert asked == [(None, None), (None, None)]  # RECSYS_DEVICE decides, both times


def _trainer_spy(monkeypatch: pytest.MonkeyPatch) -> list:
    """Make ``device.multi_user_trainer`` record its arguments and hand out the Numba trainer."""
    from recsys_utils.batched import train_users

    asked: list = []

    def pick(device=None, *, trainer=None):
        asked.append((device, trainer))
        return train_users

    monkeypatch.setattr(devmod, "multi_user_trainer", pick)
    return asked


def test_ranking_networks_and_position_twins_train_with_the_device_s_trainer(
    monkeypatch: pytest.MonkeyPatch, synthetic_ml1m
):
    import numpy as np

    from recsys_utils.batched import train_users
    from recsys_utils.experiments.ranking_runs import SplitSpec, make_split, network_scores
    from recsys_utils.interpret.positions import order_effects

    asked = _trainer_spy(monkeypatch)
    users = np.array([1, 2])
    split = make_split(synthetic_ml1m, SplitSpec("random", seed=0, user_ids=(1, 2)))
    network_scores(synthetic_ml1m, split, users, "modified", epochs=1, seed=0)
    rng = np.random.default_rng(0)
    X, y = [rng.integers(0, 2, (6, 18)) for _ in users], [np.array([0, 1, 1, 0, 1, 0]) for _ in users]
    first = train_users(X, y, users, epochs=1, progress=False)
    order_effects(first, X, y, X, epochs=1)
    assert asked == [(None, None), (None, None)]  # RECSYS_DEVICE decides, for both


def test_ranking_entries_are_keyed_by_the_device(monkeypatch: pytest.MonkeyPatch, tmp_path, synthetic_ml1m):
    from recsys_utils.experiments import Store
    from recsys_utils.experiments.ranking_runs import RANKING_RUN, SplitSpec, ranking_run

    store = Store(tmp_path / "store", version="9.9", code="c0de")
    monkeypatch.setattr(devmod, "visible_gpus", lambda: ["NVIDIA Test GPU"])
    runs = []
    for value in ("cpu", "gpu", "cpu"):
        monkeypatch.setenv(DEVICE_ENV, value)
        runs.append(
            ranking_run(synthetic_ml1m, SplitSpec("random", seed=0), "popularity", [1, 2], store=store)
        )
    assert [r.computed for r in runs] == [True, True, False]
    assert sorted(e.params["device"] for e in store.entries(RANKING_RUN)) == ["cpu", "gpu"]


def test_as_device_keeps_a_device_and_resolves_a_value(monkeypatch: pytest.MonkeyPatch, no_gpu):
    given = Device("gpu", "NVIDIA Test GPU", "gpu")
    assert devmod.as_device(given) is given  # no second resolution (this machine has no GPU)
    assert devmod.as_device("cpu") == Device("cpu", cpu_name(), "cpu")
    monkeypatch.setenv(DEVICE_ENV, "gpu")
    with pytest.raises(DeviceUnavailableError):
        devmod.as_device()
