"""Bad inputs and faults (issue 13): each ends in the right exception from Python and, from
the command line, one line on stderr with the documented exit code; nothing outside the
package's own files changes.

Refusals of the operating system (read-only folder, full disk, missing permission) are
simulated by patching the file functions for paths under one folder: the tests run as any
user, root included (for whom ``chmod`` would not refuse anything).
"""

from __future__ import annotations

import builtins
import errno
import hashlib
import io
import os
import pickle
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from recsys_utils import cli
from recsys_utils.cli import main
from recsys_utils.data import (
    ArchiveError,
    ChecksumMismatchError,
    DataDamagedError,
    DataUnavailableError,
    DataWarning,
    EnvironmentRefusedError,
    MovieLensFormatError,
    download_dataset,
    load_movielens,
    resolve_dataset_dir,
)
from recsys_utils.data.synthetic import (
    write_synthetic_archive,
    write_synthetic_movielens,
    write_synthetic_readme,
)
from recsys_utils.errors import (
    EXIT_BAD_ARGUMENT,
    EXIT_DATA_DAMAGED,
    EXIT_DATA_MISSING,
    EXIT_ENVIRONMENT_REFUSED,
    EXIT_INTERRUPTED,
    EXIT_UNEXPECTED,
    BadArgumentError,
    DataMissingError,
    UnknownUserError,
    exit_code_for,
)

SYNTH = {"n_users": 12, "n_movies": 50, "seed": 4}
FAKE_URL = "https://mirror.invalid/ml-1m.zip"

# --------------------------------------------------------------------------- helpers


def snapshot(root: Path) -> dict[str, str]:
    """Every file and folder under ``root``: relative path -> MD5 (``"dir"`` for folders)."""
    out = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        out[rel] = "dir" if path.is_dir() else hashlib.md5(path.read_bytes()).hexdigest()
    return out


def package_own(name: str) -> bool:
    """Names the package may leave in a cache: its lock files."""
    return name.endswith(".lock")


def changes(before: dict[str, str], after: dict[str, str]) -> dict[str, str]:
    """Paths added, removed or changed, except the package's lock files."""
    keys = set(before) | set(after)
    return {
        k: f"{before.get(k)} -> {after.get(k)}"
        for k in sorted(keys)
        if before.get(k) != after.get(k) and not package_own(Path(k).name)
    }


def one_line_error(capsys: pytest.CaptureFixture, *needles: str) -> str:
    """The command's stderr is exactly one ``error: ...`` line holding ``needles``; stdout
    is empty. Returns the line."""
    out, err = capsys.readouterr()
    assert out == ""
    assert err.startswith("error: ") and err.endswith("\n") and err.count("\n") == 1, err
    assert "Traceback" not in err
    for needle in needles:
        assert needle in err, (needle, err)
    return err


@pytest.fixture
def twin(tmp_path: Path) -> Path:
    """A fresh synthetic ML-1M twin (parent folder holding ``ml-1m/``)."""
    root = tmp_path / "data"
    write_synthetic_movielens(root, **SYNTH)
    return root


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """No RECSYS_DATA_DIR; a private (not yet created) cache. Returns the cache folder."""
    monkeypatch.delenv("RECSYS_DATA_DIR", raising=False)
    cache = tmp_path / "cache"
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(cache))
    return cache


def _under(path: Any, folder: Path) -> bool:
    if isinstance(path, int) or not isinstance(path, (str, bytes, os.PathLike)):
        return False
    text = os.fsdecode(path)
    return Path(os.path.abspath(text)).is_relative_to(folder)


class _FillingFile:
    """A file whose writes fail with ENOSPC once ``budget`` bytes are written."""

    def __init__(self, real: Any, budget: list[int]) -> None:
        self._real, self._budget = real, budget

    def write(self, data: bytes) -> int:
        if len(data) > self._budget[0]:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self._budget[0] -= len(data)
        return self._real.write(data)

    def __enter__(self) -> _FillingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self._real.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


