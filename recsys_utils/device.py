"""One device switch for the whole package: ``RECSYS_DEVICE=auto|cpu|gpu``.

- ``cpu``: everything on the CPU; the multi-user trainer is the Numba one
  (:func:`recsys_utils.batched.train_users`);
- ``gpu``: Keras models under ``tf.device("/GPU:0")`` and the multi-user trainer is the
  TensorFlow one (:func:`recsys_utils.batched_tf.train_users`); an error
  (:class:`DeviceUnavailableError`, naming the variable) when TensorFlow sees no GPU;
- ``auto`` (the default): ``gpu`` when TensorFlow sees a GPU, else ``cpu``.

:func:`resolve_device` gives the device used and its name (the GPU's as TensorFlow reports
it, the CPU's model from ``/proc/cpuinfo`` or ``platform``), for environment notes
(:func:`recsys_utils.environment.device_info`) and benchmark results; :func:`device_scope`
places Keras work on it; :func:`multi_user_trainer` picks the trainer of many users
(:func:`trainer_name`: the Numba one on a CPU, the TensorFlow one on a GPU), which population
runs follow (:class:`recsys_utils.population.PopulationSpec`'s ``trainer``).

Who honours it: the package's TensorFlow models place their weights and their work on the
device themselves (:class:`recsys_utils.models.sequence.SequenceClassifier`,
:class:`recsys_utils.models.autoencoder.RatingAutoencoder`; each takes a ``device`` argument,
default this variable), so every chapter's Keras fits follow it; the per-user fits of chapters
2-4 and the ranking runs of chapter 8 record it in their store keys
(:func:`recsys_utils.experiments.user_fit`, ``recsys_utils.experiments.ranking_runs``);
population runs, chapter 8's time-split networks and the per-user models of
``recsys_utils.interpret`` (``trainer="batched"``, and the reordered twins) train with the
trainer it picks.
"""

from __future__ import annotations

import functools
import os
import platform
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from recsys_utils.errors import EXIT_ENVIRONMENT_REFUSED, BadArgumentError, RecsysError

__all__ = [
    "DEVICE_CHOICES",
    "DEVICE_ENV",
    "Device",
    "DeviceUnavailableError",
    "TRAINERS",
    "as_device",
    "cpu_name",
    "device_scope",
    "multi_user_trainer",
    "requested_device",
    "resolve_device",
    "trainer_name",
    "visible_gpus",
]

#: The environment variable that chooses the device.
DEVICE_ENV = "RECSYS_DEVICE"
#: Its values: ``auto`` (GPU if TensorFlow sees one, else CPU), ``cpu``, ``gpu``.
DEVICE_CHOICES: tuple[str, ...] = ("auto", "cpu", "gpu")
#: The multi-user trainers: the Numba one (CPU) and the TensorFlow one (written for a GPU).
TRAINERS: tuple[str, ...] = ("numba", "tf")
#: TensorFlow's names of the first CPU and GPU.
TF_DEVICES = {"cpu": "/CPU:0", "gpu": "/GPU:0"}


class DeviceUnavailableError(RecsysError, RuntimeError):
    """A GPU was asked for (``RECSYS_DEVICE=gpu`` or ``--device gpu``) but TensorFlow sees none."""

    exit_code = EXIT_ENVIRONMENT_REFUSED


@dataclass(frozen=True)
class Device:
    """The device used.

    Attributes:
        kind: ``"cpu"`` or ``"gpu"``.
        name: the model: the GPU's as TensorFlow reports it (``"NVIDIA H200"``), or the CPU's.
        requested: what was asked for (``"auto"``, ``"cpu"`` or ``"gpu"``).
    """

    kind: str
    name: str
    requested: str = "auto"

    @property
    def tf_device(self) -> str:
        """TensorFlow's device string (``"/CPU:0"`` or ``"/GPU:0"``)."""
        return TF_DEVICES[self.kind]

    def note(self) -> str:
        """One line for an environment note: ``"cpu: <model> (RECSYS_DEVICE=auto)"``."""
        return f"{self.kind}: {self.name} ({DEVICE_ENV}={self.requested})"

    def to_dict(self) -> dict[str, str]:
        """``{"device": kind, "device_name": name, "device_requested": requested}`` for JSON."""
        return {"device": self.kind, "device_name": self.name, "device_requested": self.requested}


