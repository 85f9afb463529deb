"""The package's error families, their exit codes, and the argument checks that raise them.

Every error the package raises on purpose belongs to one of four families, each with the
exit code the command line returns for it (the README's "Errors and exit codes" lists them):

- 2, :class:`BadArgumentError`: an argument is outside its allowed range or set (the
  message names it);
- 3, :class:`DataMissingError`: the data is not where it was looked for (names the place);
- 4, :class:`DataDamagedError`: a file or archive is truncated, corrupt or malformed (names
  the file and, where there is one, the line);
- 5, :class:`EnvironmentRefusedError`: the operating system refused (read-only folder, full
  disk, missing permission; names the path and the action).

Exit code 1 is an unexpected error (a bug: please report it), 130 an interrupt (Ctrl-C).
The older names stay: :class:`DataUnavailableError` is a :class:`DataMissingError`,
:class:`MovieLensFormatError`, :class:`ArchiveError` and :class:`ChecksumMismatchError` are
:class:`DataDamagedError`\\ s. Each family also derives from the built-in exception that
callers caught before (``ValueError``, ``RuntimeError``, ``KeyError``, ``OSError``).

This module imports nothing from the package, so every layer may use it.
"""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Collection
from pathlib import Path
from typing import Any, ClassVar

__all__ = [
    "EXIT_BAD_ARGUMENT",
    "EXIT_DATA_DAMAGED",
    "EXIT_DATA_MISSING",
    "EXIT_ENVIRONMENT_REFUSED",
    "EXIT_INTERRUPTED",
    "EXIT_OK",
    "EXIT_UNEXPECTED",
    "ArchiveError",
    "BadArgumentError",
    "ChecksumMismatchError",
    "DataDamagedError",
    "DataMissingError",
    "DataUnavailableError",
    "DataWarning",
    "EnvironmentRefusedError",
    "MovieLensFormatError",
    "RecsysError",
    "UnknownUserError",
    "check_choice",
    "check_fraction",
    "check_int",
    "exit_code_for",
]

EXIT_OK = 0
EXIT_UNEXPECTED = 1
EXIT_BAD_ARGUMENT = 2
EXIT_DATA_MISSING = 3
EXIT_DATA_DAMAGED = 4
EXIT_ENVIRONMENT_REFUSED = 5
EXIT_INTERRUPTED = 130


class RecsysError(Exception):
    """Base of the package's deliberate errors; ``exit_code`` is the command line's."""

    exit_code: ClassVar[int] = EXIT_UNEXPECTED


class DataWarning(UserWarning):
    """Something about the data or the cache worth saying that does not stop the run
    (a checksum that differs from the official file's, an archive moved aside and fetched
    again, leftovers of an interrupted run swept)."""


# --------------------------------------------------------------------------- bad argument


class BadArgumentError(RecsysError, ValueError):
    """An argument outside its allowed range or set.

    Attributes:
        argument: the argument's name as the caller spelt it (``"epochs"``, ``"--epochs"``).
        value: the value given.
        allowed: the allowed range or set, in words.
    """

    exit_code = EXIT_BAD_ARGUMENT

    def __init__(self, argument: str, value: Any, allowed: str) -> None:
        self.argument = argument
        self.value = value
        self.allowed = allowed
        super().__init__(f"{argument}={value!r}: {allowed}")

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.argument, self.value, self.allowed))


class UnknownUserError(BadArgumentError, KeyError):
    """A user id that is not in the data, or that has no ratings there.

    Also a ``KeyError`` (what a lookup by user id raised before); printed without the
    quotes ``KeyError`` would add.
    """

    def __str__(self) -> str:
        return f"{self.argument}={self.value!r}: {self.allowed}"