def refuse(
    monkeypatch: pytest.MonkeyPatch,
    folder: Path,
    number: int,
    *,
    disk_bytes: int | None = None,
    reads: bool = False,
) -> None:
    """Make the operating system refuse work under ``folder`` with ``number`` (an errno).

    Default: every write (create, open for writing, rename, delete) fails, as on a read-only
    file system. ``disk_bytes``: files may be created but only that many bytes written in
    all, as on a full disk. ``reads``: opening a file for reading fails (no permission).
    """
    folder = Path(os.path.abspath(folder))
    real_open, real_os_open = builtins.open, os.open
    budget = [disk_bytes or 0]

    def fail(path: Any) -> OSError:
        return OSError(number, os.strerror(number), os.fsdecode(path))

    def fake_open(file: Any, mode: str = "r", *args: Any, **kw: Any) -> Any:
        if _under(file, folder):
            writing = any(c in mode for c in "wax+")
            if writing and disk_bytes is None and not reads:
                raise fail(file)
            if writing and disk_bytes is not None:
                return _FillingFile(real_open(file, mode, *args, **kw), budget)
            if not writing and reads:
                raise fail(file)
        return real_open(file, mode, *args, **kw)

    def fake_os_open(path: Any, flags: int, *args: Any, **kw: Any) -> int:
        if (
            _under(path, folder)
            and disk_bytes is None
            and not reads
            and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT)
        ):
            raise fail(path)
        return real_os_open(path, flags, *args, **kw)

    monkeypatch.setattr(builtins, "open", fake_open)
    monkeypatch.setattr(io, "open", fake_open)
    monkeypatch.setattr(os, "open", fake_os_open)
    if disk_bytes is None and not reads:
        for name in ("mkdir", "unlink", "rmdir", "replace", "rename"):
            real = getattr(os, name)

            def guarded(*args: Any, _real: Callable[..., Any] = real, **kw: Any) -> Any:
                if any(_under(a, folder) for a in args[:2]):
                    raise fail(args[0])
                return _real(*args, **kw)

            monkeypatch.setattr(os, name, guarded)


class FakeResponse(io.BytesIO):
    """A fake opener's response: bytes, a Content-Length, an optional failure mid-way."""

    def __init__(
        self,
        body: bytes,
        *,
        length: int | None = None,
        fail_after: int | None = None,
        error: BaseException | None = None,
    ) -> None:
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body) if length is None else length)}
        self.fail_after, self.error = fail_after, error

    def read(self, n: int = -1) -> bytes:
        if self.fail_after is not None and self.tell() >= self.fail_after:
            raise self.error or ConnectionResetError(errno.ECONNRESET, "connection reset")
        return super().read(n if self.fail_after is None else min(n, 4096))


def opener_of(body: bytes, calls: list[str] | None = None, **kw: Any) -> Callable[..., Any]:
    def opener(request: Any, timeout: float) -> FakeResponse:
        if calls is not None:
            calls.append(request.full_url)
        return FakeResponse(body, **kw)

    return opener


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[bytes, dict]:
    """(bytes, checks) of a synthetic ML-1M archive."""
    path = tmp_path_factory.mktemp("archive") / "ml-1m.zip"
    info = write_synthetic_archive(path, **SYNTH)
    return path.read_bytes(), info


# --------------------------------------------------------------------------- error families


def test_families_exit_codes_and_old_names() -> None:
    assert issubclass(DataUnavailableError, DataMissingError)
    for cls in (MovieLensFormatError, ArchiveError, ChecksumMismatchError):
        assert issubclass(cls, DataDamagedError) and issubclass(cls, ValueError)
    assert issubclass(EnvironmentRefusedError, OSError)
    assert issubclass(UnknownUserError, KeyError) and issubclass(UnknownUserError, ValueError)
    cases = [
        (BadArgumentError("x", 1, "no"), EXIT_BAD_ARGUMENT),
        (DataUnavailableError("m"), EXIT_DATA_MISSING),
        (MovieLensFormatError("f", 1, "r"), EXIT_DATA_DAMAGED),
        (EnvironmentRefusedError("p", "write", OSError(errno.EROFS, "x")), EXIT_ENVIRONMENT_REFUSED),
        (PermissionError(errno.EACCES, "x"), EXIT_ENVIRONMENT_REFUSED),
        (KeyboardInterrupt(), EXIT_INTERRUPTED),
        (ZeroDivisionError(), EXIT_UNEXPECTED),
    ]
    for error, code in cases:
        assert exit_code_for(error) == code, error
        if isinstance(error, Exception) and type(error).__module__ == "recsys_utils.errors":
            again = pickle.loads(pickle.dumps(error))
            assert type(again) is type(error) and str(again) == str(error)
    refused = EnvironmentRefusedError("/c", "write", OSError(errno.ENOSPC, "x"), "free space")
    assert str(refused) == "cannot write /c: no space left on the device (the disk is full); free space"
    assert refused.errno == errno.ENOSPC