def requested_device(value: str | None = None, *, argument: str = DEVICE_ENV) -> str:
    """``value``, else ``$RECSYS_DEVICE``, else ``"auto"``, checked and lower-cased.

    Raises:
        BadArgumentError: not one of :data:`DEVICE_CHOICES`, naming ``argument`` (the
            variable when the value came from it).
    """
    if value is None:
        value, argument = os.environ.get(DEVICE_ENV, "") or "auto", DEVICE_ENV
    choice = str(value).strip().lower()
    if choice not in DEVICE_CHOICES:
        raise BadArgumentError(argument, value, f"expected one of {', '.join(DEVICE_CHOICES)}")
    return choice


@functools.lru_cache(maxsize=1)
def cpu_name() -> str:
    """The CPU's model: ``/proc/cpuinfo``'s first ``model name``, else ``platform``'s."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name") and ":" in line:
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def visible_gpus() -> list[str]:
    """The names of the GPUs TensorFlow sees (none without TensorFlow)."""
    try:
        import tensorflow as tf
    except ImportError:
        return []
    names = []
    for gpu in tf.config.list_physical_devices("GPU"):
        details = tf.config.experimental.get_device_details(gpu)
        names.append(str(details.get("device_name", gpu.name)))
    return names


def resolve_device(value: str | None = None, *, argument: str = DEVICE_ENV) -> Device:
    """The device to use for ``value`` (``auto``, ``cpu`` or ``gpu``; default
    ``$RECSYS_DEVICE``, else ``auto``).  ``cpu`` does not import TensorFlow.

    Raises:
        BadArgumentError: an unknown value (naming ``argument`` or the variable).
        DeviceUnavailableError: ``gpu`` asked for and TensorFlow sees no GPU.
    """
    choice = requested_device(value, argument=argument)
    if choice == "cpu":
        return Device("cpu", cpu_name(), choice)
    gpus = visible_gpus()
    if gpus:
        return Device("gpu", gpus[0], choice)
    if choice == "gpu":
        source = f"{argument}=gpu" if value is not None else f"{DEVICE_ENV}=gpu"
        raise DeviceUnavailableError(
            f"{source}: TensorFlow sees no GPU on this machine; set {DEVICE_ENV}=cpu or "
            f"{DEVICE_ENV}=auto (or install a GPU build of TensorFlow and its drivers)"
        )
    return Device("cpu", cpu_name(), choice)


def as_device(device: Device | str | None = None) -> Device:
    """``device`` itself when it is a :class:`Device`, else :func:`resolve_device` of it
    (``"auto"``, ``"cpu"``, ``"gpu"`` or ``None``: ``$RECSYS_DEVICE``, else auto)."""
    return device if isinstance(device, Device) else resolve_device(device)


@contextmanager
def device_scope(device: Device | str | None = None) -> Iterator[Device]:
    """Run the block's TensorFlow and Keras work on ``device`` (a :class:`Device`, or a value
    for :func:`resolve_device`); yields the :class:`Device`."""
    dev = as_device(device)
    import tensorflow as tf

    with tf.device(dev.tf_device):
        yield dev


def trainer_name(device: Device | str | None = None) -> str:
    """The multi-user trainer that suits ``device``: ``"numba"`` on a CPU, ``"tf"`` on a GPU
    (names of :data:`TRAINERS`)."""
    dev = as_device(device)
    return "numba" if dev.kind == "cpu" else "tf"


def multi_user_trainer(
    device: Device | str | None = None, *, trainer: str | None = None
) -> Callable[..., Any]:
    """The trainer of many per-user networks: the Numba trainer
    (:func:`recsys_utils.batched.train_users`) or the TensorFlow one
    (:func:`recsys_utils.batched_tf.train_users`, placed on ``device``).  Both take
    ``(X_list, y_list, user_ids, network=, training=, initial_weights=, ...)`` and return a
    :class:`recsys_utils.batched.BatchedResult`.

    Args:
        device: a :class:`Device` or a value for :func:`resolve_device` (default
            ``$RECSYS_DEVICE``, else auto).
        trainer: ``"numba"`` or ``"tf"`` (:data:`TRAINERS`); default the one that suits the
            device (:func:`trainer_name`).  ``"numba"`` resolves no device (no TensorFlow).

    Raises:
        BadArgumentError: ``trainer`` is not one of :data:`TRAINERS`.
    """
    if trainer is None:
        trainer = trainer_name(device)
    if trainer not in TRAINERS:
        raise BadArgumentError("trainer", trainer, f"expected one of {', '.join(TRAINERS)}")
    if trainer == "numba":
        from recsys_utils.batched import train_users

        return train_users
    dev = as_device(device)
    from recsys_utils.batched_tf import TFOptions
    from recsys_utils.batched_tf import train_users as train_users_tf

    return functools.partial(train_users_tf, options=TFOptions(device=dev.kind))
