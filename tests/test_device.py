"""The device switch (``RECSYS_DEVICE``, :mod:`recsys_utils.device`).

Whether this machine has a GPU is not assumed: the GPU cases replace
``recsys_utils.device.visible_gpus`` (what TensorFlow sees) by a stand-in.
"""

from __future__ import annotations

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
