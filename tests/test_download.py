"""Download, verification and extraction against a local HTTP server (no internet needed)."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import shutil
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from recsys_utils.data import (
    DATASETS,
    ArchiveError,
    ChecksumMismatchError,
    DataUnavailableError,
    DataWarning,
    download_dataset,
    load_movielens,
    resolve_dataset_dir,
)
from recsys_utils.data.download import fill_cache
from recsys_utils.data.synthetic import write_synthetic_archive, write_synthetic_movielens

SYNTH = {"n_users": 12, "n_movies": 50, "seed": 3}


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves a folder; ``/interrupted.zip`` promises more bytes than it sends."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/interrupted.zip":
            body = (Path(self.directory) / "ml-1m.zip").read_bytes()
            self.send_response(200)
            self.send_header("Content-Type", "application/zip")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        super().do_GET()

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path, dict]]:
    """(base URL, served folder, checks of the good archive) of a server on 127.0.0.1."""
    root = tmp_path_factory.mktemp("served")
    info = write_synthetic_archive(root / "ml-1m.zip", **SYNTH)
    good = (root / "ml-1m.zip").read_bytes()
    (root / "truncated.zip").write_bytes(good[: len(good) * 2 // 3])
    flipped = bytearray(good)
    middle = len(good) // 2
    flipped[middle : middle + 64] = bytes(b ^ 0xFF for b in flipped[middle : middle + 64])
    (root / "corrupt.zip").write_bytes(bytes(flipped))
    write_synthetic_archive(root / "wrong-layout.zip", variant="ml-100k", **SYNTH)
    handler = functools.partial(_Handler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", root, info
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep urllib from sending 127.0.0.1 requests through a configured proxy."""
    monkeypatch.setenv("no_proxy", "*")
    monkeypatch.setenv("NO_PROXY", "*")


def left_in(cache: Path) -> list[str]:
    """What is in ``cache`` besides the package's lock files, sorted."""
    return sorted(p.name for p in cache.iterdir() if not p.name.endswith(".lock"))


