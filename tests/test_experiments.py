"""The experiment store: plain-data round trips, keys, the data fingerprint, atomic and checked
entries, locking, clearing, and the named experiments (user fits, population shards)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from recsys_utils.data import MovieLens
from recsys_utils.experiments import (
    Cached,
    Store,
    StoreWarning,
    canonical_params,
    clear_store,
    data_fingerprint,
    decode,
    encode,
    list_store,
)
from recsys_utils.experiments import entry as entry_module
from recsys_utils.experiments.fingerprint import user_rows_fingerprint

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "store", version="9.9", code="c0de")


class Counter:
    """A compute function that counts its calls and returns ``value``."""

    def __init__(self, value=None) -> None:
        self.calls = 0
        self.value = {"answer": 42} if value is None else value

    def __call__(self):
        self.calls += 1
        return self.value


def only_entry(store: Store, name: str = "demo") -> Path:
    entries = store.entries(name)
    assert len(entries) == 1, entries
    return entries[0].path


def rewrite_manifest_hashes(entry: Path) -> None:
    """Make the manifest agree with the files as they are now (a consistent tampering)."""
    manifest = json.loads((entry / "manifest.json").read_text())
    for fname in manifest["files"]:
        manifest["files"][fname] = {
            "sha256": entry_module.sha256_file(entry / fname),
            "bytes": (entry / fname).stat().st_size,
        }
    (entry / "manifest.json").write_text(json.dumps(manifest))


# ------------------------------------------------------------------------ round trips
def sample_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "user_id": np.array([3, 1, 2], np.int64),
            "small": np.array([1, -2, 3], np.int8),
            "score": np.array([0.25, np.nan, 1.0], np.float32),
            "acc": [0.5, math.nan, 1.0],
            "flag": [True, False, True],
            "model": ["lstm", "modified", "majority"],
            "maybe": ["a", None, "c"],
            "group": pd.Categorical(["x", "y", "x"], ["y", "x"]),
            "count": pd.array([1, None, 3], dtype="Int64"),
            "when": pd.to_datetime(["2000-01-01", "2000-12-31", "2001-06-15"]),
        }
    )


ROUND_TRIPS = {
    "scalars": {
        "int": 7,
        "big": 2**62,
        "neg": -3,
        "float": 0.1,
        "str": "é ok",
        "true": True,
        "false": False,
        "none": None,
    },
    "special floats": [math.nan, math.inf, -math.inf, -0.0],
    "nested": {"a": {"b": [1, {"c": [2.5, None]}]}, "empty": {}, "list": []},
    "odd keys": {("lstm", 0): 1, 3: "three", None: "none", "__array__": "not a marker"},
    "float32": np.arange(12, dtype=np.float32).reshape(3, 4) / 7,
    "float64 with nan": np.array([1.5, np.nan, -np.inf]),
    "int8": np.array([-128, 0, 127], np.int8),
    "uint16": np.array([0, 65535], np.uint16),
    "int64 3d": np.arange(24, dtype=np.int64).reshape(2, 3, 4),
    "bool": np.array([True, False]),
    "complex": np.array([1 + 2j]),
    "unicode": np.array(["ab", "é"]),
    "bytes": np.array([b"x"]),
    "datetime": np.array(["2000-01-01T00:00:01"], dtype="datetime64[s]"),
    "empty array": np.zeros((0, 18), np.float32),
    "frame": sample_frame(),
    "indexed frame": sample_frame().set_index("user_id"),
    "string index": pd.DataFrame({"v": [1.0, 2.0]}, index=pd.Index(["a", "b"], name="k")),
    "empty frame": pd.DataFrame({"a": np.zeros(0, np.int64)}),
    "series": pd.Series([0.5, np.nan], index=[10, 20], name="acc"),
}


def assert_same(a, b) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    elif isinstance(a, pd.Series):
        pd.testing.assert_series_equal(a, b)
    elif isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray) and a.dtype == b.dtype and a.shape == b.shape
        np.testing.assert_array_equal(a, b)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and list(a) == list(b)
        for k in a:
            assert_same(a[k], b[k])
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, list) and len(a) == len(b)
        for x, y in zip(a, b):
            assert_same(x, y)
    elif isinstance(a, float) and math.isnan(a):
        assert isinstance(b, float) and math.isnan(b)
    else:
        assert type(a) is type(b) and a == b
        if isinstance(a, float):
            assert math.copysign(1, a) == math.copysign(1, b)


@pytest.mark.parametrize("kind", list(ROUND_TRIPS))
def test_round_trip_through_the_store(store: Store, kind: str):
    value = ROUND_TRIPS[kind]
    first = store.cached("demo", {"kind": kind}, lambda: value)
    second = store.cached("demo", {"kind": kind}, lambda: pytest.fail("computed twice"))
    assert first.computed and not second.computed
    assert_same(value, first.value)
    assert_same(value, second.value)


def test_the_stored_document_is_strict_json_and_the_arrays_need_no_pickle(store: Store):
    store.cached("demo", {}, lambda: {"x": math.nan, "frame": sample_frame()})
    entry = only_entry(store)
    json.loads((entry / "result.json").read_text(), parse_constant=lambda c: pytest.fail(f"{c} in the JSON"))
    with np.load(entry / "arrays.npz", allow_pickle=False) as npz:
        assert all(npz[k].dtype.kind != "O" for k in npz.files)


def test_tuples_and_numpy_scalars_come_back_as_stored_on_the_first_call_too(store: Store):
    first = store.cached(
        "demo", {}, lambda: {"t": (1, 2), "f": np.float32(0.5), "i": np.int16(3), "b": np.bool_(True)}
    )
    assert first.value == {"t": [1, 2], "f": 0.5, "i": 3, "b": True}
    assert type(first.value["i"]) is int and type(first.value["b"]) is bool


@pytest.mark.parametrize(
    "bad, where",
    [
        ({"ok": 1, "bad": np.array([object()], dtype=object)}, "['bad']"),
        ({"s": {1, 2}}, "['s']"),
        ([1, SimpleNamespace()], "[1]"),
        ({frozenset(): 1}, "dict key"),
    ],
)
def test_values_that_need_pickle_are_refused_naming_where(store: Store, bad, where: str):
    with pytest.raises(TypeError, match=r".*" + __import__("re").escape(where)):
        store.cached("demo", {}, lambda: bad)
    assert store.entries() == []


def test_put_stores_a_value_computed_elsewhere_once(store: Store):
    assert store.put("demo", {"a": 1}, {"v": 1}, compute_s=12.5) == Cached({"v": 1}, True)
    assert store.put("demo", {"a": 1}, {"v": 2}) == Cached({"v": 1}, False)
    assert store.cached("demo", {"a": 1}, lambda: pytest.fail("computed")).value == {"v": 1}
    assert store.entries()[0].compute_s == 12.5


def test_codec_round_trip_without_a_store():
    document, arrays = encode({"a": np.ones(3), "n": math.nan})
    json.dumps(document, allow_nan=False)
    out = decode(document, arrays)
    assert math.isnan(out["n"]) and out["a"].tolist() == [1.0, 1.0, 1.0]


# ------------------------------------------------------------------------------ keys
BASE = {"model": "lstm", "seed": 0, "epochs": 100, "train_fraction": 0.65, "users": [1, 2]}


@pytest.mark.parametrize(
    "change",
    [
        {"model": "modified-lstm"},
        {"seed": 1},
        {"epochs": 99},
        {"train_fraction": 0.66},
        {"users": [1, 3]},
        {"users": [2, 1]},
        {"extra": None},
    ],
)
def test_key_changes_with_every_parameter(store: Store, change: dict):
    assert store.key("demo", {**BASE, **change}, "f" * 32) != store.key("demo", BASE, "f" * 32)


def test_key_changes_with_name_fingerprint_version_and_code(tmp_path: Path, store: Store):
    key = store.key("demo", BASE, "a" * 32)
    assert store.key("other", BASE, "a" * 32) != key
    assert store.key("demo", BASE, "b" * 32) != key
    assert store.key("demo", BASE, None) != key
    assert Store(tmp_path, version="9.10", code="c0de").key("demo", BASE, "a" * 32) != key
    assert Store(tmp_path, version="9.9", code="c0df").key("demo", BASE, "a" * 32) != key
    assert Store(tmp_path, version="9.9", code="c0de").key("demo", BASE, "a" * 32) == key


def test_key_ignores_dict_order_tuple_vs_list_and_numpy_types(store: Store):
    same = {
        "users": (np.int64(1), 2),
        "train_fraction": np.float64(0.65),
        "epochs": 100,
        "seed": np.int32(0),
        "model": "lstm",
    }
    assert store.key("demo", same, None) == store.key("demo", BASE, None)
    assert canonical_params({"b": 1, "a": [1.5]}) == '{"a":[1.5],"b":1}'


@pytest.mark.parametrize(
    "params, error",
    [({"x": math.nan}, ValueError), ({"x": object()}, TypeError), ({1: 2}, TypeError), ([1], TypeError)],
)
def test_bad_parameters_are_refused(store: Store, params, error):
    with pytest.raises(error):
        store.key("demo", params, None)


@pytest.mark.parametrize("name", ["", "Upper", "a/b", "../up", ".tmp", "a b"])
def test_bad_names_are_refused(store: Store, name: str):
    with pytest.raises(ValueError, match="experiment name"):
        store.key(name, {}, None)


def test_the_default_version_is_the_package_version(tmp_path: Path):
    import recsys_utils

    assert Store(tmp_path).version == recsys_utils.__version__
    assert len(Store(tmp_path).code) == 16


# ------------------------------------------------------------------------ fingerprint
def frames_like(data: MovieLens, ratings: pd.DataFrame | None = None, **kw) -> SimpleNamespace:
    return SimpleNamespace(
        ratings=data.ratings if ratings is None else ratings,
        movies=kw.get("movies", data.movies),
        users=kw.get("users", data.users),
    )


def test_fingerprint_ignores_row_order(synthetic_ml1m: MovieLens):
    rng = np.random.default_rng(0)
    shuffled = frames_like(
        synthetic_ml1m,
        synthetic_ml1m.ratings.sample(frac=1.0, random_state=1).reset_index(drop=True),
        movies=synthetic_ml1m.movies.iloc[rng.permutation(len(synthetic_ml1m.movies))],
        users=synthetic_ml1m.users.iloc[::-1],
    )
    assert data_fingerprint(shuffled) == data_fingerprint(frames_like(synthetic_ml1m))


@pytest.mark.parametrize(
    "frame, column, value",
    [
        ("ratings", "rating", None),
        ("ratings", "timestamp", None),
        ("movies", "title", "x"),
        ("users", "zip_code", "00000"),
    ],
)
def test_fingerprint_sees_one_changed_value(synthetic_ml1m: MovieLens, frame: str, column: str, value):
    changed = getattr(synthetic_ml1m, frame).copy()
    i = len(changed) // 2
    old = changed.iloc[i, changed.columns.get_loc(column)]
    if value is None:
        value = old % 5 + 1 if column == "rating" else old + 1
    changed.iloc[i, changed.columns.get_loc(column)] = value
    original = frames_like(synthetic_ml1m)
    assert data_fingerprint(
        frames_like(synthetic_ml1m, **{frame: changed})
        if frame != "ratings"
        else frames_like(synthetic_ml1m, changed)
    ) != data_fingerprint(original)


def test_fingerprint_sees_a_dropped_row_and_a_changed_dtype(synthetic_ml1m: MovieLens):
    base = data_fingerprint(frames_like(synthetic_ml1m))
    assert data_fingerprint(frames_like(synthetic_ml1m, synthetic_ml1m.ratings.iloc[1:])) != base
    retyped = synthetic_ml1m.ratings.astype({"rating": np.int64})
    assert data_fingerprint(frames_like(synthetic_ml1m, retyped)) != base


def test_fingerprint_is_cached_per_object_and_refuses_other_objects(
    synthetic_ml1m: MovieLens, monkeypatch: pytest.MonkeyPatch
):
    from recsys_utils.experiments import fingerprint

    first = data_fingerprint(synthetic_ml1m)
    calls = []
    monkeypatch.setattr(
        fingerprint, "frame_digest", lambda f: calls.append(1) or pytest.fail("computed again")
    )
    assert data_fingerprint(synthetic_ml1m) == first and not calls
    with pytest.raises(TypeError, match="MovieLens"):
        data_fingerprint(SimpleNamespace(ratings=None))


def test_fingerprint_of_a_million_ratings_is_fast():
    """ML-1M's size: every chapter computes it at its start (the module docstring says
    about 0.1 s; 2 s leaves room for a loaded 2-core machine)."""
    n = 1_000_209
    rng = np.random.default_rng(0)
    ratings = pd.DataFrame(
        {
            "user_id": rng.integers(1, 6041, n, dtype=np.int32),
            "movie_id": rng.integers(1, 3953, n, dtype=np.int32),
            "rating": rng.integers(1, 6, n, dtype=np.int8),
            "timestamp": rng.integers(9e8, 1e9, n),
        }
    )
    movies = pd.DataFrame({"movie_id": np.arange(3883), "title": ["t"] * 3883, "genres": ["Drama"] * 3883})
    users = pd.DataFrame({"user_id": np.arange(6040), "zip_code": ["0"] * 6040})
    data = SimpleNamespace(ratings=ratings, movies=movies, users=users)
    start = time.perf_counter()
    data_fingerprint(data)
    assert time.perf_counter() - start < 2.0


def test_user_rows_fingerprint_follows_file_order(synthetic_ml1m: MovieLens):
    ratings = synthetic_ml1m.ratings
    user = int(ratings["user_id"].iloc[0])
    own = ratings[ratings["user_id"] == user]
    reordered = pd.concat([own.iloc[::-1], ratings[ratings["user_id"] != user]])
    assert user_rows_fingerprint(frames_like(synthetic_ml1m, reordered), user) != user_rows_fingerprint(
        synthetic_ml1m, user
    )
    assert data_fingerprint(frames_like(synthetic_ml1m, reordered)) == data_fingerprint(
        frames_like(synthetic_ml1m)
    )


def test_an_entry_is_keyed_by_the_data(store: Store, synthetic_ml1m: MovieLens):
    compute = Counter()
    store.cached("demo", {}, compute, data=synthetic_ml1m)
    store.cached("demo", {}, compute, data=synthetic_ml1m)
    changed = synthetic_ml1m.ratings.copy()
    changed.loc[0, "rating"] = changed.loc[0, "rating"] % 5 + 1
    store.cached("demo", {}, compute, data=frames_like(synthetic_ml1m, changed))
    assert compute.calls == 2
    assert {e.data for e in store.entries()} == {
        data_fingerprint(synthetic_ml1m),
        data_fingerprint(frames_like(synthetic_ml1m, changed)),
    }


# ---------------------------------------------------------------- where the store lives
def test_store_folder_from_argument_then_environment(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("RECSYS_STORE_DIR", raising=False)
    monkeypatch.delenv("RECSYS_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert Store().root == tmp_path / "xdg" / "recsys_utils" / "experiments"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert Store().root == tmp_path / "home" / ".cache" / "recsys_utils" / "experiments"
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "cache"))
    assert Store().root == tmp_path / "cache" / "experiments"
    monkeypatch.setenv("RECSYS_STORE_DIR", str(tmp_path / "store"))
    assert Store().root == tmp_path / "store"
    assert Store(tmp_path / "given").root == tmp_path / "given"


def test_module_level_cached_uses_the_environment_store(tmp_path: Path, monkeypatch):
    from recsys_utils.experiments import cached

    monkeypatch.setenv("RECSYS_STORE_DIR", str(tmp_path / "env-store"))
    compute = Counter()
    assert cached("demo", {"a": 1}, compute) == Cached({"answer": 42}, True)
    assert cached("demo", {"a": 1}, compute) == Cached({"answer": 42}, False)
    assert compute.calls == 1
    assert len(list((tmp_path / "env-store" / "demo").iterdir())) >= 1


# -------------------------------------------------------------- atomic, checked entries
def test_a_crash_while_writing_leaves_nothing_visible(store: Store, monkeypatch):
    def crash(handle, **arrays):
        handle.write(b"PK\x03\x04 half an archive")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(entry_module.np, "savez", crash)
    with pytest.warns(StoreWarning, match="could not store"):
        got = store.cached("demo", {}, Counter({"a": np.ones(3)}))
    assert got.computed and got.value["a"].tolist() == [1.0, 1.0, 1.0]
    assert store.entries() == []
    assert not [p for p in (store.root / "demo").iterdir() if p.name.startswith(".tmp-")]
    with pytest.raises(KeyError, match="no stored demo entry"):
        store.get("demo", {})


def test_a_killed_writer_s_temporary_folder_is_invisible_and_swept(store: Store):
    folder = store.root / "demo"
    temp = folder / f".tmp-{store.key('demo', {})}-999999-abcd"
    temp.mkdir(parents=True)
    (temp / "result.json").write_text('{"answer": 4')  # cut mid-write
    assert store.entries() == []
    old = time.time() - 2 * entry_module.STALE_TEMP_S
    os.utime(temp, (old, old))
    compute = Counter()
    assert store.cached("demo", {}, compute).value == {"answer": 42}
    assert compute.calls == 1 and not temp.exists()


def test_a_recent_temporary_folder_is_left_to_its_writer(store: Store):
    temp = store.root / "demo" / f".tmp-{'0' * 32}-1-ab"
    temp.mkdir(parents=True)
    store.cached("demo", {}, Counter())
    assert temp.exists()


def damage_flip_byte(entry: Path) -> None:
    path = entry / "result.json"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x01
    path.write_bytes(bytes(raw))


def damage_truncate_arrays(entry: Path) -> None:
    path = entry / "arrays.npz"
    path.write_bytes(path.read_bytes()[:40])


def damage_remove_manifest(entry: Path) -> None:
    (entry / "manifest.json").unlink()


def damage_remove_arrays(entry: Path) -> None:
    (entry / "arrays.npz").unlink()


def damage_garble_manifest(entry: Path) -> None:
    (entry / "manifest.json").write_text("{not json")


def damage_consistent_but_wrong_json(entry: Path) -> None:
    (entry / "result.json").write_text('{"__array__": "a99"}')
    rewrite_manifest_hashes(entry)


@pytest.mark.parametrize(
    "damage",
    [
        damage_flip_byte,
        damage_truncate_arrays,
        damage_remove_manifest,
        damage_remove_arrays,
        damage_garble_manifest,
        damage_consistent_but_wrong_json,
    ],
)
def test_a_damaged_entry_is_recomputed_with_a_warning_never_used(store: Store, damage):
    value = {"v": np.arange(5.0), "t": "text"}
    compute = Counter(value)
    store.cached("demo", {}, compute)
    damage(only_entry(store))
    with pytest.warns(StoreWarning, match="damaged"):
        again = store.cached("demo", {}, compute)
    assert again.computed and compute.calls == 2
    assert_same(value, again.value)
    # the new entry is whole: read without a warning, not computed
    assert not store.cached("demo", {}, compute).computed and compute.calls == 2


def test_a_foreign_file_in_an_entry_is_kept_aside_not_deleted(store: Store):
    compute = Counter()
    store.cached("demo", {}, compute)
    entry = only_entry(store)
    (entry / "notes.txt").write_text("mine")
    with pytest.warns(StoreWarning, match="differ from the manifest"):
        assert store.cached("demo", {}, compute).computed
    kept = [p for p in (store.root / "demo").iterdir() if p.name.startswith("damaged-")]
    assert len(kept) == 1 and (kept[0] / "notes.txt").read_text() == "mine"
    assert not (kept[0] / "result.json").exists()


class _Trap:
    """Unpickling this creates ``path`` (stands for any code a pickle may run)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_an_entry_holding_a_pickle_is_refused_and_its_code_never_runs(store: Store, tmp_path: Path):
    compute = Counter({"a": np.zeros(2)})
    store.cached("demo", {}, compute)
    entry = only_entry(store)
    marker = tmp_path / "pickle-ran"
    trap = np.empty(1, dtype=object)
    trap[0] = _Trap(marker)
    with open(entry / "arrays.npz", "wb") as handle:
        np.savez(handle, a0=trap)  # an object array: numpy pickles it
    rewrite_manifest_hashes(entry)  # the tampering is consistent: only the load refuses it
    with pytest.warns(StoreWarning, match="allow_pickle"):
        again = store.cached("demo", {}, compute)
    assert again.computed and compute.calls == 2 and not marker.exists()
    assert again.value["a"].tolist() == [0.0, 0.0]


