"""What runs the code: a quiet TensorFlow start-up, and the device behind every timing."""

from __future__ import annotations

import logging
import os
import platform
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any


@contextmanager
def _stderr_silenced() -> Iterator[None]:
    """Point file descriptor 2 at /dev/null for the block (C++ libraries write there directly)."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no real stderr: nothing to silence
        yield
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def quiet_tensorflow() -> None:
    """Import TensorFlow and Keras with their start-up noise kept out of the output.

    TensorFlow's C++ side logs (CUDA probing, oneDNN notes) to stderr before its own log
    level applies; Python-side it warns about retracing. Call this before anything imports
    TensorFlow (the notebooks' first code cell and the command line do); later imports are
    then free. Errors are not hidden: only the import and the device query are silenced.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    with _stderr_silenced():
        import tensorflow as tf

        tf.config.list_physical_devices()
        import keras  # noqa: F401
    tf.get_logger().setLevel(logging.ERROR)
    logging.getLogger("absl").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", module="keras")
    warnings.filterwarnings("ignore", module="tensorflow")


def device_info() -> dict[str, str | int]:
    """What produced a timing: the accelerator TensorFlow sees (or the CPU), cores, versions,
    and ``device_used``: the device ``RECSYS_DEVICE`` selects and its name
    (:meth:`recsys_utils.device.Device.note`, e.g. ``"cpu: <model> (RECSYS_DEVICE=auto)"``),
    or why it cannot be used."""
    from recsys_utils.device import cpu_name, resolve_device

    info: dict[str, str | int] = {"python": platform.python_version(), "cpu_cores": os.cpu_count() or 0}
    cpu = cpu_name()
    info["cpu"] = cpu
    try:
        info["device_used"] = resolve_device().note()
    except (ValueError, RuntimeError) as err:  # a bad RECSYS_DEVICE, or gpu without a GPU
        info["device_used"] = f"unavailable: {err}"
    try:
        import keras
        import tensorflow as tf
    except ImportError:
        info["device"] = f"CPU only ({cpu})"
        return info
    gpus = tf.config.list_physical_devices("GPU")
    info["tensorflow"], info["keras"] = tf.__version__, keras.__version__
    names = [str(tf.config.experimental.get_device_details(g).get("device_name", g.name)) for g in gpus]
    info["device"] = ", ".join(names) if names else f"CPU only ({cpu})"
    return info


def book_figures() -> None:
    """Show a notebook's figures as SVG (vector, and text the book can check), reproducibly.

    PNG figures are base64 blobs in the committed notebooks; SVG is plain markup, sharper in
    the book, and with a fixed hash salt and no date it is the same bytes on every run.
    Call it in a notebook's first code cell; outside IPython it does nothing.
    """
    import matplotlib

    from recsys_utils.plots import style

    style.apply()  # the book's palette and sizes for figures drawn in the notebooks too
    matplotlib.rcParams["svg.hashsalt"] = "recsys-utils"
    try:
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats
    except ImportError:  # pragma: no cover - IPython is always there in a notebook
        return
    if get_ipython() is not None:
        set_matplotlib_formats("svg", metadata={"Date": None})


def glue(name: str, value: Any, *, display: bool = False) -> None:
    """Record ``value`` under ``name`` for the book's prose (myst-nb's ``glue``).

    The prose quotes it with ``{glue:text}`name:.2f``` (or ``path::name`` from another page), so
    a number in the text is always the number the code computed. NumPy scalars are stored as
    plain Python numbers (their repr must parse as a number). Returns nothing, so that a cell
    ending in ``glue(...)`` shows no output; a glued figure is closed, so that the cell does not
    show it a second time. Outside Jupyter Book's tools (myst-nb not
    installed) nothing is recorded and the notebook still runs.
    """
    if hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        value = value.item()
    try:
        from myst_nb import glue as _glue
    except ImportError:  # pragma: no cover - a plain `pip install recsys-utils`
        return
    _glue(name, value, display=display)
    if not display and type(value).__name__ == "Figure":  # shown where the prose places it only
        import matplotlib.pyplot as plt

        plt.close(value)
