"""recsys_utils.models.params: one dictionary of settings split into a record and the rest."""

from __future__ import annotations

import pytest

from recsys_utils.models.mf import MFParams
from recsys_utils.models.params import split_params
from recsys_utils.models.rbm import RBMParams


def test_fields_go_to_the_record_and_the_rest_stays():
    params, rest = split_params(RBMParams, {"epochs": 3, "n_hidden": 7, "seed": 1, "dtype": "float64"})
    assert params == RBMParams(n_hidden=7, epochs=3)
    assert rest == {"seed": 1, "dtype": "float64"}


def test_no_settings_give_the_defaults():
    assert split_params(MFParams, {}) == (MFParams(), {})


def test_a_bad_value_is_refused_by_the_record_naming_the_field():
    with pytest.raises(ValueError, match="factors"):
        split_params(MFParams, {"factors": 0})


def test_only_a_dataclass_type_is_accepted():
    with pytest.raises(TypeError, match="dataclass type"):
        split_params(dict, {"a": 1})
    with pytest.raises(TypeError, match="dataclass type"):
        split_params(MFParams(), {})
