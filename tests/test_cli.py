"""The command line (python -m recsys_utils)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from recsys_utils.cli import main
from recsys_utils.features import user_dataset


def test_data_json_on_synthetic(synthetic_dir, synthetic_ml1m, capsys):
    assert main(["data", "--data-dir", str(synthetic_dir), "--user", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    ds = user_dataset(synthetic_ml1m, 1)
    assert out["ratings"] == len(synthetic_ml1m.ratings)
    assert out["user"]["rows"] == len(ds) and out["user"]["likes"] == ds.n_likes
    s = out["user"]["report_split"]
    assert s["train_rows"] == int(len(ds) * 0.65)
    assert s["train_rows"] + s["test_rows"] == len(ds)
    assert s["train_likes"] + s["test_likes"] == ds.n_likes


def test_data_text_and_errors(synthetic_dir, capsys):
    assert main(["data", "--data-dir", str(synthetic_dir), "--user", "2"]) == 0
    assert "user 2:" in capsys.readouterr().out
    assert main(["data", "--data-dir", str(synthetic_dir), "--user", "99999"]) == 2
    err = capsys.readouterr().err
    assert err == "error: --user=99999: no such user in ml-1m (user ids run from 1 to 60, 60 users)\n"


def test_train_and_recommend(synthetic_dir, capsys):
    assert (
        main(
            [
                "train",
                "--data-dir",
                str(synthetic_dir),
                "--model",
                "popularity",
                "--user",
                "1",
                "--protocol",
                "held-out",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["protocol"] == "held-out" and 0 <= result["accuracy"] <= 1
    assert "majority_accuracy" in result and result["fit_time_s"] is not None
    assert (
        main(["train", "--data-dir", str(synthetic_dir), "--model", "lstm", "--epochs", "1", "--user", "1"])
        == 0
    )
    text = capsys.readouterr().out
    assert "majority baseline" in text and "training time" in text
    assert (
        main(
            [
                "recommend",
                "--data-dir",
                str(synthetic_dir),
                "--model",
                "popularity",
                "--user",
                "1",
                "--top",
                "5",
            ]
        )
        == 0
    )
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 + 5  # a caption, a header, five movies


def test_module_entry_point(synthetic_dir):
    out = subprocess.run(
        [sys.executable, "-m", "recsys_utils", "data", "--data-dir", str(synthetic_dir), "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(out.stdout)["user"]["user_id"] == 1


@pytest.mark.realdata
def test_data_user_1_on_real_ml1m(real_ml1m, capsys):
    assert main(["data", "--data-dir", str(real_ml1m.path), "--user", "1", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert (out["ratings"], out["users"], out["movies"]) == (1_000_209, 6_040, 3_883)
    assert out["user"]["rows"] == 53 and out["user"]["likes"] == 45
    s = out["user"]["report_split"]
    assert (s["train_rows"], s["test_rows"], s["train_likes"], s["test_likes"]) == (34, 19, 26, 19)


def test_recommend_with_matrix_factorization(synthetic_dir, capsys):
    assert (
        main(
            [
                "recommend",
                "--data-dir",
                str(synthetic_dir),
                "--model",
                "mf",
                "--user",
                "3",
                "--top",
                "4",
                "--json",
            ]
        )
        == 0
    )
    table = json.loads(capsys.readouterr().out)
    assert [row["rank"] for row in table] == [1, 2, 3, 4]
    assert all(a["score"] >= b["score"] for a, b in zip(table, table[1:]))


def test_data_on_a_synthetic_ml25m_twin(tmp_path):
    """``python -m recsys_utils data --dataset ml-25m`` on a twin in ML-25M's CSV format."""
    from recsys_utils.data.synthetic import write_synthetic_movielens

    write_synthetic_movielens(tmp_path, variant="ml-25m", n_users=15, n_movies=60)
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "recsys_utils",
            "data",
            "--dataset",
            "ml-25m",
            "--data-dir",
            str(tmp_path),
            "--user",
            "2",
            "--json",
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    summary = json.loads(out.stdout)
    assert summary["dataset"] == "ml-25m" and summary["users"] == 15
    assert summary["user"]["attributes"] == 19  # the release's genres, IMAX included
    assert out.stderr == ""


