"""How the kernels are compiled, and the scalar functions they share.

Compilation settings
--------------------
Every kernel is compiled by Numba with ``nogil`` (users train on parallel threads),
``error_model="numpy"`` (no Python exceptions for a division by zero) and, by default,
``fastmath``: LLVM may then reorder float32 sums and fuse multiply-adds, so the last digits of a
trained weight depend on the CPU's instruction set (the results of one machine are still
reproducible run to run).

``RECSYS_FASTMATH=0`` in the environment *before* :mod:`recsys_utils.batched` is imported
compiles strict IEEE arithmetic instead (:data:`FASTMATH` is then ``False``).  Numba's on-disk
cache does not record the fastmath flag in its key, so the strict build is never written to or
read from the cache: each process that sets ``RECSYS_FASTMATH=0`` compiles the kernels afresh
(about a minute on 2 cores).  With fastmath on (the default) the kernels are cached on disk
(``__pycache__`` next to these files, or ``NUMBA_CACHE_DIR``).

Round-off also depends on whether a process compiled the kernels itself or loaded them from
the cache: the two give results that differ in the last bits (up to 1.2e-7 on the weights after
6 epochs, on 19 cell / seed / dropout cases), each reproducible.  So the first process on a
fresh checkout (or cache) can print slightly different numbers from every later one; to get the
cached numbers everywhere, compile once in a separate process first (for example
``python -c "from recsys_utils.batched import train_users; import numpy as np;
train_users([np.zeros((2, 18))], [np.zeros(2)], epochs=1, progress=False)"``).

A caution for whoever edits a kernel: Numba checks a cached function against its own source
file only, so after editing one kernel module, clear the cache (``find recsys_utils/batched
-name '*.nb[ic]' -delete``) before trusting a run, or the modules that call it may keep the
old code.
"""

from __future__ import annotations

import os

import numba as nb
import numpy as np

#: The environment variable that switches fastmath off (``"0"``); read once, at import.
FASTMATH_ENV = "RECSYS_FASTMATH"
#: Whether the kernels are compiled with fastmath (default ``True``; see the module docstring).
FASTMATH: bool = os.environ.get(FASTMATH_ENV, "1").strip().lower() not in ("0", "false", "no")

#: Numba options of every kernel.
JIT_OPTIONS: dict[str, object] = {
    "nogil": True,
    "fastmath": FASTMATH,
    "error_model": "numpy",
    "cache": FASTMATH,
}

F32 = np.float32
ZERO, ONE = F32(0.0), F32(1.0)

#: SIMD width in float32 lanes that weight rows are padded to (gates * units -> multiple of 8).
SIMD_LANES = 8


#: What :func:`warm_cache` runs in its own process: one tiny training, which compiles (or loads)
#: every kernel.
_WARM_UP = (
    "import numpy as np; from recsys_utils.batched import train_users; "
    "train_users([np.zeros((2, 18), np.uint8)], [np.zeros(2, np.float32)], epochs=1, "
    "progress=False)"
)


def warm_cache() -> None:
    """Compile the kernels into Numba's on-disk cache in a separate process.

    Call it before running notebooks or checks that train with this package: every process
    then loads the kernels from the cache, and prints the same last digits (see the module
    docstring). A no-op cost of a second or two when the cache is already warm; with
    ``RECSYS_FASTMATH=0`` nothing is cached, so it does nothing.
    """
    import subprocess
    import sys

    if FASTMATH:
        subprocess.run([sys.executable, "-c", _WARM_UP], check=True)


def kernel(fn):  # noqa: ANN001, ANN201 - a decorator
    """Compile ``fn`` as a kernel (:data:`JIT_OPTIONS`)."""
    return nb.njit(**JIT_OPTIONS)(fn)


def inline_kernel(fn):  # noqa: ANN001, ANN201 - a decorator
    """Compile ``fn`` as a kernel that Numba inlines into its callers."""
    return nb.njit(inline="always", **JIT_OPTIONS)(fn)


# Eigen's rational approximation of tanh for float32 (TensorFlow's CPU tanh): clamp, then
# x * p(x^2) / q(x^2).
_TANH_CLAMP = F32(7.90531110763549805)
_A1, _A3, _A5, _A7, _A9, _A11, _A13 = (
    F32(4.89352455891786e-03),
    F32(6.37261928875436e-04),
    F32(1.48572235717979e-05),
    F32(5.12229709037114e-08),
    F32(-8.60467152213735e-11),
    F32(2.00018790482477e-13),
    F32(-2.76076847742355e-16),
)
_B0, _B2, _B4, _B6 = (
    F32(4.89352518554385e-03),
    F32(2.26843463243900e-03),
    F32(1.18534705686654e-04),
    F32(1.19825839466702e-06),
)


@inline_kernel
def tanh(x):  # pragma: no cover - compiled
    """Eigen's float32 tanh (absolute error < 3e-7); vectorises, unlike ``math.tanh``."""
    x = min(max(x, -_TANH_CLAMP), _TANH_CLAMP)
    x2 = x * x
    p = (((((_A13 * x2 + _A11) * x2 + _A9) * x2 + _A7) * x2 + _A5) * x2 + _A3) * x2 + _A1
    q = ((_B6 * x2 + _B4) * x2 + _B2) * x2 + _B0
    return x * p / q


@inline_kernel
def squash_grad(a, sc, sa, sb):  # pragma: no cover - compiled
    """Derivative of ``f(x) = sa * tanh(sc * x) + sb`` at the ``x`` where ``f(x) = a``."""
    th = (a - sb) / sa
    return sa * sc * (ONE - th) * (ONE + th)


_SPLITMIX_GAMMA = np.uint64(0x9E3779B97F4A7C15)
_SPLITMIX_MUL1 = np.uint64(0xBF58476D1CE4E5B9)
_SPLITMIX_MUL2 = np.uint64(0x94D049BB133111EB)
_SHIFT1, _SHIFT2, _SHIFT3 = np.uint64(30), np.uint64(27), np.uint64(31)


@inline_kernel
def next_random(state):  # pragma: no cover - compiled
    """SplitMix64: advance ``state`` ``(1,)`` uint64 and return 64 random bits."""
    s = state[0] + _SPLITMIX_GAMMA
    state[0] = s
    z = (s ^ (s >> _SHIFT1)) * _SPLITMIX_MUL1
    z = (z ^ (z >> _SHIFT2)) * _SPLITMIX_MUL2
    return z ^ (z >> _SHIFT3)