def checks_of(path: Path) -> dict:
    """Size and checksums of a file, in download_dataset's ``expected`` form."""
    data = path.read_bytes()
    return {
        "size": len(data),
        "md5": hashlib.md5(data).hexdigest(),
        "sha256": hashlib.sha256(data).hexdigest(),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_download_verifies_extracts_and_keeps_the_archive(served, tmp_path: Path) -> None:
    base, root, info = served
    cache = tmp_path / "cache"
    folder = download_dataset("ml-1m", url=f"{base}/ml-1m.zip", cache=cache, expected=info, progress=False)
    assert folder == cache / "ml-1m"
    assert left_in(cache) == ["ml-1m", "ml-1m.zip"]
    assert (cache / "ml-1m.zip").read_bytes() == (root / "ml-1m.zip").read_bytes()
    assert {"ratings.dat", "movies.dat", "users.dat"} <= {p.name for p in folder.iterdir()}
    # same content as the generator writes directly
    direct = write_synthetic_movielens(tmp_path / "direct", **SYNTH)
    for name in ("ratings.dat", "movies.dat", "users.dat"):
        assert (folder / name).read_bytes() == (direct / name).read_bytes()
    # a second call uses the cache: an unreachable URL does not matter
    again = download_dataset(
        "ml-1m", url=f"http://127.0.0.1:{free_port()}/x.zip", cache=cache, expected=info, progress=False
    )
    assert again == folder


def test_progress_bar_is_shown(served, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    base, _, info = served
    download_dataset("ml-1m", url=f"{base}/ml-1m.zip", cache=tmp_path, expected=info, progress=True)
    assert "ml-1m.zip" in capsys.readouterr().err


@pytest.mark.parametrize("kind", ["size", "md5", "sha256"])
def test_checksum_mismatch_leaves_nothing(served, tmp_path: Path, kind: str) -> None:
    base, _, info = served
    wrong = dict(info)
    wrong[kind] = info["size"] + 1 if kind == "size" else "0" * len(info[kind])
    cache = tmp_path / "cache"
    with pytest.raises(ChecksumMismatchError) as err:
        download_dataset("ml-1m", url=f"{base}/ml-1m.zip", cache=cache, expected=wrong, progress=False)
    assert err.value.kind == kind
    message = str(err.value)
    assert f"expected {wrong[kind]}" in message and f"got {info[kind]}" in message
    assert f"{base}/ml-1m.zip" in message
    assert left_in(cache) == []


def test_truncated_download_fails_size_check(served, tmp_path: Path) -> None:
    base, root, info = served
    with pytest.raises(ChecksumMismatchError, match="size expected"):
        download_dataset("ml-1m", url=f"{base}/truncated.zip", cache=tmp_path, expected=info, progress=False)
    assert left_in(tmp_path) == []


@pytest.mark.parametrize("name", ["truncated.zip", "corrupt.zip"])
def test_corrupt_archive_is_rejected_and_removed(served, tmp_path: Path, name: str) -> None:
    """The bytes match their (bad) checksums, so extraction is what fails."""
    base, root, _ = served
    with pytest.raises(ArchiveError, match="corrupt"):
        download_dataset(
            "ml-1m", url=f"{base}/{name}", cache=tmp_path, expected=checks_of(root / name), progress=False
        )
    assert left_in(tmp_path) == []


def test_archive_without_the_dataset_files(served, tmp_path: Path) -> None:
    base, root, _ = served
    with pytest.raises(ArchiveError, match="lacks ml-1m/ratings.dat"):
        download_dataset(
            "ml-1m",
            url=f"{base}/wrong-layout.zip",
            cache=tmp_path,
            expected=checks_of(root / "wrong-layout.zip"),
            progress=False,
        )
    assert left_in(tmp_path) == []


def test_unreachable_server_says_how_to_provide_data(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/ml-1m.zip"
    with pytest.raises(DataUnavailableError) as err:
        download_dataset("ml-1m", url=url, cache=tmp_path, progress=False, timeout=5)
    message = str(err.value)
    for needle in (url, "RECSYS_DATA_DIR", "data_dir=", str(tmp_path / "ml-1m.zip")):
        assert needle in message, needle
    assert left_in(tmp_path) == []


def test_http_error(served, tmp_path: Path) -> None:
    base, _, info = served
    with pytest.raises(DataUnavailableError, match="HTTP 404"):
        download_dataset("ml-1m", url=f"{base}/missing.zip", cache=tmp_path, expected=info, progress=False)
    assert left_in(tmp_path) == []


def test_interrupted_transfer(served, tmp_path: Path) -> None:
    base, _, info = served
    with pytest.raises(DataUnavailableError, match="interrupted"):
        download_dataset(
            "ml-1m", url=f"{base}/interrupted.zip", cache=tmp_path, expected=info, progress=False, timeout=5
        )
    assert left_in(tmp_path) == []


def test_hand_placed_archive_is_verified_and_extracted_offline(served, tmp_path: Path) -> None:
    _, root, info = served
    shutil.copy(root / "ml-1m.zip", tmp_path / "ml-1m.zip")
    folder = download_dataset(
        "ml-1m", url=f"http://127.0.0.1:{free_port()}/x.zip", cache=tmp_path, expected=info, progress=False
    )
    assert folder == tmp_path / "ml-1m"
    assert left_in(tmp_path) == ["ml-1m", "ml-1m.zip"]


def test_bad_hand_placed_archive_is_moved_aside_and_fetched_again(served, tmp_path: Path) -> None:
    """A damaged cached archive is never deleted (it may be the user's): it is moved aside
    under a dated name, a fresh copy is fetched once, and a warning says so."""
    base, root, info = served
    shutil.copy(root / "corrupt.zip", tmp_path / "ml-1m.zip")
    with pytest.warns(DataWarning, match="moved aside.*fetching a fresh copy"):
        folder = download_dataset(
            "ml-1m", url=f"{base}/ml-1m.zip", cache=tmp_path, expected=info, progress=False
        )
    assert folder == tmp_path / "ml-1m"
    names = left_in(tmp_path)
    assert names[:2] == ["ml-1m", "ml-1m.zip"] and len(names) == 3
    assert names[2].startswith("ml-1m.zip.damaged-")
    assert (tmp_path / names[2]).read_bytes() == (root / "corrupt.zip").read_bytes()
    assert (tmp_path / "ml-1m.zip").read_bytes() == (root / "ml-1m.zip").read_bytes()


def test_bad_hand_placed_archive_offline_is_moved_aside_and_reported(served, tmp_path: Path) -> None:
    _, root, info = served
    shutil.copy(root / "corrupt.zip", tmp_path / "ml-1m.zip")
    with pytest.raises(ChecksumMismatchError, match="moved aside to .*ml-1m.zip.damaged-"):
        fill_cache(DATASETS["ml-1m"], tmp_path, info, fetch=None)
    shutil.copy(root / "corrupt.zip", tmp_path / "ml-1m.zip")
    with pytest.raises(ArchiveError, match="corrupt.*moved aside"):
        fill_cache(DATASETS["ml-1m"], tmp_path, checks_of(root / "corrupt.zip"), fetch=None)
    names = left_in(tmp_path)
    assert len(names) == 2 and all(n.startswith("ml-1m.zip.damaged-") for n in names)


def test_resolution_verifies_a_cached_archive_against_the_registry(
    served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A synthetic archive placed as the cache's ml-1m.zip is not the official file."""
    _, root, _ = served
    monkeypatch.delenv("RECSYS_DATA_DIR", raising=False)
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path))
    shutil.copy(root / "ml-1m.zip", tmp_path / "ml-1m.zip")
    with pytest.raises(ChecksumMismatchError, match="size expected 5917549"):
        resolve_dataset_dir("ml-1m", download=False)
    names = left_in(tmp_path)
    assert len(names) == 1 and names[0].startswith("ml-1m.zip.damaged-")


class FakeResponse(io.BytesIO):
    """What a fake opener returns: bytes, a Content-Length header, an optional pause."""

    def __init__(self, body: bytes, length: int | None = None, pause: float = 0.0) -> None:
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body) if length is None else length)}
        self.pause = pause

    def read(self, n: int = -1) -> bytes:
        time.sleep(self.pause)
        return super().read(n)