@pytest.mark.parametrize(
    "model, key",
    [("rbm", "reconstruction_mse"), ("lstm", "loss"), ("modified", "accuracy"), ("autoencoder", "train_mse")],
)
def test_train_json_prints_the_history_of_every_model(synthetic_dir, capsys, model, key):
    """``train --json`` carries one value per epoch of the model's history; aliases resolve."""
    code = main(
        [
            "train",
            "--model",
            model,
            "--user",
            "1",
            "--epochs",
            "3",
            "--json",
            "--data-dir",
            str(synthetic_dir),
            "--no-download",
        ]
    )
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert len(out["history"][key]) == 3
    assert all(v is None or isinstance(v, float) for v in out["history"][key])


def test_unknown_model_is_one_line_with_exit_code_2(synthetic_dir, capsys):
    code = main(["train", "--model", "deep-forest", "--data-dir", str(synthetic_dir)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "unknown model 'deep-forest'" in err


def test_store_list_and_clear(tmp_path, capsys):
    from recsys_utils.experiments import Store

    store = Store(tmp_path / "store")
    store.cached("demo", {"a": 1}, lambda: {"x": 1.5})
    assert main(["store", "list", "--store-dir", str(tmp_path / "store"), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [e["name"] for e in listed["entries"]] == ["demo"]
    (tmp_path / "store" / "mine.txt").write_text("not the store's")
    assert main(["store", "clear", "--store-dir", str(tmp_path / "store")]) == 0
    assert "removed 1 entries" in capsys.readouterr().out
    assert (tmp_path / "store" / "mine.txt").read_text() == "not the store's"
    assert not Store(tmp_path / "store").entries()


def test_train_device_flag(synthetic_dir, capsys, monkeypatch):
    """``train --device cpu``: the run happens under ``tf.device("/CPU:0")`` with
    ``RECSYS_DEVICE=cpu`` (put back afterwards), and the device is reported; ``--device gpu``
    without a GPU stops before loading anything, with exit code 5 and one line naming the flag."""
    import tensorflow as tf

    import recsys_utils.evaluation as evaluation
    from recsys_utils import device as devmod

    seen = {}
    real = evaluation.evaluate_user

    def spy(*args, **kwargs):
        seen["env"] = devmod.os.environ.get(devmod.DEVICE_ENV)
        seen["placed"] = tf.constant(0.0).device
        return real(*args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate_user", spy)
    monkeypatch.setenv(devmod.DEVICE_ENV, "auto")
    args = ["train", "--data-dir", str(synthetic_dir), "--model", "popularity", "--protocol", "held-out"]
    assert main(args + ["--device", "cpu", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["device"] == "cpu" and out["device_name"] == devmod.cpu_name()
    assert seen["env"] == "cpu" and "CPU:0" in seen["placed"]
    assert devmod.os.environ[devmod.DEVICE_ENV] == "auto"  # restored
    assert main(args + ["--device", "cpu"]) == 0
    assert f"device             cpu ({devmod.cpu_name()})" in capsys.readouterr().out

    monkeypatch.setattr(devmod, "visible_gpus", lambda: [])
    seen.clear()
    assert main(args + ["--device", "gpu"]) == 5
    err = capsys.readouterr().err
    assert err.startswith("error: --device=gpu: TensorFlow sees no GPU") and err.count("\n") == 1
    assert not seen  # nothing was trained
    monkeypatch.setenv(devmod.DEVICE_ENV, "gpu")  # the variable, when --device is not given
    assert main(args) == 5
    assert capsys.readouterr().err.startswith("error: RECSYS_DEVICE=gpu: TensorFlow sees no GPU")
    assert main(args + ["--device", "tpu"]) == 2
    assert "invalid choice: 'tpu'" in capsys.readouterr().err
