"""One dictionary of settings split into a model's parameter record and its other keywords.

A recommender of ``recsys_utils.recommenders`` is given its model's settings as one dictionary
(``mf_kw``, ``rbm_kw``: plain data, stored with its results); the model itself takes a frozen
parameter record (:class:`~recsys_utils.models.mf.MFParams`,
:class:`~recsys_utils.models.rbm.RBMParams`) plus a few keywords that are not hyperparameters
(``seed``, ``dtype``, ``feedback``, ...). :func:`split_params` is the one rule that separates them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass
from typing import Any, TypeVar

__all__ = ["split_params"]

P = TypeVar("P")


def split_params(params_type: type[P], settings: Mapping[str, Any]) -> tuple[P, dict[str, Any]]:
    """``settings`` as a ``params_type`` record (the keys that are its fields) and a dictionary
    of the other keys, for the model's own keywords.

    The record checks its values when made, so a bad value is an error naming the field; a key
    that is neither a field nor a keyword of the model is left for the model to refuse.

    Example:
        ``split_params(MFParams, {"factors": 4, "seed": 3})`` gives
        ``(MFParams(factors=4), {"seed": 3})``.
    """
    if not (isinstance(params_type, type) and is_dataclass(params_type)):
        raise TypeError(f"params_type must be a dataclass type, got {params_type!r}")
    names = {f.name for f in fields(params_type)}
    hyper = {k: v for k, v in settings.items() if k in names}
    rest = {k: v for k, v in settings.items() if k not in names}
    return params_type(**hyper), rest