# --------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--model", "lstm", "--epochs", "0"], "--epochs=0: expected an integer >= 1"),
        (["train", "--model", "lstm", "--epochs", "-5"], "--epochs=-5: expected an integer >= 1"),
        (
            ["train", "--model", "popularity", "--train-fraction", "0"],
            "--train-fraction=0.0: expected a number strictly between 0 and 1",
        ),
        (["train", "--model", "popularity", "--train-fraction", "1"], "--train-fraction=1.0"),
        (["data", "--train-fraction", "1.5"], "--train-fraction=1.5"),
        (["data", "--train-fraction", "nan"], "--train-fraction=nan"),
        (["recommend", "--model", "popularity", "--top", "0"], "--top=0: expected an integer >= 1"),
        (["recommend", "--model", "popularity", "--top", "-3"], "--top=-3"),
        (["train", "--model", "popularity", "--seed", "-1"], "--seed=-1: expected an integer from 0"),
        (
            ["train", "--model", "popularity", "--verbose", "7"],
            "--verbose=7: expected an integer from 0 to 2",
        ),
        (["data", "--user", "0"], "--user=0: expected an integer >= 1"),
    ],
)
def test_bad_argument_is_refused_before_loading(
    argv: list[str], needle: str, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    """The data folder does not exist: an argument error proves nothing was loaded first."""
    missing = tmp_path / "no-such-folder"
    assert main([*argv, "--data-dir", str(missing)]) == EXIT_BAD_ARGUMENT
    one_line_error(capsys, needle)
    assert not missing.exists()


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--model", "lstm", "--epochs", "abc"], "argument --epochs: invalid int value: 'abc'"),
        (["train", "--model", "nonsense"], "argument --model: unknown model 'nonsense'"),
        (["data", "--dataset", "ml-99m"], "argument --dataset: invalid choice"),
        (["fly"], "argument command: invalid choice"),
    ],
)
def test_unparsable_argument_is_one_line(argv: list[str], needle: str, capsys: pytest.CaptureFixture) -> None:
    assert main(argv) == EXIT_BAD_ARGUMENT
    one_line_error(capsys, needle, "--help")