def test_fake_opener_downloads_without_network(served, tmp_path: Path) -> None:
    _, root, info = served
    calls = []

    def opener(request, timeout):
        calls.append((request.full_url, timeout))
        return FakeResponse((root / "ml-1m.zip").read_bytes())

    folder = download_dataset(
        "ml-1m",
        url="https://mirror.invalid/ml-1m.zip",
        cache=tmp_path,
        expected=info,
        progress=False,
        timeout=7,
        opener=opener,
    )
    assert calls == [("https://mirror.invalid/ml-1m.zip", 7)]
    assert left_in(tmp_path) == ["ml-1m", "ml-1m.zip"] and folder == tmp_path / "ml-1m"


def test_two_fillers_at_once_download_once(served, tmp_path: Path) -> None:
    """The cache's lock: the second caller waits, then finds the dataset in place."""
    _, root, info = served
    body = (root / "ml-1m.zip").read_bytes()
    calls = []

    def opener(request, timeout):
        calls.append(request.full_url)
        return FakeResponse(body, pause=0.02)

    results: list[Path] = []
    errors: list[BaseException] = []

    def fill() -> None:
        try:
            results.append(
                download_dataset(
                    "ml-1m",
                    url="https://x.invalid/ml-1m.zip",
                    cache=tmp_path,
                    expected=info,
                    progress=False,
                    opener=opener,
                )
            )
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)  # "waiting for another process"
        threads = [threading.Thread(target=fill) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    assert errors == []
    assert results == [tmp_path / "ml-1m"] * 2
    assert len(calls) == 1
    assert left_in(tmp_path) == ["ml-1m", "ml-1m.zip"]


def test_downloaded_data_loads(served, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, _, info = served
    download_dataset("ml-1m", url=f"{base}/ml-1m.zip", cache=tmp_path, expected=info, progress=False)
    monkeypatch.delenv("RECSYS_DATA_DIR", raising=False)
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path))
    ml = load_movielens("ml-1m", download=False)
    direct = load_movielens("ml-1m", data_dir=write_synthetic_movielens(tmp_path / "d", **SYNTH))
    pd.testing.assert_frame_equal(ml.ratings, direct.ratings)
    assert ml.path == tmp_path / "ml-1m"


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="only http"):
        download_dataset("ml-1m", url="ftp://example.org/ml-1m.zip", cache=tmp_path)
    with pytest.raises(ValueError, match="unknown keys"):
        download_dataset("ml-1m", url="http://127.0.0.1:1/x", cache=tmp_path, expected={"crc": 1})
    with pytest.raises(ValueError, match="unknown dataset"):
        download_dataset("ml-99m", cache=tmp_path)
