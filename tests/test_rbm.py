"""Tests of the report's RBM recommender (recsys_utils.models.rbm)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from recsys_utils.models.rbm import (
    RBM,
    REPORT_LOOP_N_TRAIN_USERS,
    REPORT_N_TRAIN_USERS,
    REPORT_PRINTED_ERRORS,
    RBMParams,
    batch_bounds,
    report_batches,
    report_n_train_users,
)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _cd1_reference(V, W, bv, bh, lr):
    """The report's CD-1 step written out in float64 NumPy."""
    V, W, bv, bh = (np.asarray(a, np.float64) for a in (V, W, bv, bh))
    h0 = _sigmoid(V @ W + bh)
    v1 = _sigmoid(h0 @ W.T + bv)
    h1 = _sigmoid(v1 @ W + bh)
    n = V.shape[0]
    return (
        W + lr * (V.T @ h0 - v1.T @ h1) / n,
        bv + lr * (V - v1).mean(axis=0),
        bh + lr * (h0 - h1).mean(axis=0),
    )


def _ratings(n_users: int, n_movies: int, seed: int = 0, density: float = 0.3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    R = rng.integers(1, 6, size=(n_users, n_movies)) * (rng.random((n_users, n_movies)) < density)
    return (R / 5.0).astype(np.float32)


def _two_taste_matrix(n_users: int = 120, n_movies: int = 30, seed: int = 1) -> np.ndarray:
    """Two groups of users, each rating highly its own half of the movies (values rating / 5)."""
    rng = np.random.default_rng(seed)
    V = np.zeros((n_users, n_movies), np.float32)
    half = n_movies // 2
    for u in range(n_users):
        liked = slice(0, half) if u % 2 == 0 else slice(half, n_movies)
        seen = rng.random(half) < 0.8
        V[u, liked] = np.where(seen, rng.integers(4, 6, half) / 5.0, 0.0)
    return V


# ---------------------------------------------------------------- one update
def test_one_cd1_update_matches_hand_written_numpy():
    V = _ratings(6, 7, seed=3)
    rng = np.random.default_rng(5)
    W0 = rng.normal(0, 0.5, (7, 3)).astype(np.float32)
    bv0 = rng.normal(0, 0.5, 7).astype(np.float32)
    bh0 = rng.normal(0, 0.5, 3).astype(np.float32)
    model = RBM(RBMParams(n_hidden=3, learning_rate=0.7))
    model.W_, model.b_visible_, model.b_hidden_ = W0.copy(), bv0.copy(), bh0.copy()
    model.partial_fit(V)
    W1, bv1, bh1 = _cd1_reference(V, W0, bv0, bh0, 0.7)
    np.testing.assert_allclose(model.W_, W1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.b_visible_, bv1, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.b_hidden_, bh1, rtol=1e-5, atol=1e-6)
    assert not np.allclose(model.W_, W0)  # the step moved something


def test_float64_update_matches_reference_tightly():
    V = _ratings(5, 6, seed=9)
    rng = np.random.default_rng(2)
    W0, bv0, bh0 = rng.normal(size=(6, 2)), rng.normal(size=6), rng.normal(size=2)
    model = RBM(RBMParams(n_hidden=2, learning_rate=0.3), dtype=np.float64)
    model.W_, model.b_visible_, model.b_hidden_ = W0.copy(), bv0.copy(), bh0.copy()
    model.partial_fit(V)
    assert model.W_.dtype == np.float64
    W1, bv1, bh1 = _cd1_reference(V, W0, bv0, bh0, 0.3)
    np.testing.assert_allclose(model.W_, W1, rtol=1e-12)
    np.testing.assert_allclose(model.b_hidden_, bh1, rtol=1e-12)
    with pytest.raises(ValueError):
        RBM(dtype=np.int32)


def test_fit_one_epoch_from_zero_init_matches_reference_and_error():
    V = _ratings(11, 8, seed=4)  # report batching with bs=5: rows 0:5 and 5:10, row 10 dropped
    model = RBM(RBMParams(n_hidden=4, batch_size=5, epochs=1)).fit(V)
    W = np.zeros((8, 4))
    bv, bh = np.zeros(8), np.zeros(4)
    for s, e in [(0, 5), (5, 10)]:
        W, bv, bh = _cd1_reference(V[s:e], W, bv, bh, 1.0)
    np.testing.assert_allclose(model.W_, W, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(model.b_visible_, bv, rtol=1e-5, atol=1e-6)
    recon = _sigmoid(_sigmoid(V @ W + bh) @ W.T + bv)
    assert model.errors_ == pytest.approx([np.mean((V - recon) ** 2)], rel=1e-5)
    assert model.reconstruction_error(V) == pytest.approx(model.errors_[-1], rel=1e-6)


# ----------------------------------------------------------- initialisation
def test_zero_init_keeps_hidden_units_identical_normal_init_does_not():
    V = _two_taste_matrix()
    zeros = RBM(RBMParams(n_hidden=5, batch_size=20, epochs=5)).fit(V)
    assert np.allclose(zeros.W_, zeros.W_[:, :1], atol=1e-6)
    assert np.allclose(zeros.b_hidden_, zeros.b_hidden_[0], atol=1e-6)
    assert np.abs(zeros.W_).max() > 1e-3  # trained, not still zero
    normal = RBM(RBMParams(n_hidden=5, batch_size=20, epochs=5, init="normal"), seed=0).fit(V)
    spread = np.abs(normal.W_ - normal.W_[:, :1]).max()
    assert spread > 1e-3


def test_error_falls_on_structured_matrix():
    V = _two_taste_matrix()
    for kwargs in ({}, {"init": "normal", "learning_rate": 0.5}, {"sampling": True, "init": "normal"}):
        model = RBM(RBMParams(n_hidden=6, batch_size=20, epochs=30, **kwargs)).fit(V)
        assert model.errors_[-1] < 0.5 * model.errors_[0], kwargs
        # the structure is learnt: scores of each user's own half beat the other half
        scores = model.reconstruct(V)
        half = V.shape[1] // 2
        assert np.all(scores[0::2, :half].mean(1) > scores[0::2, half:].mean(1)), kwargs
        assert np.all(scores[1::2, half:].mean(1) > scores[1::2, :half].mean(1)), kwargs


def test_cd_k_runs_more_gibbs_steps():
    V = _two_taste_matrix()
    one = RBM(RBMParams(n_hidden=4, batch_size=20, epochs=2, init="normal", cd_k=1)).fit(V)
    three = RBM(RBMParams(n_hidden=4, batch_size=20, epochs=2, init="normal", cd_k=3)).fit(V)
    assert not np.allclose(one.W_, three.W_)
    assert three.errors_[-1] < three.errors_[0]


# ------------------------------------------------------------------ batching
@pytest.mark.parametrize(
    ("n", "bs", "expected"),
    [(1500, 150, 9), (1501, 150, 10), (1499, 150, 9), (150, 150, 0), (149, 150, 0), (151, 150, 1), (7, 2, 3)],
)
def test_report_batches_follow_the_zip_range_loop(n, bs, expected):
    loop = list(zip(range(0, n, bs), range(bs, n, bs)))  # the report's code
    assert report_batches(n, bs) == loop
    assert len(loop) == expected
    assert all(e - s == bs for s, e in loop)
    if expected:
        model = RBM(RBMParams(n_hidden=2, batch_size=bs, epochs=1)).fit(np.zeros((n, 3), np.float32))
    else:
        with pytest.warns(RuntimeWarning, match="no batch"):
            model = RBM(RBMParams(n_hidden=2, batch_size=bs, epochs=1)).fit(np.zeros((n, 3), np.float32))
        assert np.all(model.W_ == 0)
    assert model.n_batches_ == expected


def test_rows_outside_the_report_batches_do_not_train():
    V = _ratings(10, 6, seed=7)  # bs=5: one batch (0:5); rows 5:10 are the dropped full batch
    other = V.copy()
    other[5:] = _ratings(5, 6, seed=8)
    a = RBM(RBMParams(n_hidden=3, batch_size=5, epochs=3)).fit(V)
    b = RBM(RBMParams(n_hidden=3, batch_size=5, epochs=3)).fit(other)
    np.testing.assert_array_equal(a.W_, b.W_)
    assert a.errors_ != b.errors_  # but they count in the error, as in the report
    c = RBM(RBMParams(n_hidden=3, batch_size=5, epochs=3, batching="drop_last")).fit(other)
    assert c.n_batches_ == 2 and not np.array_equal(a.W_, c.W_)


def test_batch_bounds_modes():
    assert batch_bounds(7, 3, "drop_last") == [(0, 3), (3, 6)]
    assert batch_bounds(6, 3, "drop_last") == [(0, 3), (3, 6)]
    assert batch_bounds(7, 3, "keep_last") == [(0, 3), (3, 6), (6, 7)]
    assert batch_bounds(6, 3, "report") == [(0, 3)]
    with pytest.raises(ValueError):
        batch_bounds(6, 0)
    with pytest.raises(ValueError):
        batch_bounds(6, 3, "bogus")  # type: ignore[arg-type]


def test_report_training_users_loop_appends_one_more_than_intended():
    """Run the report's user loop (variable name fixed) over fake users."""
    amount_of_users = 1500
    training_set = []
    for user_id in range(1, 6041):
        training_set.append(user_id)
        if amount_of_users == 0:
            break
        amount_of_users -= 1
    assert len(training_set) == REPORT_LOOP_N_TRAIN_USERS == report_n_train_users(as_written=True)
    assert report_n_train_users() == REPORT_N_TRAIN_USERS == 1500


# ------------------------------------------------------- determinism, shapes
def test_sampling_is_deterministic_per_seed():
    V = _two_taste_matrix()
    kw = dict(n_hidden=4, batch_size=20, epochs=3, init="normal", sampling=True)
    a = RBM(RBMParams(**kw), seed=1).fit(V)
    b = RBM(RBMParams(**kw), seed=1).fit(V)
    c = RBM(RBMParams(**kw), seed=2).fit(V)
    np.testing.assert_array_equal(a.W_, b.W_)
    assert a.errors_ == b.errors_
    assert not np.array_equal(a.W_, c.W_)


def test_shapes_ranges_and_timings():
    V = _ratings(40, 9)
    model = RBM(RBMParams(n_hidden=5, batch_size=10, epochs=4, init="normal")).fit(V)
    assert model.W_.shape == (9, 5) and model.W_.dtype == np.float32
    assert model.b_visible_.shape == (9,) and model.b_hidden_.shape == (5,)
    H = model.transform(V[:7])
    S = model.reconstruct(V[:7])
    assert H.shape == (7, 5) and S.shape == (7, 9)
    assert H.dtype == np.float32 and S.dtype == np.float32
    assert np.all((H > 0) & (H < 1)) and np.all((S > 0) & (S < 1))
    assert len(model.errors_) == len(model.epoch_times_s) == 4
    assert all(np.isfinite(model.errors_))
    assert model.fit_time_s >= sum(model.epoch_times_s) > 0
    with pytest.raises(ValueError):
        model.reconstruct(np.zeros((2, 8), np.float32))
    with pytest.raises(ValueError):
        RBM().fit(V * 5)  # raw ratings instead of rating / 5


def test_verbose_progress_bar_runs(capsys):
    RBM(RBMParams(n_hidden=2, batch_size=5, epochs=2), verbose=True).fit(_ratings(12, 4))
    assert "RBM" in capsys.readouterr().err


# ------------------------------------------------------------------ real data
def _ml1m_dir() -> Path:
    root = os.environ.get("RECSYS_DATA_DIR")
    if not root:
        pytest.skip("RECSYS_DATA_DIR is not set: real MovieLens 1M is not available")
    for cand in (Path(root) / "ml-1m", Path(root)):
        if (cand / "ratings.dat").is_file() and (cand / "movies.dat").is_file():
            return cand
    pytest.skip(f"no ml-1m/ratings.dat and movies.dat under RECSYS_DATA_DIR={root}")


def _report_rbm_matrix(d: Path, n_users: int) -> np.ndarray:
    """First ``n_users`` users (by id) x every movie of movies.dat in file order, rating / 5."""
    import pandas as pd

    movie_ids = [
        int(line.split("::", 1)[0]) for line in (d / "movies.dat").read_text("latin-1").splitlines() if line
    ]
    col = {m: i for i, m in enumerate(movie_ids)}
    r = pd.read_csv(d / "ratings.dat", sep=":", header=None, usecols=[0, 2, 4], names=["u", "m", "r"])
    users = np.sort(r["u"].unique())[:n_users]
    r = r[r["u"].isin(users)]
    V = np.zeros((n_users, len(movie_ids)), np.float32)
    V[np.searchsorted(users, r["u"].to_numpy()), r["m"].map(col).to_numpy()] = r["r"].to_numpy() / 5.0
    return V


@pytest.mark.realdata
@pytest.mark.slow
def test_real_ml1m_reconstruction_errors_match_the_report():
    d = _ml1m_dir()
    # The loop as written (1,501 users) reproduces the printed log closely.
    V = _report_rbm_matrix(d, REPORT_LOOP_N_TRAIN_USERS)
    assert V.shape == (1501, 3883)
    model = RBM(RBMParams(epochs=10)).fit(V)
    assert model.n_batches_ == 10
    assert model.errors_[0] == pytest.approx(REPORT_PRINTED_ERRORS[0], abs=2e-5)
    np.testing.assert_allclose(model.errors_, REPORT_PRINTED_ERRORS, rtol=0.01)
    # Our default, the stated 1,500 users: nine batches, same range as printed.
    model = RBM(RBMParams(epochs=10)).fit(_report_rbm_matrix(d, REPORT_N_TRAIN_USERS))
    assert model.n_batches_ == 9
    assert 0.025 < model.errors_[0] < 0.030
    assert model.errors_[-1] < 0.020
    assert all(b < a for a, b in zip(model.errors_, model.errors_[1:]))