def test_train_fraction_leaving_no_training_row_is_refused_before_training(
    twin: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    import recsys_utils.evaluation as evaluation

    def never(*args: Any, **kw: Any) -> None:
        raise AssertionError("trained despite a bad argument")

    monkeypatch.setattr(evaluation, "evaluate_user", never)
    before = snapshot(twin)
    assert (
        main(["train", "--data-dir", str(twin), "--model", "popularity", "--train-fraction", "0.001"])
        == EXIT_BAD_ARGUMENT
    )
    one_line_error(capsys, "--train-fraction=0.001: leaves none of user 1's", "for training")
    assert (
        main(["recommend", "--data-dir", str(twin), "--model", "popularity", "--top", "100000"])
        == EXIT_BAD_ARGUMENT
    )
    one_line_error(capsys, "--top=100000: expected an integer from 1 to")
    assert changes(before, snapshot(twin)) == {}


def test_user_that_does_not_exist(twin: Path, capsys: pytest.CaptureFixture) -> None:
    data = load_movielens("ml-1m", data_dir=twin, download=False)
    with pytest.raises(UnknownUserError) as err:
        data.require_user(999)
    assert type(err.value) is UnknownUserError
    assert str(err.value) == "user_id=999: no such user in ml-1m (user ids run from 1 to 12, 12 users)"
    with pytest.raises(KeyError):  # what callers caught before
        data.require_user(999)
    with pytest.raises(BadArgumentError, match="user_id=-2: expected an integer >= 1"):
        data.require_user(-2)
    with pytest.raises(UnknownUserError, match="no such user"):
        cli.data_summary(data, 999)
    with pytest.raises(BadArgumentError, match="train_fraction=0: expected a number"):
        cli.data_summary(data, 1, train_fraction=0)
    assert main(["data", "--data-dir", str(twin), "--user", "999"]) == EXIT_BAD_ARGUMENT
    one_line_error(capsys, "--user=999: no such user in ml-1m")


def test_empty_user(twin: Path, capsys: pytest.CaptureFixture) -> None:
    """A user of users.dat without a single rating."""
    folder = twin / "ml-1m"
    with (folder / "users.dat").open("ab") as fh:
        fh.write(b"13::F::25::3::12345\n")
    write_synthetic_readme(folder)  # the edited twin's own facts
    data = load_movielens("ml-1m", data_dir=twin, download=False)
    with pytest.raises(UnknownUserError, match="user_id=13: user 13 has no ratings in ml-1m"):
        data.require_user(13)
    for command in (["data"], ["train", "--model", "popularity"]):
        assert main([*command, "--data-dir", str(twin), "--user", "13"]) == EXIT_BAD_ARGUMENT
        one_line_error(capsys, "--user=13: user 13 has no ratings in ml-1m")


def test_python_api_argument_checks(tmp_path: Path) -> None:
    with pytest.raises(BadArgumentError, match="name='ml-99m': unknown dataset name"):
        load_movielens("ml-99m")
    with pytest.raises(BadArgumentError, match="download='no': expected True or False"):
        load_movielens("ml-1m", download="no")
    with pytest.raises(BadArgumentError, match="data_dir=3"):
        load_movielens("ml-1m", data_dir=3)
    with pytest.raises(BadArgumentError, match="timeout=0: expected a number of seconds > 0"):
        download_dataset("ml-1m", url=FAKE_URL, cache=tmp_path, timeout=0)
    with pytest.raises(BadArgumentError, match="n_users=0: expected an integer >= 1"):
        write_synthetic_movielens(tmp_path, n_users=0)
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------- data missing


def test_data_dir_missing_or_incomplete(
    twin: Path, tmp_path: Path, clean_env: Path, capsys: pytest.CaptureFixture
) -> None:
    missing = tmp_path / "nowhere"
    with pytest.raises(DataUnavailableError, match=f"{missing} does not exist"):
        load_movielens("ml-1m", data_dir=missing)
    assert main(["data", "--data-dir", str(missing)]) == EXIT_DATA_MISSING
    one_line_error(capsys, "nowhere does not exist")
    (twin / "ml-1m" / "users.dat").rename(tmp_path / "users.dat.kept")
    before = snapshot(tmp_path)
    assert main(["data", "--data-dir", str(twin)]) == EXIT_DATA_MISSING
    one_line_error(capsys, f"{twin / 'ml-1m'} lacks users.dat")
    assert changes(before, snapshot(tmp_path)) == {}
    assert not clean_env.exists()  # no fallback to the cache, nothing downloaded


@pytest.mark.parametrize("state", ["missing", "empty", "incomplete"])
def test_recsys_data_dir_never_falls_back(
    state: str,
    twin: Path,
    tmp_path: Path,
    clean_env: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    """A good copy in the cache is not used in place of a bad RECSYS_DATA_DIR."""
    write_synthetic_movielens(clean_env, **SYNTH)
    env = {"missing": tmp_path / "gone", "empty": tmp_path / "empty", "incomplete": twin}[state]
    if state == "empty":
        env.mkdir()
    if state == "incomplete":
        (twin / "ml-1m" / "movies.dat").unlink()
    monkeypatch.setenv("RECSYS_DATA_DIR", str(env))
    needle = {
        "missing": "gone does not exist",
        "empty": "holds no 'ml-1m/' folder",
        "incomplete": "lacks movies.dat",
    }[state]
    with pytest.raises(DataUnavailableError, match="RECSYS_DATA_DIR") as err:
        resolve_dataset_dir("ml-1m", download=False)
    assert type(err.value) is DataUnavailableError
    assert needle in str(err.value)
    before = snapshot(tmp_path)
    assert main(["data"]) == EXIT_DATA_MISSING
    one_line_error(capsys, "RECSYS_DATA_DIR", needle)
    assert changes(before, snapshot(tmp_path)) == {}


def test_offline_without_data(clean_env: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["data", "--no-download"]) == EXIT_DATA_MISSING
    one_line_error(capsys, "not available locally", "RECSYS_DATA_DIR", "RECSYS_CACHE_DIR")
    assert not clean_env.exists()


# --------------------------------------------------------------------------- damaged data


def test_ratings_cut_inside_its_last_line(twin: Path, capsys: pytest.CaptureFixture) -> None:
    path = twin / "ml-1m" / "ratings.dat"
    raw = path.read_bytes()
    n_lines = raw.count(b"\n")
    path.write_bytes(raw[:-4])  # the newline and three digits of the last timestamp
    before = snapshot(twin)
    with pytest.raises(MovieLensFormatError) as err:
        load_movielens("ml-1m", data_dir=twin, download=False)
    assert type(err.value) is MovieLensFormatError
    assert err.value.path == path and err.value.line == n_lines
    assert "the last line has no line end: the file is truncated" in str(err.value)
    assert main(["data", "--data-dir", str(twin)]) == EXIT_DATA_DAMAGED
    one_line_error(capsys, f"{path}, line {n_lines}: the last line has no line end")
    assert changes(before, snapshot(twin)) == {}


def test_ratings_cut_at_a_line_end(twin: Path) -> None:
    path = twin / "ml-1m" / "ratings.dat"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:-3]))
    with pytest.raises(MovieLensFormatError) as err:
        load_movielens("ml-1m", data_dir=twin, download=False)
    assert err.value.line == len(lines) - 2
    assert f"has {len(lines) - 3:,} lines where the synthetic twin's" in str(err.value)
    assert "truncated or damaged" in str(err.value)


