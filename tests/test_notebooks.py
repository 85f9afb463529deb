"""Smoke tier: every chapter notebook executes end to end on the synthetic MovieLens twin.

The nbval tier (``pytest notebooks --nbval-lax``) checks the committed outputs against real
MovieLens 1M when it is configured; this tier runs everywhere, a fresh clone included, so a
notebook that no longer runs against the package fails here first. Parameters are shrunk
(few epochs, one seed) and the executed copies go to a temporary folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

#: Small parameters per notebook (merged over ``data_dir`` pointing at the synthetic twin).
SMOKE_PARAMETERS: dict[str, dict] = {
    "01_data_preparation": {},
    "02_lstm_vs_modified_lstm": {"epochs": 2, "seeds": [0]},
    "03_rbm_and_autoencoder": {"rbm_epochs": 2, "ae_epochs": 2, "top_n": 5},
    "04_comparison": {"epochs": 2, "seeds": [0]},
    "05_every_user": {
        "n_users": 12,
        "seeds": [0, 1],
        "epochs": 2,
        "report_seeds": [0],
    },
    "06_ablation": {
        "n_users": 12,
        "seeds": [0, 1],
        "epochs": 2,
        "timing_rounds": 1,
        "timing_epochs": 2,
        "timing_users": 4,
    },
    "07_interpretability": {
        "epochs": 2,
        "user_seeds": [0, 1],
        "seeds": [0, 1],
        "n_sample": 12,
        "n_probe": 6,
        "n_timed": 5,
        "min_ratings": 40,
        "ks": [5, 10],
        "n_test": 10,
        "fallback_min_ratings": 10,
        "max_rows": 30,
        "update_epochs": 1,
    },
    "08_ranking": {
        "n_users": 12,
        "seeds": [0, 1],
        "epochs": 2,
        "small_dataset": "ml-1m",
        "small_n_users": 10,
        "ae_epochs": [1, 2],
        "rbm_epochs": [1, 2],
    },
    "09_scaling": {"n_users": 8, "epochs": 1, "n_workers": 2},
}


def test_every_notebook_has_smoke_parameters():
    missing = [p.stem for p in NOTEBOOKS if p.stem not in SMOKE_PARAMETERS]
    assert not missing, f"add smoke parameters for {missing} to SMOKE_PARAMETERS"


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_on_synthetic_data(
    path: Path, synthetic_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import papermill as pm

    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "3")
    monkeypatch.setenv("RECSYS_CACHE_DIR", str(tmp_path / "cache"))  # never the user's cache
    monkeypatch.delenv("RECSYS_DATA_DIR", raising=False)
    params = {"data_dir": str(synthetic_dir), "user_id": 1, **SMOKE_PARAMETERS.get(path.stem, {})}
    out = tmp_path / path.name
    nb = pm.execute_notebook(
        str(path),
        str(out),
        parameters=params,
        cwd=str(path.parent),
        kernel_name="python3",
        progress_bar=False,
    )
    errors = [
        o
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
        if o.get("output_type") == "error"
    ]
    assert not errors
    assert os.environ.get("RECSYS_DATA_DIR") is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_committed_notebook_carries_no_machine_path(path: Path) -> None:
    """Sources, text outputs and metadata name no folder of the machine that executed them.

    Figures (base64 ``image/*`` data) are left out: their alphabet includes ``/``.
    """
    import json
    import re

    nb = json.loads(path.read_text(encoding="utf-8"))
    parts = [json.dumps(nb.get("metadata", {}))]
    for cell in nb["cells"]:
        parts.append("".join(cell.get("source", "")))
        for out in cell.get("outputs", []):
            parts.append("".join(out.get("text", "")))
            parts += [
                "".join(v) if isinstance(v, list) else str(v)
                for k, v in out.get("data", {}).items()
                if not k.startswith("image/")
            ]
    text = "\n".join(parts)
    leaked = re.findall(r"(?:/work/|/tmp/|/home/|/root/|/Users/|shared/data|[A-Z]:\\\\Users)", text)
    assert not leaked, f"{path.name} names machine paths: {sorted(set(leaked))}"