def check_int(argument: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as an int when it is an integer (not a bool) within ``low..high``.

    Raises:
        BadArgumentError: naming ``argument`` and the allowed range.
    """
    if low is not None and high is not None:
        allowed = f"expected an integer from {low} to {high}"
    elif low is not None:
        allowed = f"expected an integer >= {low}"
    elif high is not None:
        allowed = f"expected an integer <= {high}"
    else:
        allowed = "expected an integer"
    if isinstance(value, bool) or not isinstance(value, int) and not _is_numpy_int(value):
        raise BadArgumentError(argument, value, allowed)
    if (low is not None and value < low) or (high is not None and value > high):
        raise BadArgumentError(argument, value, allowed)
    return int(value)


def _is_numpy_int(value: Any) -> bool:
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy is a dependency
        return False
    return isinstance(value, np.integer)


def check_fraction(argument: str, value: Any) -> float:
    """``value`` as a float strictly between 0 and 1.

    Raises:
        BadArgumentError: naming ``argument`` and the open interval.
    """
    allowed = "expected a number strictly between 0 and 1"
    if isinstance(value, bool):
        raise BadArgumentError(argument, value, allowed)
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise BadArgumentError(argument, value, allowed) from None
    if not (math.isfinite(number) and 0.0 < number < 1.0):
        raise BadArgumentError(argument, value, allowed)
    return number


def check_choice(argument: str, value: Any, choices: Collection[Any]) -> Any:
    """``value`` when it is one of ``choices``.

    Raises:
        BadArgumentError: naming ``argument`` and the choices.
    """
    if value not in choices:
        shown = ", ".join(str(c) for c in choices)
        raise BadArgumentError(argument, value, f"expected one of {shown}")
    return value


# --------------------------------------------------------------------------- data missing


class DataMissingError(RecsysError, RuntimeError):
    """The data is not where it was looked for; the message says where and how to provide it."""

    exit_code = EXIT_DATA_MISSING


class DataUnavailableError(DataMissingError):
    """A dataset is neither available locally nor downloadable (offline, ``download=False``,
    or a data folder named by the caller that is missing or incomplete).

    The message says what is missing and how to provide the files.
    """


# --------------------------------------------------------------------------- data damaged


class DataDamagedError(RecsysError, ValueError):
    """A file or archive is truncated, corrupt or malformed.

    Attributes:
        path: the file (``None`` when there is none to name).
    """

    exit_code = EXIT_DATA_DAMAGED

    def __init__(self, message: str, path: str | os.PathLike[str] | None = None) -> None:
        self.path = Path(path) if path is not None else None
        super().__init__(message)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (str(self), self.path))


class MovieLensFormatError(DataDamagedError):
    """A MovieLens file does not follow the documented format, or differs from what its
    release fixes (for example a truncated file).

    Attributes:
        path: the offending file.
        line: the 1-based line number in that file.
        reason: what is wrong, without the location.
    """

    def __init__(self, path: str | os.PathLike[str], line: int, reason: str) -> None:
        self.line = int(line)
        self.reason = reason
        super().__init__(f"{Path(path)}, line {self.line}: {reason}", path)

    def __reduce__(self) -> tuple[Any, ...]:  # keep picklable (multiprocessing)
        return (type(self), (self.path, self.line, self.reason))


class ArchiveError(DataDamagedError):
    """A (downloaded or hand-placed) archive is corrupt, truncated or not laid out as expected."""


class ChecksumMismatchError(ArchiveError):
    """An archive's size or checksum differs from the expected value.

    Attributes:
        path: the file checked (for a download: the temporary file, already deleted).
        kind: ``"size"``, ``"md5"`` or ``"sha256"``.
        expected, got: the two values compared.
        source: the URL it was downloaded from (``""`` for a file on disk).
        note: text appended to the message (e.g. where the file was moved).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        kind: str,
        expected: Any,
        got: Any,
        source: str = "",
        note: str = "",
    ) -> None:
        self.kind = kind
        self.expected = expected
        self.got = got
        self.source = source
        self.note = note
        where = f" downloaded from {source}" if source else f" {Path(path)}"
        super().__init__(
            f"archive{where} failed verification: {kind} expected {expected}, got {got}{note}", path
        )

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.kind, self.expected, self.got, self.source, self.note))


# --------------------------------------------------------------------------- environment


_ERRNO_WORDS = {
    errno.ENOSPC: "no space left on the device (the disk is full)",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
}
if hasattr(errno, "EDQUOT"):
    _ERRNO_WORDS[errno.EDQUOT] = "disk quota exceeded"


class EnvironmentRefusedError(RecsysError, OSError):
    """The operating system refused an action on a path (read-only folder, full disk,
    missing permission).

    Attributes:
        path: the file or folder acted on.
        action: what was being done, in words (``"write the cache folder"``).
        errno: the operating system's error number (``None`` when unknown).
        hint: what the user can do about it.
    """

    exit_code = EXIT_ENVIRONMENT_REFUSED

    def __init__(
        self, path: str | os.PathLike[str], action: str, cause: str | OSError, hint: str = ""
    ) -> None:
        if isinstance(cause, OSError):
            number = cause.errno
            words = _ERRNO_WORDS.get(number or -1) or cause.strerror or str(cause)
        else:
            number, words = None, cause
        super().__init__(f"cannot {action} {Path(path)}: {words}" + (f"; {hint}" if hint else ""))
        self.errno = number
        self.path = Path(path)
        self.action = action
        self.hint = hint
        self.words = words

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self), (self.path, self.action, self.words, self.hint))


def exit_code_for(error: BaseException) -> int:
    """The command line's exit code for ``error`` (see the module docstring)."""
    if isinstance(error, RecsysError):
        return error.exit_code
    if isinstance(error, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    if isinstance(error, OSError):
        return EXIT_ENVIRONMENT_REFUSED
    return EXIT_UNEXPECTED