def test_official_release_facts_apply_without_a_synthetic_readme(
    twin: Path, capsys: pytest.CaptureFixture
) -> None:
    """A folder that does not say it is a synthetic twin is held to ML-1M's 1,000,209 lines."""
    (twin / "ml-1m" / "README").unlink()
    with pytest.raises(MovieLensFormatError, match="official MovieLens 1M release has 1,000,209"):
        load_movielens("ml-1m", data_dir=twin, download=False)
    assert main(["data", "--data-dir", str(twin)]) == EXIT_DATA_DAMAGED
    one_line_error(capsys, "ratings.dat, line", "1,000,209")


def test_reordered_ratings_load_with_a_warning(twin: Path) -> None:
    """Same lines in another order (like the shared ML-1M copy): a warning, not an error."""
    original = load_movielens("ml-1m", data_dir=twin, download=False)
    path = twin / "ml-1m" / "ratings.dat"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(reversed(lines)))
    with pytest.warns(DataWarning, match=r"ratings.dat: MD5 .* differs .* lines are all there"):
        reordered = load_movielens("ml-1m", data_dir=twin, download=False)
    key = ["user_id", "movie_id"]
    pd.testing.assert_frame_equal(
        reordered.ratings.sort_values(key).reset_index(drop=True),
        original.ratings.sort_values(key).reset_index(drop=True),
    )


def test_changed_line_with_same_count_is_caught_by_the_counts(twin: Path) -> None:
    """A rating moved to another (known) movie keeps the line count; the count of rated
    movies or a duplicate gives it away, or at least the checksum warns."""
    path = twin / "ml-1m" / "ratings.dat"
    lines = path.read_bytes().splitlines(keepends=True)
    user, movie, rating, stamp = lines[-1].decode().strip().split("::")
    movies = load_movielens("ml-1m", data_dir=twin, download=False).movies
    unrated = set(movies["movie_id"]) - {int(x.split(b"::")[1]) for x in lines}
    lines[-1] = f"{user}::{min(unrated)}::{rating}::{stamp}\n".encode()
    path.write_bytes(b"".join(lines))
    with pytest.warns(DataWarning), pytest.raises(DataDamagedError) as err:
        load_movielens("ml-1m", data_dir=twin, download=False)
    assert type(err.value) is DataDamagedError
    assert "movies with a rating where the synthetic twin's" in str(err.value)
    assert err.value.path == path


