"""Side-by-side timing helpers (the timings themselves are not asserted: machines are noisy)."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_utils import timing


def test_synthetic_rows_shapes_and_flags():
    X, y = timing.synthetic_rows(50, seed=1)
    assert X.shape == (50, 18) and y.shape == (50,)
    assert set(np.unique(X)) <= {0.0, 1.0} and set(np.unique(y)) <= {0.0, 1.0}
    np.testing.assert_array_equal(X, timing.synthetic_rows(50, seed=1)[0])


@pytest.mark.slow
def test_keras_epoch_times_interleaves_and_takes_ratios_within_rounds():
    frame = timing.keras_epoch_times(("logistic", "modified-lstm"), n_rows=20, epochs=2, rounds=2)
    assert frame[["round", "model"]].values.tolist() == [
        [0, "logistic"],
        [0, "modified-lstm"],
        [1, "modified-lstm"],
        [1, "logistic"],
    ]
    assert (frame["epoch_s"] > 0).all()
    mod = frame[frame["model"] == "modified-lstm"]
    np.testing.assert_allclose(mod["ratio_to_modified"], 1.0)
    summary = timing.summarize_epoch_times(frame)
    assert list(summary.index) == ["logistic", "modified-lstm"]
    assert (summary["rounds"] == 2).all()
    assert summary.loc["modified-lstm", "ratio_to_modified"] == 1.0


def test_keras_epoch_times_rejects_bad_arguments():
    with pytest.raises(ValueError, match="unknown models"):
        timing.keras_epoch_times(("transformer",))
    with pytest.raises(ValueError, match="epochs"):
        timing.keras_epoch_times(("logistic",), epochs=1)


def test_batched_epoch_times():
    frame = timing.batched_epoch_times(("modified", "gru"), n_users=3, n_rows=12, epochs=1, rounds=1)
    assert frame["model"].tolist() == ["modified", "gru"]
    assert (frame["user_epoch_s"] > 0).all()
    assert frame.loc[frame["model"] == "modified", "ratio_to_modified"].item() == 1.0
    summary = timing.summarize_epoch_times(frame, "user_epoch_s", 1e6, "us")
    assert "median_us" in summary.columns


def test_batched_step_times_compares_the_reports_networks():
    from recsys_utils.timing import synthetic_rows

    X, y = synthetic_rows(12, seed=2)
    frame = timing.batched_step_times(
        users=([X, X[:7]], [y, y[:7]]), schedule=timing.StepSchedule(epochs=1, rounds=2)
    )
    assert frame[["round", "model"]].values.tolist() == [
        [0, "modified-lstm"],
        [0, "lstm"],
        [1, "lstm"],
        [1, "modified-lstm"],
    ]
    mod = frame[frame["model"] == "modified-lstm"]
    np.testing.assert_allclose(mod["ratio_to_modified"], 1.0)
    with pytest.raises(ValueError, match="unknown networks"):
        timing.batched_step_times(("gru",))