def test_a_read_only_store_warns_and_still_returns_the_result(tmp_path: Path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    store = Store(blocker / "store", version="1", code="x")
    compute = Counter()
    with pytest.warns(StoreWarning, match="could not store"):
        assert store.cached("demo", {}, compute) == Cached({"answer": 42}, True)
    assert store.entries() == []


CONCURRENT_WRITER = textwrap.dedent("""
    import json, sys, time
    from recsys_utils.experiments import Store
    root, log = sys.argv[1], sys.argv[2]

    def compute():
        with open(log, "a") as handle:
            handle.write("computed\\n")
        time.sleep(1.0)
        return {"numbers": list(range(1000))}

    got = Store(root, version="1", code="x").cached("race", {"n": 1}, compute)
    print(json.dumps({"computed": got.computed, "sum": sum(got.value["numbers"])}))
""")


def test_two_processes_computing_one_entry_leave_one_valid_entry(tmp_path: Path):
    log = tmp_path / "log.txt"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_WRITER, str(tmp_path / "s"), str(log)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    results = [json.loads(out) for out, _ in outs]
    assert sorted(r["computed"] for r in results) == [False, True]  # the lock: computed once
    assert all(r["sum"] == sum(range(1000)) for r in results)
    assert log.read_text().count("computed") == 1
    store = Store(tmp_path / "s", version="1", code="x")
    assert len(store.entries("race")) == 1
    assert store.get("race", {"n": 1}) == {"numbers": list(range(1000))}


# ------------------------------------------------------------------- listing, clearing
def test_entries_list_size_date_and_parameters(store: Store):
    before = time.time()
    store.cached("demo", {"seed": 1}, lambda: {"a": np.zeros(1000)})
    store.cached("other", {"seed": 2}, Counter())
    entries = store.entries()
    assert [(e.name, e.params) for e in entries] == [("demo", {"seed": 1}), ("other", {"seed": 2})]
    assert entries[0].bytes > 8000 and entries[0].status == "ok"
    assert entries[0].bytes == sum(p.stat().st_size for p in entries[0].path.iterdir())
    assert before - 1 <= entries[0].created.timestamp() <= time.time() + 1
    assert entries[0].version == "9.9" and entries[0].compute_s >= 0
    assert [e.name for e in store.entries("other")] == ["other"]
    damage_garble_manifest(entries[1].path)
    assert store.entries("other")[0].status == "damaged"


def test_clear_removes_only_the_store_s_own_entries(store: Store):
    store.cached("demo", {"a": 1}, Counter())
    store.cached("demo", {"a": 2}, Counter())
    store.cached("other", {}, Counter())
    own_lock = next((store.root / "demo").glob("*.lock"))
    foreign = {
        store.root / "README.txt": "mine",
        store.root / "demo" / "notes.txt": "mine too",
        store.root / "demo" / ("f" * 32) / "data.csv": "a foreign folder named like a key",
        store.root / "My Results" / "x.json": "{}",
    }
    for path, text in foreign.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert len(store.entries()) == 3
    assert store.clear("other")[0] == 1
    assert not (store.root / "other").exists()
    count, freed = store.clear()
    assert count == 2 and freed > 0
    assert store.entries() == [] and not own_lock.exists()
    for path, text in foreign.items():
        assert path.read_text() == text


def test_clear_keeps_a_lock_that_a_process_holds(store: Store):
    import fcntl

    store.cached("demo", {}, Counter())
    lock = next((store.root / "demo").glob("*.lock"))
    fd = os.open(lock, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        assert store.clear()[0] == 1
        assert lock.exists()
    finally:
        os.close(fd)
    store.clear()
    assert not lock.exists() and not (store.root / "demo").exists()


def test_clear_on_a_missing_folder_removes_nothing(tmp_path: Path):
    assert Store(tmp_path / "none", version="1", code="x").clear() == (0, 0)


def test_list_and_clear_texts(store: Store):
    store.cached("user-fit", {"model": "lstm", "user_id": 1, "seed": 0}, Counter())
    text = list_store(store)
    assert text.splitlines()[0] == f"experiment store: {store.root}"
    assert "user-fit" in text and "model=lstm, user_id=1, seed=0" in text
    assert text.splitlines()[-1].startswith("1 entries, ")
    listed = json.loads(list_store(store, as_json=True))
    assert listed["store"] == str(store.root) and listed["entries"][0]["params"]["seed"] == 0
    stale = Store(store.root, version="9.8", code="c0de")
    stale.cached("user-fit", {"model": "lstm", "user_id": 1, "seed": 0}, Counter())
    assert list_store(store).count("[stale]") == 1 == list_store(stale).count("[stale]")
    assert list_store(store, "other-name").splitlines()[-1] == "0 entries, 0.00 MiB"
    with pytest.raises(ValueError, match="experiment name"):
        list_store(store, "Bad Name")
    assert clear_store(store, stale_only=True).startswith("removed 1 stale entries (")
    assert "[stale]" not in list_store(store)
    assert clear_store(store).startswith("removed 1 entries (")
    assert clear_store(store, "user-fit").startswith("removed 0 entries of user-fit (")


def test_importing_the_store_does_not_import_tensorflow_or_numba():
    """``store list`` and ``store clear`` must start fast."""
    code = "import sys, recsys_utils.experiments; print('tensorflow' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.stdout.split() == ["False", "False"]


def test_code_digest_ignores_docstrings_comments_and_layout(tmp_path, monkeypatch):
    """Reformatting or documenting the code keeps stored results; changing it does not."""
    from recsys_utils.experiments import store as store_module

    a = b'"""Doc."""\ndef f(x):\n    """Doc."""\n    return x + 1  # note\n'
    b = b"def f(x):\n\n    return (x\n            + 1)\n"
    c = b"def f(x):\n    return x + 2\n"
    dump = store_module._code_without_docstrings
    assert dump(a) == dump(b) != dump(c)