@pytest.mark.parametrize(
    ("encode", "needle", "line"),
    [
        (lambda text: text.encode("utf-8"), "the file is UTF-8 encoded", None),
        (lambda text: text.encode("utf-16"), "byte-order mark", 1),
        (lambda text: text.encode("utf-16-le"), "NUL byte", 1),
        (lambda text: b"\xef\xbb\xbf" + text.encode("latin-1"), "UTF-8 byte-order mark", 1),
    ],
)
def test_wrong_encodings(
    encode: Callable[[str], bytes], needle: str, line: int | None, twin: Path, capsys: pytest.CaptureFixture
) -> None:
    path = twin / "ml-1m" / "movies.dat"
    text = path.read_bytes().decode("latin-1")
    path.write_bytes(encode(text))
    with pytest.raises(MovieLensFormatError) as err:
        load_movielens("ml-1m", data_dir=twin, download=False)
    assert err.value.path == path and needle in str(err.value)
    expected_line = line or 1 + next(i for i, t in enumerate(text.splitlines()) if not t.isascii())
    assert err.value.line == expected_line
    assert main(["data", "--data-dir", str(twin)]) == EXIT_DATA_DAMAGED
    one_line_error(capsys, str(path), needle)


# --------------------------------------------------------------------------- environment


def test_unreadable_data_file(
    twin: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    refuse(monkeypatch, twin / "ml-1m", errno.EACCES, reads=True)
    with pytest.raises(EnvironmentRefusedError, match="cannot read .*: permission denied"):
        load_movielens("ml-1m", data_dir=twin, download=False)
    assert main(["data", "--data-dir", str(twin)]) == EXIT_ENVIRONMENT_REFUSED
    one_line_error(capsys, "cannot read", "permission denied")


@pytest.mark.parametrize("exists", [False, True])
def test_read_only_cache(
    exists: bool,
    clean_env: Path,
    tmp_path: Path,
    archive,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    body, info = archive
    if exists:
        clean_env.mkdir()
        (clean_env / "mine.txt").write_text("the user's")
    before = snapshot(tmp_path)
    refuse(monkeypatch, clean_env if exists else tmp_path, errno.EROFS)
    calls: list[str] = []
    with pytest.raises(EnvironmentRefusedError) as err:
        download_dataset(
            "ml-1m",
            url=FAKE_URL,
            cache=clean_env,
            expected=info,
            progress=False,
            opener=opener_of(body, calls),
        )
    assert type(err.value) is EnvironmentRefusedError and err.value.errno == errno.EROFS
    assert "the file system is read-only" in str(err.value)
    assert "RECSYS_CACHE_DIR" in str(err.value)
    assert calls == []  # refused before fetching anything
    assert main(["data"]) == EXIT_ENVIRONMENT_REFUSED  # would download into the cache
    one_line_error(capsys, "cannot", "read-only", "RECSYS_CACHE_DIR")
    monkeypatch.undo()
    assert changes(before, snapshot(tmp_path)) == {}


@pytest.mark.parametrize("stage", ["download", "extraction"])
def test_disk_full(
    stage: str, clean_env: Path, archive, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    body, info = archive
    clean_env.mkdir()
    (clean_env / "mine.txt").write_text("the user's")
    before = snapshot(clean_env)
    # room for the download but not its extraction, or not even the download
    refuse(
        monkeypatch,
        clean_env,
        errno.ENOSPC,
        disk_bytes=len(body) + 100 if stage == "extraction" else len(body) // 2,
    )
    with pytest.raises(EnvironmentRefusedError, match="no space left on the device"):
        download_dataset(
            "ml-1m", url=FAKE_URL, cache=clean_env, expected=info, progress=False, opener=opener_of(body)
        )
    after = snapshot(clean_env)
    extra = changes(before, after)
    if stage == "extraction":  # the verified archive stays; nothing half-extracted
        assert list(extra) == ["ml-1m.zip"]
    else:
        assert extra == {}
    monkeypatch.undo()
    folder = download_dataset(
        "ml-1m", url=FAKE_URL, cache=clean_env, expected=info, progress=False, opener=opener_of(body)
    )
    assert load_movielens("ml-1m", data_dir=folder, download=False).ratings.shape[0] > 0


def test_disk_full_from_the_command_line(
    clean_env: Path, archive, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    import recsys_utils.data.download as download

    body, _ = archive
    monkeypatch.setattr(download.urllib.request, "urlopen", opener_of(body))
    clean_env.mkdir()
    refuse(monkeypatch, clean_env, errno.ENOSPC, disk_bytes=1000)
    assert main(["data"]) == EXIT_ENVIRONMENT_REFUSED
    out, err = capsys.readouterr()
    progress, _, last = err.rstrip("\n").rpartition("\n")
    assert set(progress.replace("\r", "\n").split("\n")) <= {""} | {
        line for line in progress.replace("\r", "\n").split("\n") if "ml-1m.zip" in line
    }
    assert last.startswith("error: cannot write the download to") and "no space left" in last
    assert out == "" and "Traceback" not in err
    monkeypatch.undo()
    assert [p.name for p in clean_env.iterdir() if not package_own(p.name)] == []


def test_read_only_cache_holding_the_data_is_enough(
    clean_env: Path, archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading from a complete cache writes nothing, so a read-only cache works."""
    body, info = archive
    download_dataset(
        "ml-1m", url=FAKE_URL, cache=clean_env, expected=info, progress=False, opener=opener_of(body)
    )
    before = snapshot(clean_env)
    refuse(monkeypatch, clean_env, errno.EROFS)
    assert len(load_movielens("ml-1m", download=False).ratings) > 0
    assert len(load_movielens("ml-1m", download=True).ratings) > 0
    monkeypatch.undo()
    assert snapshot(clean_env) == before


# --------------------------------------------------------------------------- the cache heals


def test_interrupted_download_leaves_nothing(clean_env: Path, archive) -> None:
    body, info = archive
    for response in (
        dict(fail_after=len(body) // 2),  # connection reset
        dict(length=len(body) + 10),
    ):  # server stops short
        with pytest.raises(DataUnavailableError) as err:
            download_dataset(
                "ml-1m",
                url=FAKE_URL,
                cache=clean_env,
                expected=info,
                progress=False,
                opener=opener_of(body, **response),
            )
        assert FAKE_URL in str(err.value) and "RECSYS_DATA_DIR" in str(err.value)
        assert [p.name for p in clean_env.iterdir() if not package_own(p.name)] == []


def test_killed_download_is_swept_by_the_next_run(clean_env: Path, archive) -> None:
    """A download killed mid-way (here: Ctrl-C) and the leftovers of a killed process (a
    partial file, a half-extracted folder) do not trip a later run; the user's files stay."""
    body, info = archive
    with pytest.raises(KeyboardInterrupt):
        download_dataset(
            "ml-1m",
            url=FAKE_URL,
            cache=clean_env,
            expected=info,
            progress=False,
            opener=opener_of(body, fail_after=1000, error=KeyboardInterrupt()),
        )
    assert [p.name for p in clean_env.iterdir() if not package_own(p.name)] == []
    (clean_env / ".ml-1m-x1y2.zip.part").write_bytes(body[:100])  # as a SIGKILL leaves
    (clean_env / ".ml-1m-extract-abc" / "ml-1m").mkdir(parents=True)
    (clean_env / ".ml-1m-extract-abc" / "ml-1m" / "ratings.dat").write_bytes(b"1::1::1")
    (clean_env / "mine.txt").write_text("keep")
    (clean_env / ".ml-100k-z.zip.part").write_text("another dataset's: not swept now")
    with pytest.warns(DataWarning, match="removed 2 temporary file"):
        download_dataset(
            "ml-1m", url=FAKE_URL, cache=clean_env, expected=info, progress=False, opener=opener_of(body)
        )
    names = sorted(p.name for p in clean_env.iterdir() if not package_own(p.name))
    assert names == [".ml-100k-z.zip.part", "mine.txt", "ml-1m", "ml-1m.zip"]
    assert (clean_env / "mine.txt").read_text() == "keep"


def test_damaged_archive_heals_on_the_next_run(clean_env: Path, archive) -> None:
    body, info = archive
    clean_env.mkdir()
    (clean_env / "ml-1m.zip").write_bytes(body[: len(body) // 2])  # a truncated archive
    calls: list[str] = []
    with pytest.warns(DataWarning, match="moved aside to .*damaged.*fetching a fresh copy"):
        folder = download_dataset(
            "ml-1m",
            url=FAKE_URL,
            cache=clean_env,
            expected=info,
            progress=False,
            opener=opener_of(body, calls),
        )
    assert calls == [FAKE_URL]
    assert (clean_env / "ml-1m.zip").read_bytes() == body
    aside = [p for p in clean_env.iterdir() if p.name.startswith("ml-1m.zip.damaged-")]
    assert len(aside) == 1 and aside[0].read_bytes() == body[: len(body) // 2]
    assert load_movielens("ml-1m", data_dir=folder, download=False).ratings.shape[0] > 0


def test_damaged_archive_is_fetched_again_only_once(clean_env: Path, archive) -> None:
    body, info = archive
    clean_env.mkdir()
    (clean_env / "ml-1m.zip").write_bytes(b"not a zip")
    calls: list[str] = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        with pytest.raises(ChecksumMismatchError, match=f"downloaded from {FAKE_URL}"):
            download_dataset(
                "ml-1m",
                url=FAKE_URL,
                cache=clean_env,
                expected=info,
                progress=False,
                opener=opener_of(body[:-1] + b"!", calls),
            )
    assert calls == [FAKE_URL]
    names = sorted(p.name for p in clean_env.iterdir() if not package_own(p.name))
    assert len(names) == 1 and names[0].startswith("ml-1m.zip.damaged-")


def test_incomplete_cache_folder_is_moved_aside_not_deleted(clean_env: Path, archive) -> None:
    body, info = archive
    folder = clean_env / "ml-1m"
    folder.mkdir(parents=True)
    (folder / "ratings.dat").write_text("the user's own subset\n")
    (folder / "notes.txt").write_text("keep me")
    with pytest.warns(DataWarning, match="incomplete folder .* moved aside"):
        download_dataset(
            "ml-1m", url=FAKE_URL, cache=clean_env, expected=info, progress=False, opener=opener_of(body)
        )
    aside = [p for p in clean_env.iterdir() if p.name.startswith("ml-1m.incomplete-")]
    assert len(aside) == 1
    assert (aside[0] / "notes.txt").read_text() == "keep me"
    assert (aside[0] / "ratings.dat").read_text() == "the user's own subset\n"
    assert not (folder / "notes.txt").exists()


# --------------------------------------------------------------------------- command line


def test_debug_shows_the_traceback(tmp_path: Path) -> None:
    with pytest.raises(DataUnavailableError):
        main(["data", "--data-dir", str(tmp_path / "nowhere"), "--debug"])


def test_unexpected_error_is_one_line_with_code_1(
    twin: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def broken(*args: Any, **kw: Any) -> None:
        raise ZeroDivisionError("division by zero")

    monkeypatch.setattr(cli, "data_summary", broken)
    assert main(["data", "--data-dir", str(twin)]) == EXIT_UNEXPECTED
    one_line_error(capsys, "unexpected ZeroDivisionError: division by zero", "--debug")


def test_interrupt_is_one_line_with_code_130(
    twin: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    def interrupted(*args: Any, **kw: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(cli, "data_summary", interrupted)
    assert main(["data", "--data-dir", str(twin)]) == EXIT_INTERRUPTED
    one_line_error(capsys, "interrupted")


def test_warnings_are_one_line_each(twin: Path, capsys: pytest.CaptureFixture) -> None:
    path = twin / "ml-1m" / "ratings.dat"
    lines = path.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(reversed(lines)))
    assert main(["data", "--data-dir", str(twin), "--json"]) == 0
    out, err = capsys.readouterr()
    assert err.startswith("warning: ") and err.count("\n") == 1 and "MD5" in err
    assert out.startswith("{")


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"epochs": 0}, "epochs"),
        ({"epochs": -5}, "epochs"),
        ({"seed": -1}, "seed"),
        ({"train_fraction": 1.0}, "train_fraction"),
        ({"split": "by-time"}, "split"),
        ({"protocols": ("report", "all")}, "protocols"),
        ({"verbose": 7}, "verbose"),
    ],
)
def test_evaluate_user_checks_its_arguments_before_training(synthetic_ml1m, kwargs, argument):
    """The Python API refuses what the command line refuses, before reading a user's rows."""
    from recsys_utils.errors import BadArgumentError
    from recsys_utils.evaluation import EvaluationSettings, evaluate_user

    with pytest.raises(BadArgumentError, match=argument):
        evaluate_user("popularity", synthetic_ml1m, 1, EvaluationSettings(**kwargs))
