"""One registry of model names (recsys_utils.recommenders.registry), and no import cycle."""

from __future__ import annotations

import subprocess
import sys

import pytest

from recsys_utils import population
from recsys_utils.recommenders import (
    MODEL_NAMES,
    RANKER_NAMES,
    GenreSequenceRecommender,
    PopularityRecommender,
    make_ranker,
    make_recommender,
)
from recsys_utils.recommenders import registry as R


def test_every_name_and_alias_resolves_to_one_model():
    seen = {}
    for spec in R.MODELS:
        for name in (spec.name, *spec.aliases):
            assert R.resolve(name) is spec
            assert name not in seen, f"{name!r} names two models"
            seen[name] = spec
    for name in ("report", "modified", "modified LSTM", "modified-lstm"):
        assert R.resolve(name).name == "modified-lstm"
    with pytest.raises(ValueError, match="unknown model 'transformer'"):
        R.resolve("transformer")


def test_model_names_and_cell_names_are_two_namespaces():
    # "lstm" as a model is the report's 100-unit LSTM; as a cell, the standard LSTM cell in
    # the modified architecture
    assert R.resolve("lstm").sequence_kind == "lstm" and R.resolve("lstm").cell is None
    assert R.by_cell("lstm").name == "lstm-same-size"
    assert R.resolve_cell("report") == R.resolve_cell("modified-lstm") == "modified"
    assert R.resolve_cell("lstm") == "lstm" and R.resolve_cell("gru") == "gru"
    with pytest.raises(ValueError, match="no cell"):
        R.resolve_cell("rbm")
    assert R.population_key("report") == "modified" and R.population_key("majority") == "majority"
    with pytest.raises(ValueError, match="multi-user run"):
        R.population_key("rbm")


def test_old_name_lists_come_from_the_registry():
    assert MODEL_NAMES == ("lstm", "modified-lstm", "rbm", "autoencoder", "popularity", "mf")
    assert set(RANKER_NAMES) == {"popularity", "rbm", "autoencoder", "mf"}
    assert population.MODELS == ("modified", "nfg", "lstm", "gru", "logistic", "majority")
    assert population.RECURRENT_MODELS == R.CELL_NAMES == ("modified", "nfg", "lstm", "gru")
    assert population.MODEL_LABELS == {
        "modified": "modified LSTM (f=0, report)",
        "nfg": "no forget gate (f=1)",
        "lstm": "standard LSTM",
        "gru": "GRU",
        "logistic": "logistic regression",
        "majority": "majority class",
    }


def test_batched_cells_are_the_registry_cells():
    from recsys_utils.batched import CELLS

    assert tuple(CELLS) == R.CELL_NAMES


def test_every_keras_kind_is_a_registered_model():
    pytest.importorskip("tensorflow")
    from recsys_utils.models.sequence import KINDS

    kinds = {spec.sequence_kind for spec in R.MODELS if spec.sequence_kind}
    assert kinds == set(KINDS)
    assert all(R.resolve(k).sequence_kind == k for k in KINDS)


def test_factories_accept_aliases_and_refuse_other_protocols():
    rec = make_recommender("report", epochs=1)
    assert isinstance(rec, GenreSequenceRecommender)
    assert rec.kind == "modified-lstm" and rec.name == "modified-lstm" and rec.epochs == 1
    assert isinstance(make_ranker("popularity"), PopularityRecommender)
    with pytest.raises(ValueError, match="unknown model"):
        make_recommender("nfg")  # registered, but no per-user adapter in the command line
    with pytest.raises(ValueError, match="unknown ranker"):
        make_ranker("modified")


def test_models_do_not_import_the_recommenders():
    """No import cycle: the estimators of recsys_utils.models know nothing of the adapters."""
    code = (
        "import sys, recsys_utils.models.mf, recsys_utils.models.popularity, "
        "recsys_utils.models.logistic; "
        "print(any(m.startswith(('recsys_utils.recommenders', 'recsys_utils.evaluation')) "
        "for m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
